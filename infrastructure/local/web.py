"""The web dashboard's files (web/dist, built by `python -m infrastructure.web_build`)
served by the local gateway at `/`, with the headers CloudFront adds in production
(template.yaml): a Content-Security-Policy that allows no inline script, no
framing, no MIME sniffing. Only files under web/dist are served, never a path
outside it; the API's own routes are matched first by the gateway."""

from __future__ import annotations

import mimetypes
import pathlib
import re

from werkzeug.wrappers import Request, Response

DIST = pathlib.Path(__file__).resolve().parents[2] / "web" / "dist"

# The first segment of every path the dashboard serves (and "/" itself).
PREFIXES = ("/assets/", "/vendor/")
FILES = ("/index.html", "/config.json", "/build-report.json")


def csp(tile_url: str = "") -> str:
    """The policy CloudFront's response headers policy sets in production: the map's
    tile origin ({s} subdomains as a wildcard) is the only image source outside 'self'."""
    match = re.match(r"^(https?://[^/]+)", tile_url or "")
    tiles = f" {match.group(1).replace('{s}', '*')}" if match else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tiles}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


def is_web_path(path: str) -> bool:
    return path == "/" or path in FILES or path.startswith(PREFIXES)


def serve(request: Request, dist: pathlib.Path = DIST, tile_url: str = "") -> Response | None:
    """The file for a GET/HEAD of a dashboard path, or None for any other request."""
    if request.method not in ("GET", "HEAD") or not is_web_path(request.path):
        return None
    relative = "index.html" if request.path == "/" else request.path.lstrip("/")
    root = dist.resolve()
    try:
        target = (root / relative).resolve()
        found = root in target.parents and target.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: no such file
        found = False
    if not found:
        if not (root / "index.html").is_file():
            return _text(503, "The dashboard is not built: run `make web` (or python -m infrastructure.web_build).")
        return _text(404, "Not found.")
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    response = Response(target.read_bytes(), content_type=kind)
    response.headers.update(security_headers(tile_url))
    response.headers["Cache-Control"] = "no-cache"
    return response


def security_headers(tile_url: str = "") -> dict[str, str]:
    return {
        "Content-Security-Policy": csp(tile_url),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def _text(status: int, text: str) -> Response:
    response = Response(text, status=status, content_type="text/plain; charset=utf-8")
    response.headers.update(security_headers())
    return response

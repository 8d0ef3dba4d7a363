"""Build the web dashboard: `python -m infrastructure.web_build`.

web/src (plain ES modules, no bundler) is copied to web/dist beside the
libraries it uses, taken from web/node_modules (installed by `npm ci` from
web/package-lock.json when missing or older than the lock) with their
licences; nothing is fetched from a CDN at run time. config.json holds what
differs between the local stack and production (the API's base URL, the map's
tile URL), so one build serves both.

The build then measures the overview's first load: index.html, the stylesheet
and every module the overview imports statically, gzip-compressed, and fails
when it passes BUDGET_BYTES. Pages other than the overview, uPlot and Leaflet
are loaded when first needed and are listed separately.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
SRC = WEB / "src"
DIST = WEB / "dist"
MODULES = WEB / "node_modules"

BUDGET_BYTES = 300 * 1024  # the overview's first load, compressed JS + CSS

# (package, files copied from the package, folder under dist/vendor)
VENDOR = (
    ("uplot", ("dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"), "uplot"),
    ("leaflet", ("dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"), "leaflet"),
)

_IMPORT = re.compile(
    r"""^\s*(?:import|export)\s[^"']*?from\s+["'](\.{1,2}/[^"']+)["']|^\s*import\s+["'](\.{1,2}/[^"']+)["']""", re.M
)


def npm_ci(web: pathlib.Path = WEB) -> None:
    """`npm ci` when node_modules is missing or older than the lock file."""
    marker = web / "node_modules" / ".package-lock.json"
    lock = web / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is not installed: `make web` installs Debian's nodejs and npm, or run `apt-get install -y npm`")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=web, check=True)


def static_imports(entry: pathlib.Path, root: pathlib.Path) -> list[pathlib.Path]:
    """`entry` and every module it imports statically (not `import()`), in load order."""
    seen: list[pathlib.Path] = []
    stack = [entry]
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        seen.append(module)
        for match in _IMPORT.finditer(module.read_text(encoding="utf-8")):
            target = (module.parent / (match.group(1) or match.group(2))).resolve()
            if root in target.parents and target.exists():
                stack.append(target)
    return seen


def gz(path: pathlib.Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def size_report(dist: pathlib.Path = DIST) -> dict:
    """What the overview's first load downloads (compressed), and what loads later."""
    js = dist / "assets" / "js"
    first = [dist / "index.html", dist / "assets" / "app.css", dist / "config.json"]
    first += static_imports(js / "main.js", dist)
    first += [m for m in static_imports(js / "pages" / "overview.js", dist) if m not in first]
    later = sorted(p for p in dist.rglob("*") if p.is_file() and p not in first and p.suffix in (".js", ".css"))
    rows = [{"file": str(p.relative_to(dist)), "bytes": p.stat().st_size, "gzip": gz(p)} for p in first]
    return {
        "first_load": rows,
        "first_load_gzip": sum(r["gzip"] for r in rows),
        "budget_gzip": BUDGET_BYTES,
        "later": [{"file": str(p.relative_to(dist)), "bytes": p.stat().st_size, "gzip": gz(p)} for p in later],
    }


def build(dist: pathlib.Path = DIST, api_base: str = "", tile_url: str = "", install: bool = True) -> dict:
    if install:
        npm_ci()
    if dist.exists():
        shutil.rmtree(dist)
    shutil.copytree(SRC, dist)
    for package, files, folder in VENDOR:
        target = dist / "vendor" / folder
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            source = MODULES / package / name
            if source.is_dir():
                shutil.copytree(source, target / source.name)
            else:
                shutil.copy2(source, target / source.name)
    (dist / "config.json").write_text(json.dumps({"apiBase": api_base, "tileUrl": tile_url}) + "\n")
    report = size_report(dist)
    (dist / "build-report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-base", default=os.environ.get("GRIDPULSE_WEB_API_BASE", ""))
    parser.add_argument("--tile-url", default=os.environ.get("GRIDPULSE_TILE_URL", ""))
    parser.add_argument("--dist", type=pathlib.Path, default=DIST)
    args = parser.parse_args(argv)
    report = build(args.dist, args.api_base, args.tile_url)
    total = report["first_load_gzip"]
    print(f"web: built {args.dist.relative_to(ROOT) if args.dist.is_relative_to(ROOT) else args.dist}")
    print(
        f"web: overview first load {total / 1024:.1f} KB gzip (budget {BUDGET_BYTES // 1024} KB) in {len(report['first_load'])} files"
    )
    for row in report["first_load"]:
        print(f"       {row['gzip']:>7,} B  {row['file']}")
    print(
        f"web: loaded later, when needed: {sum(r['gzip'] for r in report['later']) / 1024:.1f} KB gzip in {len(report['later'])} files"
    )
    if total > BUDGET_BYTES:
        print(f"web: the overview's first load is over budget by {total - BUDGET_BYTES:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

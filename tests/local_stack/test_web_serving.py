"""The local gateway serves the dashboard's files from web/dist and nothing else."""

from __future__ import annotations

import pathlib

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from infrastructure import web_build
from infrastructure.local import web


def _get(path: str, dist: pathlib.Path, method: str = "GET"):
    return web.serve(Request(EnvironBuilder(path=path, method=method).get_environ()), dist)


def _dist(tmp_path: pathlib.Path) -> pathlib.Path:
    dist = tmp_path / "dist"
    (dist / "assets" / "js").mkdir(parents=True, exist_ok=True)
    (dist / "index.html").write_text("<!doctype html><title>x</title>")
    (dist / "assets" / "app.css").write_text("body{}")
    (dist / "assets" / "js" / "main.js").write_text("export {}")
    (tmp_path / "secret.txt").write_text("not served")
    return dist


def test_the_root_is_index_html_with_the_security_headers(tmp_path):
    response = _get("/", _dist(tmp_path))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert _get("/assets/js/main.js", _dist(tmp_path)).mimetype in ("text/javascript", "application/javascript")


def test_nothing_outside_the_build_and_no_api_path_is_served(tmp_path):
    dist = _dist(tmp_path)
    assert _get("/assets/../../secret.txt", dist).status_code == 404
    assert _get("/assets/%2e%2e/%2e%2e/secret.txt", dist).status_code == 404
    assert _get("/devices", dist) is None  # the API's routes are the gateway's
    assert _get("/", dist, method="POST") is None
    assert _get("/assets/missing.js", dist).status_code == 404


def test_a_too_long_or_nul_file_name_is_a_404_not_a_crash(tmp_path):
    dist = _dist(tmp_path)
    for path in ("/assets/" + "x" * 300 + ".js", "/assets/js/main.js%00.html", "/assets/a%00b"):
        response = _get(path, dist)
        assert response.status_code == 404, path
        assert "Content-Security-Policy" in response.headers


def test_an_unbuilt_dashboard_says_how_to_build_it(tmp_path):
    response = _get("/", tmp_path / "nothing")
    assert response.status_code == 503 and b"make web" in response.data


def test_the_tile_origin_is_the_only_outside_image_source():
    policy = web.csp("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://*.tile.openstreetmap.org;" in policy
    assert "img-src 'self' data:;" in web.csp("")


def test_the_build_measures_what_the_overview_loads_first(tmp_path):
    report = web_build.build(tmp_path / "dist", api_base="https://api.example.com", install=True)
    first = [row["file"] for row in report["first_load"]]
    assert first[:3] == ["index.html", "assets/app.css", "config.json"]
    assert "assets/js/pages/overview.js" in first and "assets/js/pages/signin.js" not in first
    assert "vendor/uplot/uPlot.iife.min.js" in [row["file"] for row in report["later"]]
    assert 0 < report["first_load_gzip"] <= web_build.BUDGET_BYTES
    assert (tmp_path / "dist" / "vendor" / "leaflet" / "LICENSE").exists()
    assert '"apiBase": "https://api.example.com"' in (tmp_path / "dist" / "config.json").read_text()

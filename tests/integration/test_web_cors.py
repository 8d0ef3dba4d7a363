"""The API's answers as a browser on the deployed web dashboard sees them: with
CORS_ALLOW_ORIGIN set to the dashboard's origin (template.yaml's default when
deployed, docs/deploy.md), a page of that origin may read an answer and a page
of any other origin may not (no Access-Control-Allow-Origin for it)."""

from __future__ import annotations

import json

DASHBOARD = "https://d111111abcdef8.cloudfront.net"


def _answer(origin: str) -> dict:
    from gridpulse.api import create_app
    from gridpulse.settings import get_settings

    get_settings.cache_clear()
    app = create_app()

    @app.get("/ping")
    def ping() -> dict:
        return {"ok": True}

    event = {
        "resource": "/ping",
        "path": "/ping",
        "httpMethod": "GET",
        "headers": {"Origin": origin},
        "multiValueHeaders": {"Origin": [origin]},
        "queryStringParameters": None,
        "requestContext": {"requestId": "r1", "resourcePath": "/ping", "httpMethod": "GET", "stage": "dev"},
        "body": None,
        "isBase64Encoded": False,
    }
    response = app.resolve(event, None)
    headers = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update({k.lower(): [v] for k, v in (response.get("headers") or {}).items()})
    assert json.loads(response["body"]) == {"ok": True}
    return headers


def test_only_the_dashboard_origin_may_read_answers(monkeypatch):
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", DASHBOARD)
    try:
        assert _answer(DASHBOARD)["access-control-allow-origin"] == [DASHBOARD]
        assert "access-control-allow-origin" not in _answer("https://evil.example")
    finally:
        monkeypatch.undo()
        from gridpulse.settings import get_settings

        get_settings.cache_clear()

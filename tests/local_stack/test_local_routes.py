"""The gateway's local-only routes (/_local/invoke, /_local/schedules) run only what
the developer asks: a page of another site in the developer's browser cannot start
them (a cross-site POST is 403), and an event is at most what Lambda accepts."""

from __future__ import annotations

from werkzeug.test import Client

from infrastructure.cfn import Stack, load
from infrastructure.local.gateway import ASYNC_EVENT_MAX, Gateway


def _client(invoked: list, scheduled: list) -> Client:
    def invoke(logical, body):
        invoked.append((logical, body))

    def schedule(logical):
        scheduled.append(logical)
        return {}

    return Client(
        Gateway(Stack(load()), {"ForecastScheduleFunction": object()}, invoke_async=invoke, run_schedule=schedule)
    )


def test_a_cross_site_post_starts_nothing():
    invoked, scheduled = [], []
    client = _client(invoked, scheduled)
    evil = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
    assert client.post("/_local/invoke/ForecastScheduleFunction", data="{}", headers=evil).status_code == 403
    assert client.post("/_local/schedules/ForecastScheduleFunction", headers=evil).status_code == 403
    assert invoked == [] and scheduled == []
    # curl (no Origin) and the gateway's own pages still can
    assert client.post("/_local/invoke/ForecastScheduleFunction", data="{}").status_code == 202
    own = {"Origin": "http://localhost"}
    assert client.post("/_local/schedules/ForecastScheduleFunction", headers=own).status_code == 200
    assert len(invoked) == 1 and scheduled == ["ForecastScheduleFunction"]


def test_an_event_larger_than_lambda_accepts_is_a_413():
    invoked = []
    client = _client(invoked, [])
    body = '{"a": "' + "x" * ASYNC_EVENT_MAX + '"}'
    response = client.post("/_local/invoke/ForecastScheduleFunction", data=body)
    assert response.status_code == 413 and response.json["error"] == "event_too_large"
    assert invoked == []


def test_the_api_docs_page_has_a_content_security_policy_allowing_only_its_own_script():
    response = _client([], []).get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy and response.headers["X-Content-Type-Options"] == "nosniff"

"""Authenticate before validating: every protected route of the template
answers 401 to a request without credentials (and 403 to a caller whose role
the route does not allow), whatever its body, query and path hold, so an
anonymous caller learns nothing of a route's input schema."""

from __future__ import annotations

import re

import pytest

from infrastructure.openapi import build

BAD_BODY = {"bogus": ["not", "a", "field"], "limit": "many"}
BAD_QUERY = {"limit": "-1", "start": "yesterday-ish", "cascade": "perhaps"}


def _routes(aws):
    """(method, concrete path, security requirement) for every Api event of the template."""
    operations = build()["paths"]
    out = []
    for method, path, _ in aws.api_routes():
        operation = operations.get(path, {}).get(method.lower())
        assert operation is not None, f"{method} {path} is in the template but not in the OpenAPI document"
        concrete = re.sub(r"\{[^}]+\}", "no-such-id", path)
        out.append((method, concrete, operation.get("security") or []))
    return out


def test_every_protected_route_is_401_without_credentials_whatever_the_body(api, aws):
    routes = _routes(aws)
    protected = [(m, p) for m, p, security in routes if security]
    assert len(protected) > 40  # the walk really covers the API
    wrong = {}
    for method, path in protected:
        body = BAD_BODY if method in ("POST", "PUT", "PATCH") else None
        status, out = api.call(method, path, body, query=BAD_QUERY)
        if status != 401:
            wrong[f"{method} {path}"] = (status, out)
    assert wrong == {}


def test_a_bad_token_is_401_before_validation_too(api, aws):
    status, body = api.post("/users", {}, token="not-a-jwt")
    assert status == 401, body
    status, body = api.post("/telemetry", {"power_w": "lots"}, headers={"X-API-Key": "gpk_wrong"})
    assert status == 401 and body["error"] == "invalid_api_key", body


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/users"),
        ("PUT", "/hotels/no-such-id"),
        ("POST", "/hotels"),
        ("POST", "/alerts"),
        ("POST", "/hotels/no-such-id/sections"),
        ("PUT", "/rooms/no-such-id"),
        ("POST", "/sections/no-such-id/rooms"),
        ("POST", "/rooms/no-such-id/devices"),
    ],
)
def test_a_viewer_gets_403_on_a_route_its_role_may_not_use_whatever_the_body(api, method, path):
    viewer = api.register("viewer@example.com")["token"]
    status, body = api.call(method, path, {}, token=viewer)
    assert status == 403 and body["error"] == "forbidden", body


def test_post_users_with_an_empty_body_and_no_token_is_401(api):
    status, body = api.post("/users", {})
    assert status == 401 and body["error"] == "missing_token", body
    assert "fields" not in body

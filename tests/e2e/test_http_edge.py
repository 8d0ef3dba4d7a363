"""The HTTP edge over real sockets: the API Gateway stand-in's body limit for
chunked uploads, and bodies the JSON parser must refuse without falling over."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import local_only

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


def _chunks(total: int, size: int = MiB):
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


@local_only("the local gateway's 413 body; API Gateway answers with its own")
def test_a_chunked_body_over_10_mb_is_refused_by_the_gateway_like_a_sized_one(stack):
    chunked = stack.request("POST", "/auth/login", data=_chunks(24 * MiB), headers={"Content-Type": "application/json"})
    assert "Content-Length" not in chunked.request.headers  # really sent chunked
    sized = stack.request("POST", "/auth/login", data=b" " * (24 * MiB), headers={"Content-Type": "application/json"})

    for response in (chunked, sized):
        assert response.status_code == 413, response.text
        assert response.json() == {"error": "payload_too_large", "message": "Request bodies are limited to 10 MB."}


def test_a_chunked_body_under_the_limit_still_reaches_the_function(stack):
    body = json.dumps({"email": "nobody.e2e@example.com", "password": "wrong-password-1"}).encode()
    response = stack.request(
        "POST", "/auth/login", data=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text


def test_json_nested_5000_deep_is_a_400_naming_the_body(stack):
    for raw in ("[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000):
        response = stack.request("POST", "/auth/login", data=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert [f["field"] for f in response.json()["fields"]] == ["body"]


def test_media_types_are_case_insensitive(stack):
    response = stack.request(
        "POST",
        "/auth/login",
        headers={"Content-Type": "APPLICATION/JSON"},
        data=json.dumps({"email": "nobody.e2e@example.com", "password": "wrong-password-1"}),
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_credentials", response.text

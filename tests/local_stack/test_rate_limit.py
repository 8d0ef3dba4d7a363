"""The local gateway's per-IP rate limits (the WAF web ACL of template.yaml,
infrastructure/local/rate_limit.py): off unless asked for; when on, the request
over the limit is 429 with Retry-After, device requests are not counted, and
the address may come back once the window has moved on."""

from __future__ import annotations

import json

from werkzeug.test import Client

from infrastructure.cfn import Stack, load
from infrastructure.local.gateway import Gateway
from infrastructure.local.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(stack: Stack, limiter: RateLimiter | None) -> Client:
    # No function is invoked: routes that do not exist answer 404 after the limiter.
    return Client(Gateway(stack, {}, rate_limiter=limiter))


def test_limits_are_the_template_parameters():
    stack = Stack(load())
    limiter = RateLimiter.from_template(stack)
    assert limiter.limits == [(100, 60), (170, 600)]
    web_acl = stack.resources("AWS::WAFv2::WebACL")["ApiWebAcl"]["Properties"]
    windows = {
        rule["Statement"]["RateBasedStatement"]["EvaluationWindowSec"]: rule["Statement"]["RateBasedStatement"]["Limit"]
        for rule in web_acl["Rules"]
    }
    assert windows == {60: {"Ref": "ApiBurstLimitPerMinute"}, 600: {"Ref": "ApiRateLimitPer10Minutes"}}
    for rule in web_acl["Rules"]:
        assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429


def test_off_by_default_nothing_is_limited():
    client = _client(Stack(load()), None)
    assert {client.get("/no-such-route").status_code for _ in range(150)} == {404}


def test_the_request_over_the_limit_is_429_with_retry_after_until_the_window_moves():
    clock = Clock()
    client = _client(Stack(load()), RateLimiter([(3, 60), (5, 600)], clock))
    assert [client.get("/no-such-route").status_code for _ in range(3)] == [404] * 3
    refused = client.get("/no-such-route")
    assert refused.status_code == 429
    assert json.loads(refused.data)["error"] == "too_many_requests"
    assert refused.headers["Retry-After"] == "60"
    clock.now += 30
    assert client.get("/no-such-route").headers["Retry-After"] == "30"
    clock.now += 31  # the burst window has moved on; the 10-minute one has room for 2 more
    assert [client.get("/no-such-route").status_code for _ in range(3)] == [404, 404, 429]
    assert int(client.get("/no-such-route").headers["Retry-After"]) == 600 - 61


def test_another_address_and_device_requests_are_not_counted():
    clock = Clock()
    client = _client(Stack(load()), RateLimiter([(2, 60)], clock))
    for _ in range(2):
        client.get("/no-such-route")
    assert client.get("/no-such-route").status_code == 429
    assert client.get("/no-such-route", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 404
    key = {"X-API-Key": "gpk_anything"}
    for path in ("/device/heartbeat", "/telemetry", "/lights/l1/status"):
        assert client.post(path, headers=key).status_code != 429, path
    # An API key on a route that is not a device's does not exempt (no brute force past the limit).
    assert client.post("/auth/login", headers=key).status_code == 429

"""Every paged route refuses a next_token it did not issue, and every ranged
route refuses times it cannot hold, with a 400 naming the field (never a 5xx)."""

from __future__ import annotations

import base64
import json

import pytest


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# What a client can build without our key: garbage, the old unsigned format (a
# LastEvaluatedKey of the wrong shape, one of the right shape for another
# partition, a chained-list cursor), and a signed-looking token with a made-up MAC.
FORGED = [
    "garbage!",
    _b64({"pk": {"S": "x"}}),
    _b64({"pk": {"S": "device#someone-else"}, "sk": {"S": "meta"}, "owner_id": {"S": "u"}, "owner_sk": {"S": "d"}}),
    _b64({"s": 0, "k": {"pk": {"N": "1"}}}),
    _b64({"s": 99, "k": None}),
    _b64({"i": -5}),
    _b64({"t": "x", "k": []}),
    _b64({"pk": {"S": "x"}}) + "." + _b64("0" * 16),
]


@pytest.fixture
def world(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "H"}, admin_token)["hotel_id"]
    section = api.create(f"/hotels/{hotel}/sections", {"section_name": "F1"}, admin_token)["section_id"]
    room = api.create(f"/sections/{section}/rooms", {"room_number": "101"}, admin_token)["room_id"]
    device = api.create("/devices", {"name": "m", "device_type": "meter", "room_id": room}, admin_token)
    me = api.get("/auth/me", token=admin_token)[1]["user_id"]
    return {"hotel": hotel, "section": section, "room": room, "device": device["device_id"], "me": me}


def _paged_routes(w):
    return [
        "/admin/devices/statuses",
        "/alerts",
        "/devices",
        f"/devices/{w['device']}/readings",
        f"/devices/{w['device']}/readings/rejected",
        "/groups",
        "/hotels",
        f"/hotels/{w['hotel']}/sections",
        f"/rooms/{w['room']}/devices",
        f"/sections/{w['section']}/rooms",
        "/users",
        f"/users/{w['me']}/alerts",
        f"/users/{w['me']}/devices",
        f"/users/{w['me']}/telemetry",
    ]


def test_every_paged_route_refuses_a_forged_next_token(api, admin_token, world):
    for path in _paged_routes(world):
        for token in FORGED:
            status, body = api.get(path, token=admin_token, query={"next_token": token})
            assert status == 400, (path, token, body)
            assert body["error"] == "invalid_next_token" and body["fields"][0]["field"] == "next_token", body
    for query in ({"room_id": world["room"]}, {"city": "Lisbon"}, {"device_type": "meter"}):
        for token in FORGED:
            status, body = api.get("/devices", token=admin_token, query={**query, "next_token": token})
            assert status == 400, (path, token, body)
            assert body["error"] == "invalid_next_token" and body["fields"][0]["field"] == "next_token", body


def test_a_token_of_one_list_is_refused_by_another(api, admin_token, world):
    for _ in range(3):
        api.post(
            "/users", {"name": "u", "email": f"u{_}@example.com", "password": "correct-horse-1"}, token=admin_token
        )
    token = api.get("/users", token=admin_token, query={"limit": 1})[1]["next_token"]
    assert token
    assert api.get("/users", token=admin_token, query={"limit": 1, "next_token": token})[0] == 200
    status, body = api.get(f"/users/{world['me']}/devices", token=admin_token, query={"next_token": token})
    assert status == 400 and body["error"] == "invalid_next_token"


@pytest.mark.parametrize(
    "field,value",
    [
        ("start", "-999999w"),
        ("start", "0001-01-01T00:00:00+14:00"),
        ("end", "9999-12-31T23:59:59-14:00"),
        ("start", "1969-12-31T23:59:59Z"),
        ("start", "yesterday"),
    ],
)
def test_every_ranged_route_refuses_times_it_cannot_hold(api, admin_token, world, field, value):
    device = world["device"]
    routes = [
        ("GET", f"/devices/{device}/readings"),
        ("GET", f"/devices/{device}/energy"),
        ("GET", f"/devices/{device}/readings/aggregate"),
        ("GET", f"/hotels/{world['hotel']}/usage"),
        ("DELETE", f"/devices/{device}/readings"),
    ]
    for method, path in routes:
        query = {"start": "-1h", "end": "now", field: value}
        status, body = api.call(method, path, token=admin_token, query=query)
        assert status == 400, (method, path, body)
        assert body["fields"][0]["field"] == field, body


def test_a_query_parameter_the_route_does_not_take_is_a_400_naming_it(api, admin_token, world):
    """A misspelt parameter (`strat` for `start`) would otherwise answer quietly for the
    default range; like an unknown body field it is refused, after authentication."""
    status, body = api.get(f"/devices/{world['device']}/readings", token=admin_token, query={"strat": "-1h"})
    assert status == 400 and body["error"] == "validation_error", body
    assert [(f["field"], f["code"]) for f in body["fields"]] == [("strat", "extra_forbidden")]
    status, body = api.get("/devices", token=admin_token, query={"limit": "5", "device_typ": "meter", "zz": "1"})
    assert status == 400 and sorted(f["field"] for f in body["fields"]) == ["device_typ", "zz"], body
    status, body = api.get("/devices", token=admin_token, query={"limit": "5", "device_type": "meter"})
    assert status == 200, body  # the declared ones still work
    status, body = api.get("/devices", token=admin_token, query={"a" * 5000: "1", **{f"p{i}": "1" for i in range(50)}})
    assert status == 400 and len(body["fields"]) == 10 and len(body["message"]) < 1200, body  # bounded
    status, body = api.get("/devices", query={"limt": "5"})
    assert status == 401, body  # who asks comes first

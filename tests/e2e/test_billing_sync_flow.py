"""The sync of the Tuya project in the local stack over real HTTP: the stand-in's meters are on
the platform after start-up without anyone asking, a refresh finds nothing new, only an admin
may refresh, and with Tuya down a refresh is a 502 connection_error."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only

pytestmark = [pytest.mark.e2e, local_only("the Tuya Cloud stand-in, its meters and its fault switch")]


def _imported(stack, token, ids) -> dict:
    response = stack.request("GET", "/devices", token, params={"device_type": "prepaid_meter", "limit": 100})
    assert response.status_code == 200, response.text
    return {d["external_id"]: d for d in response.json()["items"] if d["external_id"] in ids}


def test_the_stand_ins_meters_are_imported_at_start_up_and_refresh_is_for_admins(stack):
    token = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    meters = {m["id"]: m for m in stack.request("GET", "/_local/tuya/meters").json()["items"]}
    deadline = time.monotonic() + 20
    while len(shown := _imported(stack, token, meters)) < len(meters) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(shown) == set(meters), shown
    for device in shown.values():
        assert device["provider"] == "tuya" and device["name"] == meters[device["external_id"]]["name"]
    one = next(iter(shown.values()))
    summary = stack.request("GET", f"/devices/{one['device_id']}", token).json()["summary"]
    assert summary["as_of"] and summary["credit_status"] in ("good", "low", "empty")

    refreshed = stack.request("POST", "/devices/refresh", token)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["new"] == 0 and refreshed.json()["total"] >= len(meters)

    email = f"sync-viewer-{time.time_ns()}@example.com"
    created = stack.request(
        "POST",
        "/users",
        token,
        json={"name": "viewer", "email": email, "password": "correct-horse-1", "role": "viewer"},
    )
    assert created.status_code == 201, created.text
    viewer = stack.login(email, "correct-horse-1")
    assert stack.request("POST", "/devices/refresh", viewer).status_code == 403
    assert stack.request("POST", "/devices/refresh").status_code == 401

    try:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "down"}).status_code == 200
        down = stack.request("POST", "/devices/refresh", token)
        assert down.status_code == 502 and down.json()["error"] == "connection_error", down.text
    finally:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "none"}).status_code == 200
    scheduled = stack.request("POST", "/_local/schedules/BillingSyncFunction")
    assert scheduled.status_code == 200 and scheduled.json()["result"]["total"] >= len(meters)

"""Issue 3's acceptance flow over real HTTP against the running local stack:
hotel -> floors -> rooms, a meter registered in a room with its credentials
shown once, heartbeats over HTTP, online, grouped, and invisible to others."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.e2e


def _ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def test_hotel_meter_heartbeat_group_and_privacy(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    hotel = _ok(
        stack.request("POST", "/hotels", admin, json={"hotel_name": "Harbour Inn", "timezone": "Europe/Paris"}), 201
    )
    floors = [
        _ok(
            stack.request("POST", f"/hotels/{hotel['hotel_id']}/sections", admin, json={"section_name": f"Floor {n}"}),
            201,
        )
        for n in (1, 2)
    ]
    rooms = [
        _ok(
            stack.request(
                "POST",
                f"/sections/{floors[0]['section_id']}/rooms",
                admin,
                json={"room_number": n, "occupancy_status": "occupied"},
            ),
            201,
        )
        for n in ("101", "102")
    ]
    listed = _ok(stack.request("GET", f"/sections/{floors[0]['section_id']}/rooms", admin))
    assert [r["room_number"] for r in listed["items"]] == ["101", "102"]

    meter = _ok(
        stack.request(
            "POST",
            f"/rooms/{rooms[0]['room_id']}/devices",
            admin,
            json={"device_name": "101 meter", "ssid": "inn-wifi", "password": "wifi-pass-123"},
        ),
        201,
    )
    creds = meter["credentials"]
    assert creds["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----") and creds["api_key"]
    detail = _ok(stack.request("GET", f"/devices/{meter['device_id']}", admin))
    assert "credentials" not in detail and creds["api_key"] not in str(detail) and "wifi-pass-123" not in str(detail)
    assert detail["online"] is False

    beat = _ok(stack.request("POST", "/device/heartbeat", headers={"X-API-Key": creds["api_key"]}, json={}))
    assert beat["online"] is True
    assert _ok(stack.request("GET", f"/devices/{meter['device_id']}", admin))["online"] is True
    statuses = _ok(stack.request("GET", "/admin/devices/statuses", admin))
    assert {"device_id": meter["device_id"], "online": True}.items() <= next(
        r for r in statuses["items"] if r["device_id"] == meter["device_id"]
    ).items()

    group = _ok(stack.request("POST", "/groups", admin, json={"name": "Floor 1 meters"}), 201)
    _ok(
        stack.request("POST", f"/groups/{group['group_id']}/devices", admin, json={"device_id": meter["device_id"]}),
        201,
    )
    assert _ok(stack.request("GET", f"/groups/{group['group_id']}", admin))["device_ids"] == [meter["device_id"]]

    outsider = _ok(
        stack.request(
            "POST",
            "/auth/register",
            json={"name": "Out", "email": "out.e2e@example.com", "password": "correct-horse-1"},
        ),
        201,
    )["token"]
    assert _ok(stack.request("GET", "/hotels", outsider))["items"] == []
    assert _ok(stack.request("GET", "/devices", outsider))["items"] == []
    for path in (
        f"/hotels/{hotel['hotel_id']}",
        f"/hotels/{hotel['hotel_id']}/sections",
        f"/sections/{floors[0]['section_id']}/rooms",
        f"/rooms/{rooms[0]['room_id']}/devices",
        f"/devices/{meter['device_id']}",
        f"/groups/{group['group_id']}",
        f"/devices/{meter['device_id']}/groups",
    ):
        assert stack.request("GET", path, outsider).status_code == 404, path
    assert stack.request("DELETE", f"/devices/{meter['device_id']}", outsider).status_code == 404

    _ok(stack.request("DELETE", f"/devices/{meter['device_id']}", admin))
    assert stack.request("POST", "/device/heartbeat", headers={"X-API-Key": creds["api_key"]}).status_code == 401

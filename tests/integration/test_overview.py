"""GET /overview: its figures are the energy route's sums over the same spans,
for devices in the overview's zone (month rollups) and in another (day rollups)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _series(days: int, step_h: int, start_kwh: float, per_step: float) -> list[dict]:
    """A cumulative counter every `step_h` hours over the last `days` days, and one fresh reading."""
    now = datetime.now(timezone.utc).replace(microsecond=0)  # when the test runs, not when the module loads
    out, kwh = [], start_kwh
    t = now - timedelta(days=days)
    while t < now - timedelta(minutes=5):
        out.append({"timestamp": _iso(t), "energy_kwh": round(kwh, 3), "power_w": 400})
        kwh += per_step
        t += timedelta(hours=step_h)
    out.append({"timestamp": _iso(now - timedelta(minutes=2)), "energy_kwh": round(kwh, 3), "power_w": 750})
    return out


@pytest.fixture
def fleet(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "Harbour", "timezone": "Europe/Lisbon"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "Floor 1"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "101"}, admin_token)
    devices = []
    for i, (path, body) in enumerate(
        [
            (f"/rooms/{room['room_id']}/devices", {"device_name": "room meter", "ssid": "x", "password": "password1"}),
            ("/devices", {"name": "yard meter", "device_type": "meter", "power_rating_w": 20000}),
        ]
    ):
        created = api.create(path, body, admin_token)
        key = {"X-API-Key": created["credentials"]["api_key"]}
        readings = _series(40, 11 + 2 * i, 100.0 * (i + 1), 0.7 + i * 0.3)
        for n in range(0, len(readings), 400):
            status, out = api.post("/telemetry", {"readings": readings[n : n + 400]}, headers=key)
            assert status == 201, out
        devices.append(created["device_id"])
    return {"hotel": hotel, "room": room, "devices": devices}


def _energy(api, token, device_id, period, start, end, tz) -> Decimal:
    status, body = api.get(
        f"/devices/{device_id}/energy", token=token, query={"period": period, "start": start, "end": end, "tz": tz}
    )
    assert status == 200, body
    return Decimal(str(body["total_kwh"]))


def test_overview_figures_are_the_energy_routes_sums(api, admin_token, fleet):
    # The hotel's zone (month rollups) and another one (day rollups, hour by hour).
    for tz in ("Europe/Lisbon", "Asia/Tokyo"):
        _check_against_energy(api, admin_token, fleet, tz)
    # With no ?tz, the zone of the caller's sites.
    status, o = api.get("/overview", token=admin_token)
    assert status == 200 and o["tz"] == "Europe/Lisbon"
    start = datetime.fromisoformat(o["today"]["start"].replace("Z", "+00:00"))
    previous = datetime.fromisoformat(o["today"]["previous_start"].replace("Z", "+00:00"))
    assert start - previous in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
    _scope_alerts_and_bad_zone(api, admin_token, fleet)


def _check_against_energy(api, admin_token, fleet, tz):
    status, o = api.get("/overview", token=admin_token, query={"tz": tz})
    assert status == 200, o
    assert o["tz"] == tz and o["devices_counted"] == 2 and o["truncated"] is False
    for span, period in (("today", "day"), ("month", "day")):
        fig = o[span]
        want = sum(_energy(api, admin_token, d, period, fig["start"], fig["end"], tz) for d in fleet["devices"])
        assert Decimal(fig["kwh"]) == want.quantize(Decimal("0.000001")), span
        # the span before, hour by hour (it ends mid-day)
        before = sum(
            _energy(api, admin_token, d, "hour", fig["previous_start"], fig["previous_end"], tz)
            for d in fleet["devices"]
        )
        assert Decimal(fig["previous_kwh"]) == before.quantize(Decimal("0.000001")), span
        assert Decimal(fig["previous_kwh"]) > 0
    assert Decimal(o["month"]["kwh"]) >= Decimal(o["today"]["kwh"]) > 0
    # live power: both devices' fresh readings
    assert Decimal(o["power_w"]) == Decimal("1500")
    by_id = {d["device_id"]: d for d in o["devices"]}
    assert set(by_id) == set(fleet["devices"])
    assert sum(Decimal(d["today_kwh"]) for d in o["devices"]) == Decimal(o["today"]["kwh"])
    sites = {s["hotel_id"]: s for s in o["sites"]}
    assert sites[fleet["hotel"]["hotel_id"]]["name"] == "Harbour" and sites[fleet["hotel"]["hotel_id"]]["devices"] == 1
    assert sites[None]["devices"] == 1


def _scope_alerts_and_bad_zone(api, admin_token, fleet):
    viewer = api.user(admin_token, "v@example.com", "viewer", hotel_ids=[fleet["hotel"]["hotel_id"]])
    status, o = api.get("/overview", token=viewer)
    assert status == 200 and [d["device_id"] for d in o["devices"]] == [fleet["devices"][0]]
    assert o["alerts"] == {"open": 0, "open_more": False, "items": []}
    api.create(
        "/alerts",
        {
            "device_id": fleet["devices"][0],
            "message": "check the meter",
            "alert_type": "manual",
            "severity": "critical",
        },
        admin_token,
    )
    status, o = api.get("/overview", token=viewer)
    assert o["alerts"]["open"] == 1 and o["alerts"]["items"][0]["message"] == "check the meter"
    status, body = api.get("/overview", token=viewer, query={"tz": "Mars/Base"})
    assert status == 400 and body["error"] == "invalid_timezone"
    assert api.get("/overview")[0] == 401

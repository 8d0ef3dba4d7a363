"""GET /lights/{light_id}/usage (#12 item 6): burning hours from the lamp's
status changes and energy from its telemetry, per day of the light's time
zone (UTC for a light without a hotel), scoped like the other light routes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gridpulse.lights import state as light_state

HOUR = 3_600_000


def _light(api, token, name, city, lat=38.72, lon=-9.14):
    body = {"name": name, "device_type": "light", "city": city, "latitude": lat, "longitude": lon}
    return api.create("/devices", body, token)


@pytest.fixture
def clock(monkeypatch):
    """The lights' clock (gridpulse.lights.state.now_ms), set per step; starts at today's UTC midnight."""
    midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    now = {"ms": int(midnight.timestamp() * 1000)}
    monkeypatch.setattr(light_state, "now_ms", lambda: now["ms"])
    return {"midnight": midnight, "now": now}


@pytest.fixture
def city(api, admin_token):
    lisbon = _light(api, admin_token, "Pole 1", "Lisbon")
    porto = _light(api, admin_token, "Pole 9", "Porto", lat=41.15, lon=-8.61)
    meter = api.create("/devices", {"name": "meter", "device_type": "meter", "city": "Lisbon"}, admin_token)
    viewer = api.user(admin_token, "view@example.com", "viewer", cities=["Lisbon"], city="Lisbon")
    outsider = api.user(admin_token, "out@example.com", "viewer", cities=["Faro"], city="Faro")
    return {"lisbon": lisbon, "porto": porto, "meter": meter, "viewer": viewer, "outsider": outsider}


def _report_at(api, clock, light, status, hours_from_midnight):
    clock["now"]["ms"] = int(clock["midnight"].timestamp() * 1000) + int(hours_from_midnight * HOUR)
    headers = {"X-API-Key": light["credentials"]["api_key"]}
    assert api.post(f"/lights/{light['device_id']}/status", {"status": status}, headers=headers)[0] == 200


def test_burning_hours_and_energy_per_day(api, admin_token, city, clock):
    light = city["lisbon"]
    midnight = clock["midnight"]
    _report_at(api, clock, light, "on", -6)  # yesterday 18:00
    _report_at(api, clock, light, "off", 6)  # today 06:00
    _report_at(api, clock, light, "on", 18)  # today 18:00, still burning
    # Telemetry of yesterday evening, through the normal path: an energy counter 0.09 kWh up in an hour.
    readings = [
        {"timestamp": (midnight - timedelta(hours=5, minutes=m)).isoformat(), "energy_kwh": 10 + (60 - m) * 0.0015}
        for m in (60, 30, 0)
    ]
    status, _ = api.post("/telemetry", {"readings": readings}, headers={"X-API-Key": light["credentials"]["api_key"]})
    assert status == 201
    clock["now"]["ms"] = int(midnight.timestamp() * 1000) + 20 * HOUR  # today 20:00

    yesterday, today = (midnight - timedelta(days=1)).date().isoformat(), midnight.date().isoformat()
    status, body = api.get(
        f"/lights/{light['device_id']}/usage", token=city["viewer"], query={"from": yesterday, "to": today}
    )
    assert status == 200, body
    assert body["tz"] == "UTC" and body["from"] == yesterday and body["to"] == today
    assert body["days"] == [
        {"date": yesterday, "burning_hours": "6.000", "switch_ons": 1, "energy_kwh": "0.090"},
        # 00:00-06:00 and 18:00 until now (20:00): an interval still open counts up to now.
        {"date": today, "burning_hours": "8.000", "switch_ons": 1, "energy_kwh": None},
    ]
    assert body["total_burning_hours"] == "14.000" and body["total_energy_kwh"] == "0.090"

    # Default range: the last 7 days up to today; days before the first report burn 0 hours.
    status, body = api.get(f"/lights/{light['device_id']}/usage", token=admin_token)
    assert status == 200 and len(body["days"]) == 7 and body["to"] == today
    assert [d["burning_hours"] for d in body["days"]] == ["0.000"] * 5 + ["6.000", "8.000"]


def test_a_status_from_before_the_range_counts_the_whole_range(api, admin_token, city, clock):
    light = city["lisbon"]
    _report_at(api, clock, light, "on", -50)  # two days ago, before the range
    clock["now"]["ms"] = int(clock["midnight"].timestamp() * 1000) + 2 * HOUR  # today 02:00
    day = (clock["midnight"] - timedelta(days=1)).date().isoformat()
    body = api.get(f"/lights/{light['device_id']}/usage", token=admin_token, query={"from": day, "to": day})[1]
    assert body["days"] == [{"date": day, "burning_hours": "24.000", "switch_ons": 0, "energy_kwh": None}]


def test_scope_unknown_lights_and_other_devices_are_404(api, admin_token, city, clock):
    porto, lisbon = city["porto"]["device_id"], city["lisbon"]["device_id"]
    assert api.get(f"/lights/{lisbon}/usage", token=city["viewer"])[0] == 200
    for token, light_id in [
        (city["viewer"], porto),  # outside the viewer's cities
        (city["outsider"], lisbon),
        (admin_token, "no-such-light"),
        (admin_token, city["meter"]["device_id"]),  # a device that is not a light
    ]:
        status, body = api.get(f"/lights/{light_id}/usage", token=token)
        assert status == 404 and body["error"] == "light_not_found", (light_id, body)
    assert api.get(f"/lights/{lisbon}/usage")[0] == 401


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"from": "2026-13-01"}, "from", "validation_error"),
        ({"to": "07/12/2026"}, "to", "validation_error"),
        ({"from": "2026-02-30"}, "from", "validation_error"),
        ({"to": "+1d"}, "to", "validation_error"),
        ({"from": "today", "to": "yesterday"}, "from", "invalid_range"),
        ({"to": "tomorrow"}, "to", "date_out_of_range"),
        ({"from": "-100d"}, "from", "date_out_of_range"),
        ({"from": "-40d"}, "from", "range_too_large"),
        # Counting the default `from` back from year 1 overflowed: a 502.
        ({"to": "0001-01-01"}, "to", "date_out_of_range"),
        ({"to": "-100d"}, "to", "date_out_of_range"),
    ],
)
def test_bad_dates_are_a_400_naming_the_field(api, admin_token, city, clock, query, field, code):
    today = clock["midnight"].date()
    names = {
        "today": today,
        "yesterday": today - timedelta(days=1),
        "tomorrow": today + timedelta(days=1),
        "-100d": today - timedelta(days=100),
        "-40d": today - timedelta(days=40),
    }
    resolved = {k: names[v].isoformat() if v in names else v for k, v in query.items()}
    status, body = api.get(f"/lights/{city['lisbon']['device_id']}/usage", token=admin_token, query=resolved)
    assert status == 400, body
    assert body["error"] == code and field in {f["field"] for f in body.get("fields", [])}, body

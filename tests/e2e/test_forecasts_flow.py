"""A meter's day-ahead forecast end to end through the running stack: three
days of hourly counter readings over POST /telemetry (X-API-Key, as an HTTP
meter sends its backlog), then POST predict, the newest forecast and the
history with the actual kWh of hours that have passed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.e2e


def test_a_meter_with_three_days_of_readings_gets_a_24_hour_forecast(stack):
    admin = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    created = stack.request("POST", "/devices", admin, json={"name": "forecast meter", "device_type": "meter"})
    assert created.status_code == 201, created.text
    meter = created.json()
    meter_id, key = meter["device_id"], meter["credentials"]["api_key"]

    # Too little history first: the answer says how much is needed.
    early = stack.request("POST", f"/devices/{meter_id}/predict", admin)
    assert early.status_code == 422 and early.json()["error"] == "insufficient_history", early.text
    assert early.json()["needed_hours"] == 48 and early.json()["have_hours"] == 0

    hour = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)
    times = [hour - timedelta(hours=73 - i) for i in range(73)]
    readings = [{"timestamp": t.isoformat(), "energy_kwh": round(50 + 0.25 * i, 3)} for i, t in enumerate(times)]
    sent = stack.request("POST", "/telemetry", headers={"X-API-Key": key}, json={"readings": readings})
    assert sent.status_code == 201, sent.text

    made = stack.request("POST", f"/devices/{meter_id}/predict", admin)
    assert made.status_code == 201, made.text
    forecast = made.json()
    assert forecast["method"] == "seasonal_naive" and forecast["horizon_hours"] == 24 and len(forecast["items"]) == 24
    first = forecast["items"][0]
    assert Decimal(first["kwh_lower"]) <= Decimal(first["kwh"]) == Decimal("0.250") <= Decimal(first["kwh_upper"])
    assert first["power_w"] == "250"  # 0.25 kWh in an hour: 250 W on average

    newest = stack.request("GET", f"/devices/{meter_id}/prediction", admin)
    assert newest.status_code == 200 and newest.json()["forecast_id"] == forecast["forecast_id"]
    history = stack.request("GET", f"/devices/{meter_id}/predictions", admin, params={"limit": 5})
    assert history.status_code == 200, history.text
    page = history.json()
    assert page["count"] == 1 and page["items"][0]["forecast_id"] == forecast["forecast_id"]
    assert all("actual_kwh" in h for h in page["items"][0]["items"])  # null until each hour has passed

"""Forecasts (#14): a meter's next 24 hours from its hourly rollups, stored and
read back newest first with the actual kWh beside each past hour, refused on
short history, scoped like every device route; the schedule queues every
meter and the worker stores one forecast per device, a failing device
costing only itself."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import boto3
import pytest

NOW = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def hotel_meter(api, admin_token):
    """A meter in a Lisbon hotel's room, its owner, and a viewer of another hotel."""
    hotel = api.create("/hotels", {"hotel_name": "Sea View", "timezone": "Europe/Lisbon"}, admin_token)
    section = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "Floor 1"}, admin_token)
    room = api.create(f"/sections/{section['section_id']}/rooms", {"room_number": "101"}, admin_token)
    meter = api.create(f"/rooms/{room['room_id']}/devices", {"device_name": "101 meter"}, admin_token)
    other = api.create("/hotels", {"hotel_name": "Elsewhere", "timezone": "UTC"}, admin_token)
    outsider = api.user(admin_token, "outsider@example.com", "viewer", hotel_ids=[other["hotel_id"]])
    insider = api.user(admin_token, "insider@example.com", "viewer", hotel_ids=[hotel["hotel_id"]])
    return {
        "id": meter["device_id"],
        "hotel_id": hotel["hotel_id"],
        "room_id": room["room_id"],
        "outsider": outsider,
        "insider": insider,
        "admin": admin_token,
    }


def _kwh_at(t: datetime) -> float:
    """A daily shape: 0.2 kWh at night, up to 1.0 kWh in the evening."""
    return round(0.2 + 0.8 * max(0.0, math.sin(math.pi * (t.hour - 6) / 16)), 3)


def feed(device_id: str, hours: int, end: datetime = NOW, electrics: bool = False) -> dict[datetime, float]:
    """Hourly counter readings at hh:30 for `hours` hours before `end` (through
    the ingestion code, as HTTP and MQTT messages are stored); the kWh each
    hour adds, by UTC hour start."""
    from gridpulse.devices.context import context_for
    from gridpulse.telemetry.ingest import Message, ingest

    times = [end - timedelta(hours=hours - i) + timedelta(minutes=30) for i in range(hours + 1)]
    times = [t - timedelta(hours=1) for t in times]  # the first is the baseline, in the hour before
    counter, values, added = 100.0, [], {}
    for t in times:
        if values:
            counter = round(counter + _kwh_at(t), 3)
            added[t.replace(minute=0)] = _kwh_at(t)
        values.append({"timestamp": t.isoformat(), "energy_kwh": counter})
        if electrics:  # the voltage sags in the evening; the enclosure warms by day
            values[-1].update(voltage=235.0 - t.hour / 4, current=round(_kwh_at(t) * 1000 / 230, 3), temperature=t.hour)
    for first in range(0, len(values), 500):
        part = values[first : first + 500]
        ingest(context_for(device_id), [Message({"readings": part}, int(times[-1].timestamp() * 1000) + 1, "http")])
    return added


def test_predict_answers_24_hours_with_intervals_stores_it_and_the_hotel_sums_it(api, hotel_meter, dynamodb_calls):
    feed(hotel_meter["id"], 72)
    dynamodb_calls.clear()
    status, fc = api.post(f"/devices/{hotel_meter['id']}/predict", token=hotel_meter["insider"])
    assert status == 201, fc
    assert fc["device_id"] == hotel_meter["id"] and fc["forecast_id"]
    assert fc["method"] == "seasonal_naive"  # under 14 days of history
    assert fc["horizon_hours"] == 24 and fc["coverage"] == 0.8 and 0 <= fc["confidence"] <= 1
    assert fc["model_version"] and fc["generated_at"].endswith("Z")
    assert len(fc["items"]) == 24
    first = datetime.fromisoformat(fc["items"][0]["timestamp"])
    assert first == NOW or first == NOW + timedelta(hours=1)  # the hour that contains now
    for item in fc["items"]:
        kwh, lower, upper = (Decimal(item[k]) for k in ("kwh", "kwh_lower", "kwh_upper"))
        assert lower <= kwh <= upper and lower >= 0
        assert Decimal(item["power_w"]) == kwh * 1000  # mean power of the hour, in watts
        assert Decimal(item["power_w_lower"]) <= Decimal(item["power_w"]) <= Decimal(item["power_w_upper"])
    # seasonal-naive: the same hour a day earlier (no week of history yet)
    hour = datetime.fromisoformat(fc["items"][3]["timestamp"])
    assert Decimal(fc["items"][3]["kwh"]) == Decimal(str(_kwh_at(hour - timedelta(days=1))))
    bt = fc["backtest"]
    assert bt["hours"] > 0 and Decimal(bt["mae"]) >= 0 and Decimal(bt["baseline_mae"]) == Decimal(bt["mae"])
    # Read from the rollups (a Query on the telemetry partition), never a raw reading.
    assert ("dynamodb", "Query") in dynamodb_calls.calls
    status, newest = api.get(f"/devices/{hotel_meter['id']}/prediction", token=hotel_meter["insider"])
    assert status == 200 and newest == fc
    # Stored with its expiry (the table's TTL attribute): 30 days after it was made.
    from gridpulse.forecasts.data import ForecastItem

    (stored,) = ForecastItem.query(f"device#{hotel_meter['id']}")
    made = datetime.fromisoformat(fc["generated_at"]).timestamp()
    assert abs(stored.ttl - (made + 30 * 86400)) < 2
    # The hotel's total: its one meter's newest forecast.
    status, total = api.get(f"/hotels/{hotel_meter['hotel_id']}/forecast", token=hotel_meter["insider"])
    assert status == 200, total
    assert total["devices"][0]["forecast_id"] == fc["forecast_id"] and total["devices_without_forecast"] == []
    assert [i["kwh"] for i in total["items"]] == [i["kwh"] for i in fc["items"]]
    # The room's total: the same meter, and a second meter of the room without a forecast yet.
    second = api.create(
        f"/rooms/{hotel_meter['room_id']}/devices", {"device_name": "101 meter 2"}, hotel_meter["admin"]
    )
    status, room = api.get(f"/rooms/{hotel_meter['room_id']}/forecast", token=hotel_meter["insider"])
    assert status == 200, room
    assert (room["room_id"], room["hotel_id"]) == (hotel_meter["room_id"], hotel_meter["hotel_id"])
    assert [d["device_id"] for d in room["devices"]] == [hotel_meter["id"]]
    assert room["devices_without_forecast"] == [second["device_id"]]
    assert [(i["kwh"], i["kwh_lower"], i["kwh_upper"]) for i in room["items"]] == [
        (i["kwh"], i["kwh_lower"], i["kwh_upper"]) for i in fc["items"]
    ]
    assert all(i["devices"] == 1 for i in room["items"])


def test_short_history_is_422_with_the_hours_needed_and_held(api, hotel_meter):
    feed(hotel_meter["id"], 30)
    status, body = api.post(f"/devices/{hotel_meter['id']}/predict", token=hotel_meter["insider"])
    assert status == 422 and body["error"] == "insufficient_history"
    # 30 hours of consumption, and the hour of the first reading (its baseline: 0 kWh)
    assert body["needed_hours"] == 48 and body["have_hours"] == 31
    status, body = api.get(f"/devices/{hotel_meter['id']}/prediction", token=hotel_meter["insider"])
    assert status == 404 and body["error"] == "no_prediction"


def test_a_device_without_energy_data_is_422_not_a_500(api, admin_token):
    light = api.create("/devices", {"name": "pole", "device_type": "light", "city": "Lisbon"}, admin_token)
    status, body = api.post(f"/devices/{light['device_id']}/predict", token=admin_token)
    assert status == 422 and body["have_hours"] == 0


def test_history_is_newest_first_paged_with_actuals_once_the_hour_has_passed(api, hotel_meter):
    from gridpulse.devices.data import DeviceItem
    from gridpulse.forecasts import service

    device = DeviceItem.get(DeviceItem.key(hotel_meter["id"]), "meta")
    added = feed(hotel_meter["id"], 5 * 24)
    # Forecasts made 30 and 6 hours ago (from the history known then), and now.
    older = service.compute(device, now=NOW - timedelta(hours=30) + timedelta(minutes=5))
    recent = service.compute(device, now=NOW - timedelta(hours=6) + timedelta(minutes=5))
    latest = api.post(f"/devices/{hotel_meter['id']}/predict", token=hotel_meter["insider"])[1]

    status, page = api.get(
        f"/devices/{hotel_meter['id']}/predictions", token=hotel_meter["insider"], query={"limit": 2}
    )
    assert status == 200 and page["count"] == 2 and page["next_token"]
    assert [f["forecast_id"] for f in page["items"]] == [latest["forecast_id"], recent["forecast_id"]]
    status, rest = api.get(
        f"/devices/{hotel_meter['id']}/predictions",
        token=hotel_meter["insider"],
        query={"limit": 2, "next_token": page["next_token"]},
    )
    assert status == 200 and [f["forecast_id"] for f in rest["items"]] == [older["forecast_id"]]
    assert rest["next_token"] is None

    # The older forecast's 24 hours have all passed: each carries what the meter measured.
    hours = rest["items"][0]["items"]
    assert all(h["actual_kwh"] is not None for h in hours)
    for h in hours:
        assert Decimal(h["actual_kwh"]) == Decimal(str(added[datetime.fromisoformat(h["timestamp"])]))
    # The recent one: its first 6 hours have passed, the rest have not.
    known = [h["actual_kwh"] is not None for h in page["items"][1]["items"]]
    assert known == [True] * 6 + [False] * 18
    assert all(h["actual_kwh"] is None for h in page["items"][0]["items"])


def test_outside_the_callers_scope_every_route_is_404_and_bad_pages_are_400(api, hotel_meter):
    for method, suffix in (("POST", "predict"), ("GET", "prediction"), ("GET", "predictions")):
        status, body = api.call(method, f"/devices/{hotel_meter['id']}/{suffix}", token=hotel_meter["outsider"])
        assert status == 404 and body["error"] == "device_not_found", suffix
    status, _ = api.get(f"/hotels/{hotel_meter['hotel_id']}/forecast", token=hotel_meter["outsider"])
    assert status == 404
    status, body = api.get(f"/rooms/{hotel_meter['room_id']}/forecast", token=hotel_meter["outsider"])
    assert status == 404 and body["error"] == "room_not_found", body
    assert api.get("/rooms/no-such-room/forecast", token=hotel_meter["insider"])[0] == 404
    assert api.get("/devices/no-such-device/prediction", token=hotel_meter["insider"])[0] == 404
    assert api.post(f"/devices/{hotel_meter['id']}/predict")[0] == 401
    path = f"/devices/{hotel_meter['id']}/predictions"
    status, body = api.get(path, token=hotel_meter["insider"], query={"next_token": "garbage"})
    assert status == 400 and body["error"] == "invalid_next_token"
    status, body = api.get(path, token=hotel_meter["insider"], query={"limit": 0})
    assert status == 400 and body["fields"][0]["field"] == "limit"


def _queue_messages(url: str) -> list[dict]:
    sqs, out = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        out += batch
    return out


def test_schedule_queues_every_meter_and_the_worker_stores_their_forecasts(api, admin_token, hotel_meter, aws):
    from gridpulse.forecasts import schedule

    feed(hotel_meter["id"], 72)
    young = api.create("/devices", {"name": "new meter", "device_type": "meter"}, admin_token)["device_id"]
    api.create("/devices", {"name": "pole", "device_type": "light", "city": "Lisbon"}, admin_token)

    result = schedule.fan_out("2026-12-07T00:00:00Z")
    assert result == {"queued": 2}  # the meters, not the light
    messages = _queue_messages(aws.physical["ForecastQueue"])
    assert sorted(json.loads(m["Body"])["device_id"] for m in messages) == sorted([hotel_meter["id"], young])

    event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}
    event["Records"].append({"messageId": "poison", "body": "not json"})
    assert schedule.handle_batch(event) == {"batchItemFailures": []}  # the poison message is given up alone
    status, fc = api.get(f"/devices/{hotel_meter['id']}/prediction", token=hotel_meter["insider"])
    assert status == 200 and len(fc["items"]) == 24
    assert api.get(f"/devices/{young}/prediction", token=admin_token)[0] == 404  # too little history: skipped


def test_a_throttled_device_is_retried_alone_and_a_broken_one_is_not(aws, monkeypatch):
    from gridpulse.batch import Retryable
    from gridpulse.forecasts import schedule, service

    done = []

    def compute(device, now=None, baseline_only=False, trigger="on_demand"):
        if device.device_id == "throttled":
            raise Retryable("throttled")
        if device.device_id == "broken":
            raise ValueError("the model failed on this device")
        done.append(device.device_id)

    monkeypatch.setattr(service, "compute", compute)
    monkeypatch.setattr(schedule, "get_or_none", lambda model, pk, sk: type("D", (), {"device_id": pk[7:]})())
    event = {
        "Records": [{"messageId": m, "body": json.dumps({"device_id": m})} for m in ("throttled", "broken", "fine")]
    }
    assert schedule.handle_batch(event) == {"batchItemFailures": [{"itemIdentifier": "throttled"}]}
    assert done == ["fine"]


def test_a_quick_run_serves_the_baseline_to_meters_without_a_forecast_and_a_full_run_follows(
    api, admin_token, hotel_meter, aws
):
    # What the local stack does at start-up (infrastructure/local/__main__.py): quick runs until
    # every meter has a forecast, then a full run once the history is in.
    from gridpulse.forecasts import schedule

    feed(hotel_meter["id"], 16 * 24)  # enough for the model: only the quick run's choice makes it the baseline
    quick = {"baseline_only": True, "only_missing": True}

    def run(detail) -> dict:
        result = schedule.fan_out("2026-12-07T00:00:00Z", detail)
        messages = _queue_messages(aws.physical["ForecastQueue"])
        for m in messages:
            boto3.client("sqs").delete_message(QueueUrl=aws.physical["ForecastQueue"], ReceiptHandle=m["ReceiptHandle"])
        assert schedule.handle_batch(
            {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]}
        ) == {"batchItemFailures": []}
        return result

    assert run(quick) == {"queued": 1, **quick}
    status, first = api.get(f"/devices/{hotel_meter['id']}/prediction", token=admin_token)
    assert status == 200 and first["method"] == "seasonal_naive" and first["history_hours"] >= 14 * 24
    assert first["backtest"]["mae"] == first["backtest"]["baseline_mae"]
    assert run(quick) == {"queued": 0, **quick}  # every meter has one: nothing to do
    assert run({}) == {"queued": 1}  # the full run forecasts every meter again, the model competing
    page = api.get(f"/devices/{hotel_meter['id']}/predictions", token=admin_token)[1]
    assert page["count"] == 2 and page["items"][1]["forecast_id"] == first["forecast_id"]


def test_a_meter_reporting_voltage_current_and_temperature_gets_their_expected_hourly_means(api, hotel_meter):
    from gridpulse.telemetry import rollups

    feed(hotel_meter["id"], 72, electrics=True)
    day = rollups.day_items(hotel_meter["id"], "2000-01-01", "2100-01-01")[-2]
    bucket = next(iter(rollups.buckets_of(day).values()))
    assert bucket["vn"] == bucket["an"] == bucket["tn"] == 1  # sums and counts in the hourly bucket

    status, fc = api.post(f"/devices/{hotel_meter['id']}/predict", token=hotel_meter["insider"])
    assert status == 201, fc
    for item in fc["items"]:
        hour = datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00")).hour
        # The rollups count each reading in the local hour it falls in; the values depend on the UTC hour.
        assert item["voltage"] == pytest.approx(235.0 - hour / 4)
        assert item["temperature"] == hour
        assert item["current"] == pytest.approx(_kwh_at(datetime(2026, 1, 1, hour)) * 1000 / 230, abs=0.01)


def test_a_meter_reporting_only_energy_has_no_expected_voltage(api, hotel_meter):
    feed(hotel_meter["id"], 72)
    status, fc = api.post(f"/devices/{hotel_meter['id']}/predict", token=hotel_meter["insider"])
    assert status == 201, fc
    assert all(item.get("voltage") is None and item.get("temperature") is None for item in fc["items"])


def test_a_second_predict_within_a_minute_returns_the_stored_forecast_without_computing(api, hotel_meter, monkeypatch):
    from gridpulse.forecasts import service

    feed(hotel_meter["id"], 72)
    path, token = f"/devices/{hotel_meter['id']}/predict", hotel_meter["insider"]
    status, made = api.post(path, token=token)
    assert status == 201, made
    compute = service.compute
    monkeypatch.setattr(service, "compute", lambda *a, **k: pytest.fail("a forecast under a minute old is reused"))
    status, again = api.post(path, token=token)
    assert status == 200 and again == made  # as stored: same forecast_id and generated_at
    monkeypatch.setattr(service, "compute", compute)

    later = datetime.now(timezone.utc) + timedelta(seconds=service.REUSE_S + 1)
    monkeypatch.setattr(service, "utcnow", lambda: later)
    status, fresh = api.post(path, token=token)
    assert status == 201 and fresh["forecast_id"] != made["forecast_id"]

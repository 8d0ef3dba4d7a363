"""Telemetry ingestion (HTTP and the SQS path from the IoT rule), storage,
rollups and queries, with AWS in moto."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from gridpulse.telemetry.pipeline import handle_sqs_batch

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def post(api, meter, body):
    return api.post("/telemetry", body, headers=meter["key"])


def readings(api, meter, **query):
    status, body = api.get(f"/devices/{meter['id']}/readings", token=meter["token"], query={"start": "-2d", **query})
    assert status == 200, body
    return body["items"]


def energy_total(api, meter, period="day", **query):
    status, body = api.get(
        f"/devices/{meter['id']}/energy", token=meter["token"], query={"period": period, "start": "-2d", **query}
    )
    assert status == 200, body
    return body["total_kwh"]


def sqs_event(records: list[dict]) -> dict:
    return {"Records": [{"messageId": f"m{i}", "body": json.dumps(body)} for i, body in enumerate(records)]}


# ------------------------------------------------------------------ HTTP ingestion


def test_one_reading_is_stored_and_read_back(api, meter):
    status, body = post(api, meter, {"timestamp": at(5), "voltage": 230.0, "current": 2.0, "energy_kwh": 10.0})
    assert status == 201 and body["accepted"] == 1
    items = readings(api, meter)
    assert len(items) == 1
    assert items[0]["power_w"] == 460.0  # derived from V x I
    assert items[0]["kwh_value"] == 10.0 and items[0]["timestamp"].startswith(at(5)[:16])
    status, latest = api.get(f"/devices/{meter['id']}/readings/latest", token=meter["token"])
    assert status == 200 and latest["voltage"] == 230.0


def test_a_batch_is_stored_and_counter_deltas_become_energy(api, meter):
    batch = {"readings": [{"timestamp": at(30 - i), "energy_kwh": 100 + i * 0.01, "power_w": 600} for i in range(10)]}
    status, body = post(api, meter, batch)
    assert status == 201 and body["accepted"] == 10
    assert math.isclose(energy_total(api, meter), 0.09, abs_tol=1e-9)


def test_a_duplicate_delivery_is_stored_and_counted_once(api, meter):
    batch = {"readings": [{"timestamp": at(20 - i), "energy_kwh": 5 + i * 0.01} for i in range(5)]}
    assert post(api, meter, batch)[0] == 201
    status, body = post(api, meter, batch)
    assert status == 207 and body["duplicates"] == 5 and body["accepted"] == 0
    assert len(readings(api, meter)) == 5
    assert math.isclose(energy_total(api, meter), 0.04, abs_tol=1e-9)


def test_bad_values_are_refused_with_a_reason_and_kept(api, meter):
    body = (
        '{"readings": [{"timestamp": "%s", "power_w": NaN}, {"timestamp": "%s", "power_w": -5},'
        ' {"timestamp": "%s", "voltage": 99999}, {"timestamp": "%s", "power_w": Infinity},'
        ' {"timestamp": "%s", "power_w": 100}]}' % (at(5), at(4), at(3), at(2), at(1))
    )
    status, out = api.post("/telemetry", raw=body, headers=meter["key"])
    assert status == 207 and out["accepted"] == 1 and out["rejected"] == 4
    reasons = [(r["reason"], r["field"]) for r in out["results"] if r["status"] == "rejected"]
    assert reasons == [
        ("not_finite", "power_w"),
        ("negative_value", "power_w"),
        ("out_of_range", "voltage"),
        ("not_finite", "power_w"),
    ]
    status, kept = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])
    assert kept["count"] == 4 and {i["reason"] for i in kept["items"]} == {
        "not_finite",
        "negative_value",
        "out_of_range",
    }


def test_a_single_bad_reading_is_a_400_naming_the_field(api, meter):
    status, body = post(api, meter, {"timestamp": at(1), "temperature": "hot"})
    assert status == 400 and body["error"] == "not_a_number" and body["fields"][0]["field"] == "temperature"
    future = (NOW + timedelta(hours=1)).isoformat()
    status, body = post(api, meter, {"timestamp": future, "power_w": 5})
    assert status == 400 and body["error"] == "timestamp_in_future"
    status, body = post(api, meter, {"timestamp": at(1)})
    assert status == 400 and body["error"] == "no_measurement"


def test_an_oversized_batch_is_refused_whole_and_kept(api, meter):
    status, body = post(api, meter, {"readings": [{"power_w": 1}] * 501})
    assert status == 400 and body["error"] == "batch_too_large" and body["fields"][0]["field"] == "readings"
    assert api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["count"] == 1


def test_counter_reset_is_not_negative_energy(api, meter):
    values = [50.0, 50.2, 50.4, 0.1, 0.3]  # meter replaced / reset after the third reading
    post(api, meter, {"readings": [{"timestamp": at(10 - i), "energy_kwh": v} for i, v in enumerate(values)]})
    assert math.isclose(energy_total(api, meter), 0.2 + 0.2 + 0.1 + 0.2, abs_tol=1e-9)


def test_an_impossible_jump_is_quarantined_not_counted(api, meter):
    # 5 kW rating: 1000 kWh in a minute is impossible; the readings around it still count.
    values = [10.0, 10.05, 1010.05, 1010.1]
    post(api, meter, {"readings": [{"timestamp": at(4 - i), "energy_kwh": v} for i, v in enumerate(values)]})
    assert math.isclose(energy_total(api, meter), 0.05 + 0.05, abs_tol=1e-9)
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert [r["reason"] for r in rejected] == ["impossible_jump"]


def test_late_and_out_of_order_readings_land_in_the_right_bucket(api, meter):
    post(api, meter, {"readings": [{"timestamp": at(m), "energy_kwh": 1 + (180 - m) * 0.01} for m in (180, 120)]})
    post(api, meter, {"readings": [{"timestamp": at(m), "energy_kwh": 1 + (180 - m) * 0.01} for m in (60, 1)]})
    post(api, meter, {"timestamp": at(150), "energy_kwh": 1 + 30 * 0.01})  # late, in an earlier hour
    hours = api.get(f"/devices/{meter['id']}/energy", token=meter["token"], query={"period": "hour", "start": "-4h"})[1]
    assert math.isclose(hours["total_kwh"], 1.79, abs_tol=1e-9)
    assert [r["timestamp"] for r in readings(api, meter)] == sorted(r["timestamp"] for r in readings(api, meter))


def test_deleting_readings_keeps_rollups_consistent(api, meter):
    post(api, meter, {"readings": [{"timestamp": at(40 - i * 10), "energy_kwh": 1 + i} for i in range(4)]})
    assert math.isclose(energy_total(api, meter), 3.0, abs_tol=1e-9)
    status, body = api.delete(
        f"/devices/{meter['id']}/readings", token=meter["token"], query={"start": at(22), "end": at(18)}
    )
    assert status == 200 and body["deleted"] == 1
    assert len(readings(api, meter)) == 3
    assert math.isclose(energy_total(api, meter), 3.0, abs_tol=1e-9)  # 1 -> 2 -> 4: the deltas re-chain
    status, body = api.delete(f"/devices/{meter['id']}/readings", token=meter["token"])
    assert status == 400 and {f["field"] for f in body["fields"]} == {"start", "end"}


def test_power_only_devices_integrate_power(api, meter):
    post(api, meter, {"readings": [{"timestamp": at(30 - i * 5), "power_w": 1200} for i in range(7)]})
    assert math.isclose(energy_total(api, meter), 1.2 * 0.5, abs_tol=1e-9)


def test_aggregate_per_window(api, meter):
    post(
        api,
        meter,
        {"readings": [{"timestamp": at(30 - i), "power_w": 100 + i, "energy_kwh": 1 + i / 100} for i in range(10)]},
    )
    status, body = api.get(
        f"/devices/{meter['id']}/readings/aggregate",
        token=meter["token"],
        query={"field": "power_w", "fn": "max", "window": "1d", "start": "-1d"},
    )
    assert status == 200 and body["items"][-1]["value"] == 109 and sum(i["count"] for i in body["items"]) == 10
    status, body = api.get(
        f"/devices/{meter['id']}/readings/aggregate",
        token=meter["token"],
        query={"field": "energy_kwh", "fn": "sum", "window": "1d", "start": "-1d"},
    )
    assert math.isclose(sum(i["value"] for i in body["items"]), 0.09, abs_tol=1e-9)
    status, body = api.get(
        f"/devices/{meter['id']}/readings/aggregate",
        token=meter["token"],
        query={"field": "mood", "fn": "median", "window": "2h"},
    )
    assert status == 400 and {f["field"] for f in body["fields"]} == {"field", "fn", "window"}


def test_readings_page_by_page(api, meter):
    post(api, meter, {"readings": [{"timestamp": at(50 - i), "power_w": i} for i in range(25)]})
    seen, token = [], None
    while True:
        status, body = api.get(
            f"/devices/{meter['id']}/readings",
            token=meter["token"],
            query={"start": "-2h", "limit": 10, **({"next_token": token} if token else {})},
        )
        seen += [r["power_w"] for r in body["items"]]
        token = body["next_token"]
        if not token:
            break
    assert seen == list(range(25))


def test_other_users_cannot_read_or_delete_readings(api, meter):
    post(api, meter, {"timestamp": at(1), "power_w": 5})
    stranger = api.register("s@example.com")["token"]
    for path in ("readings", "readings/latest", "energy", "readings/aggregate", "readings/rejected"):
        assert api.get(f"/devices/{meter['id']}/{path}", token=stranger)[0] == 404, path
    assert (
        api.delete(f"/devices/{meter['id']}/readings", token=stranger, query={"start": "-1d", "end": "now"})[0] == 404
    )


# ------------------------------------------------------------------ the MQTT path (IoT rule -> SQS -> IngestFunction)


def rule_output(thing: str, payload: dict, received: datetime | None = None) -> dict:
    return {
        **payload,
        "thing_name": thing,
        "client_id": thing,
        "received_at": int((received or datetime.now(timezone.utc)).timestamp() * 1000),
    }


def test_sqs_batch_is_ingested_with_duplicates_counted_once(api, meter):
    message = rule_output(
        meter["thing"], {"readings": [{"timestamp": at(10 - i), "energy_kwh": 7 + i * 0.1} for i in range(3)]}
    )
    result = handle_sqs_batch(sqs_event([message, message, message]))  # at-least-once: delivered three times
    assert result == {"batchItemFailures": []}
    assert len(readings(api, meter)) == 3
    assert math.isclose(energy_total(api, meter), 0.2, abs_tol=1e-9)


def test_malformed_mqtt_payload_is_quarantined(api, meter):
    result = handle_sqs_batch(
        sqs_event(
            [{"_raw_payload": "{not json", "thing_name": meter["thing"], "received_at": int(NOW.timestamp() * 1000)}]
        )
    )
    assert result == {"batchItemFailures": []}
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert rejected[0]["reason"] == "malformed_json" and rejected[0]["source"] == "mqtt"


def test_one_bad_record_does_not_fail_the_batch(api, meter):
    good = rule_output(meter["thing"], {"timestamp": at(2), "power_w": 10})
    bad = rule_output(meter["thing"], {"timestamp": at(1), "power_w": "lots"})
    unknown = rule_output("gp-no-such-device", {"power_w": 1})
    event = sqs_event([good, bad, unknown])
    event["Records"].append({"messageId": "junk", "body": "not json at all"})
    assert handle_sqs_batch(event) == {"batchItemFailures": []}
    assert len(readings(api, meter)) == 1


def test_a_storage_failure_reports_only_that_devices_records(api, meter, monkeypatch):
    from gridpulse.telemetry import ingest as ingest_module

    def broken(*args, **kwargs):
        raise throttled()

    monkeypatch.setattr(ingest_module, "_put_raw", broken)
    result = handle_sqs_batch(sqs_event([rule_output(meter["thing"], {"timestamp": at(1), "power_w": 10})]))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


# ------------------------------------------------------------------ calendar days in the site's zone, DST


def test_rollups_equal_raw_readings_across_a_dst_change(api, admin_token):
    hotel = api.create("/hotels", {"hotel_name": "Paris", "timezone": "Europe/Paris"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "F"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "1"}, admin_token)
    created = api.create(f"/rooms/{room['room_id']}/devices", {"device_name": "m", "power_rating_w": 5000}, admin_token)
    did = created["device_id"]
    # 2026-10-25: Paris falls back from CEST to CET; that local day has 25 hours.
    start = datetime(2026, 10, 24, 20, 0, tzinfo=timezone.utc)
    samples = [start + timedelta(minutes=15 * i) for i in range(4 * 40)]
    counter = [round(100 + 0.1 * i, 3) for i in range(len(samples))]
    event = {"readings": [{"timestamp": t.isoformat(), "energy_kwh": c} for t, c in zip(samples, counter)]}
    from gridpulse.devices.context import context_for
    from gridpulse.telemetry.ingest import Message, ingest

    # Historical data (a backlog upload) goes through the same ingestion as live data.
    context = context_for(did)
    ingest(context, [Message(event, int(samples[-1].timestamp() * 1000) + 1000, "mqtt")])
    query = {"start": samples[0].isoformat(), "end": (samples[-1] + timedelta(seconds=1)).isoformat()}
    days = api.get(f"/devices/{did}/energy", token=admin_token, query={"period": "day", **query})[1]
    hours = api.get(f"/devices/{did}/energy", token=admin_token, query={"period": "hour", **query})[1]
    expected = round(counter[-1] - counter[0], 6)
    assert math.isclose(days["total_kwh"], expected, abs_tol=1e-6)
    assert math.isclose(hours["total_kwh"], expected, abs_tol=1e-6)
    by_day = {d["period"]: d["kwh"] for d in days["items"]}
    assert math.isclose(by_day["2026-10-25"], 25 * 4 * 0.1, abs_tol=1e-6)  # 25 local hours of 0.4 kWh
    paris_hours = [h for h in hours["items"] if "2026-10-24T22:00" <= h["period"] < "2026-10-25T23:00"]
    assert len(paris_hours) == 25


def test_monthly_totals_come_from_month_rollups(api, meter, dynamodb_calls):
    from gridpulse.devices.context import context_for
    from gridpulse.telemetry.ingest import Message, ingest

    start = datetime(2026, 8, 1, 3, 0, tzinfo=timezone.utc)
    samples = [start + timedelta(hours=6 * i) for i in range(4 * 75)]  # 75 days, Aug to mid-Oct
    counter = [round(10 + 0.5 * i, 3) for i in range(len(samples))]
    for first in range(0, len(samples), 100):
        part = slice(first, first + 100)
        event = {
            "readings": [{"timestamp": t.isoformat(), "energy_kwh": c} for t, c in zip(samples[part], counter[part])]
        }
        ingest(context_for(meter["id"]), [Message(event, int(samples[part][-1].timestamp() * 1000) + 1, "http")])
    dynamodb_calls.clear()
    status, months = api.get(
        f"/devices/{meter['id']}/energy",
        token=meter["token"],
        query={"period": "month", "start": "2026-08-01T00:00:00Z", "end": "2026-10-31T00:00:00Z"},
    )
    assert status == 200
    assert math.isclose(months["total_kwh"], counter[-1] - counter[0], abs_tol=1e-6)
    by_month = {m["period"]: m["kwh"] for m in months["items"]}
    assert math.isclose(by_month["2026-08"], 0.5 * (31 * 4 - 1), abs_tol=1e-6)  # the first reading is the baseline
    assert math.isclose(by_month["2026-09"], 0.5 * 30 * 4, abs_tol=1e-6)
    # August and September: two month items; October (partial): its day items; plus auth and device lookups.
    assert dynamodb_calls.dynamodb().count("Query") == 2


def test_messages_sent_with_a_rotated_or_revoked_certificate_are_quarantined_not_stored(
    api, meter, aws, dynamodb_calls
):
    """After rotate-credentials the old certificate's session may still be up
    (IoT Core closes it late): what it publishes reaches the rule, which
    selects principal(); ingestion keeps only the device's current certificate."""
    from gridpulse.alerts.pipeline import handle_sqs_batch as evaluate_batch
    from gridpulse.devices.data import DeviceItem

    old_cert = DeviceItem.get(DeviceItem.key(meter["id"]), "meta").certificate_id
    dynamodb_calls.clear()
    status, rotated = api.post(f"/devices/{meter['id']}/rotate-credentials", token=meter["token"])
    assert status == 200
    # Rights first, then REVOKED, then the live session is ended.
    iot_calls = [op for service, op in dynamodb_calls.calls if service == "iot"]
    revoking = [op for op in iot_calls if op in ("DetachPolicy", "DetachThingPrincipal", "UpdateCertificate")]
    assert revoking == ["DetachPolicy", "DetachThingPrincipal", "UpdateCertificate"], iot_calls
    assert aws.disconnected == [meter["thing"]]

    stolen = rule_output(meter["thing"], {"readings": [{"timestamp": at(5), "energy_kwh": 9, "power_w": 90_000}]})
    fresh = rule_output(meter["thing"], {"readings": [{"timestamp": at(4), "energy_kwh": 9.1}]})
    batch = sqs_event(
        [
            {**stolen, "principal": old_cert},
            {**fresh, "principal": rotated["certificate_id"]},
            {**rule_output(meter["thing"], {"x": 1}), "_raw_payload": "{oops", "principal": old_cert},
        ]
    )
    assert handle_sqs_batch(batch) == {"batchItemFailures": []}
    assert evaluate_batch(batch) == {"batchItemFailures": []}
    assert [r["energy_kwh"] for r in readings(api, meter)] == [9.1]
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert sorted(r["reason"] for r in rejected) == ["revoked_certificate", "revoked_certificate"]
    assert api.get("/alerts", token=meter["token"], query={"device_id": meter["id"]})[1]["items"] == []

    assert api.delete(f"/devices/{meter['id']}", token=meter["token"])[0] == 200
    assert aws.disconnected == [meter["thing"], meter["thing"]]


# ------------------------------------------------------------------ numbers no float can hold (issue: poison messages)

POISON = "1" + "0" * 400  # a JSON integer far beyond what a float (or DynamoDB) holds


def throttled(operation: str = "PutItem") -> Exception:
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import PutError

    return PutError(
        cause=ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, operation
        )
    )


def test_a_number_too_large_for_a_float_is_a_400_naming_the_field_and_kept(api, meter):
    status, body = api.post(
        "/telemetry", raw='{"timestamp": "%s", "power_w": %s}' % (at(1), POISON), headers=meter["key"]
    )
    assert status == 400 and body["error"] == "out_of_range" and body["fields"][0]["field"] == "power_w"
    status, body = api.post("/telemetry", raw='{"timestamp": %s, "power_w": 5}' % POISON, headers=meter["key"])
    assert status == 400 and body["error"] == "invalid_timestamp" and body["fields"][0]["field"] == "timestamp"
    status, body = api.post("/telemetry", raw='{"timestamp": -%s, "power_w": 5}' % POISON, headers=meter["key"])
    assert status == 400 and body["error"] == "invalid_timestamp"
    status, body = api.post(
        "/telemetry", raw='{"timestamp": "%s", "seq": %s, "power_w": 5}' % (at(1), POISON), headers=meter["key"]
    )
    assert status == 400 and body["error"] == "invalid_seq"
    status, kept = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])
    assert kept["count"] == 4
    status, body = api.post(
        "/telemetry", raw='{"timestamp": "%s", "power_w": 5, "data": {"x": NaN}}' % at(1), headers=meter["key"]
    )
    assert status == 400 and body["error"] == "invalid_field" and body["fields"][0]["field"] == "data.x"
    batch = '{"readings": [{"timestamp": "%s", "power_w": 5}, {"timestamp": "%s", "voltage": %s}]}' % (
        at(2),
        at(1),
        POISON,
    )
    status, body = api.post("/telemetry", raw=batch, headers=meter["key"])
    assert status == 207 and body["accepted"] == 1 and body["results"][1]["reason"] == "out_of_range"
    assert len(readings(api, meter)) == 1


def test_a_poison_message_costs_only_itself_on_the_mqtt_path(api, meter):
    valid = [rule_output(meter["thing"], {"timestamp": at(20 - i), "seq": i, "power_w": 100 + i}) for i in range(10)]
    bodies = [json.dumps(m) for m in valid[:5]]
    bodies.append(
        '{"timestamp": "%s", "power_w": %s, "thing_name": "%s", "received_at": %d}'
        % (at(9), POISON, meter["thing"], int(NOW.timestamp() * 1000))
    )
    bodies.append(
        '{"timestamp": %s, "power_w": 1, "thing_name": "%s", "received_at": %d}'
        % (POISON, meter["thing"], int(NOW.timestamp() * 1000))
    )
    bodies += [json.dumps(m) for m in valid[5:]]
    event = {"Records": [{"messageId": f"m{i}", "body": body} for i, body in enumerate(bodies)]}
    assert handle_sqs_batch(event) == {"batchItemFailures": []}
    assert [r["power_w"] for r in readings(api, meter)] == [100 + i for i in range(10)]
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert sorted((r["reason"], r["field"]) for r in rejected) == [
        ("invalid_timestamp", "timestamp"),
        ("out_of_range", "power_w"),
    ]


def test_an_unexpected_failure_of_one_record_costs_only_that_record(api, meter, monkeypatch):
    from gridpulse.telemetry import ingest as ingest_module

    real = ingest_module.validate

    def fragile(raw, index, received_ms):
        if isinstance(raw, dict) and raw.get("power_w") == 13:
            raise ValueError("a bug that only this reading triggers")
        return real(raw, index, received_ms)

    monkeypatch.setattr(ingest_module, "validate", fragile)
    messages = [
        rule_output(meter["thing"], {"timestamp": at(10 - i), "power_w": p}) for i, p in enumerate((11, 12, 13, 14))
    ]
    assert handle_sqs_batch(sqs_event(messages)) == {"batchItemFailures": []}
    assert [r["power_w"] for r in readings(api, meter)] == [11, 12, 14]
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert [r["reason"] for r in rejected] == ["ingest_error"] and '"power_w": 13' in rejected[0]["raw"]


def test_a_throttled_device_is_retried_without_failing_other_devices(api, meter, monkeypatch):
    from gridpulse.telemetry import ingest as ingest_module

    other = api.create("/devices", {"name": "n", "device_type": "meter"}, meter["token"])
    real = ingest_module._put_raw

    def throttle_one(device_id, bucket, new):
        if device_id == meter["id"]:
            raise throttled()
        return real(device_id, bucket, new)

    monkeypatch.setattr(ingest_module, "_put_raw", throttle_one)
    event = sqs_event(
        [
            rule_output(meter["thing"], {"timestamp": at(2), "power_w": 1}),
            rule_output(other["credentials"]["thing_name"], {"timestamp": at(2), "power_w": 2}),
            rule_output(meter["thing"], {"timestamp": at(1), "power_w": 3}),
        ]
    )
    assert handle_sqs_batch(event) == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}
    status, body = api.get(f"/devices/{other['device_id']}/readings", token=meter["token"], query={"start": "-1h"})
    assert [r["power_w"] for r in body["items"]] == [2]
    assert api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["count"] == 0


# ------------------------------------------------------------------ readings without a device timestamp or seq


def test_batched_readings_without_timestamp_or_seq_are_each_stored(api, meter):
    status, body = post(api, meter, {"readings": [{"power_w": 100 + i} for i in range(5)]})
    assert status == 201 and body["accepted"] == 5
    assert [r["power_w"] for r in readings(api, meter)] == [100, 101, 102, 103, 104]
    # Over MQTT too, and a redelivery of that message stores nothing twice.
    message = rule_output(meter["thing"], {"readings": [{"power_w": 200 + i} for i in range(3)]})
    assert handle_sqs_batch(sqs_event([message, message])) == {"batchItemFailures": []}
    assert sorted(r["power_w"] for r in readings(api, meter)) == [100, 101, 102, 103, 104, 200, 201, 202]


def test_identical_malformed_messages_in_one_millisecond_each_get_a_quarantine_row(api, meter):
    received = int(NOW.timestamp() * 1000)
    body = json.dumps({"_raw_payload": "{not json", "thing_name": meter["thing"], "received_at": received})
    event = {"Records": [{"messageId": "a", "body": body}, {"messageId": "b", "body": body}]}
    assert handle_sqs_batch(event) == {"batchItemFailures": []}
    assert handle_sqs_batch({"Records": [event["Records"][0]]}) == {"batchItemFailures": []}  # a redelivery of "a"
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert [r["reason"] for r in rejected] == ["malformed_json", "malformed_json"]
    bad = rule_output(meter["thing"], {"power_w": "lots"}, received=NOW)
    assert handle_sqs_batch(sqs_event([bad])) == {"batchItemFailures": []}
    assert handle_sqs_batch({"Records": [{"messageId": "other", "body": json.dumps(bad)}]}) == {"batchItemFailures": []}
    rejected = api.get(f"/devices/{meter['id']}/readings/rejected", token=meter["token"])[1]["items"]
    assert sorted(r["reason"] for r in rejected) == ["malformed_json", "malformed_json", "not_a_number", "not_a_number"]


# ------------------------------------------------------------------ HTTP readings reach alert evaluation


def test_http_readings_are_evaluated_for_alerts_like_mqtt_ones(api, meter, aws):
    import boto3

    from gridpulse.alerts.pipeline import handle_sqs_batch as evaluate_batch

    api.put(f"/devices/{meter['id']}/alert-rules", {"max_power_w": 1000}, token=meter["token"])
    batch = {
        "readings": [
            {"timestamp": at(3 - i), "power_w": p, "data": {"note": "x" * 100}} for i, p in enumerate((400, 1800, 1900))
        ]
    }
    assert post(api, meter, batch)[0] == 201
    assert post(api, meter, batch)[0] == 207  # a retried upload: duplicates
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=aws.physical["AlertsQueue"], MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
    records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
    assert evaluate_batch({"Records": records}) == {"batchItemFailures": []}
    status, body = api.get("/alerts", token=meter["token"], query={"device_id": meter["id"]})
    over = [a for a in body["items"] if a["alert_type"] == "over_power"]
    assert len(over) == 1 and over[0]["count"] == 2  # the duplicate upload raised nothing more


# ------------------------------------------------------------------ /admin/stats: readings stored


def test_admin_stats_count_the_readings_stored(api, meter, admin_token, dynamodb_calls):
    def stored():
        status, body = api.get("/admin/stats", token=admin_token)
        assert status == 200, body
        return body["readings_stored"]

    assert stored() == 0
    post(api, meter, {"readings": [{"timestamp": at(10 - i), "power_w": 5} for i in range(4)]})
    post(api, meter, {"readings": [{"timestamp": at(10 - i), "power_w": 5} for i in range(5)]})  # 4 duplicates
    message = rule_output(meter["thing"], {"readings": [{"timestamp": at(30 + i), "power_w": 5} for i in range(3)]})
    handle_sqs_batch(sqs_event([message]))
    handle_sqs_batch(sqs_event([message]))  # redelivered
    assert stored() == 8
    api.delete(f"/devices/{meter['id']}/readings", token=meter["token"], query={"start": at(9.5), "end": at(7.5)})
    dynamodb_calls.clear()
    assert stored() == 6
    assert "Scan" not in dynamodb_calls.dynamodb()


# ------------------------------------------------------------------ windows cover whole buckets


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def test_an_energy_window_includes_the_bucket_its_start_falls_in(api, meter):
    """A meter that reported for 20 minutes, asked for from a start inside that
    hour: the hour bucket counts (not 0 kWh), and the answer states the whole
    hours it covers."""
    hour = NOW.replace(minute=0, second=0) - timedelta(hours=23)  # meter's zone is UTC (no hotel)
    post(
        api,
        meter,
        {
            "readings": [
                {"timestamp": _iso(hour + timedelta(minutes=5 + m)), "energy_kwh": 7 + m * 0.01} for m in range(21)
            ]
        },
    )
    status, body = api.get(
        f"/devices/{meter['id']}/energy",
        token=meter["token"],
        query={
            "period": "hour",
            "start": _iso(hour + timedelta(minutes=12)),
            "end": _iso(hour + timedelta(minutes=50)),
        },
    )
    assert status == 200, body
    assert math.isclose(body["total_kwh"], 0.2, abs_tol=1e-9)
    assert body["items"] == [{"period": _iso(hour).replace("Z", ".000Z"), "kwh": 0.2}]
    assert (body["start"], body["end"]) == (_iso(hour), _iso(hour + timedelta(hours=1)))


@pytest.mark.parametrize(
    "period,start,end,aligned",
    [
        ("hour", "2026-03-10T10:20:00Z", "2026-03-10T12:00:00Z", ("2026-03-10T10:00:00Z", "2026-03-10T12:00:00Z")),
        ("hour", "2026-03-10T10:00:00Z", "2026-03-10T12:00:01Z", ("2026-03-10T10:00:00Z", "2026-03-10T13:00:00Z")),
        ("day", "2026-03-10T10:20:00Z", "2026-03-12T00:00:00Z", ("2026-03-10T00:00:00Z", "2026-03-12T00:00:00Z")),
        ("day", "2026-03-10T00:00:00Z", "2026-03-12T05:00:00Z", ("2026-03-10T00:00:00Z", "2026-03-13T00:00:00Z")),
        ("month", "2026-03-10T10:20:00Z", "2026-05-01T00:00:00Z", ("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z")),
        ("month", "2026-03-01T00:00:00Z", "2026-04-02T00:00:00Z", ("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z")),
    ],
)
def test_an_energy_answer_states_the_aligned_window_it_covers(api, meter, period, start, end, aligned):
    status, body = api.get(
        f"/devices/{meter['id']}/energy", token=meter["token"], query={"period": period, "start": start, "end": end}
    )
    assert status == 200, body
    assert (body["start"], body["end"]) == aligned

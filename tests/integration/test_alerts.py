"""Alerts: evaluation of telemetry (the alert rule's SQS path), no storms,
auto-resolve, offline/recovery, notifications, rules API, scope."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from gridpulse.alerts.pipeline import handle_sqs_batch
from gridpulse.alerts.service import check_offline
from infrastructure.local.outbox import sent_emails
from tests.integration.conftest import new_meter

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture
def meter(api):
    return new_meter(api, "Kitchen", 3000)


def deliver(meter, *messages, received: datetime = NOW):
    records = [
        {
            "messageId": f"m{i}",
            "body": json.dumps({**m, "thing_name": meter["thing"], "received_at": int(received.timestamp() * 1000)}),
        }
        for i, m in enumerate(messages)
    ]
    assert handle_sqs_batch({"Records": records}) == {"batchItemFailures": []}


def alerts(api, meter, **query):
    status, body = api.get("/alerts", token=meter["token"], query=query)
    assert status == 200, body
    return body["items"]


def test_over_power_raises_one_alert_and_notifies(api, meter, aws):
    # The owner was subscribed when it registered the device; notify is on by default.
    deliver(
        meter,
        {
            "readings": [
                {"timestamp": at(3), "power_w": 2000},
                {"timestamp": at(2), "power_w": 4000},
                {"timestamp": at(1), "power_w": 4100},
            ]
        },
    )
    items = alerts(api, meter)
    assert [(a["alert_type"], a["status"], a["count"]) for a in items] == [("over_power", "open", 2)]
    mails = [m for m in sent_emails(aws.account, aws.region) if m["to"] == ["owner@example.com"]]
    assert len(mails) == 1 and "over power" in mails[0]["subject"]


def test_notify_false_sends_nothing(api, meter, aws):
    api.put(f"/devices/{meter['id']}/alert-rules", {"notify": False}, token=meter["token"])
    deliver(meter, {"timestamp": at(1), "power_w": 5000})
    assert alerts(api, meter)[0]["alert_type"] == "over_power"
    assert [m for m in sent_emails(aws.account, aws.region) if m["to"] == ["owner@example.com"]] == []


def test_no_storm_and_no_duplicate_for_a_redelivered_message(api, meter, aws):
    message = {"readings": [{"timestamp": at(5), "power_w": 5000}]}
    deliver(meter, message)
    deliver(meter, message)  # MQTT at-least-once: the same message again
    deliver(meter, {"readings": [{"timestamp": at(4), "power_w": 5100}]})
    items = alerts(api, meter)
    assert len(items) == 1 and items[0]["count"] == 2


def test_thresholds_edited_through_the_api_take_effect(api, meter):
    deliver(meter, {"timestamp": at(10), "power_w": 2000})
    assert alerts(api, meter) == []
    status, saved = api.put(f"/devices/{meter['id']}/alert-rules", {"max_power_w": 1500}, token=meter["token"])
    assert status == 200 and saved["max_power_w"] == 1500
    deliver(meter, {"timestamp": at(9), "power_w": 2000})
    assert [a["alert_type"] for a in alerts(api, meter)] == ["over_power"]


def test_defaults_come_from_the_power_rating(api, meter):
    rules = api.get(f"/devices/{meter['id']}/alert-rules", token=meter["token"])[1]
    assert rules["max_power_w"] == 3300 and rules["min_voltage"] == 207 and rules["max_voltage"] == 253


def test_voltage_current_temperature_and_spike(api, meter):
    deliver(meter, {"readings": [{"timestamp": at(30 - i), "power_w": 300, "voltage": 230} for i in range(10)]})
    deliver(
        meter,
        {
            "readings": [
                {"timestamp": at(19), "voltage": 190.0},
                {"timestamp": at(18), "current": 40.0, "temperature": 90.0},
                {"timestamp": at(17), "power_w": 1500},
            ]
        },
    )
    kinds = {a["alert_type"]: a["severity"] for a in alerts(api, meter)}
    assert kinds == {
        "under_voltage": "warning",
        "over_current": "critical",
        "over_temperature": "critical",
        "spike": "info",
    }


def test_an_alert_resolves_itself_when_clear_for_a_while(api, meter):
    deliver(meter, {"timestamp": at(20), "power_w": 5000})
    deliver(meter, {"timestamp": at(18), "power_w": 200})  # clear for 2 minutes: not yet
    assert alerts(api, meter)[0]["status"] == "open"
    deliver(meter, {"timestamp": at(10), "power_w": 200})  # clear for 10 minutes > 5
    item = alerts(api, meter)[0]
    assert item["status"] == "resolved" and item["resolved_by"] == "auto"
    deliver(meter, {"timestamp": at(5), "power_w": 5000})  # a new episode is a new alert
    assert [a["status"] for a in alerts(api, meter)] == ["open", "resolved"]


def test_read_and_resolve_by_a_user(api, meter):
    deliver(meter, {"timestamp": at(3), "power_w": 5000})
    alert_id = alerts(api, meter)[0]["alert_id"]
    assert api.put(f"/alerts/{alert_id}/read", token=meter["token"])[1]["status"] == "read"
    deliver(meter, {"timestamp": at(2), "power_w": 5000})
    assert len(alerts(api, meter)) == 1  # a read alert is still the open one
    assert api.put(f"/alerts/{alert_id}/resolve", token=meter["token"])[1]["status"] == "resolved"
    assert alerts(api, meter, status="open") == []


def test_offline_is_raised_for_silence_and_cleared_by_a_heartbeat(api, meter, aws):
    deliver(meter, {"timestamp": at(30), "power_w": 100}, received=NOW - timedelta(minutes=30))
    api.put(f"/devices/{meter['id']}/alert-rules", {"offline_after_s": 600}, token=meter["token"])
    now_s = int(NOW.timestamp())
    assert check_offline(now_s)["raised"] == 1
    assert check_offline(now_s)["raised"] == 0  # not again while it is open
    assert [a["alert_type"] for a in alerts(api, meter, status="open")] == ["offline"]
    assert api.post("/device/heartbeat", headers=meter["key"])[0] == 200
    assert alerts(api, meter, status="open") == []
    assert alerts(api, meter)[0]["resolved_by"] == "auto"


def test_bad_alert_rules_are_400_naming_the_field(api, meter):
    status, body = api.put(
        f"/devices/{meter['id']}/alert-rules",
        {"max_power_w": -5, "spike_factor": 0.5, "colour": "red"},
        token=meter["token"],
    )
    assert status == 400 and {f["field"] for f in body["fields"]} == {"max_power_w", "spike_factor", "colour"}
    status, body = api.put(
        f"/devices/{meter['id']}/alert-rules", {"min_voltage": 240, "max_voltage": 220}, token=meter["token"]
    )
    assert status == 400 and {f["field"] for f in body["fields"]} == {"min_voltage", "max_voltage"}
    status, body = api.put(f"/devices/{meter['id']}/alert-rules", {"min_voltage": 260}, token=meter["token"])
    assert status == 400 and body["fields"][0]["field"] == "min_voltage"  # above the stored max_voltage


def test_alerts_are_scoped(api, meter, admin_token):
    deliver(meter, {"timestamp": at(3), "power_w": 5000})
    alert_id = alerts(api, meter)[0]["alert_id"]
    stranger = api.register("s@example.com")["token"]
    assert api.get("/alerts", token=stranger)[1]["items"] == []
    assert api.put(f"/alerts/{alert_id}/read", token=stranger)[0] == 404
    assert api.put(f"/alerts/{alert_id}/resolve", token=stranger)[0] == 404
    assert api.get(f"/devices/{meter['id']}/alert-rules", token=stranger)[0] == 404
    assert api.get("/alerts", token=stranger, query={"device_id": meter["id"]})[0] == 404
    me = api.get("/auth/me", token=meter["token"])[1]
    assert api.get(f"/users/{me['user_id']}/alerts", token=stranger)[0] == 404
    assert api.get(f"/users/{me['user_id']}/alerts", token=admin_token)[1]["count"] == 1
    assert api.get("/alerts", token=admin_token)[1]["count"] == 1


def test_manual_alerts_need_an_operator_or_admin(api, meter, admin_token):
    body = {"device_id": meter["id"], "message": "Smell of burning", "alert_type": "inspection", "severity": "critical"}
    assert api.post("/alerts", body, token=meter["token"])[0] == 403
    status, alert = api.post("/alerts", body, token=admin_token)
    assert status == 201 and alert["source"].startswith("user:")
    assert api.post("/alerts", body, token=admin_token)[0] == 200  # bumped, not duplicated
    assert api.post("/alerts", {**body, "severity": "apocalyptic"}, token=admin_token)[0] == 400


def _hotel_meter(api, admin_token) -> tuple[dict, dict]:
    """A hotel with a meter in one of its rooms: (hotel, created device with credentials)."""
    hotel = api.create("/hotels", {"hotel_name": "H"}, admin_token)
    floor = api.create(f"/hotels/{hotel['hotel_id']}/sections", {"section_name": "F1"}, admin_token)
    room = api.create(f"/sections/{floor['section_id']}/rooms", {"room_number": "101"}, admin_token)
    created = api.create("/devices", {"name": "m", "device_type": "meter", "room_id": room["room_id"]}, admin_token)
    return hotel, created


def test_a_scoped_viewer_marks_read_but_only_owner_operator_or_admin_resolve(api, admin_token):
    hotel, created = _hotel_meter(api, admin_token)
    viewer = api.user(admin_token, "v@example.com", "viewer", hotel_ids=[hotel["hotel_id"]])
    operator = api.user(admin_token, "op@example.com", "operator", hotel_ids=[hotel["hotel_id"]])
    meter = {"thing": created["credentials"]["thing_name"]}
    deliver(meter, {"timestamp": at(3), "power_w": 50_000})
    alert_id = api.get("/alerts", token=viewer)[1]["items"][0]["alert_id"]

    status, body = api.put(f"/alerts/{alert_id}/resolve", token=viewer)
    assert status == 403 and body["error"] == "forbidden", body
    assert api.get("/alerts", token=viewer)[1]["items"][0]["status"] == "open"
    status, body = api.put(f"/alerts/{alert_id}/read", token=viewer)
    assert status == 200 and body["status"] == "read"
    status, body = api.put(f"/alerts/{alert_id}/resolve", token=operator)
    assert status == 200 and body["status"] == "resolved", body


def test_a_viewer_resolves_the_alerts_of_its_own_device(api, meter):
    deliver(meter, {"timestamp": at(3), "power_w": 5000})
    alert_id = alerts(api, meter)[0]["alert_id"]
    assert api.get("/auth/me", token=meter["token"])[1]["role"] == "viewer"
    assert api.put(f"/alerts/{alert_id}/resolve", token=meter["token"])[1]["status"] == "resolved"


def test_an_alert_follows_the_current_scope_of_its_device(api, admin_token):
    hotel, created = _hotel_meter(api, admin_token)
    operator = api.user(admin_token, "op@example.com", "operator", hotel_ids=[hotel["hotel_id"]])
    deliver({"thing": created["credentials"]["thing_name"]}, {"timestamp": at(3), "power_w": 50_000})
    alert_id = api.get("/alerts", token=operator)[1]["items"][0]["alert_id"]
    # The device leaves the hotel: its alerts leave the hotel staff's reach with it.
    assert api.put(f"/devices/{created['device_id']}", {"room_id": None}, token=admin_token)[0] == 200
    assert api.get("/alerts", token=operator)[1]["items"] == []
    assert api.put(f"/alerts/{alert_id}/read", token=operator)[0] == 404
    assert api.put(f"/alerts/{alert_id}/resolve", token=operator)[0] == 404


# ------------------------------------------------------------------ one bad record costs only itself

POISON = "1" + "0" * 400


def test_a_poison_message_does_not_cost_another_devices_alerts(api, meter):
    other = api.create("/devices", {"name": "Other", "device_type": "meter", "power_rating_w": 3000}, meter["token"])
    received = int(NOW.timestamp() * 1000)
    records = [
        {
            "messageId": "poison",
            "body": '{"timestamp": "%s", "power_w": %s, "thing_name": "%s", "received_at": %d}'
            % (at(2), POISON, meter["thing"], received),
        },
        {
            "messageId": "poison-ts",
            "body": '{"timestamp": %s, "power_w": 1, "thing_name": "%s", "received_at": %d}'
            % (POISON, meter["thing"], received),
        },
        {
            "messageId": "good",
            "body": json.dumps(
                {
                    "timestamp": at(1),
                    "power_w": 5000,
                    "received_at": received,
                    "thing_name": other["credentials"]["thing_name"],
                }
            ),
        },
        {
            "messageId": "mine",
            "body": json.dumps(
                {"timestamp": at(1), "power_w": 4000, "received_at": received, "thing_name": meter["thing"]}
            ),
        },
    ]
    assert handle_sqs_batch({"Records": records}) == {"batchItemFailures": []}
    assert {(a["device_id"], a["alert_type"]) for a in alerts(api, meter)} == {
        (other["device_id"], "over_power"),
        (meter["id"], "over_power"),
    }


def test_an_unexpected_evaluation_failure_costs_only_that_record(api, meter, monkeypatch):
    from gridpulse.alerts import pipeline

    real = pipeline.evaluate_readings

    def fragile(device, readings, tz, **kwargs):
        if any(r.power_w == 13 for r in readings):
            raise KeyError("a bug that only this reading triggers")
        return real(device, readings, tz, **kwargs)

    monkeypatch.setattr(pipeline, "evaluate_readings", fragile)
    deliver(meter, {"timestamp": at(3), "power_w": 13}, {"timestamp": at(2), "power_w": 5000})
    assert [a["alert_type"] for a in alerts(api, meter)] == ["over_power"]


def test_a_throttled_evaluation_is_retried(api, meter, monkeypatch):
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import GetError

    from gridpulse.alerts import pipeline

    def throttled(*args, **kwargs):
        raise GetError(cause=ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "GetItem"))

    monkeypatch.setattr(pipeline, "evaluate_readings", throttled)
    records = [
        {
            "messageId": "m0",
            "body": json.dumps(
                {
                    "timestamp": at(1),
                    "power_w": 5000,
                    "thing_name": meter["thing"],
                    "received_at": int(NOW.timestamp() * 1000),
                }
            ),
        }
    ]
    assert handle_sqs_batch({"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


# ------------------------------------------------------------------ silence is measured on the platform's clock


def test_readings_stamped_in_the_past_are_not_silence(api, meter):
    """A backlog upload (or a slow device clock): readings 40 minutes old, received now."""
    api.put(f"/devices/{meter['id']}/alert-rules", {"offline_after_s": 900}, token=meter["token"])
    deliver(meter, {"readings": [{"timestamp": at(45 - i), "power_w": 100} for i in range(5)]})
    now_s = int(NOW.timestamp())
    for minutes in (0, 5, 10, 15):  # the checks of the next quarter of an hour
        assert check_offline(now_s + minutes * 60)["raised"] == 0
    assert alerts(api, meter) == []
    # Silent (nothing received) for longer than the limit: offline, measured from the receive time.
    assert check_offline(now_s + 16 * 60)["raised"] == 1
    # Another old reading arrives (received later): the device is back.
    deliver(meter, {"timestamp": at(30), "power_w": 100}, received=NOW + timedelta(minutes=17))
    assert alerts(api, meter, status="open") == []


def test_old_readings_that_were_already_evaluated_still_mean_the_device_is_heard(api, meter):
    api.put(f"/devices/{meter['id']}/alert-rules", {"offline_after_s": 600}, token=meter["token"])
    deliver(meter, {"timestamp": at(31), "power_w": 100}, received=NOW - timedelta(minutes=30))
    now_s = int(NOW.timestamp())
    assert check_offline(now_s)["raised"] == 1
    # A late redelivery of a message received before the alert changes nothing ...
    deliver(meter, {"timestamp": at(31), "power_w": 100}, received=NOW - timedelta(minutes=30))
    assert [a["alert_type"] for a in alerts(api, meter, status="open")] == ["offline"]
    # ... a new message does, even if its readings are older than those already evaluated.
    deliver(meter, {"timestamp": at(40), "power_w": 100}, received=NOW)
    assert alerts(api, meter, status="open") == []


def test_a_connected_device_is_not_offline(api, meter):
    from gridpulse.devices.presence import apply_presence

    api.put(f"/devices/{meter['id']}/alert-rules", {"offline_after_s": 600}, token=meter["token"])
    deliver(meter, {"timestamp": at(40), "power_w": 100}, received=NOW - timedelta(minutes=40))
    connected_at = int((NOW - timedelta(minutes=45)).timestamp() * 1000)
    assert apply_presence({"event_type": "connected", "thing_name": meter["thing"], "event_time": connected_at})[
        "applied"
    ]
    now_s = int(NOW.timestamp())
    assert check_offline(now_s)["raised"] == 0  # the broker holds its connection
    # It drops off: silence counts from the disconnect, not from its last reading.
    gone_at = NOW - timedelta(minutes=5)
    apply_presence(
        {"event_type": "disconnected", "thing_name": meter["thing"], "event_time": int(gone_at.timestamp() * 1000)}
    )
    assert check_offline(now_s)["raised"] == 0
    assert check_offline(now_s + 6 * 60)["raised"] == 1


def test_a_heartbeat_before_any_reading_does_not_block_evaluation(api, meter):
    assert api.post("/device/heartbeat", headers=meter["key"])[0] == 200
    deliver(meter, {"timestamp": at(1), "power_w": 5000})
    assert [a["alert_type"] for a in alerts(api, meter)] == ["over_power"]


# ------------------------------------------------------------------ /admin/stats: open alerts


def test_admin_stats_count_open_alerts(api, meter, admin_token):
    def open_alerts():
        status, body = api.get("/admin/stats", token=admin_token)
        assert status == 200, body
        return body["open_alerts"]

    assert open_alerts() == 0
    deliver(meter, {"readings": [{"timestamp": at(3), "power_w": 5000}, {"timestamp": at(2), "voltage": 300}]})
    deliver(meter, {"readings": [{"timestamp": at(3), "power_w": 5000}, {"timestamp": at(2), "voltage": 300}]})
    assert open_alerts() == 2
    first = alerts(api, meter)[0]
    api.put(f"/alerts/{first['alert_id']}/read", token=meter["token"])
    assert open_alerts() == 2  # read is still open
    assert api.put(f"/alerts/{first['alert_id']}/resolve", token=meter["token"])[0] == 200
    assert api.put(f"/alerts/{first['alert_id']}/resolve", token=meter["token"])[0] == 200  # twice
    assert open_alerts() == 1


def test_a_deleted_devices_alerts_and_readings_leave_the_counts(api, meter, admin_token, aws):
    import boto3

    from gridpulse.devices.cleanup import handle_sqs_batch as cleanup_batch

    assert api.post("/telemetry", {"timestamp": at(1), "power_w": 5000}, headers=meter["key"])[0] == 201
    deliver(meter, {"timestamp": at(1), "power_w": 5000})
    stats = api.get("/admin/stats", token=admin_token)[1]
    assert (stats["readings_stored"], stats["open_alerts"]) == (1, 1)
    assert api.delete(f"/devices/{meter['id']}", token=meter["token"])[0] == 200
    messages = boto3.client("sqs").receive_message(QueueUrl=aws.physical["CleanupQueue"])["Messages"]
    records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
    assert cleanup_batch({"Records": records}) == {"batchItemFailures": []}
    assert cleanup_batch({"Records": records}) == {"batchItemFailures": []}  # redelivered
    stats = api.get("/admin/stats", token=admin_token)[1]
    assert (stats["readings_stored"], stats["open_alerts"]) == (0, 0)

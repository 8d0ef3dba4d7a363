"""Devices over MQTT with mutual TLS against the running local stack, using
the AWS IoT Device SDK as a real device would: provision through the API,
connect with the returned certificate, publish, read back through the API."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from awscrt import mqtt
from awscrt.exceptions import AwsCrtError

from infrastructure.simulator.device import connect_as_device
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only

pytestmark = pytest.mark.e2e

# Devices here connect to the local broker with the local CA, and the tests read its log and outbox.
local_broker = local_only("the local MQTT broker: its CA, its log, the email outbox")


def _connect(credentials: dict, client_id: str | None = None):
    return connect_as_device(credentials, client_id=client_id)


def _refused(stack, credentials: dict, client_id: str | None = None, cause: str = "not active") -> None:
    """Connecting is refused with CONNACK 5 (not authorized): the SDK reports that
    refusal as an MQTT protocol error (a TLS refusal would be a socket or TLS
    error), and the broker logs why (`cause`: "not active" for a certificate
    the registry no longer lists as ACTIVE, "active" for one whose thing is
    not the client id)."""
    client_id = client_id or credentials["thing_name"]
    with pytest.raises(AwsCrtError) as refused:
        _connect(credentials, client_id)
    assert refused.value.name == "AWS_ERROR_MQTT_PROTOCOL_ERROR", refused.value
    line = f"MQTT CONNECT refused: client id {client_id!r}, certificate CN {credentials['thing_name']!r}, {cause}"
    assert _wait(lambda: any(line in logged for logged in stack.output), 5), line


def _publish(connection, topic: str, payload) -> None:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    future, _ = connection.publish(topic, body, mqtt.QoS.AT_LEAST_ONCE)
    future.result(10)


def _wait(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture(scope="module")
def admin(stack):
    return stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)


def _meter(stack, admin, name="mqtt meter"):
    response = stack.request(
        "POST", "/devices", admin, json={"name": name, "device_type": "meter", "power_rating_w": 5000}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _batch(start_kwh: float, count: int = 10) -> dict:
    now = datetime.now(timezone.utc)
    return {
        "readings": [
            {
                "timestamp": (now - timedelta(seconds=30 * (count - i))).isoformat(),
                "seq": i,
                "voltage": 230.0,
                "current": 2.0,
                "energy_kwh": round(start_kwh + i * 0.01, 4),
            }
            for i in range(count)
        ]
    }


def _metric(stack, name: str, **dimensions: str) -> float:
    """GET /_local/metrics: the total of `name` under `service` and `dimensions` since the stack started."""
    wanted = {"service": "gridpulse", **dimensions}
    for row in stack.request("GET", "/_local/metrics").json()["metrics"]:
        if row["name"] == name and row["dimensions"] == wanted:
            return row.get("total", row.get("total_values", 0))
    return 0


@local_broker
def test_a_provisioned_device_publishes_over_mtls_and_its_readings_are_served(stack, admin):
    device = _meter(stack, admin)
    creds, did = device["credentials"], device["device_id"]
    names = ("ReadingsIngested", "ReadingsDuplicate", "IngestionLag")
    before = {name: _metric(stack, name) for name in names}
    malformed_before = _metric(stack, "ReadingsRejected", reason="malformed_json")
    connection = _connect(creds)
    try:
        batch = _batch(10.0)
        _publish(connection, creds["topics"]["telemetry"], batch)
        _publish(connection, creds["topics"]["telemetry"], batch)  # a duplicate delivery
        _publish(connection, creds["topics"]["telemetry"], "{not json")
        # A batch that straddles an hour is stored as two bucket items: wait for all ten readings.
        readings = _wait(
            lambda: (lambda items: items if len(items) >= 10 else None)(
                stack.request("GET", f"/devices/{did}/readings", admin, params={"start": "-1h"}).json()["items"]
            )
        )
        assert len(readings) == 10 and readings[0]["power_w"] == 460.0
        energy = _wait(
            lambda: stack.request(
                "GET", f"/devices/{did}/energy", admin, params={"period": "hour", "start": "-2h"}
            ).json()["total_kwh"]
        )
        # The malformed message was published after the duplicate: once it is
        # quarantined, the duplicate has been through ingestion too.
        rejected = _wait(lambda: stack.request("GET", f"/devices/{did}/readings/rejected", admin).json()["items"])
        assert rejected[0]["reason"] == "malformed_json"
        energy = stack.request("GET", f"/devices/{did}/energy", admin, params={"period": "hour", "start": "-2h"})
        assert abs(energy.json()["total_kwh"] - 0.09) < 1e-9  # the duplicate was not counted
        assert _wait(lambda: stack.request("GET", f"/devices/{did}", admin).json()["online"])
        usage = stack.request("GET", f"/devices/{did}/readings/latest", admin).json()
        assert usage["kwh_value"] == 10.09
        # The operator's view (the functions' EMF metrics, GET /_local/metrics) moved with them.
        # (an invocation writes its metrics as it ends: a moment after what it stored is readable)
        moved = {"ReadingsIngested": 10, "ReadingsDuplicate": 10, "IngestionLag": 1}  # lag: one value per message
        for name, at_least in moved.items():
            assert _wait(lambda: _metric(stack, name) - before[name] >= at_least, 5), name
        assert _wait(lambda: _metric(stack, "ReadingsRejected", reason="malformed_json") - malformed_before >= 1, 5)
    finally:
        connection.disconnect().result(10)
    assert _wait(lambda: stack.request("GET", f"/devices/{did}", admin).json()["online"] is False)


@local_broker
def test_a_device_cannot_use_another_devices_topics_or_identity(stack, admin):
    mine, theirs = _meter(stack, admin, "a"), _meter(stack, admin, "b")
    connection = _connect(mine["credentials"])
    try:
        future, _ = connection.subscribe(
            theirs["credentials"]["topics"]["commands"], mqtt.QoS.AT_LEAST_ONCE, lambda **kwargs: None
        )
        # SUBACK failure (0x80): the SDK raises SubscribeError.
        with pytest.raises(mqtt.SubscribeError):
            future.result(10)
        future, _ = connection.subscribe("gridpulse/+/commands", mqtt.QoS.AT_LEAST_ONCE, lambda **kwargs: None)
        with pytest.raises(mqtt.SubscribeError):
            future.result(10)
        future, _ = connection.subscribe(
            mine["credentials"]["topics"]["commands"], mqtt.QoS.AT_LEAST_ONCE, lambda **kwargs: None
        )
        assert future.result(10)["qos"] == mqtt.QoS.AT_LEAST_ONCE
        # Publishing to another device's topic: IoT Core drops it and disconnects the client,
        # so the PUBACK never comes (the SDK cancels the request of the lost clean session).
        future, _ = connection.publish(
            theirs["credentials"]["topics"]["telemetry"], json.dumps(_batch(1.0)), mqtt.QoS.AT_LEAST_ONCE
        )
        with pytest.raises(AwsCrtError) as dropped:
            future.result(5)
        assert dropped.value.name == "AWS_ERROR_MQTT_CANCELLED_FOR_CLEAN_SESSION", dropped.value
        line = f"MQTT PUBLISH refused: {mine['credentials']['thing_name']} may not publish to "
        assert _wait(lambda: any(line in logged for logged in stack.output), 5), line
    finally:
        try:
            connection.disconnect().result(5)
        except Exception:
            pass
    # The other device then publishes a marker of its own: once that is stored,
    # anything the refused publish had got through would have been stored before it.
    owner = _connect(theirs["credentials"])
    try:
        _publish(owner, theirs["credentials"]["topics"]["telemetry"], _batch(5.0, count=1))
    finally:
        owner.disconnect().result(10)
    assert _wait(lambda: 5.0 in _energies(stack, admin, theirs["device_id"]))
    assert _energies(stack, admin, theirs["device_id"]) == [5.0]
    _refused(stack, mine["credentials"], client_id=theirs["credentials"]["thing_name"], cause="active")


@local_broker
def test_deleted_or_rotated_credentials_are_refused(stack, admin):
    device = _meter(stack, admin, "rotating")
    old = device["credentials"]
    _connect(old).disconnect().result(10)
    rotated = stack.request("POST", f"/devices/{device['device_id']}/rotate-credentials", admin).json()
    _refused(stack, old)
    new = {**old, **{k: rotated[k] for k in ("certificate_pem", "private_key")}}
    _connect(new).disconnect().result(10)
    assert stack.request("DELETE", f"/devices/{device['device_id']}", admin).status_code == 200
    _refused(stack, new)


def _watched(credentials: dict):
    """A connection whose `interrupted` event is set when the broker drops it."""
    interrupted = threading.Event()
    connection = connect_as_device(
        credentials,
        reconnect_min_timeout_secs=1,
        reconnect_max_timeout_secs=2,
        on_connection_interrupted=lambda connection, error, **kwargs: interrupted.set(),
    )
    connection.interrupted = interrupted
    return connection


def _energies(stack, admin, did) -> list[float]:
    items = stack.request("GET", f"/devices/{did}/readings", admin, params={"start": "-1h"}).json()["items"]
    return sorted(r["energy_kwh"] for r in items)


@local_broker
def test_rotation_and_deletion_end_the_old_session_and_nothing_it_sends_is_stored(stack, admin):
    device = _meter(stack, admin, "revoked while connected")
    did, old = device["device_id"], device["credentials"]
    topic = old["topics"]["telemetry"]
    sessions = []
    try:
        sessions.append(old_session := _watched(old))
        _publish(old_session, topic, _batch(1.0, count=1))
        assert _wait(lambda: _energies(stack, admin, did) == [1.0])

        rotated = stack.request("POST", f"/devices/{did}/rotate-credentials", admin)
        assert rotated.status_code == 200, rotated.text
        assert old_session.interrupted.wait(10), "the old certificate's session stayed up after rotation"
        old_session.publish(topic, json.dumps(_batch(5.0, count=1)), mqtt.QoS.AT_LEAST_ONCE)  # never delivered
        _refused(stack, old)  # reconnecting with the old certificate is refused

        new = {**old, **{k: rotated.json()[k] for k in ("certificate_pem", "private_key")}}
        sessions.append(new_session := _watched(new))
        _publish(new_session, topic, _batch(2.0, count=1))
        # Messages of one device are ingested in order: once the new one is stored,
        # anything the old certificate got through would have been stored too.
        assert _wait(lambda: 2.0 in _energies(stack, admin, did))
        assert _energies(stack, admin, did) == [1.0, 2.0]

        assert stack.request("DELETE", f"/devices/{did}", admin).status_code == 200
        assert new_session.interrupted.wait(10), "a deleted device's session stayed up"
        _refused(stack, new)
    finally:
        for session in sessions:
            try:
                session.disconnect().result(5)
            except Exception:
                pass


@local_broker
def test_an_over_power_reading_over_mqtt_raises_an_alert_and_emails_the_owner(stack, admin):
    device = _meter(stack, admin, "alerting")
    did, creds = device["device_id"], device["credentials"]
    rules = stack.request("PUT", f"/devices/{did}/alert-rules", admin, json={"max_power_w": 1000, "notify": True})
    assert rules.status_code == 200
    connection = _connect(creds)
    try:
        now = datetime.now(timezone.utc)
        batch = {
            "readings": [
                {"timestamp": (now - timedelta(seconds=30 * (3 - i))).isoformat(), "power_w": p}
                for i, p in enumerate((400, 1800, 1900))
            ]
        }
        _publish(connection, creds["topics"]["telemetry"], batch)
        _publish(connection, creds["topics"]["telemetry"], batch)  # duplicate delivery: no second alert
        alerts = _wait(lambda: stack.request("GET", "/alerts", admin, params={"device_id": did}).json()["items"])
        # A marker after the duplicate: one more over-power reading, newer than the batch.
        # Once the alert has counted it, the duplicate has been evaluated too.
        _publish(connection, creds["topics"]["telemetry"], _over_power_marker(now))
        alerts = _wait(lambda: _over_power_counted(stack, admin, did, 3))
    finally:
        connection.disconnect().result(10)
    over = [a for a in alerts if a["alert_type"] == "over_power"]
    assert len(over) == 1 and over[0]["count"] == 2 + 1 and over[0]["status"] == "open"  # + 1: the marker
    mails = _wait(
        lambda: [
            m
            for m in stack.request("GET", "/_local/outbox", params={"to": ADMIN_EMAIL}).json()["items"]
            if "over power" in (m["subject"] or "")
        ]
    )
    assert len(mails) == 1


def _over_power_marker(now: datetime) -> dict:
    """One over-power reading newer than the alert tests' batch."""
    return {"readings": [{"timestamp": now.isoformat(), "power_w": 2000}]}


def _over_power_counted(stack, admin, did: str, count: int) -> list[dict] | None:
    """The device's alerts once its over-power alerts have counted `count` readings or more."""
    alerts = stack.request("GET", "/alerts", admin, params={"device_id": did}).json()["items"]
    return alerts if sum(a["count"] for a in alerts if a["alert_type"] == "over_power") >= count else None


@local_broker
def test_a_poison_message_costs_only_itself(stack, admin):
    """Ten valid readings published around one message carrying a number no
    float holds: the ten are stored, the poison is quarantined with its reason."""
    device = _meter(stack, admin, "poisoned")
    did, creds = device["device_id"], device["credentials"]
    now = datetime.now(timezone.utc)
    valid = [
        {"timestamp": (now - timedelta(seconds=30 * (10 - i))).isoformat(), "seq": i, "power_w": 100 + i}
        for i in range(10)
    ]
    poison = '{"timestamp": "%s", "power_w": 1%s}' % ((now - timedelta(seconds=5)).isoformat(), "0" * 400)
    connection = _connect(creds)
    try:
        for reading in valid[:5]:
            _publish(connection, creds["topics"]["telemetry"], reading)
        _publish(connection, creds["topics"]["telemetry"], poison)
        for reading in valid[5:]:
            _publish(connection, creds["topics"]["telemetry"], reading)
    finally:
        connection.disconnect().result(10)
    stored = _wait(
        lambda: (lambda items: items if len(items) >= 10 else None)(
            stack.request("GET", f"/devices/{did}/readings", admin, params={"start": "-1h"}).json()["items"]
        ),
        30,
    )
    assert stored is not None and [r["power_w"] for r in stored] == [100 + i for i in range(10)]
    rejected = _wait(lambda: stack.request("GET", f"/devices/{did}/readings/rejected", admin).json()["items"])
    assert [(r["reason"], r["field"]) for r in rejected] == [("out_of_range", "power_w")]


def test_an_over_power_reading_over_http_raises_an_alert_too(stack, admin):
    """POST /telemetry feeds the same alert evaluation as MQTT (through the alerts queue)."""
    device = _meter(stack, admin, "http alerting")
    did, key = device["device_id"], device["credentials"]["api_key"]
    assert stack.request("PUT", f"/devices/{did}/alert-rules", admin, json={"max_power_w": 1000}).status_code == 200
    now = datetime.now(timezone.utc)
    batch = {
        "readings": [
            {"timestamp": (now - timedelta(seconds=30 * (3 - i))).isoformat(), "power_w": p}
            for i, p in enumerate((400, 1800, 1900))
        ]
    }
    for _ in range(2):  # the second upload is a retry: duplicates, no second alert
        response = stack.request("POST", "/telemetry", headers={"X-API-Key": key}, json=batch)
        assert response.status_code in (201, 207), response.text
    alerts = _wait(lambda: stack.request("GET", "/alerts", admin, params={"device_id": did}).json()["items"], 20)
    # A marker after the retry (see the MQTT test above): once counted, the retry has been evaluated too.
    response = stack.request("POST", "/telemetry", headers={"X-API-Key": key}, json=_over_power_marker(now))
    assert response.status_code in (201, 207), response.text
    alerts = _wait(lambda: _over_power_counted(stack, admin, did, 3), 20)
    over = [a for a in alerts if a["alert_type"] == "over_power"]
    assert len(over) == 1 and over[0]["count"] == 2 + 1 and over[0]["status"] == "open"  # + 1: the marker


BURST_DEVICES, BURST_MESSAGES, BURST_READINGS = 20, 10, 10  # 2,000 readings
BURST_READABLE_WITHIN_S = 20.0
BACKLOG_MESSAGES = 25  # each 96 hourly readings: a device uploading weeks of history, slow to store


@local_broker
def test_a_burst_of_2000_readings_over_mqtt_is_readable_within_seconds(stack, admin):
    """SQS batches run concurrently, as Lambda runs them (up to the function's
    reserved concurrency): a burst is not stuck behind a batch that takes long
    (here a device uploading a backlog of history just before)."""
    uploader = _meter(stack, admin, "backlog")
    devices = [_meter(stack, admin, f"burst {n}") for n in range(BURST_DEVICES)]
    connections = [_connect(d["credentials"]) for d in [uploader, *devices]]
    now = datetime.now(timezone.utc)
    total, per_device = BURST_DEVICES * BURST_MESSAGES * BURST_READINGS, BURST_MESSAGES * BURST_READINGS
    try:
        hours = BACKLOG_MESSAGES * 96
        for m in range(BACKLOG_MESSAGES):
            readings = [
                {
                    "timestamp": (now - timedelta(hours=hours + 1 - (m * 96 + i))).isoformat(),
                    "energy_kwh": round(10 + (m * 96 + i) * 0.2, 3),
                }
                for i in range(96)
            ]
            _publish(connections[0], uploader["credentials"]["topics"]["telemetry"], {"readings": readings})
        time.sleep(2)  # its batch is under way
        started = time.monotonic()
        futures = []
        for m in range(BURST_MESSAGES):
            for device, connection in zip(devices, connections[1:]):
                first = m * BURST_READINGS
                readings = [
                    {
                        "timestamp": (now - timedelta(seconds=20 * (per_device - first - i))).isoformat(),
                        "power_w": 100.0 + i,
                        "energy_kwh": round(1 + (first + i) * 0.001, 4),
                    }
                    for i in range(BURST_READINGS)
                ]
                future, _ = connection.publish(
                    device["credentials"]["topics"]["telemetry"],
                    json.dumps({"readings": readings}),
                    mqtt.QoS.AT_LEAST_ONCE,
                )
                futures.append(future)
        for future in futures:
            future.result(30)
        published_in = time.monotonic() - started

        def readable() -> int:
            return sum(
                stack.request(
                    "GET", f"/devices/{d['device_id']}/readings", admin, params={"start": "-2h", "limit": 1000}
                ).json()["count"]
                for d in devices
            )

        deadline, count = started + published_in + BURST_READABLE_WITHIN_S, 0
        while time.monotonic() < deadline:
            count = readable()
            if count >= total:
                break
            time.sleep(0.5)
        took = time.monotonic() - started
    finally:
        for connection in connections:
            connection.disconnect().result(10)
    assert count == total, f"{count} of {total} readings readable {took:.0f} s after the burst"
    assert took < published_in + BURST_READABLE_WITHIN_S

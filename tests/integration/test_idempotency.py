"""Idempotency-Key on POST /devices and POST /telemetry: a retried request
with the same key and body gets the first answer and does nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture
def owner(api):
    return api.register("owner@example.com")["token"]


def _devices(api, token):
    return api.get("/devices", token=token)[1]["items"]


def test_a_retried_device_registration_creates_one_device_and_replays_the_answer(api, owner):
    body = {"name": "meter", "device_type": "meter", "power_rating_w": 3000}
    first = api.post("/devices", body, token=owner, headers={"Idempotency-Key": "create-meter-1"})
    again = api.post("/devices", body, token=owner, headers={"Idempotency-Key": "create-meter-1"})
    assert first[0] == again[0] == 201
    assert again[1]["device_id"] == first[1]["device_id"]  # the same device...
    assert len(_devices(api, owner)) == 1
    # ...with new credentials (the first ones were shown once and are kept nowhere): they work, the lost ones not
    old_key, new_key = first[1]["credentials"]["api_key"], again[1]["credentials"]["api_key"]
    assert old_key != new_key
    assert api.post("/device/heartbeat", headers={"X-API-Key": new_key})[0] == 200
    assert api.post("/device/heartbeat", headers={"X-API-Key": old_key})[0] == 401
    # Another key is another request.
    assert api.post("/devices", body, token=owner, headers={"Idempotency-Key": "create-meter-2"})[0] == 201
    assert len(_devices(api, owner)) == 2
    # No key: no idempotency.
    assert api.post("/devices", body, token=owner)[0] == 201
    assert len(_devices(api, owner)) == 3


def test_the_same_key_with_another_body_is_422(api, owner):
    key = {"Idempotency-Key": "k-1"}
    assert api.post("/devices", {"name": "a", "device_type": "meter"}, token=owner, headers=key)[0] == 201
    status, body = api.post("/devices", {"name": "b", "device_type": "meter"}, token=owner, headers=key)
    assert status == 422 and body["error"] == "idempotency_key_reused"
    assert len(_devices(api, owner)) == 1


def test_keys_belong_to_their_caller(api, owner):
    other = api.register("other@example.com")["token"]
    body = {"name": "meter", "device_type": "meter"}
    mine = api.post("/devices", body, token=owner, headers={"Idempotency-Key": "shared"})[1]
    theirs = api.post("/devices", body, token=other, headers={"Idempotency-Key": "shared"})[1]
    assert mine["device_id"] != theirs["device_id"] and theirs["owner_id"] != mine["owner_id"]


def test_a_bad_key_is_a_400_naming_the_header(api, owner):
    status, body = api.post(
        "/devices", {"name": "a", "device_type": "meter"}, token=owner, headers={"Idempotency-Key": "x" * 256}
    )
    assert status == 400 and body["fields"][0]["field"] == "Idempotency-Key"
    assert _devices(api, owner) == []


def test_a_failed_request_is_not_remembered(api, owner):
    key = {"Idempotency-Key": "k-2"}
    status, _ = api.post("/devices", {"name": "a", "device_type": "toaster"}, token=owner, headers=key)
    assert status == 400
    status, _ = api.post("/devices", {"name": "a", "device_type": "meter"}, token=owner, headers=key)
    assert status == 201


def test_a_retried_telemetry_upload_replays_the_first_answer(api, owner):
    created = api.create("/devices", {"name": "m", "device_type": "meter"}, owner)
    headers = {"X-API-Key": created["credentials"]["api_key"], "Idempotency-Key": "upload-42"}
    batch = {"readings": [{"timestamp": at(3 - i), "power_w": 100 + i} for i in range(3)]}
    first = api.post("/telemetry", batch, headers=headers)
    again = api.post("/telemetry", batch, headers=headers)
    assert first[0] == again[0] == 201 and again[1] == first[1] and first[1]["accepted"] == 3
    status, body = api.post("/telemetry", {"readings": batch["readings"][:2]}, headers=headers)
    assert status == 422 and body["error"] == "idempotency_key_reused"


def test_a_request_still_in_progress_is_409(api, owner, aws, monkeypatch):
    """Two instances of the function receive the same key at once (a client
    that timed out and retried while the first request still runs)."""
    from werkzeug.test import Client

    from gridpulse.telemetry import http_ingest
    from infrastructure.local.gateway import Gateway, load_functions
    from tests.conftest import ApiClient

    created = api.create("/devices", {"name": "m", "device_type": "meter"}, owner)
    headers = {"X-API-Key": created["credentials"]["api_key"], "Idempotency-Key": "slow-upload"}
    body = {"timestamp": at(1), "power_w": 5}
    second_instance = ApiClient(Client(Gateway(aws, load_functions(aws))))
    real, seen = http_ingest.ingest_http, []

    def slow(*args, **kwargs):
        if not seen:
            seen.append(None)
            seen[0] = second_instance.post("/telemetry", body, headers=headers)
        return real(*args, **kwargs)

    monkeypatch.setattr(http_ingest, "ingest_http", slow)
    assert api.post("/telemetry", body, headers=headers)[0] == 201
    status, answer = seen[0]
    assert status == 409 and answer["error"] == "idempotency_in_progress"

"""Prepaid billing through the running local stack over HTTP, against its Tuya stand-in:
an admin registers a stand-in meter, tops it up twice with one Idempotency-Key (the
credit rises once), reads balance, usage and ledger; with Tuya down a top-up is 202
pending and, once Tuya is back, BillingRetryFunction (run from BillingRetryQueue with
its DelaySeconds honoured, scaled by the stack's GRIDPULSE_SQS_DELAY_SCALE of 0.1) applies it once."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from gridpulse.devices.external import external_device_id
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, local_only

pytestmark = [pytest.mark.e2e, local_only("the Tuya Cloud stand-in and its fault switch")]


def _standin_meter(stack, external_id):
    return next(m for m in stack.request("GET", "/_local/tuya/meters").json()["items"] if m["id"] == external_id)


def test_an_admin_tops_up_a_stand_in_meter_once_per_key_and_a_pending_top_up_lands_once(stack):
    token = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    external = next(
        m["id"] for m in stack.request("GET", "/_local/tuya/meters").json()["items"] if m["kind"] == "money"
    )
    body = {"name": "Kiosk meter", "device_type": "prepaid_meter", "provider": "tuya"}
    unknown = stack.request("POST", "/devices", token, json={**body, "external_id": "bfnosuchmeter0000000"})
    assert unknown.status_code == 400 and unknown.json()["fields"][0]["field"] == "external_id", unknown.text
    # The stack imports its stand-in meters at start: registering one by hand is then 409 (no duplicate),
    # and either way the meter has the one id the sync gives it.
    created = stack.request("POST", "/devices", token, json={**body, "external_id": external})
    meter = external_device_id("tuya", external)
    if created.status_code == 201:
        assert created.json()["device_id"] == meter
    else:
        assert created.status_code == 409 and created.json()["error"] == "device_exists", created.text
        assert [f["field"] for f in created.json()["fields"]] == ["external_id"]
    twice = stack.request("POST", "/devices", token, json={**body, "external_id": external})
    assert twice.status_code == 409, twice.text
    assert stack.request("GET", f"/devices/{meter}", token).json()["external_id"] == external

    charges = len(_standin_meter(stack, external)["charges"])
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    first = stack.request("POST", f"/devices/{meter}/add-balance", token, json={"amount": "40.00"}, headers=key)
    again = stack.request("POST", f"/devices/{meter}/add-balance", token, json={"amount": 40}, headers=key)
    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json() and first.json()["status"] == "applied"
    assert len(_standin_meter(stack, external)["charges"]) == charges + 1  # rose once

    balance = stack.request("GET", f"/devices/{meter}/balance", token).json()
    assert balance["source"] == "live" and balance["as_of"] and Decimal(balance["money_balance"]) > Decimal("40")
    usage = stack.request("GET", f"/devices/{meter}/usage", token)
    assert usage.status_code == 200 and Decimal(usage.json()["total_energy_used"]) > 0, usage.text
    ledger = stack.request("GET", f"/devices/{meter}/ledger", token).json()["items"]
    assert [(e["operation"], e["status"], e["amount"]) for e in ledger] == [("add_balance", "applied", "40.00")]

    try:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "down"}).status_code == 200
        pending = stack.request(
            "POST", f"/devices/{meter}/add-balance", token, json={"amount": 5}, headers={"Idempotency-Key": "e2e-p"}
        )
        assert pending.status_code == 202 and pending.json()["status"] == "pending", pending.text
        assert stack.request("GET", f"/devices/{meter}/balance", token).json()["source"] == "cache"
    finally:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "none"}).status_code == 200
    # The first retry is queued with DelaySeconds 30 (3 s in the tests' stack, see
    # tests/e2e/conftest.py): it must not run before, and lands once after.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        entry = stack.request("GET", f"/devices/{meter}/ledger", token).json()["items"][0]
        if entry["status"] != "pending":
            break
        time.sleep(0.5)
    assert entry["status"] == "applied" and entry["ledger_id"] == pending.json()["ledger_id"], entry
    assert len(_standin_meter(stack, external)["charges"]) == charges + 2
    time.sleep(3)
    assert len(_standin_meter(stack, external)["charges"]) == charges + 2  # and only once

"""The local stack's Tuya Cloud stand-in over real HTTP: its meters are there without a fleet,
the platform's credentials (TuyaCredentialsSecret in the stack's AWS) open it, and the fault
switch on the API's gateway makes it fail and recover."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest

from gridpulse.billing.tuya.client import TuyaClient
from gridpulse.billing.tuya.errors import TuyaUnavailable
from gridpulse.billing.tuya.tokens import MemoryTokenStore
from tests.e2e.conftest import local_only

pytestmark = [pytest.mark.e2e, local_only("the Tuya Cloud stand-in and its fault switch")]


def _client(stack) -> TuyaClient:
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=f"http://127.0.0.1:{stack.aws_port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    value = json.loads(secrets.get_secret_value(SecretId="gridpulse-local/tuya-credentials")["SecretString"])
    return TuyaClient(
        f"http://127.0.0.1:{stack.tuya_port}",
        value["access_id"],
        value["access_secret"],
        MemoryTokenStore(),
        timeout=2.0,
        backoff_s=0.01,
    )


def test_the_stand_in_has_its_meters_without_a_fleet_and_takes_a_top_up(stack):
    meters = stack.request("GET", "/_local/tuya/meters").json()["items"]
    assert len(meters) == 3 and {m["kind"] for m in meters} == {"money", "energy"}
    client = _client(stack)
    devices, next_key = client.list_devices()
    assert next_key is None and sorted(d["id"] for d in devices) == sorted(m["id"] for m in meters)
    money = next(m["id"] for m in meters if m["kind"] == "money")
    spec = client.specification(money)
    assert client.send_commands(
        money, [{"code": "charge_money", "value": spec.to_device("charge_money", Decimal("7.5"))}]
    )
    after = next(m for m in stack.request("GET", "/_local/tuya/meters").json()["items"] if m["id"] == money)
    assert after["charges"][-1]["amount"] == "7.50"


def test_the_fault_switch_on_the_gateway_takes_tuya_down_and_back(stack):
    client = _client(stack)
    device = client.list_devices()[0][0]["id"]
    assert stack.request("POST", "/_local/tuya/faults", json={"mode": "sideways"}).status_code == 400
    try:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "down"}).json()["mode"] == "down"
        with pytest.raises(TuyaUnavailable):
            client.device_status(device)
    finally:
        assert stack.request("POST", "/_local/tuya/faults", json={"mode": "none"}).status_code == 200
    assert "switch" in client.device_status(device)

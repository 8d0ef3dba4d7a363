"""Prepaid billing against the Tuya Cloud stand-in (infrastructure/local/tuya) over
real HTTP, through the real client (credentials from TuyaCredentialsSecret, the
token in BillingTable): replays, Tuya down then back, a lost answer, an expired
token, a 2008 refusal and an energy meter, as a user of the API sees them."""

from __future__ import annotations

import json
import socket
from decimal import Decimal

import boto3
import pytest

from gridpulse.billing import service
from gridpulse.billing.tuya.client import forget_credentials
from infrastructure.local import tuya as standin
from tests.integration.test_billing import _drain_retries, _key, _ledger

ACCESS_ID, ACCESS_SECRET = "gplocalaccessid00002", "gplocalaccesssecret0000000000002"


@pytest.fixture
def cloud(aws, monkeypatch):
    """The stand-in (4 meters, money and energy, no consumption: exact balances) as the service's Tuya."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stand_in = standin.TuyaStandIn(ACCESS_ID, ACCESS_SECRET, meters=4, slow_s=1.5, speed=0.0)
    server = standin.start(sock, stand_in)
    secrets = boto3.client("secretsmanager")
    arn = secrets.describe_secret(SecretId="gridpulse-test/tuya-credentials")["ARN"]
    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"access_id": ACCESS_ID, "access_secret": ACCESS_SECRET})
    )
    monkeypatch.setenv("TUYA_ENDPOINT", f"http://127.0.0.1:{sock.getsockname()[1]}")
    monkeypatch.setenv("TUYA_SECRET_ARN", arn)
    monkeypatch.setattr(service, "RETRY_DELAYS_S", (0, 0, 0))
    forget_credentials()
    service.use_tuya(None)  # the real client_from_environment
    service.tuya().timeout = 1.0  # shorter than the stand-in's slow answers
    yield stand_in
    service.use_tuya(None)
    forget_credentials()
    server.shutdown()
    sock.close()


def _meter_ids(cloud, kind):
    return [m.id for m in cloud.meters.values() if m.kind == kind]


def _register(api, admin_token, external_id):
    body = {"name": f"Prepaid {external_id[:8]}", "device_type": "prepaid_meter", "provider": "tuya"}
    status, device = api.post("/devices", {**body, "external_id": external_id}, token=admin_token)
    assert status == 201, device
    return device["device_id"]


def _money_meter(api, admin_token, cloud):
    external = _meter_ids(cloud, "money")[0]
    return _register(api, admin_token, external), cloud.meters[external]


def test_a_replayed_top_up_raises_the_balance_once_and_another_body_is_422(api, admin_token, cloud):
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    assert api.get(f"/devices/{meter}/balance", token=admin_token)[1]["unit_price"] == "0.25"  # price known
    first = api.post(f"/devices/{meter}/add-balance", {"amount": "500.00"}, token=admin_token, headers=_key("s-1"))
    assert first[0] == 200 and first[1]["command"] == "charge_money" and first[1]["money_balance"] == "550.00", first
    again = api.post(f"/devices/{meter}/add-balance", {"amount": 500}, token=admin_token, headers=_key("s-1"))
    assert again == first
    assert tuya_meter.balance == Decimal("550.00") and len(tuya_meter.charges) == 1
    other = api.post(f"/devices/{meter}/add-balance", {"amount": 20}, token=admin_token, headers=_key("s-1"))
    assert other[0] == 422 and other[1]["error"] == "idempotency_key_reused"
    balance = api.get(f"/devices/{meter}/balance", token=admin_token)[1]
    assert balance["money_balance"] == "550.00" and balance["source"] == "live" and balance["as_of"]
    assert balance["unit_price"] == "0.25" and balance["prepayment_enabled"] is True
    assert _ledger(api, admin_token, meter)[0]["energy_kwh"] == "2000.00"  # 500 at 0.25 a kWh


def test_tuya_down_answers_202_and_the_retry_applies_the_top_up_once(api, admin_token, cloud, aws):
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    cloud.set_fault("down")
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("d"))
    assert status == 202 and body["status"] == "pending", body
    assert api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("d")) == (
        status,
        body,
    )
    assert api.get(f"/devices/{meter}/balance", token=admin_token)[1]["source"] == "cache"
    assert _drain_retries(aws) == 1  # still down: queued again
    assert _ledger(api, admin_token, meter)[0]["status"] == "pending" and tuya_meter.charges == []
    cloud.set_fault("none")
    assert _drain_retries(aws) == 1
    assert _drain_retries(aws) == 0
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied" and entry["money_after"] == "150.00"
    assert tuya_meter.balance == Decimal("150.00") and len(tuya_meter.charges) == 1


def test_a_top_up_whose_answer_was_lost_is_confirmed_by_the_meter_not_sent_again(
    api, admin_token, cloud, aws, monkeypatch
):
    """The stand-in's `slow` mode applies the command and answers after the client gave up."""
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    client = service.tuya()
    send = client.send_commands

    def answer_lost(*args, **kwargs):
        cloud.set_fault("slow")
        try:
            return send(*args, **kwargs)
        finally:
            cloud.set_fault("none")

    monkeypatch.setattr(client, "send_commands", answer_lost)
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("l"))
    assert status == 202 and body["status"] == "pending", body
    assert tuya_meter.balance == Decimal("150.00") and len(tuya_meter.charges) == 1  # it did land
    monkeypatch.setattr(client, "send_commands", send)
    assert _drain_retries(aws) == 1
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied" and "confirmed by the meter" in entry["error"]
    assert tuya_meter.balance == Decimal("150.00") and len(tuya_meter.charges) == 1  # not sent twice
    assert service.books(meter)["total_purchased_money"] == Decimal("100")
    replay = api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("l"))
    assert replay[0] == 202 and len(tuya_meter.charges) == 1  # the first answer, nothing sent


def test_an_expired_token_mid_run_is_refreshed_without_the_caller_noticing(api, admin_token, cloud):
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    assert api.post(f"/devices/{meter}/add-balance", {"amount": 1}, token=admin_token)[0] == 200
    issued = cloud.tokens_issued
    cloud.set_fault("token_expired")
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 2}, token=admin_token)
    assert status == 200 and body["money_balance"] == "53.00", body
    assert cloud.tokens_issued == issued + 1 and len(tuya_meter.charges) == 2


def test_a_command_tuya_refuses_with_2008_is_a_502_and_the_entry_failed(api, admin_token, cloud):
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    assert api.get(f"/devices/{meter}/balance", token=admin_token)[0] == 200  # its specification is known
    # The meter's goods_price now tops out at 1.00 (the product changed since we read its
    # specification): the stand-in refuses a price of 5 with 2008, as Tuya does.
    price = tuya_meter.spec["functions"][2]
    values = price["values"]
    price["values"] = json.dumps({"unit": "", "min": 1, "max": 100, "scale": 2, "step": 1})
    try:
        status, body = api.post(f"/devices/{meter}/set-price", {"price": "5"}, token=admin_token)
    finally:
        price["values"] = values
    assert status == 502 and body["error"] == "billing_error" and body["status"] == "failed", body
    assert body["tuya_code"] == 2008 and body["ledger_id"]
    assert _ledger(api, admin_token, meter)[0]["status"] == "failed"
    assert tuya_meter.price == Decimal("0.25")
    assert api.get(f"/devices/{meter}/balance", token=admin_token)[1]["unit_price"] == "0.25"


def test_an_energy_meter_tops_up_in_kwh_at_its_unit_price(api, admin_token, cloud):
    external = _meter_ids(cloud, "energy")[0]
    meter = _register(api, admin_token, external)
    assert api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token)[1]["error"] == "no_unit_price"
    assert api.post(f"/devices/{meter}/set-price", {"price": "20"}, token=admin_token)[0] == 200
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": "150"}, token=admin_token)
    assert status == 200 and body["command"] == "charge_energy" and body["energy_balance"] == "207.50", body
    assert cloud.meters[external].balance == Decimal("207.50")  # 200 kWh + 150 / 20
    assert cloud.meters[external].charges[0]["value"] == 750  # 7.50 kWh at scale 2
    balance = api.get(f"/devices/{meter}/balance", token=admin_token)[1]
    assert balance["energy_balance"] == "207.50" and balance["source"] == "live"
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["energy_kwh"] == "7.50" and Decimal(entry["amount"]) == 150
    assert api.post(f"/devices/{meter}/add-token", {"token": "1" * 20}, token=admin_token)[1]["error"] == (
        "unsupported_operation"
    )


TOKEN = "12345678901234567890"


def test_a_token_tuya_applied_but_our_books_missed_is_confirmed_by_charge_records_not_resent(
    api, admin_token, cloud, aws, monkeypatch
):
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    real = service._apply_to_books
    failing = {"left": 1}

    def books_down_once(*args, **kwargs):
        if failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("DynamoDB is failing")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "_apply_to_books", books_down_once)
    status, body = api.post(f"/devices/{meter}/add-token", {"token": TOKEN}, token=admin_token, headers=_key("t"))
    assert status == 202 and body["status"] == "pending", body
    assert [c["code"] for c in tuya_meter.charges] == ["charge_token"]  # Tuya took it
    sent = len([c for c in cloud.calls if c[0] == "POST"])
    assert _drain_retries(aws) == 1
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied" and "charge records" in entry["error"], entry
    assert len([c for c in cloud.calls if c[0] == "POST"]) == sent  # not sent again
    assert [c["code"] for c in tuya_meter.charges] == ["charge_token"]
    assert ("GET", f"/v1.0/iot-03/power-devices/{tuya_meter.id}/charge-records") in cloud.calls


def test_a_token_whose_answer_was_lost_before_it_reached_the_meter_is_sent_again_once(
    api, admin_token, cloud, aws, monkeypatch
):
    meter, tuya_meter = _money_meter(api, admin_token, cloud)
    client = service.tuya()
    send = client.send_commands

    def lost_before_the_meter(*args, **kwargs):
        from gridpulse.billing.tuya.errors import TuyaUnavailable

        raise TuyaUnavailable("Tuya Cloud timed out")  # sent, outcome unknown: nothing reached the meter

    monkeypatch.setattr(client, "send_commands", lost_before_the_meter)
    status, body = api.post(f"/devices/{meter}/add-token", {"token": TOKEN}, token=admin_token, headers=_key("t2"))
    assert status == 202 and body["status"] == "pending", body
    monkeypatch.setattr(client, "send_commands", send)
    assert _drain_retries(aws) == 1
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied", entry
    assert [c["code"] for c in tuya_meter.charges] == ["charge_token"]  # the records said no: sent, once

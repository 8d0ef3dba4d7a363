"""The Tuya client against the local Tuya Cloud stand-in over real HTTP."""

from __future__ import annotations

import json
import socket
import time
from decimal import Decimal

import boto3
import pytest

from gridpulse.billing.tuya.client import TuyaClient, client_from_environment, forget_credentials
from gridpulse.billing.tuya.errors import TuyaAuthError, TuyaRejected, TuyaUnavailable
from gridpulse.billing.tuya.tokens import DynamoTokenStore, MemoryTokenStore
from infrastructure.local import tuya

ACCESS_ID, ACCESS_SECRET = "gplocalaccessid00001", "gplocalaccesssecret0000000000001"


@pytest.fixture
def cloud():
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stand_in = tuya.TuyaStandIn(ACCESS_ID, ACCESS_SECRET, meters=5, slow_s=1.5)
    server = tuya.start(sock, stand_in)
    stand_in.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield stand_in
    server.shutdown()
    sock.close()


def _client(cloud, store=None, **kw):
    kw.setdefault("timeout", 1.0)
    return TuyaClient(cloud.url, ACCESS_ID, ACCESS_SECRET, store or MemoryTokenStore(), **kw)


def test_pages_through_every_meter(cloud):
    client = _client(cloud)
    seen, key = [], None
    while True:
        page, key = client.list_devices(page_size=2, last_row_key=key)
        seen += page
        if key is None:
            break
    assert [d["id"] for d in seen] == list(cloud.meters) and len(seen) == 5
    assert {d["product_id"] for d in seen} == {"gpprepaidmoney01", "gpprepaidenergy1"}


def test_reads_the_specification_and_status_with_scaling(cloud):
    client = _client(cloud)
    money_id, energy_id = list(cloud.meters)[:2]
    money, energy = client.specification(money_id), client.specification(energy_id)
    assert money.kind == "money" and energy.kind == "energy"
    status = client.device_status(money_id)
    balance = money.from_device("balance_money", status["balance_money"])
    assert Decimal("0") < balance <= Decimal("50.00") and status["switch"] is True
    assert client.device(energy_id)["online"] is True


def test_a_charge_is_applied_additively_and_recorded(cloud):
    client = _client(cloud)
    device = list(cloud.meters)[0]
    spec = client.specification(device)
    before = spec.from_device("balance_money", client.device_status(device)["balance_money"])
    since = int(time.time() * 1000) - 1
    for _ in range(2):
        assert client.send_commands(
            device, [{"code": "charge_money", "value": spec.to_device("charge_money", Decimal("500"))}]
        )
    after = spec.from_device("balance_money", client.device_status(device)["balance_money"])
    assert Decimal("999.90") < after - before <= Decimal("1000.00")  # minus what it consumed meanwhile
    records = client.charge_records(device, since_ms=since)
    assert [(r["code"], r["value"]) for r in records] == [("charge_money", 50000)] * 2
    client.send_commands(device, [{"code": "charge_token", "value": "12345678901234567890"}])
    assert len(client.charge_records(device)) == 3


def test_energy_meter_tops_up_in_kwh(cloud):
    client = _client(cloud)
    device = list(cloud.meters)[1]
    spec = client.specification(device)
    kwh = spec.money_to_kwh(Decimal("100"), Decimal("0.30"))
    assert kwh == Decimal("333.33")
    assert client.send_commands(device, [{"code": "charge_energy", "value": spec.to_device("charge_energy", kwh)}])
    assert spec.from_device("balance_energy", client.device_status(device)["balance_energy"]) > Decimal("500")


@pytest.mark.parametrize(
    "command",
    [
        {"code": "charge_energy", "value": 100},  # not this product's
        {"code": "charge_money", "value": 0},  # below min
        {"code": "charge_token", "value": "1234"},  # not 20 digits
        {"code": "prepayment_switch", "value": "yes"},
    ],
)
def test_an_invalid_command_is_rejected_with_2008_and_not_applied(cloud, command):
    client = _client(cloud)
    device = list(cloud.meters)[0]
    with pytest.raises(TuyaRejected) as caught:
        client.send_commands(device, [command])
    assert caught.value.code == 2008 and cloud.meters[device].charges == []


def test_an_unknown_device_is_2010(cloud):
    with pytest.raises(TuyaRejected) as caught:
        _client(cloud).device("nope")
    assert caught.value.code == 2010


def test_wrong_credentials_are_an_auth_error(cloud):
    client = TuyaClient(cloud.url, ACCESS_ID, "not-the-secret", MemoryTokenStore(), timeout=1.0)
    with pytest.raises(TuyaAuthError) as caught:
        client.device(next(iter(cloud.meters)))
    assert caught.value.code == 1004


def test_token_expiry_mid_run_is_refreshed_transparently(cloud):
    store = MemoryTokenStore()
    client = _client(cloud, store)
    device = next(iter(cloud.meters))
    client.device(device)
    cloud.set_fault("token_expired")
    assert client.device_status(device)["switch"] in (True, False)
    assert store.puts == 2 and cloud.tokens_issued == 2
    other = _client(cloud, store)  # another container reads the refreshed token, fetches none
    other.device(device)
    assert cloud.tokens_issued == 2


def test_tuya_down_is_unavailable_and_back_again(cloud):
    client = _client(cloud, backoff_s=0.01)
    device = next(iter(cloud.meters))
    client.device(device)
    cloud.set_fault("down")
    with pytest.raises(TuyaUnavailable):
        client.device(device)
    with pytest.raises(TuyaUnavailable):
        client.send_commands(device, [{"code": "charge_money", "value": 100}])
    assert cloud.meters[device].charges == []
    cloud.set_fault("none")
    assert client.send_commands(device, [{"code": "charge_money", "value": 100}])


def test_slow_tuya_times_out_as_unavailable_and_the_charge_may_have_landed(cloud):
    client = _client(cloud, timeout=0.5, retries=0)
    device = next(iter(cloud.meters))
    client.device(device)
    cloud.set_fault("slow")
    with pytest.raises(TuyaUnavailable):
        client.send_commands(device, [{"code": "charge_money", "value": 100}])
    cloud.set_fault("none")
    time.sleep(1.2)
    assert len(client.charge_records(device)) == 1  # the outcome was unknown: it did land


def test_balance_drains_and_the_relay_opens_at_zero(cloud):
    meter = cloud.meters[list(cloud.meters)[1]]
    meter.speed = 10**9  # years of consumption in a moment
    time.sleep(0.05)
    status = {s["code"]: s["value"] for s in meter.status()}
    assert status["balance_energy"] == 0 and status["switch"] is False and status["fault"]
    meter.speed = 1
    meter.apply([{"code": "charge_energy", "value": 1000}])
    assert {s["code"]: s["value"] for s in meter.status()}["switch"] is True


def test_the_configured_client_shares_its_token_through_dynamodb(aws, cloud, monkeypatch):
    secrets = boto3.client("secretsmanager")
    arn = secrets.describe_secret(SecretId="gridpulse-test/tuya-credentials")["ARN"]
    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"access_id": ACCESS_ID, "access_secret": ACCESS_SECRET})
    )
    monkeypatch.setenv("TUYA_ENDPOINT", cloud.url)
    monkeypatch.setenv("TUYA_SECRET_ARN", arn)
    forget_credentials()
    device = next(iter(cloud.meters))
    first = client_from_environment()
    assert client_from_environment() is first  # one per container
    second = TuyaClient(cloud.url, ACCESS_ID, ACCESS_SECRET, DynamoTokenStore("gridpulse-test-billing"))  # another one
    assert first.device(device)["id"] == device and second.device(device)["id"] == device
    assert cloud.tokens_issued == 1
    item = boto3.client("dynamodb").get_item(
        TableName="gridpulse-test-billing", Key={"pk": {"S": "TUYA#TOKEN"}, "sk": {"S": "TOKEN"}}
    )["Item"]
    assert item["version"]["N"] == "1" and "lock_owner" not in item
    forget_credentials()


def test_a_token_near_its_expiry_is_refreshed_with_the_refresh_token_before_tuya_refuses_it():
    now = [time.time()]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    cloud = tuya.TuyaStandIn(ACCESS_ID, ACCESS_SECRET, meters=1, token_ttl_s=120, clock=lambda: now[0])
    server = tuya.start(sock, cloud)
    try:
        store = MemoryTokenStore()
        client = TuyaClient(
            f"http://127.0.0.1:{sock.getsockname()[1]}", ACCESS_ID, ACCESS_SECRET, store, clock=lambda: now[0]
        )
        device = next(iter(cloud.meters))
        client.device(device)
        first = store.get()
        now[0] += 70  # 50 s left: inside the 60 s margin
        client.device(device)
        assert store.get().version == 2 and store.get().access_token != first.access_token
        assert [p for _, p in cloud.calls if p.startswith("/v1.0/token")] == [
            "/v1.0/token",
            f"/v1.0/token/{first.refresh_token}",
        ]
        assert not any(p.startswith("/v1.0/token") for _, p in cloud.calls[-1:])  # the call itself went through
    finally:
        server.shutdown()
        sock.close()


def test_batch_status_reads_up_to_20_meters_per_call_and_leaves_unknown_ids_out(cloud):
    from infrastructure.local.tuya.meters import make_meters

    for meter in make_meters(45, speed=0.0)[len(cloud.meters) :]:  # 45 meters: three calls of 20, 20, 5
        cloud.meters[meter.id] = meter
    client = _client(cloud)
    client.device_status(next(iter(cloud.meters)))  # the token
    before = len(cloud.calls)
    statuses = client.devices_status([*cloud.meters, "nosuchdevice0000"])
    assert set(statuses) == set(cloud.meters)
    assert [path for _, path in cloud.calls[before:]] == ["/v1.0/iot-03/devices/status"] * 3
    one = next(iter(cloud.meters))
    assert set(statuses[one]) == set(client.device_status(one))
    with pytest.raises(TuyaRejected) as too_many:  # Tuya's limit is 20 ids per call
        client.request("GET", "/v1.0/iot-03/devices/status", query={"device_ids": ",".join(list(cloud.meters)[:21])})
    assert too_many.value.code == 1101

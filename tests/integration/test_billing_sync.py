"""Sync of the Tuya project's prepaid meters (issue #13 item 5) against the
Tuya Cloud stand-in over real HTTP: POST /devices/refresh, the scheduled fan-out
and its worker, low_balance alerts, sync adjustments, meters leaving the project."""

from __future__ import annotations

import json
import os
import socket
import uuid
from decimal import Decimal

import boto3
import pytest

from gridpulse.billing import service, sync
from gridpulse.billing.tuya.client import TuyaClient
from gridpulse.billing.tuya.tokens import MemoryTokenStore
from infrastructure.local import tuya

ACCESS_ID, ACCESS_SECRET = "gplocalaccessid00001", "gplocalaccesssecret0000000000001"


@pytest.fixture
def cloud(aws, monkeypatch):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stand_in = tuya.TuyaStandIn(ACCESS_ID, ACCESS_SECRET, meters=5, slow_s=1.5)
    server = tuya.start(sock, stand_in)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = TuyaClient(url, ACCESS_ID, ACCESS_SECRET, MemoryTokenStore(), timeout=1.0, backoff_s=0.01)
    service.use_tuya(lambda: client)
    monkeypatch.setattr(sync, "PAGE_SIZE", 2)  # 5 meters: three pages
    yield stand_in
    service.use_tuya(None)
    server.shutdown()
    sock.close()


def _meters(api, token):
    status, body = api.get("/devices", token=token, query={"device_type": "prepaid_meter", "limit": 100})
    assert status == 200, body
    return {d["external_id"]: d for d in body["items"]}


def _refresh(api, token, expect=200):
    status, body = api.post("/devices/refresh", token=token)
    assert status == expect, body
    return body


def _low_balance_alerts(api, token, device_id, status=None):
    query = {"device_id": device_id, "alert_type": "low_balance"}
    if status:
        query["status"] = status
    code, body = api.get("/alerts", token=token, query=query)
    assert code == 200, body
    return body["items"]


def test_refresh_imports_every_meter_once_and_follows_renames(api, admin_token, cloud):
    first = _refresh(api, admin_token)
    assert (first["total"], first["new"], first["updated"]) == (5, 5, 0), first
    meters = _meters(api, admin_token)
    assert set(meters) == set(cloud.meters)
    one = meters[next(iter(cloud.meters))]
    assert one["provider"] == "tuya" and one["device_type"] == "prepaid_meter" and one["online"] is True
    assert one["name"] == cloud.meters[one["external_id"]].name

    # the books were read: the device's summary and balance show the meter's credit with as_of
    detail = api.get(f"/devices/{one['device_id']}", token=admin_token)[1]
    assert Decimal(detail["summary"]["balance"]) > 0 and detail["summary"]["as_of"]

    again = _refresh(api, admin_token)
    assert (again["total"], again["new"], again["updated"]) == (5, 0, 0), again

    renamed = list(cloud.meters.values())[3]
    renamed.name = "Kiosk 4, Block B"
    renamed.online = False
    third = _refresh(api, admin_token)
    assert (third["new"], third["updated"]) == (0, 1), third
    shown = _meters(api, admin_token)[renamed.id]
    assert shown["name"] == "Kiosk 4, Block B" and shown["online"] is False
    assert len(_meters(api, admin_token)) == 5  # renamed, not imported again


def test_low_balance_opens_once_and_a_top_up_resolves_it(api, admin_token, cloud):
    _refresh(api, admin_token)
    meter = next(m for m in cloud.meters.values() if m.kind == "money")
    device_id = _meters(api, admin_token)[meter.id]["device_id"]
    assert _low_balance_alerts(api, admin_token, device_id) == []

    meter.balance = Decimal("4.00")  # drained (or spent at the meter) below the default threshold of 10
    _refresh(api, admin_token)
    _refresh(api, admin_token)
    alerts = _low_balance_alerts(api, admin_token, device_id)
    assert len(alerts) == 1 and alerts[0]["status"] == "open" and alerts[0]["count"] == 2, alerts
    # the drop was not ours and not consumption: a sync_adjustment in the ledger
    ledger = api.get(f"/devices/{device_id}/ledger", token=admin_token)[1]["items"]
    adjustments = [e for e in ledger if e["operation"] == "sync_adjustment"]
    assert len(adjustments) == 1, ledger
    assert Decimal("-46.1") < Decimal(adjustments[0]["amount"]) < Decimal("-45.9")
    assert adjustments[0]["performed_by"] == "sync" and adjustments[0]["status"] == "applied"
    assert Decimal("3.95") <= Decimal(adjustments[0]["money_after"]) <= Decimal("4.00")  # drains meanwhile

    status, body = api.post(
        f"/devices/{device_id}/add-balance", {"amount": "100"}, token=admin_token, headers={"Idempotency-Key": "k1"}
    )
    assert status == 200, body
    assert _low_balance_alerts(api, admin_token, device_id, status="open") == []
    resolved = _low_balance_alerts(api, admin_token, device_id, status="resolved")
    assert len(resolved) == 1 and resolved[0]["resolved_by"] == "top-up"

    _refresh(api, admin_token)  # our own top-up is no adjustment; no new alert
    ledger = api.get(f"/devices/{device_id}/ledger", token=admin_token)[1]["items"]
    assert [e["operation"] for e in ledger].count("sync_adjustment") == 1
    assert _low_balance_alerts(api, admin_token, device_id, status="open") == []


def test_energy_meter_threshold_is_in_kwh(api, admin_token, cloud):
    _refresh(api, admin_token)
    meter = next(m for m in cloud.meters.values() if m.kind == "energy")
    device_id = _meters(api, admin_token)[meter.id]["device_id"]
    meter.balance = Decimal("12.00")  # kWh: above 10
    _refresh(api, admin_token)
    assert _low_balance_alerts(api, admin_token, device_id) == []
    meter.balance = Decimal("3.50")
    _refresh(api, admin_token)
    alerts = _low_balance_alerts(api, admin_token, device_id)
    assert len(alerts) == 1 and "kWh" in alerts[0]["message"]


def test_a_meter_leaving_the_project_is_marked_not_deleted(api, admin_token, cloud):
    _refresh(api, admin_token)
    gone = list(cloud.meters)[1]
    cloud._order.remove(gone)
    body = _refresh(api, admin_token)
    assert body["total"] == 4 and "no longer in the project" in body["message"]
    shown = _meters(api, admin_token)
    assert shown[gone]["status"] == "inactive"
    assert api.get(f"/devices/{shown[gone]['device_id']}/ledger", token=admin_token)[0] == 200
    cloud._order.append(gone)
    _refresh(api, admin_token)
    assert _meters(api, admin_token)[gone]["status"] == "active"


def test_an_imported_meter_has_no_credentials_to_rotate_409_not_a_5xx(api, admin_token, cloud):
    """Found by the fuzzer: rotate-credentials on an imported meter (no IoT thing) was a 502."""
    _refresh(api, admin_token)
    meter = next(iter(_meters(api, admin_token).values()))
    status, body = api.post(f"/devices/{meter['device_id']}/rotate-credentials", token=admin_token)
    assert status == 409 and body["error"] == "no_credentials", body
    assert api.get(f"/devices/{meter['device_id']}", token=admin_token)[0] == 200


def test_tuya_down_during_refresh_is_a_502_connection_error(api, admin_token, cloud):
    cloud.set_fault("down")
    status, body = api.post("/devices/refresh", token=admin_token)
    assert status == 502 and body["error"] == "connection_error", body
    cloud.set_fault("none")
    assert _refresh(api, admin_token)["new"] == 5


def test_only_admins_refresh(api, admin_token, cloud):
    viewer = api.user(admin_token, "viewer@example.com", "viewer")
    operator = api.user(admin_token, "operator@example.com", "operator")
    for token in (viewer, operator):
        status, body = api.post("/devices/refresh", token=token)
        assert status == 403 and body["error"] == "forbidden", body
    assert api.post("/devices/refresh")[0] == 401
    assert cloud.calls == []  # nobody reached Tuya


def _invoke(aws, logical, event):
    from infrastructure.local.gateway import load_functions

    return load_functions(aws)[logical].invoke(event, "us-east-1", "123456789012")


def _drain(queue_url):
    sqs = boto3.client("sqs")
    got = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return got
        got += batch
        for m in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def test_scheduled_fan_out_and_a_poison_record_costs_only_itself(api, admin_token, aws, cloud, monkeypatch):
    monkeypatch.setattr(sync, "SYNC_BATCH", 2)
    out = _invoke(aws, "BillingSyncFunction", {"source": "aws.events", "detail-type": "Scheduled Event"})
    assert out["total"] == 5 and out["messages"] == 3
    messages = _drain(os.environ["BILLING_SYNC_QUEUE_URL"])
    assert len(messages) == 3 and sum(len(json.loads(m["Body"])["meters"]) for m in messages) == 5
    records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
    # a message that is not JSON, and one naming a meter Tuya does not know, among the good ones
    records.insert(1, {"messageId": "poison", "body": "{not json"})
    records.append({"messageId": "ghost", "body": json.dumps({"meters": [{"id": "nosuchmeter", "name": "x"}]})})
    result = _invoke(aws, "BillingSyncWorkerFunction", {"Records": records})
    assert result == {"batchItemFailures": []}  # given up alone (logged, counted), not redelivered forever
    assert set(_meters(api, admin_token)) == set(cloud.meters)  # every good meter synced


def test_a_meter_an_admin_registered_is_not_imported_again_by_the_refresh(api, admin_token, cloud):
    external_id = next(iter(cloud.meters))
    body = {"name": "Kiosk by hand", "device_type": "prepaid_meter", "provider": "tuya", "external_id": external_id}
    mine = api.create("/devices", body, admin_token)["device_id"]
    status, out = api.post("/devices", {**body, "name": "again"}, token=admin_token)
    assert status == 409 and out["error"] == "device_exists"
    assert [f["field"] for f in out["fields"]] == ["external_id"]
    first = _refresh(api, admin_token)
    assert (first["total"], first["new"]) == (5, 4), first  # the one registered by hand is found, not new
    status, listed = api.get("/devices", token=admin_token, query={"device_type": "prepaid_meter", "limit": 100})
    same = [d for d in listed["items"] if d["external_id"] == external_id]
    assert [d["device_id"] for d in same] == [mine]
    assert api.get(f"/devices/{mine}", token=admin_token)[1]["summary"]["as_of"]  # synced into its books


def test_deleting_a_user_removes_its_meter_assignments(api, admin_token, cloud):
    _refresh(api, admin_token)
    meters = list(_meters(api, admin_token).values())[:2]
    viewer = api.register("assigned@example.com")
    uid = viewer["user"]["user_id"]
    for meter in meters:
        assert api.post(f"/devices/{meter['device_id']}/assign", {"user_id": uid}, token=admin_token)[0] == 200
    assert api.get(f"/devices/{meters[0]['device_id']}", token=viewer["token"])[0] == 200
    assert api.delete(f"/users/{uid}", token=admin_token)[0] in (200, 204)
    for meter in meters:
        users = api.get(f"/devices/{meter['device_id']}/users", token=admin_token)[1]["items"]
        assert users == []
    # nothing of them is left in the by-user index
    from gridpulse.billing import data

    assert data.query_index(data.BY_USER_INDEX, "assigned_user_id", uid, 10)[0] == []


def test_an_admin_sets_a_meters_low_balance_threshold_and_the_sync_follows_it(api, admin_token, cloud):
    _refresh(api, admin_token)
    meter = next(d for d in _meters(api, admin_token).values() if cloud.meters[d["external_id"]].kind == "money")
    device_id = meter["device_id"]
    credit = Decimal(api.get(f"/devices/{device_id}", token=admin_token)[1]["summary"]["balance"])
    assert _low_balance_alerts(api, admin_token, device_id, "open") == []
    status, out = api.post(
        f"/devices/{device_id}/low-balance-threshold", {"threshold": str(credit + 100)}, token=admin_token
    )
    assert status == 200 and out["low_balance_threshold"] == str(credit + 100), out
    assert api.get(f"/devices/{device_id}", token=admin_token)[1]["summary"]["low_balance_threshold"] == str(
        credit + 100
    )
    _refresh(api, admin_token)
    assert len(_low_balance_alerts(api, admin_token, device_id, "open")) == 1
    assert api.post(f"/devices/{device_id}/low-balance-threshold", {"threshold": "0"}, token=admin_token)[0] == 200
    assert _low_balance_alerts(api, admin_token, device_id, "open") == []  # cleared by the new threshold at once
    for bad in (-1, "abc", "1.0001", 1e12, None):
        status, out = api.post(f"/devices/{device_id}/low-balance-threshold", {"threshold": bad}, token=admin_token)
        assert status == 400 and [f["field"] for f in out["fields"]] == ["threshold"], (bad, out)
    viewer = api.register("threshold@example.com")
    # admin only, as set-price (the route's security: 403 for anyone else)
    assert api.post(f"/devices/{device_id}/low-balance-threshold", {"threshold": 1}, token=viewer["token"])[0] == 403


def test_a_refresh_reads_the_meters_status_in_one_batch_call_not_one_per_meter(api, admin_token, cloud):
    _refresh(api, admin_token)
    before = len(cloud.calls)
    again = _refresh(api, admin_token)
    assert again["total"] == 5
    paths = [path for _, path in cloud.calls[before:]]
    assert paths.count("/v1.0/iot-03/devices/status") == 1, paths
    assert not [p for p in paths if p.endswith("/status") and p != "/v1.0/iot-03/devices/status"], paths
    assert paths.count("/v1.3/iot-03/devices") == 3  # the listing's three pages


def test_a_meter_the_batch_status_leaves_out_is_read_alone(api, admin_token, cloud, monkeypatch):
    _refresh(api, admin_token)
    gone = list(cloud.meters)[1]
    real = TuyaClient.devices_status

    def leaves_one_out(self, ids):
        return {k: v for k, v in real(self, ids).items() if k != gone}

    monkeypatch.setattr(TuyaClient, "devices_status", leaves_one_out)
    before = len(cloud.calls)
    assert _refresh(api, admin_token)["total"] == 5
    assert f"/v1.0/iot-03/devices/{gone}/status" in [path for _, path in cloud.calls[before:]]


def test_a_meter_registered_by_hand_under_a_random_id_is_updated_not_imported_again(
    api, admin_token, cloud, monkeypatch
):
    from gridpulse.devices import external

    meter = next(m for m in cloud.meters.values() if m.kind == "money")
    body = {"name": "Kiosk by hand", "device_type": "prepaid_meter", "provider": "tuya", "external_id": meter.id}
    with monkeypatch.context() as old_registration:  # before registration used the derived id
        old_registration.setattr(external, "external_device_id", lambda provider, external_id: str(uuid.uuid4()))
        mine = api.create("/devices", body, admin_token)["device_id"]
    assert mine != external.external_device_id("tuya", meter.id)

    first = _refresh(api, admin_token)
    assert (first["total"], first["new"]) == (5, 4), first  # found by its external id, not new
    same = [d for d in _meters(api, admin_token).values() if d["external_id"] == meter.id]
    assert [d["device_id"] for d in same] == [mine]
    assert len(_meters(api, admin_token)) == 5
    detail = api.get(f"/devices/{mine}", token=admin_token)[1]
    assert detail["online"] is True and detail["summary"]["as_of"]  # synced into its books
    assert Decimal(detail["summary"]["balance"]) > 0

    meter.balance, meter.online = Decimal("40.00"), False
    again = _refresh(api, admin_token)
    assert (again["new"], again["updated"]) == (0, 1), again
    detail = api.get(f"/devices/{mine}", token=admin_token)[1]
    assert detail["online"] is False and Decimal(detail["summary"]["balance"]) <= Decimal("40.00")
    assert len(_meters(api, admin_token)) == 5

    status, out = api.post("/devices", {**body, "name": "again"}, token=admin_token)
    assert status == 409 and out["error"] == "device_exists" and [f["field"] for f in out["fields"]] == ["external_id"]


def test_an_assigned_user_filters_alerts_by_its_meter_and_not_by_anothers(api, admin_token, cloud):
    _refresh(api, admin_token)
    money = [m for m in cloud.meters.values() if m.kind == "money"]
    ids = _meters(api, admin_token)
    mine, theirs = ids[money[0].id]["device_id"], ids[money[1].id]["device_id"]
    viewer, other = api.register("tenant@example.com"), api.register("neighbour@example.com")
    for device_id, user in ((mine, viewer), (theirs, other)):
        status, out = api.post(f"/devices/{device_id}/assign", {"user_id": user["user"]["user_id"]}, token=admin_token)
        assert status == 200, out
    money[0].balance = money[1].balance = Decimal("4.00")
    _refresh(api, admin_token)

    status, listed = api.get("/alerts", token=viewer["token"])
    assert status == 200 and [(a["device_id"], a["alert_type"]) for a in listed["items"]] == [(mine, "low_balance")]
    filtered = _low_balance_alerts(api, viewer["token"], mine)
    assert [a["alert_id"] for a in filtered] == [listed["items"][0]["alert_id"]]
    status, out = api.get("/alerts", token=viewer["token"], query={"device_id": theirs})
    assert status == 404 and out["error"] == "device_not_found", out
    assert [a["device_id"] for a in _low_balance_alerts(api, other["token"], theirs)] == [theirs]
    # the alert it lists it may open and mark read; the other user's alert stays 404 to it
    alert_id = filtered[0]["alert_id"]
    status, out = api.put(f"/alerts/{alert_id}/read", token=viewer["token"])
    assert status == 200 and out["status"] == "read", out
    their_alert = _low_balance_alerts(api, other["token"], theirs)[0]["alert_id"]
    assert api.put(f"/alerts/{their_alert}/read", token=viewer["token"])[0] == 404

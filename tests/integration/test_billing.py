"""Prepaid billing (issue #13): the billing routes against an in-memory Tuya
(tests/fakes/tuya.py), each role, replayed and concurrent top-ups, Tuya down
during a top-up then back, and a top-up whose answer was lost."""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal

import boto3
import pytest

from gridpulse.billing import service
from gridpulse.errors import ApiError
from tests.fakes.tuya import FakeTuya


@pytest.fixture
def tuya(aws, monkeypatch):
    fake = FakeTuya()
    service.use_tuya(lambda: fake)
    monkeypatch.setattr(service, "RETRY_DELAYS_S", (0, 0, 0))
    yield fake
    service.use_tuya(None)


def _prepaid(api, admin_token, tuya, external_id="bf-money-1", kind="money", **meter):
    tuya.add_meter(external_id, kind, **meter)
    body = {"name": f"Prepaid {external_id}", "device_type": "prepaid_meter", "provider": "tuya"}
    device = api.create("/devices", {**body, "external_id": external_id}, admin_token)
    return device["device_id"]


def _key(k):
    return {"Idempotency-Key": k}


def _drain_retries(aws):
    """Deliver one batch of the retry queue to BillingRetryFunction; how many messages it held."""
    from infrastructure.local.gateway import load_functions

    function = load_functions(aws)["BillingRetryFunction"]
    sqs = boto3.client("sqs")
    url = os.environ["BILLING_RETRY_QUEUE_URL"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    if got:
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in got]
        out = function.invoke({"Records": records}, "us-east-1", "123456789012")
        assert out == {"batchItemFailures": []}
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return len(got)


def _ledger(api, token, device_id):
    status, body = api.get(f"/devices/{device_id}/ledger", token=token)
    assert status == 200, body
    return body["items"]


def test_a_top_up_is_applied_once_and_a_replay_returns_the_first_answer(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, balance="50")
    first = api.post(f"/devices/{meter}/add-balance", {"amount": "500.00"}, token=admin_token, headers=_key("t-1"))
    assert first[0] == 200, first
    assert first[1]["status"] == "applied" and first[1]["command"] == "charge_money" and first[1]["value"] == "500.00"
    assert first[1]["money_balance"] == "550.00"
    again = api.post(f"/devices/{meter}/add-balance", {"amount": 500}, token=admin_token, headers=_key("t-1"))
    assert again[0] == 200 and again[1]["ledger_id"] == first[1]["ledger_id"]
    assert tuya.meters["bf-money-1"].balance == Decimal("550")  # rose once
    other = api.post(f"/devices/{meter}/add-balance", {"amount": 20}, token=admin_token, headers=_key("t-1"))
    assert other[0] == 422 and other[1]["error"] == "idempotency_key_reused"
    whole = api.post(f"/devices/{meter}/add-balance", {"amount": 10}, token=admin_token, headers=_key("t-2"))
    assert whole[0] == 200 and whole[1]["value"] == "10.00" and whole[1]["money_balance"] == "560.00"

    balance = api.get(f"/devices/{meter}/balance", token=admin_token)[1]
    assert balance["money_balance"] == "560.00" and balance["source"] == "live" and balance["as_of"]
    entries = _ledger(api, admin_token, meter)
    assert len(entries) == 2 and entries[0]["amount"] == "10.00"
    entry = entries[1]
    assert entry["operation"] == "add_balance" and entry["status"] == "applied" and entry["amount"] == "500.00"
    assert entry["money_before"] == "50.00" and entry["money_after"] == "550.00"
    assert entry["idempotency_key"] == "t-1" and entry["applied_at"]


def test_fifty_concurrent_top_ups_all_land_exactly_once(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, balance="0")
    answers = []

    def top_up(i):
        answers.append(
            api.post(f"/devices/{meter}/add-balance", {"amount": "1.25"}, token=admin_token, headers=_key(f"c-{i}"))
        )

    threads = [threading.Thread(target=top_up, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(a[0] for a in answers) == [200] * 50, [a for a in answers if a[0] != 200][:3]
    assert tuya.meters["bf-money-1"].balance == Decimal("62.50")
    assert len(tuya.commands) == 50
    books = service.books(meter)
    assert books["total_purchased_money"] == Decimal("62.50")
    items = api.get(f"/devices/{meter}/ledger", token=admin_token, query={"limit": 100})[1]["items"]
    assert len(items) == 50 and {i["status"] for i in items} == {"applied"}
    assert api.get(f"/devices/{meter}/balance", token=admin_token)[1]["money_balance"] == "62.50"


def test_fifty_top_ups_racing_in_the_service_land_once_each(api, admin_token, tuya, monkeypatch):
    """The local gateway runs one request of a function at a time; the service
    itself, called from 50 threads at once, still applies each top-up exactly once.
    In-process moto is not thread-safe, so each AWS call is made atomic (as
    DynamoDB's operations are); everything between the calls interleaves freely."""
    from botocore.client import BaseClient

    from gridpulse.accounts.roles import Caller, Role

    atomic = threading.Lock()
    original = BaseClient._make_api_call

    def one_at_a_time(self, operation, params):
        with atomic:
            return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", one_at_a_time)

    meter = _prepaid(api, admin_token, tuya, balance="0")
    caller = Caller(user_id="admin-1", role=Role.admin)
    statuses = []
    start = threading.Barrier(50)

    def top_up(i):
        start.wait()
        cmd = service.Command("add_balance", Decimal("2.00"), "amount", Decimal("2.00"))
        try:
            statuses.append(service.run_command(caller, meter, cmd, f"race-{i % 25}")[0])
        except ApiError as exc:
            statuses.append(exc.status)

    threads = [threading.Thread(target=top_up, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # 25 keys, each sent twice at once: a key runs once (its twin waits: 409 in progress, or replays).
    assert len(statuses) == 50 and set(statuses) <= {200, 409}, statuses
    assert tuya.meters["bf-money-1"].balance == Decimal("50.00") and len(tuya.commands) == 25
    assert service.books(meter)["total_purchased_money"] == Decimal("50.00")


def test_tuya_down_during_a_top_up_then_back_applies_it_exactly_once(api, admin_token, tuya, aws):
    meter = _prepaid(api, admin_token, tuya, balance="10")
    api.get(f"/devices/{meter}/balance", token=admin_token)  # the spec is known from a first read
    tuya.mode = "down"
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("d"))
    assert status == 202 and body["status"] == "pending" and body["ledger_id"]
    # A replay while pending gets the same pending answer, and sends nothing.
    assert api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("d"))[0] == 202
    balance = api.get(f"/devices/{meter}/balance", token=admin_token)[1]
    assert balance["source"] == "cache"
    # Still down at the first retry: still pending, queued again.
    assert _drain_retries(aws) == 1
    assert _ledger(api, admin_token, meter)[0]["status"] == "pending"
    tuya.mode = "up"
    assert _drain_retries(aws) == 1
    assert _drain_retries(aws) == 0
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied" and entry["attempts"] >= 1
    assert tuya.meters["bf-money-1"].balance == Decimal("110")
    assert len(tuya.commands) == 1
    # A duplicate delivery of the same message does nothing.
    assert service.retry_pending(meter, _sk(meter), 1) == "settled"
    assert tuya.meters["bf-money-1"].balance == Decimal("110")


def _sk(device_id):
    from gridpulse.billing import data

    items, _ = data.query(data.meter_pk(device_id), data.LEDGER_PREFIX, 1)
    return items[0]["sk"]


def test_a_top_up_tuya_received_but_whose_answer_was_lost_is_not_applied_twice(api, admin_token, tuya, aws):
    meter = _prepaid(api, admin_token, tuya, balance="10")
    tuya.mode = "lose_answer"
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token, headers=_key("l"))
    assert status == 202 and body["status"] == "pending"
    assert tuya.meters["bf-money-1"].balance == Decimal("110")  # it did land
    tuya.mode = "up"
    assert _drain_retries(aws) == 1
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied" and "confirmed by the meter" in entry["error"]
    assert tuya.meters["bf-money-1"].balance == Decimal("110") and len(tuya.commands) == 1
    assert service.books(meter)["total_purchased_money"] == Decimal("100")


def _books_fail_once(monkeypatch):
    """The next ledger.apply (the books transaction after Tuya accepted) fails as DynamoDB would."""
    from botocore.exceptions import ClientError

    from gridpulse.billing import ledger

    real, calls = ledger.apply, []

    def apply(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "TransactWriteItems")
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, "apply", apply)


def test_a_top_up_tuya_accepted_whose_books_update_failed_is_202_pending_then_applied_once(
    api, admin_token, tuya, aws, monkeypatch
):
    meter = _prepaid(api, admin_token, tuya, balance="10")
    _books_fail_once(monkeypatch)
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 40}, token=admin_token, headers=_key("b"))
    assert status == 202 and body["status"] == "pending" and body["success"] is False, body
    assert "Tuya accepted" in body["message"] and body.get("money_balance") is None
    assert _ledger(api, admin_token, meter)[0]["status"] == "pending"
    assert tuya.meters["bf-money-1"].balance == Decimal("50")  # Tuya has it
    replay = api.post(f"/devices/{meter}/add-balance", {"amount": 40}, token=admin_token, headers=_key("b"))
    assert replay[0] == 202 and replay[1]["ledger_id"] == body["ledger_id"]
    assert _drain_retries(aws) == 1
    entry = _ledger(api, admin_token, meter)[0]
    assert entry["status"] == "applied" and entry["ledger_id"] == body["ledger_id"]
    assert tuya.meters["bf-money-1"].balance == Decimal("50") and len(tuya.commands) == 1  # not sent again
    assert service.books(meter)["total_purchased_money"] == Decimal("40")
    assert _drain_retries(aws) == 0


def test_a_price_tuya_accepted_whose_books_update_failed_is_202_then_settled_by_the_retry(
    api, admin_token, tuya, aws, monkeypatch
):
    meter = _prepaid(api, admin_token, tuya, balance="10")
    _books_fail_once(monkeypatch)
    status, body = api.post(f"/devices/{meter}/set-price", {"price": "0.30"}, token=admin_token)
    assert status == 202 and body["status"] == "pending", body
    assert service.books(meter).get("unit_price") != Decimal("0.30")
    assert _drain_retries(aws) == 1
    assert _ledger(api, admin_token, meter)[0]["status"] == "applied"
    assert service.books(meter)["unit_price"] == Decimal("0.30")
    assert api.get(f"/devices/{meter}/balance", token=admin_token)[1]["unit_price"] == "0.30"


def test_a_top_up_tuya_refuses_is_a_502_billing_error_and_moves_no_money(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, balance="10")
    tuya.mode = "reject"
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 5}, token=admin_token)
    assert status == 502 and body["error"] == "billing_error" and body["status"] == "failed"
    assert body["tuya_code"] in (2008, "2008") and body["ledger_id"]
    assert _ledger(api, admin_token, meter)[0]["status"] == "failed"
    assert tuya.meters["bf-money-1"].balance == Decimal("10")


def test_an_energy_meter_tops_up_in_kwh_at_its_unit_price_and_keeps_a_tariff_history(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, "bf-energy-1", "energy", balance="5")
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": 100}, token=admin_token)
    assert status == 409 and body["error"] == "no_unit_price"
    status, body = api.post(f"/devices/{meter}/set-price", {"price": "20", "currency_symbol": "Ksh"}, token=admin_token)
    assert status == 200 and body["status"] == "applied", body
    status, body = api.post(f"/devices/{meter}/add-balance", {"amount": "100"}, token=admin_token)
    assert status == 200 and body["command"] == "charge_energy", body
    assert tuya.meters["bf-energy-1"].balance == Decimal("10")  # 5 kWh + 100 / 20
    api.post(f"/devices/{meter}/set-price", {"price": 25}, token=admin_token)
    ledger = _ledger(api, admin_token, meter)
    assert [e["operation"] for e in ledger] == ["set_price", "add_balance", "set_price"]
    assert ledger[1]["energy_kwh"] == "5.00"  # bought at the old price, never recomputed
    from gridpulse.billing import data

    tariffs, _ = data.query(data.meter_pk(meter), data.TARIFF_PREFIX, 10, newest_first=False)
    assert [t["price"] for t in tariffs] == [Decimal("20"), Decimal("25")]
    usage = api.get(f"/devices/{meter}/usage", token=admin_token)[1]
    assert usage["total_energy_purchased"] == "5.00" and usage["total_energy_used"] == "100.00"
    assert usage["daily_energy"] == "0.00"


def test_admin_commands_and_the_device_summary(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, balance="300")
    assert api.post(f"/devices/{meter}/prepayment-mode", query={"enable": "false"}, token=admin_token)[0] == 200
    assert tuya.meters["bf-money-1"].prepayment is False
    status, body = api.post(f"/devices/{meter}/reset-balance", token=admin_token)
    assert status == 200 and body["command"] == "clear_energy" and body["money_balance"] == "0"
    assert tuya.meters["bf-money-1"].balance == 0
    status, body = api.post(f"/devices/{meter}/add-token", {"token": "12345678901234567890"}, token=admin_token)
    assert status == 200 and body["value"].endswith("7890") and "1234567890123456" not in body["value"]
    api.get(f"/devices/{meter}/balance", token=admin_token)
    detail = api.get(f"/devices/{meter}", token=admin_token)[1]
    assert detail["summary"]["balance"] == "100.00" and detail["summary"]["credit_status"] == "low"  # 5 kWh at 20
    plain = api.create("/devices", {"name": "m", "device_type": "meter"}, admin_token)
    assert api.get(f"/devices/{plain['device_id']}", token=admin_token)[1]["summary"] is None


def test_a_price_without_currency_symbol_keeps_the_symbol_and_a_bidi_symbol_is_400(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, balance="300")
    path = f"/devices/{meter}/set-price"
    assert api.post(path, {"price": "20.00", "currency_symbol": "KSh"}, token=admin_token)[0] == 200
    assert api.post(path, {"price": "21.00"}, token=admin_token)[0] == 200
    balance = api.get(f"/devices/{meter}/balance", token=admin_token)[1]
    assert balance["currency_symbol"] == "KSh" and balance["unit_price"] == "21.00", balance
    status, out = api.post(path, {"price": "22.00", "currency_symbol": "\u202e$"}, token=admin_token)
    assert status == 400 and {f["field"] for f in out["fields"]} == {"currency_symbol"}, out


def test_roles_and_scope(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, balance="0")
    viewer = api.register("viewer@example.com")
    operator = api.user(admin_token, "op@example.com", role="operator")
    top = {"amount": 1}
    # Outside scope and not assigned: 404 on reads and writes.
    for token in (viewer["token"], operator):
        assert api.post(f"/devices/{meter}/add-balance", top, token=token)[1]["error"] == "device_not_found"
        assert api.get(f"/devices/{meter}/balance", token=token)[0] == 404
        assert api.get(f"/devices/{meter}/ledger", token=token)[0] == 404
        assert api.get(f"/devices/{meter}", token=token)[1]["error"] == "device_not_found"
    # Admin-only routes: 403 for anyone else.
    for path, body in (("set-price", {"price": 1}), ("reset-balance", None), ("assign", {"user_id": "x"})):
        assert api.post(f"/devices/{meter}/{path}", body, token=operator)[0] == 403
    assert api.get(f"/devices/{meter}/users", token=viewer["token"])[0] == 403
    # An assigned viewer may see and top up its meter.
    uid = viewer["user"]["user_id"]
    status, body = api.post(f"/devices/{meter}/assign", {"user_id": uid}, token=admin_token)
    assert status == 200 and body["user_id"] == uid and body["assigned_at"]
    assert api.post(f"/devices/{meter}/add-balance", top, token=viewer["token"])[0] == 200
    assert api.get(f"/devices/{meter}/balance", token=viewer["token"])[0] == 200
    assert _ledger(api, viewer["token"], meter)[0]["performed_by"] == uid
    # ...and sees it in GET /devices/{id}, with its summary (balance, usage, prepayment state).
    status, detail = api.get(f"/devices/{meter}", token=viewer["token"])
    assert status == 200 and detail["device_id"] == meter, detail
    summary = detail["summary"]
    assert summary["balance"] == "1.00" and summary["prepayment_enabled"] is True
    assert summary["total_energy_purchased"] is not None and summary["low_balance_threshold"] == "10"
    assert api.get(f"/devices/{meter}", token=operator)[0] == 404  # still outside the operator's scope
    users = api.get(f"/devices/{meter}/users", token=admin_token)[1]["items"]
    assert [(u["user_id"], u["email"]) for u in users] == [(uid, "viewer@example.com")]
    assert api.delete(f"/devices/{meter}/assign/{uid}", token=admin_token)[0] == 200
    assert api.delete(f"/devices/{meter}/assign/{uid}", token=admin_token)[0] == 404
    assert api.post(f"/devices/{meter}/add-balance", top, token=viewer["token"])[0] == 404
    assert api.get(f"/devices/{meter}", token=viewer["token"])[0] == 404  # unassigned: gone again
    # Only an admin registers a prepaid meter.
    own = {"name": "mine", "device_type": "prepaid_meter", "provider": "tuya", "external_id": "bf-money-1"}
    status, body = api.post("/devices", own, token=viewer["token"])
    assert status == 403 and body["error"] == "forbidden"


def test_an_admin_registers_a_prepaid_meter_only_once_tuya_knows_its_external_id(api, admin_token, tuya):
    tuya.add_meter("bf-money-9", "money")
    body = {"name": "p", "device_type": "prepaid_meter", "provider": "tuya"}
    status, out = api.post("/devices", {**body, "external_id": "bf-nope"}, token=admin_token)
    assert status == 400 and out["error"] == "unknown_external_id"
    assert [f["field"] for f in out["fields"]] == ["external_id"]
    assert api.post("/devices", {**body, "external_id": "bf-money-9"}, token=admin_token)[0] == 201
    tuya.mode = "down"
    status, out = api.post("/devices", {**body, "external_id": "bf-money-9x"}, token=admin_token)
    assert status == 502 and out["error"] == "connection_error"


@pytest.mark.parametrize(
    ("path", "body", "query", "field"),
    [
        ("add-balance", {"amount": 0}, None, "amount"),
        ("add-balance", {"amount": -5}, None, "amount"),
        ("add-balance", {"amount": "abc"}, None, "amount"),
        ("add-balance", {"amount": "1.001"}, None, "amount"),
        ("add-balance", {"amount": 1e12}, None, "amount"),
        ("add-balance", {"amount": True}, None, "amount"),
        # Decimal() reads these; a money field must not (5e1 reached Tuya as "5E+1" and stayed pending).
        ("add-balance", {"amount": " 5"}, None, "amount"),
        ("add-balance", {"amount": "+5"}, None, "amount"),
        ("add-balance", {"amount": "1_000"}, None, "amount"),
        ("add-balance", {"amount": "5e1"}, None, "amount"),
        ("add-balance", {"amount": "\uff15"}, None, "amount"),
        ("add-balance", {"amount": "\u0661\u0662"}, None, "amount"),
        ("set-price", {"price": "1e2"}, None, "price"),
        ("add-balance", {}, None, "amount"),
        ("add-token", {"token": "1234"}, None, "token"),
        ("add-token", {"token": "1234567890123456789a"}, None, "token"),
        ("set-price", {"price": 0}, None, "price"),
        ("prepayment-mode", None, None, "enable"),
        ("prepayment-mode", None, {"enable": "maybe"}, "enable"),
        # exactly true or false: pydantic's lax bools ("1", "yes", "on", "True") are not
        ("prepayment-mode", None, {"enable": "1"}, "enable"),
        ("prepayment-mode", None, {"enable": "0"}, "enable"),
        ("prepayment-mode", None, {"enable": "yes"}, "enable"),
        ("prepayment-mode", None, {"enable": "on"}, "enable"),
        ("prepayment-mode", None, {"enable": "True"}, "enable"),
        ("prepayment-mode", None, {"enable": ""}, "enable"),
        ("assign", {"user_id": "nobody"}, None, "user_id"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(api, admin_token, tuya, path, body, query, field):
    meter = _prepaid(api, admin_token, tuya, balance="7")
    status, out = api.post(f"/devices/{meter}/{path}", body, token=admin_token, query=query)
    assert 400 <= status < 500, out
    assert field in {f["field"] for f in out.get("fields", [])}, out
    assert tuya.commands == [] and tuya.meters["bf-money-1"].balance == Decimal("7")


@pytest.mark.parametrize("key", ["", "k" * 256, "a\x01b", "a\x00", "a\x7fb", "a\tb", "\u202ekey"])
def test_a_bad_idempotency_key_is_400_naming_the_header_and_moves_no_money(api, admin_token, tuya, key):
    meter = _prepaid(api, admin_token, tuya, balance="7")
    status, out = api.post(f"/devices/{meter}/add-balance", {"amount": 5}, token=admin_token, headers=_key(key))
    assert status == 400 and {f["field"] for f in out["fields"]} == {"Idempotency-Key"}, out
    assert tuya.commands == [] and tuya.meters["bf-money-1"].balance == Decimal("7")


def test_a_device_that_is_not_a_prepaid_meter_is_409(api, admin_token, tuya):
    plain = api.create("/devices", {"name": "m", "device_type": "meter"}, admin_token)["device_id"]
    status, body = api.post(f"/devices/{plain}/add-balance", {"amount": 1}, token=admin_token)
    assert status == 409 and body["error"] == "not_a_prepaid_meter"
    assert api.get(f"/devices/{plain}/balance", token=admin_token)[0] == 409
    assert api.get("/devices/nope/balance", token=admin_token)[0] == 404


def test_without_a_tuya_client_a_top_up_is_pending_not_a_5xx(api, admin_token, tuya):
    meter = _prepaid(api, admin_token, tuya, "x1")
    service.use_tuya(lambda: (_ for _ in ()).throw(ImportError("no tuya package")))
    try:
        status, out = api.post(f"/devices/{meter}/add-balance", {"amount": 3}, token=admin_token)
        assert status == 202 and out["status"] == "pending"
        status, out = api.get(f"/devices/{meter}/balance", token=admin_token)
        assert status == 200 and out["source"] == "cache" and out["credit_status"] == "unknown"
        assert json.loads(json.dumps(out))
    finally:
        service.use_tuya(None)


def test_an_assigned_user_reads_its_meters_energy_readings_and_forecast_as_the_overview_counts_them(
    api, admin_token, tuya
):
    tenant = api.register("tenant@example.com")
    other = api.register("other@example.com")["token"]
    meter = _prepaid(api, admin_token, tuya, external_id="bf-money-read")
    assert api.post(f"/devices/{meter}/assign", {"user_id": tenant["user"]["user_id"]}, token=admin_token)[0] == 200
    token = tenant["token"]
    assert meter in [d["device_id"] for d in api.get("/overview", token=token)[1]["devices"]]
    for path in ("/energy", "/readings", "/prediction", "/predictions"):
        status, body = api.get(f"/devices/{meter}{path}", token=token)
        assert status != 404 or body["error"] == "no_prediction", (path, body)  # no forecast yet: not "no device"
        assert api.get(f"/devices/{meter}{path}", token=other)[1]["error"] == "device_not_found", path


def test_an_assigned_user_lists_its_prepaid_meters_in_get_devices_with_paging(api, admin_token, tuya):
    viewer = api.register("tenant@example.com")
    token, uid = viewer["token"], viewer["user"]["user_id"]
    own = api.create("/devices", {"name": "My meter", "device_type": "meter"}, token)["device_id"]
    meters = [_prepaid(api, admin_token, tuya, external_id=f"bf-money-{n}") for n in range(3)]
    for meter in meters[:2]:
        assert api.post(f"/devices/{meter}/assign", {"user_id": uid}, token=admin_token)[0] == 200

    def every(query):
        seen, next_token = [], None
        while True:
            status, page = api.get(
                "/devices", token=token, query={**query, **({"next_token": next_token} if next_token else {})}
            )
            assert status == 200, page
            seen += [d["device_id"] for d in page["items"]]
            next_token = page["next_token"]
            if not next_token:
                return seen

    for limit in (1, 2, 100):
        listed = every({"limit": limit})
        assert sorted(listed) == sorted([own, *meters[:2]]) and listed[0] == own, (limit, listed)
    assert sorted(every({"device_type": "prepaid_meter"})) == sorted(meters[:2])
    assert every({"device_type": "meter"}) == [own]
    shown = api.get("/devices", token=token, query={"device_type": "prepaid_meter"})[1]["items"][0]
    assert shown["provider"] == "tuya" and shown["device_type"] == "prepaid_meter"

    # A token this list did not issue (another caller's, or made up) is a 400, never a 5xx.
    admin_page = api.get("/devices", token=admin_token, query={"limit": 1})[1]
    for forged in (admin_page["next_token"], "eyJzIjogOTl9", "x" * 40):
        status, body = api.get("/devices", token=token, query={"next_token": forged})
        assert status == 400 and body["error"] == "invalid_next_token", body

    assert api.delete(f"/devices/{meters[0]}/assign/{uid}", token=admin_token)[0] == 200
    assert sorted(every({"limit": 1})) == sorted([own, meters[1]])

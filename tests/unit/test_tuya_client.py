"""The Tuya OpenAPI client without a network: signing, scaling, error mapping, the token race, retries."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
import urllib3

from gridpulse.billing.tuya.client import TuyaClient
from gridpulse.billing.tuya.errors import CODES, TuyaAuthError, TuyaRejected, TuyaUnavailable, describe, error_for
from gridpulse.billing.tuya.signing import EMPTY_BODY_SHA256, canonical_url, sign, string_to_sign
from gridpulse.billing.tuya.spec import MeterSpec
from gridpulse.billing.tuya.tokens import MemoryTokenStore
from infrastructure.local.tuya.meters import PRODUCT_ENERGY, PRODUCT_MONEY, SPECS

CLIENT_ID, SECRET, T = "1KAD46OrT9HafiKdsXeg", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC", "1588925778000"
NONCE, TOKEN = "5138cc3a9033d69856923fd07b491173", "3f4eda2bdec17232f67c0b188af3eec1"
HEADERS = {"area_id": "29a33e8796834b1efa6", "call_id": "8afdb70ab2ed11eb85290242ac130003"}


# ------------------------------------------------------------ signing


def test_tuya_doc_vector_for_a_token_call():
    sts = string_to_sign("GET", "/v1.0/token", {"grant_type": 1}, b"", HEADERS)
    assert sts == (
        f"GET\n{EMPTY_BODY_SHA256}\narea_id:29a33e8796834b1efa6\ncall_id:8afdb70ab2ed11eb85290242ac130003\n\n"
        "/v1.0/token?grant_type=1"
    )
    assert (
        sign(CLIENT_ID, SECRET, T, sts, nonce=NONCE)
        == "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E"
    )


def test_tuya_doc_vector_for_a_business_call():
    sts = string_to_sign("GET", "/v2.0/apps/schema/users", {"page_size": 50, "page_no": 1}, b"", HEADERS)
    assert (
        sign(CLIENT_ID, SECRET, T, sts, access_token=TOKEN, nonce=NONCE)
        == "AE4481C692AA80B25F3A7E12C3A5FD9BBF6251539DD78E565A1A72A508A88784"
    )


def test_derived_vectors_without_signature_headers():
    sts = string_to_sign("GET", "/v1.0/token", {"grant_type": "1"})
    assert (
        sign(CLIENT_ID, SECRET, T, sts, nonce=NONCE)
        == "3206F74CBFC2869794FD3013C44F18166BE22AB1FB5FF66F513212264F67F681"
    )
    assert sign(CLIENT_ID, SECRET, T, sts) == "7BA26C076E5ECB1E959BE274A0FFB397B2B1865FC7BCED8F1C78AC5653C20CAA"


def test_string_to_sign_sorts_the_query_keeps_values_decoded_and_hashes_the_body():
    assert canonical_url("/p", {"b": "x y", "a": "1,2", "c": ""}) == "/p?a=1,2&b=x y&c="
    body = b'{"commands":[{"code":"charge_money","value":5000}]}'
    sts = string_to_sign("post", "/v1.0/iot-03/devices/d/commands", None, body)
    import hashlib

    assert sts == f"POST\n{hashlib.sha256(body).hexdigest()}\n\n/v1.0/iot-03/devices/d/commands"


# ------------------------------------------------------------ scaling


@pytest.fixture
def money():
    return MeterSpec.from_tuya(SPECS[PRODUCT_MONEY])


@pytest.fixture
def energy():
    return MeterSpec.from_tuya(SPECS[PRODUCT_ENERGY])


def test_specification_values_are_json_strings_and_kinds_are_told_apart(money, energy):
    assert money.kind == "money" and energy.kind == "energy"
    dp = money.points["charge_money"]
    assert (dp.type, dp.scale, dp.min, dp.max, dp.step, dp.writable) == ("Integer", 2, 1, 10_000_000, 1, True)
    assert energy.points["balance_energy"].unit == "kW·h" and not energy.points["balance_energy"].writable
    assert money.code_for("prepayment") == "prepayment_switch" and energy.code_for("prepayment") == "switch_prepayment"
    assert money.code_for("money_balance") == "balance_money" and energy.code_for("energy_balance") == "balance_energy"


def test_scaling_is_exact_both_ways(money, energy):
    assert money.to_device("charge_money", Decimal("500.00")) == 50000
    assert money.to_device("charge_money", Decimal("0.01")) == 1
    assert money.from_device("balance_money", 12345) == Decimal("123.45")
    assert energy.from_device("balance_energy", 7) == Decimal("0.07")
    assert money.from_device("charge_money", money.to_device("charge_money", Decimal("99.9"))) == Decimal("99.9")


@pytest.mark.parametrize(
    "value", [Decimal("0.001"), Decimal("0"), Decimal("-5"), Decimal("100000.01"), Decimal("NaN"), 1.5, "5"]
)
def test_scaling_rejects_what_it_would_have_to_round_or_is_out_of_range(money, value):
    with pytest.raises(ValueError):
        money.to_device("charge_money", value)


def test_scaling_rejects_unknown_and_non_numeric_codes(money):
    with pytest.raises(ValueError):
        money.to_device("charge_energy", Decimal(1))
    with pytest.raises(ValueError):
        money.to_device("prepayment_switch", Decimal(1))


def test_money_to_kwh_rounds_down_to_the_meters_precision(energy, money):
    assert energy.money_to_kwh(Decimal("10"), Decimal("3")) == Decimal("3.33")
    assert energy.money_to_kwh(Decimal("500"), Decimal("20")) == Decimal("25.00")
    with pytest.raises(ValueError):
        energy.money_to_kwh(Decimal("10"), Decimal("0"))
    with pytest.raises(ValueError):
        money.money_to_kwh(Decimal("10"), Decimal("2"))


# ------------------------------------------------------------ errors


def test_every_code_maps_to_a_domain_error():
    assert isinstance(error_for(2008), TuyaRejected) and not isinstance(error_for(2008), TuyaAuthError)
    assert isinstance(error_for(2001), TuyaRejected) and isinstance(error_for(1106), TuyaRejected)
    for code in (1001, 1004, 1005, 1010, 1013):
        assert isinstance(error_for(code), TuyaAuthError)
    for code in (500, 1110, 1111, 1199):
        assert isinstance(error_for(code), TuyaUnavailable)
    for code in (500, 1000, 1004, 1010, 1106, 2001, 2003, 2008, 2009, 2010, 1199, 28841105):
        assert code in CODES and describe(code) == CODES[code][0]
    error = error_for(2008, "command or value not support", "tid1")
    assert (error.code, error.message, error.request_id) == (2008, "command or value not support", "tid1")
    assert "unknown" in describe(4242)


# ------------------------------------------------------------ a scripted Tuya


class _Answer:
    def __init__(self, status, payload):
        self.status, self.data = status, json.dumps(payload).encode() if payload is not None else b""


class ScriptedTuya:
    """An `http` for TuyaClient: token calls always work; business calls follow `script`
    (an exception to raise, or (status, payload))."""

    def __init__(self, script=()):
        self.script = list(script)
        self.calls = []
        self.tokens = 0
        self.lock = threading.Lock()

    def request(self, method, url, body=None, headers=None, **kwargs):
        with self.lock:
            self.calls.append((method, url, headers))
            if "/v1.0/token" in url:
                self.tokens += 1
                result = {
                    "access_token": f"tok{self.tokens}",
                    "refresh_token": f"ref{self.tokens}",
                    "expire_time": 7200,
                }
                return _Answer(200, {"success": True, "result": result, "t": int(time.time() * 1000), "tid": "t"})
            step = self.script.pop(0) if self.script else (200, {"success": True, "result": True, "tid": "ok"})
        if isinstance(step, Exception):
            raise step
        return _Answer(*step)

    def business_calls(self):
        return [c for c in self.calls if "/v1.0/token" not in c[1]]


def _client(http, store=None, **kw):
    return TuyaClient(
        "https://openapi.example", "id", "secret", store or MemoryTokenStore(), http=http, sleep=lambda s: None, **kw
    )


def test_a_read_is_retried_on_transient_errors():
    http = ScriptedTuya(
        [
            urllib3.exceptions.ReadTimeoutError(None, "/", "timed out"),
            (503, None),
            (200, {"success": True, "result": [{"code": "switch", "value": True}], "tid": "x"}),
        ]
    )
    assert _client(http).device_status("d1") == {"switch": True}
    assert len(http.business_calls()) == 3


def test_a_read_gives_up_after_the_retries_as_unavailable():
    http = ScriptedTuya([(200, {"success": False, "code": 1111, "msg": "system busy"})] * 5)
    with pytest.raises(TuyaUnavailable) as caught:
        _client(http, retries=2).device("d1")
    assert caught.value.code == 1111 and len(http.business_calls()) == 3


def test_a_rejection_is_never_retried():
    http = ScriptedTuya([(200, {"success": False, "code": 2008, "msg": "command or value not support", "tid": "r"})])
    with pytest.raises(TuyaRejected) as caught:
        _client(http).send_commands("d1", [{"code": "charge_money", "value": 5}])
    assert (caught.value.code, caught.value.request_id) == (2008, "r") and len(http.business_calls()) == 1


def test_a_write_whose_outcome_is_unknown_is_not_resent():
    http = ScriptedTuya([urllib3.exceptions.ReadTimeoutError(None, "/", "timed out")])
    with pytest.raises(TuyaUnavailable):
        _client(http).send_commands("d1", [{"code": "charge_money", "value": 5}])
    assert len(http.business_calls()) == 1


def test_a_write_is_retried_when_tuya_surely_did_not_act():
    http = ScriptedTuya(
        [
            urllib3.exceptions.NewConnectionError(None, "refused"),
            (200, {"success": False, "code": 1199, "msg": "requests too frequent"}),
            (200, {"success": True, "result": True, "tid": "done"}),
        ]
    )
    client = _client(http)
    assert client.send_commands("d1", [{"code": "charge_money", "value": 5}]) is True
    assert len(http.business_calls()) == 3 and client.last_request_id == "done"


def test_floats_never_reach_tuya():
    with pytest.raises(TypeError):
        _client(ScriptedTuya()).send_commands("d1", [{"code": "charge_money", "value": 5.0}])


def test_a_refused_token_is_fetched_again_once_then_an_auth_error():
    http = ScriptedTuya(
        [
            (200, {"success": False, "code": 1010, "msg": "token is expired"}),
            (200, {"success": True, "result": {"id": "d1"}}),
        ]
    )
    store = MemoryTokenStore()
    assert _client(http, store).device("d1") == {"id": "d1"}
    assert http.tokens == 2 and store.puts == 2
    assert http.business_calls()[-1][2]["access_token"] == "tok2"
    http = ScriptedTuya([(200, {"success": False, "code": 1011, "msg": "token invalid"})] * 2)
    with pytest.raises(TuyaAuthError):
        _client(http).device("d1")


def test_no_secret_or_token_in_errors_or_repr():
    http = ScriptedTuya([(200, {"success": False, "code": 1106, "msg": "permission deny"})])
    client = _client(http)
    with pytest.raises(TuyaRejected) as caught:
        client.device("d1")
    text = f"{caught.value!r} {caught.value} {client!r} {client.tokens.get()!r}"
    assert "secret" not in text and "tok1" not in text and "ref1" not in text


def test_two_containers_refresh_the_shared_token_once():
    store = MemoryTokenStore()
    http = ScriptedTuya()
    started = threading.Barrier(8)
    slow_http = http.request

    def slow(method, url, **kw):  # a token fetch that takes a while, so the others must wait for it
        if "/v1.0/token" in url:
            import time

            time.sleep(0.2)
        return slow_http(method, url, **kw)

    http.request = slow
    clients = [TuyaClient("https://openapi.example", "id", "secret", store, http=http) for _ in range(8)]
    errors = []

    def work(client):
        started.wait()
        try:
            client.device("d1")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and http.tokens == 1 and store.puts == 1
    assert {c[2]["access_token"] for c in http.business_calls()} == {"tok1"}

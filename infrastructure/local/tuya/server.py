"""The Tuya Cloud OpenAPI stand-in: a WSGI app (werkzeug) for the local stack and the tests.

What it checks and serves, as the Tuya facts of issue #13 describes the real one:
* every call's signature (gridpulse.billing.tuya.signing: the body's SHA-256,
  the Signature-Headers, the sorted decoded query, the access token except on
  `/v1.0/token*`) -> 1004, and `t` within WINDOW_MS of its clock -> 1013;
* tokens: `GET /v1.0/token?grant_type=1` and `GET /v1.0/token/{refresh_token}`
  (single use; a refresh ends the old pair), `expire_time` = token_ttl_s;
  an expired token -> 1010, an unknown one -> 1011;
* `GET /v1.3/iot-03/devices` (page_size up to 200, last_row_key, has_more, total),
  `GET /v1.0/iot-03/devices/status?device_ids=a,b,c` (up to 20 ids: [{id, status}]; an
  unknown id is left out, more than 20 -> 1101),
  `GET /v1.0/iot-03/devices/{id}` / `/status` / `/functions` / `/specification`
  (`values` as JSON strings), `POST .../commands` (validated against the
  specification: 2008 for an unknown code or a bad value, 2001 offline),
  `GET /v1.0/iot-03/power-devices/{id}/charge-records` (every charge it applied);
  an unknown device -> 2010;
* errors as HTTP 200 with `success: false, code, msg, t, tid`.

Local only (not Tuya): `GET|POST /_local/tuya/faults` with {"mode": "down" (HTTP 503
for every call, nothing applied), "slow" (the call is applied, then answered
after `delay_s`, default 8 s: longer than the client's timeout), "token_expired"
(every token issued so far is expired: the next calls get 1010 until a refresh),
"none"}; `GET /_local/tuya/meters` every meter's state.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from decimal import Decimal

from werkzeug.wrappers import Request, Response

from gridpulse.billing.tuya.signing import is_token_path, sign, string_to_sign
from infrastructure.local.tuya.meters import CommandError, Meter, make_meters

WINDOW_MS = 5 * 60 * 1000  # `t` must be this close to the server's clock
MAX_PAGE = 200
MAX_BATCH_STATUS = 20  # device ids per `GET /v1.0/iot-03/devices/status`
FAULT_MODES = ("none", "down", "slow", "token_expired")


class TuyaStandIn:
    def __init__(
        self,
        access_id: str,
        access_secret: str,
        *,
        meters: int | list[Meter] = 3,
        token_ttl_s: int = 7200,
        slow_s: float = 8.0,
        speed: float = 1.0,
        clock=time.time,
    ):
        self.access_id = access_id
        self._secret = access_secret
        self.token_ttl_s = token_ttl_s
        self.slow_s = slow_s
        self._clock = clock
        fleet = make_meters(meters, speed=speed, clock=clock) if isinstance(meters, int) else list(meters)
        self.meters: dict[str, Meter] = {m.id: m for m in fleet}
        self._order = [m.id for m in fleet]
        self._lock = threading.Lock()
        self._tokens: dict[str, dict] = {}  # access_token -> {refresh, expires_ms}
        self._refresh: dict[str, str] = {}  # refresh_token -> access_token
        self.mode = "none"
        self.calls: list[tuple[str, str]] = []  # (method, path) of every Tuya call answered (tests, bench)
        self.tokens_issued = 0

    # ------------------------------------------------------------ local controls

    def set_fault(self, mode: str, delay_s: float | None = None) -> dict:
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        with self._lock:
            if delay_s is not None:
                self.slow_s = float(delay_s)
            if mode == "token_expired":
                now = self._now_ms()
                for info in self._tokens.values():
                    info["expires_ms"] = min(info["expires_ms"], now - 1)
                self.mode = "none"
            else:
                self.mode = mode
        return {"mode": self.mode, "slow_s": self.slow_s}

    def local_response(self, request: Request) -> Response:
        """`/_local/tuya/...` (also mounted on the API's gateway)."""
        tail = request.path.removeprefix("/_local/tuya").strip("/")
        if tail == "faults" and request.method == "POST":
            problem = _fault_problem(request.get_data())
            if problem is not None:
                field, code, message = problem
                return _json(
                    {
                        "error": "validation_error",
                        "message": message,
                        "fields": [{"field": field, "code": code, "message": message}],
                    },
                    400,
                )
            body = json.loads(request.get_data())
            return _json(self.set_fault(body["mode"], body.get("delay_s")))
        if tail == "faults" and request.method == "GET":
            return _json({"mode": self.mode, "slow_s": self.slow_s})
        if tail == "meters" and request.method == "GET":
            return _json({"items": [self._meter_view(m) for m in self.meters.values()]})
        return _json({"error": "not_found", "message": "GET|POST /_local/tuya/faults, GET /_local/tuya/meters"}, 404)

    def _meter_view(self, meter: Meter) -> dict:
        meter.advance()
        return {
            **meter.info(),
            "kind": meter.kind,
            "balance": str(meter.balance),
            "price": str(meter.price),
            "energy_total": str(meter.energy_total),
            "relay": meter.relay,
            "prepayment": meter.prepayment,
            "charges": list(meter.charges),
        }

    # ------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        return self.dispatch(Request(environ))(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_local/tuya"):
            return self.local_response(request)
        mode = self.mode
        if mode == "down":
            return Response("Service Unavailable", status=503)
        response = self._api(request)
        if mode == "slow":
            time.sleep(self.slow_s)
        return response

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _api(self, request: Request) -> Response:
        body = request.get_data(cache=True)
        path = request.path
        raw = request.environ.get("tuya.headers")  # see infrastructure/local/tuya/__init__.py (start)
        headers = _Headers(raw) if raw is not None else request.headers
        t = headers.get("t", "")
        if not headers.get("client_id") or not headers.get("sign") or not t:
            return self._error(1105, "missing the header")
        if headers.get("client_id") != self.access_id:
            return self._error(1005, "clientId invalid")
        if not t.isdigit() or abs(int(t) - self._now_ms()) > WINDOW_MS:
            return self._error(1013, "request time is invalid")
        token_call = is_token_path(path)
        access_token = "" if token_call else headers.get("access_token", "")
        names = [n for n in (headers.get("Signature-Headers") or "").split(":") if n]
        signed = {n: headers.get(n, "") for n in names}
        expected = sign(
            self.access_id,
            self._secret,
            t,
            string_to_sign(request.method, path, list(request.args.items(multi=True)), body, signed),
            access_token=access_token,
            nonce=headers.get("nonce", ""),
        )
        if not secrets.compare_digest(expected, headers.get("sign", "").upper()):
            return self._error(1004, "sign invalid")
        if request.method == "POST" and body and not (request.content_type or "").startswith("application/json"):
            return self._error(1006, "not support content type")
        with self._lock:
            self.calls.append((request.method, path))
        if token_call:
            return self._token(request, path)
        with self._lock:
            info = self._tokens.get(access_token)
            if info is None:
                return self._error(1011, "token invalid")
            if info["expires_ms"] <= self._now_ms():
                return self._error(1010, "token is expired")
        return self._route(request, path, body)

    # ------------------------------------------------------------ tokens

    def _token(self, request: Request, path: str) -> Response:
        with self._lock:
            if path == "/v1.0/token":
                if request.args.get("grant_type") != "1":
                    return self._error(1003, "grant type invalid")
            else:
                refresh = path.removeprefix("/v1.0/token/")
                old = self._refresh.pop(refresh, None)
                if old is None:
                    return self._error(1012, "token status is invalid")
                self._tokens.pop(old, None)
            access, refresh = uuid.uuid4().hex, uuid.uuid4().hex
            self._tokens[access] = {"refresh": refresh, "expires_ms": self._now_ms() + self.token_ttl_s * 1000}
            self._refresh[refresh] = access
            self.tokens_issued += 1
        return self._ok(
            {"access_token": access, "refresh_token": refresh, "expire_time": self.token_ttl_s, "uid": "gp-local-uid"}
        )

    # ------------------------------------------------------------ devices

    def _route(self, request: Request, path: str, body: bytes) -> Response:
        parts = path.strip("/").split("/")
        if request.method == "GET" and path in ("/v1.3/iot-03/devices", "/v1.2/iot-03/devices"):
            return self._list(request)
        if request.method == "GET" and path == "/v1.0/iot-03/devices/status":
            return self._batch_status(request)
        if len(parts) >= 4 and parts[1] in ("iot-03",) and parts[2] in ("devices", "power-devices"):
            meter = self.meters.get(parts[3])
            if meter is None:
                return self._error(2010, "device not exist")
            rest = "/".join(parts[4:])
            if parts[2] == "power-devices":
                if request.method == "GET" and rest == "charge-records":
                    since = request.args.get("start_time", type=int) or 0
                    items = [c for c in meter.charges if c["time"] >= since]
                    return self._ok({"list": items, "total": len(items), "has_more": False})
            elif request.method == "GET" and rest == "":
                return self._ok(meter.info())
            elif request.method == "GET" and rest == "status":
                return self._ok(meter.status())
            elif request.method == "GET" and rest == "specification":
                return self._ok(meter.spec)
            elif request.method == "GET" and rest == "functions":
                return self._ok({"category": meter.spec["category"], "functions": meter.spec["functions"]})
            elif request.method == "POST" and rest == "commands":
                return self._commands(meter, body)
        return self._error(1108, "uri path invalid")

    def _list(self, request: Request) -> Response:
        try:
            size = int(request.args.get("page_size") or 20)
        except ValueError:
            return self._error(1109, "param is illegal")
        if not 1 <= size <= MAX_PAGE:
            return self._error(1101, "params range invalid")
        start = 0
        key = request.args.get("last_row_key")
        if key:
            if key not in self._order:
                return self._error(1109, "param is illegal")
            start = self._order.index(key) + 1
        page = self._order[start : start + size]
        has_more = start + size < len(self._order)
        return self._ok(
            {
                "list": [self.meters[i].info() for i in page],
                "has_more": has_more,
                "last_row_key": page[-1] if page else "",
                "total": len(self._order),
            }
        )

    def _batch_status(self, request: Request) -> Response:
        """Up to MAX_BATCH_STATUS devices' status: [{id, status: [{code, value}]}]; an id of no
        device of the project is left out (the others are still answered)."""
        ids = [i for i in (request.args.get("device_ids") or "").split(",") if i]
        if not ids:
            return self._error(1100, "param is empty")
        if len(ids) > MAX_BATCH_STATUS:
            return self._error(1101, "params range invalid")
        return self._ok([{"id": i, "status": self.meters[i].status()} for i in dict.fromkeys(ids) if i in self.meters])

    def _commands(self, meter: Meter, body: bytes) -> Response:
        try:
            commands = json.loads(body or b"{}", parse_float=Decimal).get("commands")
        except (ValueError, AttributeError):
            return self._error(1109, "param is illegal")
        if not isinstance(commands, list) or not commands:
            return self._error(1100, "param is empty")
        if not meter.online:
            return self._error(2001, "device is offline")
        try:
            meter.apply(commands)
        except CommandError as exc:
            return self._error(2008, f"command or value not support: {exc}")
        return self._ok(True)

    # ------------------------------------------------------------ envelopes

    def _ok(self, result) -> Response:
        return _json({"success": True, "result": result, "t": self._now_ms(), "tid": uuid.uuid4().hex})

    def _error(self, code: int, msg: str) -> Response:
        return _json({"success": False, "code": code, "msg": msg, "t": self._now_ms(), "tid": uuid.uuid4().hex})


class _Headers:
    def __init__(self, raw: dict[str, str]):
        self.raw = raw

    def get(self, name: str, default=None):
        return self.raw.get(name.lower(), default)


def _fault_problem(raw: bytes) -> tuple[str, str, str] | None:
    """(field, code, message) of what is wrong with a POST /_local/tuya/faults body, None when it is fine.
    The messages are ours: never the text of a Python exception."""
    try:
        body = json.loads(raw or b"")
    except ValueError:
        return (
            "body",
            "invalid_json",
            'the body must be JSON: {"mode": "down"|"slow"|"token_expired"|"none", "delay_s"?: seconds}',
        )
    if not isinstance(body, dict):
        return "body", "not_an_object", "the body must be a JSON object"
    if body.get("mode") not in FAULT_MODES:
        return "mode", "unknown_mode", f"mode must be one of {', '.join(FAULT_MODES)}"
    delay = body.get("delay_s")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 600):
        return "delay_s", "out_of_range", "delay_s must be a number of seconds from 0 to 600"
    return None


def _json(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")

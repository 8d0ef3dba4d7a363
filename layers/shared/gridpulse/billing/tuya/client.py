"""The Tuya Cloud OpenAPI client (project key, "simple mode"), over urllib3.

* Every call is signed (gridpulse.billing.tuya.signing) with the time `t` on
  Tuya's clock (the offset is learnt from the token answer and from a 1013).
* The access token is shared by every container through a TokenStore
  (gridpulse.billing.tuya.tokens): refreshed 60 s before it expires, by one
  container under a lease while the others wait and re-read, and fetched
  again once when Tuya answers 1010-1013 for it.
* Retries with exponential backoff only on transient failures. A read (GET)
  is retried on a network error, a timeout, HTTP 5xx/429 and Tuya's system-busy
  or rate-limit codes. A write (POST) is retried only when Tuya certainly did
  not act on it (the connection was never made, HTTP 429, the rate-limit codes):
  after a read timeout or a 5xx its outcome is unknown and it raises
  TuyaUnavailable at once, since a second top-up could double the credit.
* Failures are domain errors (gridpulse.billing.tuya.errors). Secrets, tokens
  and the refresh path are never logged or put into an error.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from gridpulse.billing.tuya.errors import (
    TOKEN_CODES,
    TRANSIENT_CODES,
    TuyaAuthError,
    TuyaError,
    TuyaRejected,
    TuyaUnavailable,
    describe,
    error_for,
)
from gridpulse.billing.tuya.signing import is_token_path, sign, string_to_sign
from gridpulse.billing.tuya.spec import MeterSpec
from gridpulse.billing.tuya.tokens import DynamoTokenStore, Token, TokenStore
from gridpulse.observability import count

logger = logging.getLogger(__name__)


def error_kind(exc: TuyaError) -> str:
    """`auth` (credentials, signature), `rejected` (Tuya refused: nothing applied) or
    `unavailable` (no usable answer: timeout, 5xx, rate limit)."""
    if isinstance(exc, TuyaAuthError):
        return "auth"
    return "rejected" if isinstance(exc, TuyaRejected) else "unavailable"


REFRESH_MARGIN_MS = 60_000  # refresh this long before the token expires
LEASE_MS = 10_000  # how long one container may hold the refresh lease
RATE_LIMIT_CODES = frozenset({1110, 1199})  # answered "too many": nothing was done
MAX_PAGE_SIZE = 200
STATUS_BATCH = 20  # device ids per batch status read (Tuya's limit)


class _TokenRefused(Exception):
    def __init__(self, code: int, message: str, request_id: str | None):
        super().__init__(code)
        self.code, self.message, self.request_id = code, message, request_id


def _json_default(value):
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise TypeError(f"{value} is not a whole number: scale it with MeterSpec.to_device first")
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("Tuya data points take scaled integers, never binary floats")
    if isinstance(value, dict):
        for v in value.values():
            _no_floats(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _no_floats(v)


class TuyaClient:
    """One Tuya project's OpenAPI at `endpoint` (e.g. https://openapi.tuyaeu.com)."""

    def __init__(
        self,
        endpoint: str,
        access_id: str,
        access_secret: str,
        token_store: TokenStore,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        http=None,
        backoff_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.endpoint = endpoint.rstrip("/")
        self.access_id = access_id
        self._secret = access_secret
        self.tokens = token_store
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._clock = clock
        self._http = http or urllib3.PoolManager(maxsize=10, retries=False)
        self._token: Token | None = None
        self._offset_ms = 0  # Tuya's clock minus ours
        self._owner = uuid.uuid4().hex
        self._specs: dict[str, MeterSpec] = {}
        self.last_request_id: str | None = None  # Tuya's `tid` of the last answer (for the ledger)
        self.calls = 0  # HTTP requests sent (benchmarks)

    def __repr__(self) -> str:
        return f"TuyaClient({self.endpoint!r}, access_id={self.access_id!r})"

    # ------------------------------------------------------------ the API

    def request(self, method: str, path: str, *, query: dict | None = None, body: Any = None) -> Any:
        """Call the OpenAPI and return its `result`; TuyaError subclasses on failure,
        each counted in the TuyaErrors metric by `kind` (unavailable, rejected, auth)."""
        try:
            return self._request(method, path, query, body)
        except TuyaError as exc:
            count("TuyaErrors", kind=error_kind(exc))
            raise

    def _request(self, method: str, path: str, query: dict | None, body: Any) -> Any:
        token = self._valid_token()
        try:
            return self._send(method, path, query, body, token.access_token)
        except _TokenRefused as refused:
            logger.info("tuya token refused (%s); fetching a new one", refused.code)
        token = self._renew(stale=token)
        try:
            return self._send(method, path, query, body, token.access_token)
        except _TokenRefused as refused:
            raise TuyaAuthError(
                f"{refused.message} (again with a new token)", code=refused.code, request_id=refused.request_id
            ) from None

    def list_devices(self, *, page_size: int = 100, last_row_key: str | None = None) -> tuple[list[dict], str | None]:
        """One page of the project's devices and the key of the next page (None after the last)."""
        query: dict[str, Any] = {"page_size": max(1, min(int(page_size), MAX_PAGE_SIZE))}
        if last_row_key:
            query["last_row_key"] = last_row_key
        result = self.request("GET", "/v1.3/iot-03/devices", query=query) or {}
        devices = list(result.get("list") or result.get("devices") or [])
        more = bool(result.get("has_more")) and bool(result.get("last_row_key"))
        return devices, (result.get("last_row_key") if more else None)

    def device(self, device_id: str) -> dict:
        """The device's details: id, name, online, product_id, product_name, category, ..."""
        return self.request("GET", f"/v1.0/iot-03/devices/{quote(device_id, safe='')}") or {}

    def device_status(self, device_id: str) -> dict[str, Any]:
        """Every data point's raw value by code (Integer values still scaled: use MeterSpec.from_device)."""
        result = self.request("GET", f"/v1.0/iot-03/devices/{quote(device_id, safe='')}/status") or []
        return {entry["code"]: entry.get("value") for entry in result}

    def devices_status(self, device_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Every data point's raw value by code for each of `device_ids`, by device id, read
        STATUS_BATCH ids per call (`GET /v1.0/iot-03/devices/status?device_ids=a,b,c`, whose
        result is [{id, status: [{code, value}]}]). A device Tuya leaves out of its answer is
        left out here (read it alone with device_status to learn why)."""
        ids = list(dict.fromkeys(str(i) for i in device_ids))
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), STATUS_BATCH):
            result = self.request(
                "GET", "/v1.0/iot-03/devices/status", query={"device_ids": ",".join(ids[i : i + STATUS_BATCH])}
            )
            for entry in result or []:
                if isinstance(entry, dict) and entry.get("id") is not None:
                    out[str(entry["id"])] = {
                        s["code"]: s.get("value") for s in entry.get("status") or [] if "code" in s
                    }
        return out

    def specification(self, device_id: str, *, fresh: bool = False) -> MeterSpec:
        """The device's data points and scales (kept per container; `fresh` reads it again)."""
        if fresh or device_id not in self._specs:
            result = self.request("GET", f"/v1.0/iot-03/devices/{quote(device_id, safe='')}/specification")
            self._specs[device_id] = MeterSpec.from_tuya(result or {})
        return self._specs[device_id]

    def send_commands(self, device_id: str, commands: list[dict]) -> bool:
        """Send data-point commands ([{code, value}], Integer values already scaled).
        True means Tuya accepted them. TuyaRejected: not applied; TuyaUnavailable: unknown."""
        _no_floats(commands)
        result = self.request(
            "POST", f"/v1.0/iot-03/devices/{quote(device_id, safe='')}/commands", body={"commands": list(commands)}
        )
        return bool(result)

    def charge_records(self, device_id: str, *, since_ms: int | None = None) -> list[dict]:
        """The meter's top-ups as Tuya recorded them, oldest first: [{record_id, code, value, time}]
        (`GET /v1.0/iot-03/power-devices/{id}/charge-records`; the shape is the stand-in's,
        unverified against Tuya). Check it before re-sending a top-up whose outcome was unknown."""
        query = {"start_time": since_ms} if since_ms is not None else None
        result = self.request(
            "GET", f"/v1.0/iot-03/power-devices/{quote(device_id, safe='')}/charge-records", query=query
        )
        if isinstance(result, dict):
            result = result.get("list") or []
        return list(result or [])

    # ------------------------------------------------------------ the token

    def _now_ms(self) -> int:
        return int(self._clock() * 1000) + self._offset_ms

    def _fresh(self, token: Token | None) -> bool:
        return token is not None and token.expires_at_ms - REFRESH_MARGIN_MS > self._now_ms()

    def _valid_token(self) -> Token:
        if self._fresh(self._token):
            return self._token
        stored = self.tokens.get()
        if self._fresh(stored):
            self._token = stored
            return stored
        return self._renew(stale=stored)

    def _renew(self, stale: Token | None) -> Token:
        """A token newer than `stale`: another container's, or one this one fetches under the lease."""
        deadline = time.monotonic() + LEASE_MS / 1000 + 2 * self.timeout
        wait = 0.05
        while True:
            current = self.tokens.get()
            if self._fresh(current) and (stale is None or current.version != stale.version):
                self._token = current
                return current
            if self.tokens.try_lock(self._owner, self._now_ms(), LEASE_MS):
                try:
                    current = self.tokens.get()  # someone may have finished just before the lease was ours
                    if self._fresh(current) and (stale is None or current.version != stale.version):
                        self.tokens.unlock(self._owner)
                        self._token = current
                        return current
                    new = self._fetch_token(current)
                except BaseException:
                    self.tokens.unlock(self._owner)
                    raise
                if self.tokens.put(new, self._owner):
                    stored = self.tokens.get()
                    self._token = stored if stored and stored.access_token == new.access_token else new
                    return self._token
                logger.warning("tuya token lease expired during the refresh; re-reading")
            if time.monotonic() > deadline:
                raise TuyaUnavailable("another container's token refresh did not finish")
            self._sleep(wait)
            wait = min(wait * 2, 0.5)

    def _fetch_token(self, current: Token | None) -> Token:
        result = None
        if current is not None and current.refresh_token:
            try:
                result = self._send("GET", f"/v1.0/token/{current.refresh_token}", None, None, "")
            except (_TokenRefused, TuyaRejected):
                result = None  # a used or unknown refresh token: start over
        if result is None:
            try:
                result = self._send("GET", "/v1.0/token", {"grant_type": 1}, None, "")
            except _TokenRefused as refused:
                raise TuyaAuthError(refused.message, code=refused.code, request_id=refused.request_id) from None
        expire_s = int(result.get("expire_time") or result.get("expire") or 7200)
        return Token(
            access_token=str(result["access_token"]),
            refresh_token=str(result.get("refresh_token") or ""),
            expires_at_ms=self._now_ms() + expire_s * 1000,
        )

    # ------------------------------------------------------------ HTTP

    def _send(self, method: str, path: str, query: dict | None, body: Any, access_token: str) -> Any:
        method = method.upper()
        safe = method == "GET"
        body_bytes = b"" if body is None else json.dumps(body, separators=(",", ":"), default=_json_default).encode()
        url = self.endpoint + path + ("?" + urlencode(sorted((k, str(v)) for k, v in query.items())) if query else "")
        token_call = is_token_path(path)
        attempt = 0
        while True:
            t = str(self._now_ms())
            nonce = uuid.uuid4().hex
            headers = {
                "client_id": self.access_id,
                "sign_method": "HMAC-SHA256",
                "t": t,
                "nonce": nonce,
                "lang": "en",
                "sign": sign(
                    self.access_id,
                    self._secret,
                    t,
                    string_to_sign(method, path, query, body_bytes),
                    access_token="" if token_call else access_token,
                    nonce=nonce,
                ),
            }
            if not token_call:
                headers["access_token"] = access_token
            if body_bytes:
                headers["Content-Type"] = "application/json"
            retry, error = self._attempt(method, url, body_bytes, headers, safe)
            if error is None:
                return retry  # the result
            if retry and attempt < self.retries:
                attempt += 1
                self._sleep(self.backoff_s * (2 ** (attempt - 1)) * (1 + random.random() / 2))
                continue
            raise error

    def _attempt(self, method: str, url: str, body: bytes, headers: dict, safe: bool) -> tuple[Any, Exception | None]:
        """(result, None) on success; (retryable, error) otherwise."""
        self.calls += 1
        try:
            response = self._http.request(
                method,
                url,
                body=body or None,
                headers=headers,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                retries=False,
                redirect=False,
            )
        except Exception as exc:  # urllib3 raises its own errors, or OSError underneath
            reason = getattr(exc, "reason", None) or exc
            never_connected = isinstance(
                reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
            ) and not isinstance(reason, urllib3.exceptions.ReadTimeoutError)
            timed_out = isinstance(reason, (urllib3.exceptions.TimeoutError, TimeoutError))
            what = "timed out" if timed_out else f"unreachable ({type(reason).__name__})"
            return safe or never_connected, TuyaUnavailable(f"Tuya Cloud {what}")
        status = response.status
        try:
            payload = json.loads(response.data or b"null")
        except ValueError:
            payload = None
        if status >= 500 or status == 429:
            return safe or status == 429, TuyaUnavailable(f"Tuya Cloud answered HTTP {status}")
        if status >= 400 or not isinstance(payload, dict):
            code = payload.get("code") if isinstance(payload, dict) else None
            return False, TuyaRejected(f"Tuya Cloud answered HTTP {status}", code=code)
        request_id = payload.get("tid")
        self.last_request_id = request_id
        if payload.get("success"):
            if isinstance(payload.get("t"), int) and "/v1.0/token" in url:  # learn Tuya's clock
                self._offset_ms = payload["t"] - int(self._clock() * 1000)
            return payload.get("result"), None
        try:
            code = int(payload.get("code"))
        except (TypeError, ValueError):
            code = None
        message = str(payload.get("msg") or describe(code))
        if code in TOKEN_CODES:
            if code == 1013 and isinstance(payload.get("t"), int):
                self._offset_ms += payload["t"] - self._now_ms()
            raise _TokenRefused(code, message, request_id)
        if code in TRANSIENT_CODES:
            return safe or code in RATE_LIMIT_CODES, error_for(code, message, request_id)
        return False, error_for(code, message, request_id)


# ------------------------------------------------------------ configured from the environment


@functools.cache
def _credentials(secret_arn: str) -> tuple[str, str]:
    from gridpulse.aws import client

    value = json.loads(client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
    if not isinstance(value, dict) or not value.get("access_id") or not value.get("access_secret"):
        raise TuyaAuthError("the Tuya credentials secret needs access_id and access_secret (fill it in)")
    return str(value["access_id"]), str(value["access_secret"])


def client_from_environment() -> TuyaClient:
    """The container's client for TUYA_ENDPOINT with the credentials of TUYA_SECRET_ARN (Secrets
    Manager JSON {access_id, access_secret}) and the token in BILLING_TABLE: made once per
    container and these settings, so its connections, token and specifications are reused."""
    endpoint = os.environ.get("TUYA_ENDPOINT", "")
    secret_arn = os.environ.get("TUYA_SECRET_ARN", "")
    table = os.environ.get("BILLING_TABLE", "")
    if not endpoint or not secret_arn or not table:
        raise TuyaAuthError("TUYA_ENDPOINT, TUYA_SECRET_ARN and BILLING_TABLE must be set")
    return _client(endpoint, secret_arn, table)


@functools.cache
def _client(endpoint: str, secret_arn: str, table: str) -> TuyaClient:
    access_id, access_secret = _credentials(secret_arn)
    return TuyaClient(endpoint, access_id, access_secret, DynamoTokenStore(table))


def forget_credentials() -> None:
    """Forget the cached credentials and clients (tests switch secrets and endpoints)."""
    _credentials.cache_clear()
    _client.cache_clear()

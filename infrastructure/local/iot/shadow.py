"""AWS IoT Core's Device Shadow service (classic, unnamed shadows) for the local stack.

One store, `ShadowService`, serves both sides of IoT Core's shadows:

* MQTT (the local broker, infrastructure/local/iot/broker.py, hands it every
  accepted PUBLISH to a reserved shadow topic, after the device policy
  allowed the publish):
  `$aws/things/{thing}/shadow/get`    -> `.../get/accepted` or `.../get/rejected`;
  `$aws/things/{thing}/shadow/update` -> `.../update/accepted` or
  `.../update/rejected`, then `.../update/documents` and, when desired and
  reported differ afterwards, `.../update/delta`;
  `$aws/things/{thing}/shadow/delete` -> `.../delete/accepted` or `.../delete/rejected`.
  The responses are published from the cloud side: only subscribers the
  policy allows to receive them (iot:Receive) get them, as in IoT Core.
* The iot-data REST API (UpdateThingShadow, GetThingShadow,
  DeleteThingShadow), which the Lambdas call through boto3: `ShadowApi` is a
  WSGI middleware in front of moto's server (infrastructure/local/moto_server.py)
  that answers those three operations from this store instead of moto's own
  backend, so an API update of `desired` reaches a connected device as
  `/update/delta`, and a device's `reported` update is what GetThingShadow
  returns. Errors are HTTP errors with IoT's codes (no MQTT message), as in
  IoT Core; boto3 raises InvalidRequestException, ResourceNotFoundException,
  ConflictException.

What follows IoT Core's documents (device-shadow-document, device-shadow-mqtt,
device-shadow-error-messages in the AWS IoT developer guide):

* request `{"state": {"desired"?, "reported"?}, "clientToken"?, "version"?}`;
  updates merge into the document; a `null` deletes a field (`"desired": null`
  the whole section); empty sections disappear;
* `version` starts at 1 and rises by one per accepted update (and goes on
  after a delete); a request with a `version` that is not the current one is
  rejected 409 "Version conflict";
* `metadata` mirrors the state with `{"timestamp": <epoch s>}` per field
  written; `timestamp` (epoch s) on every response; `clientToken` echoed;
* `delta`: the desired fields whose value differs from (or is missing in)
  reported, compared object by object (other values, arrays included, whole);
* errors `{"code", "message", "timestamp", "clientToken"?}`: 400 "Invalid JSON",
  "Missing required node: state", "State node must be an object", "Desired node
  must be an object", "Reported node must be an object", "State contains an
  invalid node", "Invalid version", "Invalid clientToken" (over 64 bytes),
  "JSON contains too many levels of nesting; maximum is 6"; 404 "No shadow
  exists with name: '<thing>'"; 409 "Version conflict"; 413 "The payload
  exceeds the maximum size allowed" (state over 8 KiB).

Not implemented: named shadows (their topics, under shadow/name, are ordinary
topics), per-element metadata of arrays (an array has one timestamp), the
thing-exists check (a shadow of any thing name can be written), throttling
and the 10 in-flight requests limit.

Thread-safe: one lock orders every change, and the responses of a change
are queued for delivery (`publish`, non-blocking and FIFO) while it is held,
so devices see the changes in the order they were made.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from typing import Any, Callable
from urllib.parse import unquote

PREFIX = "$aws/things/"
MAX_DEPTH = 6  # levels of nesting in desired/reported
MAX_STATE_BYTES = 8 * 1024
MAX_TOKEN_BYTES = 64
_REQUEST = re.compile(r"^\$aws/things/([^/]+)/shadow/(get|update|delete)$")

Publish = Callable[[str, bytes], None]


class ShadowError(Exception):
    """A rejected request: `code` is IoT's HTTP code, `message` its text."""

    def __init__(self, code: int, message: str, client_token: str | None = None):
        super().__init__(message)
        self.code, self.message, self.client_token = code, message, client_token

    def body(self, now: int) -> dict:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "timestamp": now}
        if self.client_token is not None:
            out["clientToken"] = self.client_token
        return out


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def delta(desired: dict, reported: dict) -> dict:
    """The desired fields that reported lacks or holds another value of (objects compared field by field)."""
    out = {}
    for key, want in desired.items():
        have = reported.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            inner = delta(want, have)
            if inner:
                out[key] = inner
        elif key not in reported or want != have:
            out[key] = want
    return out


def _pick(metadata: dict, shape: dict) -> dict:
    """The part of `metadata` for the fields of `shape` (a delta)."""
    out = {}
    for key, value in shape.items():
        meta = metadata.get(key)
        if isinstance(value, dict) and isinstance(meta, dict) and "timestamp" not in meta:
            out[key] = _pick(meta, value)
        elif meta is not None:
            out[key] = meta
    return out


def _merge(doc: dict, meta: dict, patch: dict, now: int) -> dict:
    """Merge `patch` into `doc` (nulls delete), stamping `meta`; returns the metadata of what was written."""
    written: dict = {}
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            meta.pop(key, None)
            written[key] = {"timestamp": now}
        elif isinstance(value, dict) and value:
            if not isinstance(doc.get(key), dict):
                doc[key], meta[key] = {}, {}
            written[key] = _merge(doc[key], meta[key], value, now)
            if not doc[key]:
                doc.pop(key)
                meta.pop(key, None)
        else:
            doc[key] = copy.deepcopy(value)
            meta[key] = {"timestamp": now}
            written[key] = {"timestamp": now}
    return written


class _Shadow:
    def __init__(self, version: int):
        self.version = version
        self.state: dict[str, dict] = {}  # desired, reported
        self.metadata: dict[str, dict] = {}
        self.exists = False

    def document(self) -> dict:
        return {"state": copy.deepcopy(self.state), "metadata": copy.deepcopy(self.metadata), "version": self.version}


class ShadowService:
    """Classic shadows by thing name. `publish(topic, payload)` sends a
    response from the cloud side (the broker's publish_nowait); until it is
    set, MQTT responses go nowhere (nobody is connected)."""

    def __init__(self, publish: Publish | None = None, clock: Callable[[], float] = time.time):
        self.publish = publish
        self._clock = clock
        self._lock = threading.RLock()
        self._shadows: dict[str, _Shadow] = {}

    def _now(self) -> int:
        return int(self._clock())

    def _send(self, topic: str, body: dict) -> None:
        if self.publish is not None:
            self.publish(topic, json.dumps(body, separators=(",", ":")).encode())

    # ------------------------------------------------------------ requests

    @staticmethod
    def _request(payload: bytes, *, state_required: bool) -> dict:
        try:
            request = json.loads(payload.decode("utf-8")) if payload.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise ShadowError(400, "Invalid JSON") from None
        if not isinstance(request, dict):
            raise ShadowError(400, "Invalid JSON")
        token = request.get("clientToken")
        if token is not None and (not isinstance(token, str) or len(token.encode()) > MAX_TOKEN_BYTES):
            raise ShadowError(400, "Invalid clientToken")
        version = request.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise ShadowError(400, "Invalid version", token)
        if not state_required:
            return request
        if "state" not in request:
            raise ShadowError(400, "Missing required node: state", token)
        state = request["state"]
        if not isinstance(state, dict):
            raise ShadowError(400, "State node must be an object", token)
        for key, value in state.items():
            if key not in ("desired", "reported"):
                raise ShadowError(400, "State contains an invalid node", token)
            if value is not None and not isinstance(value, dict):
                raise ShadowError(400, f"{key.capitalize()} node must be an object", token)
            if value and _depth(value) > MAX_DEPTH:
                raise ShadowError(400, f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}", token)
        if len(json.dumps(state, separators=(",", ":")).encode()) > MAX_STATE_BYTES:
            raise ShadowError(413, "The payload exceeds the maximum size allowed", token)
        return request

    @staticmethod
    def _with_token(body: dict, request: dict) -> dict:
        if request.get("clientToken") is not None:
            body["clientToken"] = request["clientToken"]
        return body

    def _missing(self, thing: str, request: dict) -> ShadowError:
        return ShadowError(404, f"No shadow exists with name: '{thing}'", request.get("clientToken"))

    def update(self, thing: str, payload: bytes) -> dict:
        """Apply an update request; the /update/accepted document. Publishes
        accepted, documents and (when desired and reported differ) delta."""
        request = self._request(payload, state_required=True)
        with self._lock:
            shadow = self._shadows.setdefault(thing, _Shadow(0))
            if request.get("version") is not None and request["version"] != shadow.version:
                raise ShadowError(409, "Version conflict", request.get("clientToken"))
            now = self._now()
            previous = shadow.document() if shadow.exists else None
            written: dict = {}
            for section, patch in request["state"].items():
                if patch is None:
                    shadow.state.pop(section, None)
                    shadow.metadata.pop(section, None)
                    written[section] = {"timestamp": now}
                    continue
                doc = shadow.state.setdefault(section, {})
                meta = shadow.metadata.setdefault(section, {})
                written[section] = _merge(doc, meta, patch, now)
                if not doc:
                    shadow.state.pop(section)
                    shadow.metadata.pop(section, None)
            shadow.version += 1
            shadow.exists = True
            accepted = self._with_token(
                {
                    "state": copy.deepcopy(request["state"]),
                    "metadata": written,
                    "version": shadow.version,
                    "timestamp": now,
                },
                request,
            )
            base = f"{PREFIX}{thing}/shadow/update"
            self._send(f"{base}/accepted", accepted)
            self._send(
                f"{base}/documents",
                self._with_token({"previous": previous, "current": shadow.document(), "timestamp": now}, request),
            )
            difference = delta(shadow.state.get("desired", {}), shadow.state.get("reported", {}))
            if difference:
                message = {
                    "version": shadow.version,
                    "timestamp": now,
                    "state": difference,
                    "metadata": _pick(shadow.metadata.get("desired", {}), difference),
                }
                self._send(f"{base}/delta", self._with_token(message, request))
            return accepted

    def get(self, thing: str, payload: bytes = b"") -> dict:
        """The whole document with its delta (GetThingShadow, /get/accepted)."""
        request = self._request(payload, state_required=False)
        with self._lock:
            shadow = self._shadows.get(thing)
            if shadow is None or not shadow.exists:
                raise self._missing(thing, request)
            body = shadow.document()
            difference = delta(shadow.state.get("desired", {}), shadow.state.get("reported", {}))
            if difference:
                body["state"]["delta"] = difference
            body["timestamp"] = self._now()
            return self._with_token(body, request)

    def delete(self, thing: str, payload: bytes = b"") -> dict:
        """Delete the document (its version number goes on with the next update)."""
        request = self._request(payload, state_required=False)
        with self._lock:
            shadow = self._shadows.get(thing)
            if shadow is None or not shadow.exists:
                raise self._missing(thing, request)
            if request.get("version") is not None and request["version"] != shadow.version:
                raise ShadowError(409, "Version conflict", request.get("clientToken"))
            version = shadow.version
            self._shadows[thing] = _Shadow(version)
            return self._with_token({"version": version, "timestamp": self._now()}, request)

    # ------------------------------------------------------------ MQTT

    def handle_mqtt(self, topic: str, payload: bytes) -> bool:
        """Serve a publish to a shadow request topic (the broker calls this
        after the policy allowed it); False for any other topic."""
        match = _REQUEST.match(topic)
        if not match:
            return False
        thing, operation = match.groups()
        with self._lock:
            try:
                body = getattr(self, operation)(thing, payload)
            except ShadowError as exc:
                if exc.client_token is None:
                    exc.client_token = _token_of(payload)
                self._send(f"{topic}/rejected", exc.body(self._now()))
                return True
            if operation != "update":  # update published its own responses
                self._send(f"{topic}/accepted", body)
        return True


def _token_of(payload: bytes) -> str | None:
    try:
        token = json.loads(payload).get("clientToken")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return token if isinstance(token, str) and len(token.encode()) <= MAX_TOKEN_BYTES else None


# ---------------------------------------------------------------- iot-data REST API

_API_PATH = re.compile(r"^/things/([^/]+)/shadow/?$")
_ERROR_TYPES = {
    400: "InvalidRequestException",
    404: "ResourceNotFoundException",
    409: "ConflictException",
    413: "RequestEntityTooLargeException",
}


class ShadowApi:
    """WSGI middleware: the iot-data shadow operations (signed for service
    `iotdata`, path /things/{thing}/shadow, no ?name= of a named shadow)
    answered from `service`; every other request goes to `app` (moto)."""

    def __init__(self, app, service: ShadowService):
        self.app, self.service = app, service

    def __call__(self, environ, start_response):
        match = _API_PATH.match(environ.get("PATH_INFO", ""))
        signed_for = environ.get("HTTP_AUTHORIZATION", "")
        if not match or "/iotdata/aws4_request" not in signed_for or "name=" in environ.get("QUERY_STRING", ""):
            return self.app(environ, start_response)
        thing = unquote(match.group(1))
        method = environ.get("REQUEST_METHOD")
        try:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = self.service.update(thing, environ["wsgi.input"].read(length) if length else b"")
            elif method == "GET":
                body = self.service.get(thing)
            elif method == "DELETE":
                body = self.service.delete(thing)
            else:
                return self.app(environ, start_response)
            status, headers = "200 OK", []
        except ShadowError as exc:
            body = exc.body(int(time.time()))
            status = f"{exc.code} {'Conflict' if exc.code == 409 else 'Error'}"
            headers = [("x-amzn-ErrorType", _ERROR_TYPES.get(exc.code, "InvalidRequestException"))]
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers])
        return [data]

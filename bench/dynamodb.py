"""DynamoDB requests per API call, for every route of the REST API.

What is measured: AWS is moto's `mock_aws`, with the tables, secret and mail
identity of template.yaml created exactly as the tests' `aws` fixture does;
every handler runs in-process behind the API Gateway stand-in
(infrastructure/local/gateway.py), driven by a werkzeug test client. One
scripted session (register, log in, ... delete, health) calls each route once,
and every AWS request made during that call is recorded by
bench.calls.CallRecorder (it wraps botocore's BaseClient._make_api_call), the
recorder of the tests' `dynamodb_calls` fixture. The count is of requests, whatever the client (PynamoDB or boto3).

How to read it: `DynamoDB requests` is how many the call made and
`operations` names them; `of which auth` is how many of those the
authenticated-request check (gridpulse.accounts.authentication.authenticate) made, or `-`
when the route does not authenticate; `other AWS calls` lists requests to
other services. The line under the table compares the measured auth check with
a design that keeps revoked tokens in their own items: that baseline is
counted by construction, not measured. A row marked `!` answered with a status
other than the expected one, and the run exits non-zero.

The first call that issues a token also reads the signing key from Secrets
Manager (cached per container afterwards): that shows under `other AWS`.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass, field

from bench.calls import CallRecorder
from bench.stack import mocked_stack
from bench.table import render

ADMIN = ("root@gridpulse.example.com", "root-password-1")
ANN = {"name": "Ann", "email": "ann@example.com", "username": "ann", "password": "correct-horse-1"}
BOB = {
    "name": "Bob",
    "email": "bob@example.com",
    "username": "bob",
    "password": "correct-horse-2",
    "role": "operator",
    "cities": ["Lisbon"],
}


@dataclass
class Call:
    route: str
    status: int
    expected: int
    authenticated: bool = False
    dynamodb: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


class Recorder(CallRecorder):
    """Every AWS request (bench.calls.CallRecorder), tagged "auth" when made inside the auth check."""

    def __init__(self):
        super().__init__()
        self.auth_checks = 0

    @property
    def requests(self) -> list[tuple[str, str, bool]]:
        """(service, operation, inside authenticate) of every request."""
        return [(c.service, c.operation, c.tag == "auth") for c in self.records]

    @contextlib.contextmanager
    def installed(self):
        from gridpulse.accounts import authentication

        original_authenticate = authentication.authenticate
        recorder = self

        def authenticate(*args, **kwargs):
            recorder.tag = "auth"
            recorder.auth_checks += 1
            try:
                return original_authenticate(*args, **kwargs)
            finally:
                recorder.tag = None

        authentication.authenticate = authenticate  # gridpulse.api calls it through the module
        try:
            with super().installed():
                yield self
        finally:
            authentication.authenticate = original_authenticate


def summary(operations: list[str]) -> str:
    """["GetItem", "TransactWriteItems", "GetItem"] -> "GetItem x2, TransactWriteItems x1"."""
    return ", ".join(f"{op} x{n}" for op, n in Counter(operations).items()) or "-"


class Session:
    """Calls routes through the gateway and records what each call cost."""

    def __init__(self, client, recorder: Recorder):
        self.client = client
        self.recorder = recorder
        self.calls: list[Call] = []

    def request(self, method: str, path: str, body=None, token: str | None = None, api_key: str | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if api_key:
            headers["X-API-Key"] = api_key
        response = self.client.open(path, method=method, json=body, headers=headers)
        try:
            return response.status_code, response.get_json(silent=True)
        finally:
            response.close()

    def measure(
        self,
        route: str,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        expect: int = 200,
        api_key: str | None = None,
    ):
        """One recorded call; returns the response body."""
        self.recorder.clear()
        self.recorder.auth_checks = 0
        status, data = self.request(method, path, body, token, api_key)
        self._record(Call(route, status, expect, authenticated=self.recorder.auth_checks > 0))
        return data or {}

    def measure_background(self, label: str, work) -> None:
        """One recorded run of what an event-driven function does (no HTTP)."""
        self.recorder.clear()
        self.recorder.auth_checks = 0
        work()
        self._record(Call(label, 200, 200, authenticated=False))

    def _record(self, call: "Call") -> None:
        for service, operation, in_auth in self.recorder.requests:
            if service == "dynamodb":
                call.dynamodb.append(operation)
                if in_auth:
                    call.auth.append(operation)
            else:
                call.other.append(f"{service}:{operation}")
        self.calls.append(call)


def _send_queued_resets(stack) -> None:
    """What PasswordResetFunction does with the reset queue (its SQS event)."""
    import boto3

    from gridpulse.accounts.password_reset import handle_reset_requests

    sqs = boto3.client("sqs")
    url = stack.physical["PasswordResetQueue"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    handle_reset_requests({"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]})
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def scenario(api: Session, stack) -> None:
    """Each route once, in an order where each call has what it needs."""
    from gridpulse.accounts.users import ensure_admin
    from infrastructure.local.outbox import sent_emails

    ensure_admin(*ADMIN)  # seeding, not counted

    # auth
    api.measure("POST /auth/register", "POST", "/auth/register", ANN, expect=201)
    token = api.measure(
        "POST /auth/login", "POST", "/auth/login", {"email": ANN["email"], "password": ANN["password"]}
    ).get("token")
    api.measure("GET /auth/me", "GET", "/auth/me", token=token)
    api.measure("POST /auth/logout", "POST", "/auth/logout", token=token)
    api.measure(
        "POST /auth/forgot-password (known email)", "POST", "/auth/forgot-password", {"email": ANN["email"]}, expect=202
    )
    api.measure_background("PasswordResetFunction (one queued address)", lambda: _send_queued_resets(stack))
    mails = [m["body"] for m in sent_emails(stack.account, stack.region) if ANN["email"] in m["to"]]
    match = re.search(r"Reset token: (\S+)", mails[-1]) if mails else None
    api.measure(
        "POST /auth/reset-password",
        "POST",
        "/auth/reset-password",
        {"token": match.group(1) if match else "missing", "password": "brand-new-pass-2"},
    )

    # users (as the admin; this login is setup, not counted)
    _, body = api.request("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
    admin = (body or {}).get("token")
    api.measure("GET /users", "GET", "/users?limit=50", token=admin)
    bob = api.measure("POST /users", "POST", "/users", BOB, token=admin, expect=201).get("user_id", "missing")
    api.measure("GET /users/{id}", "GET", f"/users/{bob}", token=admin)
    api.measure("PUT /users/{id}", "PUT", f"/users/{bob}", {"name": "Bob B.", "city": "Porto"}, token=admin)
    api.measure("PATCH /users/{id}/deactivate", "PATCH", f"/users/{bob}/deactivate", token=admin)
    api.measure("PATCH /users/{id}/activate", "PATCH", f"/users/{bob}/activate", token=admin)
    api.measure("DELETE /users/{id}", "DELETE", f"/users/{bob}", token=admin)
    api.measure("GET /admin/stats", "GET", "/admin/stats", token=admin)
    api.measure("GET /admin/devices/statuses", "GET", "/admin/devices/statuses", token=admin)

    sites_devices_groups(api, admin)

    # health
    api.measure("GET /health", "GET", "/health")
    api.measure("GET /health?detailed=true", "GET", "/health?detailed=true")
    api.measure("GET /status", "GET", "/status")


def sites_devices_groups(api: Session, admin: str) -> None:
    """Hotels, sections, rooms, devices (with IoT provisioning), device API, groups."""
    hotel = api.measure(
        "POST /hotels",
        "POST",
        "/hotels",
        {"hotel_name": "Sea View", "timezone": "Europe/Lisbon"},
        token=admin,
        expect=201,
    ).get("hotel_id", "missing")
    api.measure("GET /hotels", "GET", "/hotels", token=admin)
    api.measure("GET /hotels/{id}", "GET", f"/hotels/{hotel}", token=admin)
    api.measure("PUT /hotels/{id}", "PUT", f"/hotels/{hotel}", {"address": "1 Beach Rd"}, token=admin)
    section = api.measure(
        "POST /hotels/{id}/sections",
        "POST",
        f"/hotels/{hotel}/sections",
        {"section_name": "Floor 1"},
        token=admin,
        expect=201,
    ).get("section_id", "missing")
    api.measure("GET /hotels/{id}/sections", "GET", f"/hotels/{hotel}/sections", token=admin)
    api.measure("PUT /sections/{id}", "PUT", f"/sections/{section}", {"section_name": "First"}, token=admin)
    room = api.measure(
        "POST /sections/{id}/rooms",
        "POST",
        f"/sections/{section}/rooms",
        {"room_number": "101"},
        token=admin,
        expect=201,
    ).get("room_id", "missing")
    api.measure("GET /sections/{id}/rooms", "GET", f"/sections/{section}/rooms", token=admin)
    api.measure("PUT /rooms/{id}", "PUT", f"/rooms/{room}", {"occupancy_status": "occupied"}, token=admin)

    created = api.measure(
        "POST /rooms/{id}/devices",
        "POST",
        f"/rooms/{room}/devices",
        {"device_name": "101 meter", "ssid": "inn", "password": "wifi-pass-1"},
        token=admin,
        expect=201,
    )
    device = created.get("device_id", "missing")
    key = (created.get("credentials") or {}).get("api_key", "missing")
    other = api.measure(
        "POST /devices",
        "POST",
        "/devices",
        {"name": "lamp", "device_type": "light", "city": "Lisbon"},
        token=admin,
        expect=201,
    ).get("device_id", "missing")
    api.measure("GET /devices", "GET", "/devices?device_type=meter", token=admin)
    api.measure("GET /rooms/{id}/devices", "GET", f"/rooms/{room}/devices", token=admin)
    api.measure("GET /devices/{id}", "GET", f"/devices/{device}", token=admin)
    api.measure("PUT /devices/{id}", "PUT", f"/devices/{device}", {"name": "101 main meter"}, token=admin)
    api.measure("GET /device/status (old key)", "GET", "/device/status", api_key=key, expect=200)
    key = api.measure(
        "POST /devices/{id}/rotate-credentials", "POST", f"/devices/{device}/rotate-credentials", token=admin
    ).get("api_key", "missing")
    api.measure("POST /device/heartbeat", "POST", "/device/heartbeat", {"firmware_version": "1.0.0"}, api_key=key)
    api.measure("PUT /device/config", "PUT", "/device/config", {"config": {"interval_s": 30}}, api_key=key)
    api.measure("GET /device/config", "GET", "/device/config", api_key=key)
    api.measure("GET /device/credentials", "GET", "/device/credentials", api_key=key)

    group = api.measure("POST /groups", "POST", "/groups", {"name": "Floor 1"}, token=admin, expect=201).get(
        "group_id", "missing"
    )
    api.measure("GET /groups", "GET", "/groups", token=admin)
    api.measure(
        "POST /groups/{id}/devices", "POST", f"/groups/{group}/devices", {"device_id": device}, token=admin, expect=201
    )
    api.measure(
        "POST /groups/{id}/devices/bulk",
        "POST",
        f"/groups/{group}/devices/bulk",
        {"device_ids": [device, other]},
        token=admin,
    )
    api.measure("GET /groups/{id}/devices", "GET", f"/groups/{group}/devices", token=admin)
    api.measure("GET /devices/{id}/groups", "GET", f"/devices/{device}/groups", token=admin)
    api.measure("DELETE /groups/{id}/devices/{device_id}", "DELETE", f"/groups/{group}/devices/{device}", token=admin)
    api.measure("DELETE /groups/{id}", "DELETE", f"/groups/{group}", token=admin)
    api.measure("DELETE /devices/{id}", "DELETE", f"/devices/{other}", token=admin)
    api.measure("DELETE /rooms/{id} (cascade)", "DELETE", f"/rooms/{room}?cascade=true", token=admin)
    api.measure("DELETE /hotels/{id} (cascade)", "DELETE", f"/hotels/{hotel}?cascade=true", token=admin)


def run() -> int:
    from werkzeug.test import Client

    from infrastructure.local.gateway import Gateway, load_functions

    print("DynamoDB requests per API call (moto, handlers in-process, one call per route)")
    with mocked_stack() as stack:
        recorder = Recorder()
        with recorder.installed():
            api = Session(Client(Gateway(stack, load_functions(stack))), recorder)
            scenario(api, stack)

    rows = [
        [
            ("! " if c.status != c.expected else "") + c.route,
            str(c.status),
            str(len(c.dynamodb)),
            str(len(c.auth)) if c.authenticated else "-",
            summary(c.dynamodb),
            summary(c.other),
        ]
        for c in api.calls
    ]
    print(
        render(
            ["route", "status", "DynamoDB requests", "of which auth", "operations", "other AWS calls"],
            rows,
            right={1, 2, 3},
        )
    )

    checks = [c for c in api.calls if c.authenticated]
    costs = sorted({len(c.auth) for c in checks})
    print()
    if checks:
        print(
            f"Authenticated-request check, measured: {' or '.join(map(str, costs))} DynamoDB "
            f"request{'' if costs == [1] else 's'} ({summary(checks[0].auth)}) "
            f"on each of {len(checks)} authenticated calls."
        )
        print(
            "Baseline, by construction (not measured): revoked token ids kept as separate items, "
            "GetItem user + GetItem revoked#<jti> = 2 requests per authenticated call."
        )

    wrong = [c for c in api.calls if c.status != c.expected]
    for c in wrong:
        print(f"! {c.route}: status {c.status}, expected {c.expected}")
    return 1 if wrong else 0

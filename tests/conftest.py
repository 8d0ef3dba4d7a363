"""Shared fixtures.

* `aws`: a fresh moto account per test with the tables, secrets and mail
  identity of template.yaml (created by the same code the local stack uses).
* `api`: an HTTP client for the local API Gateway stand-in, running every
  handler in-process against `aws`.
* `dynamodb_calls`: every DynamoDB operation made during a test. Any Scan
  fails the test: no request path may scan a table.
"""

from __future__ import annotations

import os

# Configure the process before any gridpulse module reads its environment.
for _var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)

import boto3  # noqa: E402
import botocore.loaders  # noqa: E402
import botocore.session  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from bench.calls import CallRecorder  # noqa: E402
from infrastructure.cfn import Stack, load  # noqa: E402
from infrastructure.local.resources import create_all, function_environment, table_request  # noqa: E402

# Every boto3 session of the test process shares one botocore loader, so each
# service model and the endpoint rules are read from disk and parsed once per
# process instead of once per client: each test creates its clients afresh
# (`aws` and gridpulse.aws.reset_clients), and parsing the models was most of a
# test's set-up. Clients of one session share their loader in the same way.
_SHARED_LOADER = botocore.loaders.create_loader()


def _register_shared_data_loader(self) -> None:
    self._components.lazy_register_component("data_loader", lambda: _SHARED_LOADER)


botocore.session.Session._register_data_loader = _register_shared_data_loader

STACK_NAME = "gridpulse-test"
TEMPLATE = load()


def _predicted_environment() -> dict[str, str]:
    """Function environment before anything exists: table names are known from
    the template alone; secret ARNs are filled in per test by `aws`."""
    stack = Stack(TEMPLATE, name=STACK_NAME, parameters={"PublicUrl": "http://testserver"})
    for logical in stack.resources("AWS::DynamoDB::Table"):
        stack.physical[logical] = table_request(stack, logical)["TableName"]
    for logical in stack.resources():
        stack.physical.setdefault(logical, f"pending-{logical}")
    return function_environment(stack)


for _key, _value in _predicted_environment().items():
    os.environ.setdefault(_key, _value)


def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist's `--dist loadgroup` (`make test` runs `pytest -n 2
    --dist loadgroup`): the end-to-end tests run on one worker, so one local stack
    serves them (the session `stack` fixture of tests/e2e/conftest.py), and every
    other module runs whole on one worker, so a module-scoped fixture (the firmware
    emitter's build into firmware/build/, a broker) is set up once. Without xdist
    the mark does nothing."""
    for item in items:
        group = "e2e" if item.get_closest_marker("e2e") else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


def _reset_caches() -> None:
    from gridpulse.alerts.rules import forget as forget_rules
    from gridpulse.aws import reset_clients
    from gridpulse.devices.context import forget_context
    from gridpulse.pagination import reset_key as reset_page_key
    from gridpulse.security.secrets import jwt_signing_key
    from gridpulse.settings import get_settings

    get_settings.cache_clear()
    jwt_signing_key.cache_clear()
    reset_page_key()
    reset_clients()
    forget_context()
    forget_rules()


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        stack = Stack(TEMPLATE, name=STACK_NAME, parameters={"PublicUrl": "http://testserver"})
        create_all(stack, boto3.session.Session())
        for key, value in function_environment(stack).items():
            monkeypatch.setenv(key, value)
        # moto has no iot-data DeleteConnection: sessions ended by revocation are recorded instead.
        stack.disconnected = []
        monkeypatch.setattr("gridpulse.devices.provisioning.disconnector", stack.disconnected.append)
        _reset_caches()
        yield stack
    _reset_caches()


@pytest.fixture(autouse=True)
def password_hashing(request, monkeypatch):
    """Argon2id at its cheapest (t=1, m=8 KiB) instead of OWASP's m=19 MiB, t=2:
    the production parameters cost ~0.1 s of CPU per hash or check, and most
    tests register and log in several people. Tests marked
    `production_password_hashing` (tests/unit/test_security.py checks the
    parameters a stored hash carries) and the end-to-end tests, whose local
    stack runs as `make run` does, hash as deployed functions do."""
    if request.node.get_closest_marker("production_password_hashing"):
        yield
        return
    from argon2 import PasswordHasher

    from gridpulse.security import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=32, salt_len=16)
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


SCAN_REFUSAL = "a DynamoDB Scan was made; every list must be a Query on a key or index"


@pytest.fixture(autouse=True)
def dynamodb_calls(monkeypatch):
    """Record every AWS call (bench.calls.CallRecorder, the benchmarks' recorder); fail on any DynamoDB Scan."""
    recorder = CallRecorder(forbid={("dynamodb", "Scan"): SCAN_REFUSAL}).install(monkeypatch)
    yield recorder
    scans = [c for c in recorder.calls if c == ("dynamodb", "Scan")]
    assert not scans, "a DynamoDB Scan was made"


_FUNCTIONS = None


@pytest.fixture
def api(aws, dynamodb_calls):
    """A werkzeug test client on the local API Gateway stand-in (the calls
    recorded while the tables were created are forgotten)."""
    global _FUNCTIONS
    from werkzeug.test import Client

    from infrastructure.local.gateway import Gateway, load_functions

    if _FUNCTIONS is None:
        _FUNCTIONS = load_functions(aws)
    dynamodb_calls.clear()
    return ApiClient(Client(Gateway(aws, _FUNCTIONS)))


class ApiClient:
    """Thin helpers over the werkzeug client: JSON in, (status, json) out."""

    def __init__(self, client):
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        headers: dict | None = None,
        raw: bytes | str | None = None,
        query: dict | None = None,
    ):
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        kwargs = {"headers": hdrs, "query_string": query}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        response = self.client.open(path, method=method, **kwargs)
        try:
            data = response.get_json(force=True, silent=True)
        finally:
            response.close()
        return response.status_code, data

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # ---------------------------------------------------------- common steps

    def register(self, email: str, password: str = "correct-horse-1", name: str = "Test User", **extra):
        status, body = self.post("/auth/register", {"name": name, "email": email, "password": password, **extra})
        assert status == 201, body
        return body

    def user(self, admin_token: str, email: str, role: str = "viewer", **scope) -> str:
        """Create a user as admin and return its token."""
        status, body = self.post(
            "/users",
            {"name": email.split("@")[0], "email": email, "password": "correct-horse-1", "role": role, **scope},
            token=admin_token,
        )
        assert status == 201, body
        return self.login(email)

    def create(self, path: str, body: dict, token: str) -> dict:
        status, out = self.post(path, body, token=token)
        assert status == 201, (path, out)
        return out

    def login(self, login: str, password: str = "correct-horse-1") -> str:
        key = "email" if "@" in login else "username"
        status, body = self.post("/auth/login", {key: login, "password": password})
        assert status == 200, body
        return body["token"]


@pytest.fixture
def admin_token(api):
    from gridpulse.accounts.users import ensure_admin

    ensure_admin("root@gridpulse.example.com", "root-password-1")
    return api.login("root@gridpulse.example.com", "root-password-1")

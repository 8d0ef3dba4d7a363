"""Start the real local stack (`python -m infrastructure.local`, what `make run`
runs) on free ports and drive it over HTTP.

Or drive a deployed stack instead: with GRIDPULSE_E2E_API_URL set (the stack's
`ApiUrl` output), the `stack` fixture is a client of that URL and no local
stack starts; the admin is GRIDPULSE_E2E_ADMIN_EMAIL / GRIDPULSE_E2E_ADMIN_PASSWORD
(an admin of that stack). Tests that need what only the local stack has (its
MQTT broker and CA, the email outbox, its console, its process) are marked
`local_only(...)` and skip, saying why.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from infrastructure.cfn import ROOT

REMOTE_API_URL = os.environ.get("GRIDPULSE_E2E_API_URL", "").strip().rstrip("/")
# The admin the tests log in as: the one the local stack seeds, or the deployed stack's.
ADMIN_EMAIL = os.environ.get("GRIDPULSE_E2E_ADMIN_EMAIL") or "ops@gridpulse.example.com"
ADMIN_PASSWORD = os.environ.get("GRIDPULSE_E2E_ADMIN_PASSWORD") or "e2e-admin-password-1"


def local_only(why: str) -> pytest.MarkDecorator:
    """Skip when the suite drives a deployed stack (GRIDPULSE_E2E_API_URL): `why`
    names what the test needs that only the local stack has."""
    return pytest.mark.skipif(
        bool(REMOTE_API_URL), reason=f"needs the local stack ({why}); GRIDPULSE_E2E_API_URL points at a deployed stack"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiClient:
    """HTTP to a stack's API at `base`."""

    base: str
    output: list[str]  # what the stack printed (a deployed stack's: nothing)

    def request(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def login(self, login: str, password: str) -> str:
        key = "email" if "@" in login else "username"
        response = self.request("POST", "/auth/login", json={key: login, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["token"]


class DeployedStack(ApiClient):
    """A stack deployed to AWS, reached at its ApiUrl."""

    def __init__(self, api_url: str):
        self.base = api_url
        self.output = []


class LocalStack(ApiClient):
    def __init__(self, **overrides: str):
        self.api_port = _free_port()
        self.aws_port = _free_port()
        self.mqtt_port = _free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.output: list[str] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "POWERTOOLS_", "USERS_TABLE", "JWT_", "FORGOT_"))
        }
        env.update(
            {
                "GRIDPULSE_API_PORT": str(self.api_port),
                "GRIDPULSE_AWS_PORT": str(self.aws_port),
                "GRIDPULSE_MQTT_PORT": str(self.mqtt_port),
                "GRIDPULSE_FLEET": "0",
                "GRIDPULSE_ADMIN_EMAIL": ADMIN_EMAIL,
                "GRIDPULSE_ADMIN_PASSWORD": ADMIN_PASSWORD,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(overrides)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.local"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("Ready." in line for line in self.output):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("local stack did not start:\n" + "\n".join(self.output))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return self.process.returncode


@contextlib.contextmanager
def running_stack():
    """A LocalStack, ready, stopped on the way out."""
    local = LocalStack()
    try:
        local.wait_ready()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack():
    """The stack under test: the deployed one at GRIDPULSE_E2E_API_URL, else a
    local stack started for the session."""
    if REMOTE_API_URL:
        yield DeployedStack(REMOTE_API_URL)
        return
    with running_stack() as local:
        yield local

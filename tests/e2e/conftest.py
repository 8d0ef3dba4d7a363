"""Start the real local stack (`python -m infrastructure.local`, what `make run`
runs) on free ports and drive it over HTTP."""

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

ADMIN_EMAIL = "ops@gridpulse.example.com"
ADMIN_PASSWORD = "e2e-admin-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStack:
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

    # ---------------------------------------------------------- HTTP

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
    with running_stack() as local:
        yield local

"""The local stack as a child process: what the end-to-end tests and the soak benchmark start.

`LocalStackProcess(admin=(email, password), **env)` runs `python -m
infrastructure.local` (what `make run` runs) on free ports, without its own
fleet, with the given admin seeded and `env` added to its environment; it
keeps what the stack prints in `output`. `wait_ready()` returns once the
stack prints "Ready.", `stop(sig, timeout)` stops it as Ctrl-C (SIGINT) or
`kill` (SIGTERM) would and returns its exit code.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from infrastructure.cfn import ROOT

# Variables of the calling process that would point the stack's own functions
# somewhere else (a test's AWS credentials, Powertools or table settings).
_NOT_INHERITED = ("AWS_", "POWERTOOLS_", "USERS_TABLE", "JWT_", "FORGOT_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStackProcess:
    def __init__(self, admin: tuple[str, str], **env: str):
        self.api_port, self.aws_port, self.mqtt_port = free_port(), free_port(), free_port()
        self.tuya_port = free_port()
        self.base = f"http://127.0.0.1:{self.api_port}"
        self.output: list[str] = []
        child_env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
        child_env.update(
            GRIDPULSE_API_PORT=str(self.api_port),
            GRIDPULSE_AWS_PORT=str(self.aws_port),
            GRIDPULSE_MQTT_PORT=str(self.mqtt_port),
            GRIDPULSE_TUYA_PORT=str(self.tuya_port),
            GRIDPULSE_FLEET="0",
            GRIDPULSE_ADMIN_EMAIL=admin[0],
            GRIDPULSE_ADMIN_PASSWORD=admin[1],
            PYTHONUNBUFFERED="1",
        )
        child_env.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.local"],
            cwd=ROOT,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("Ready." in line for line in self.output):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the local stack did not start:\n" + "\n".join(self.output[-30:]))

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Stop the stack with `sig`; killed if it has not exited within `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        return self.process.returncode

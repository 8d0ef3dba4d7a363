"""`make run` (python -m infrastructure.local) starting and stopping: a port
that is taken ends the run at once with a message naming the variable to
change; SIGTERM stops a stack with a running fleet within seconds."""
from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


def _wait_exit(local: LocalStack, timeout: float) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        code = local.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - started


@pytest.mark.parametrize("variable,attribute", [
    ("GRIDPULSE_AWS_PORT", "aws_port"),
    ("GRIDPULSE_API_PORT", "api_port"),
    ("GRIDPULSE_MQTT_PORT", "mqtt_port"),
])
def test_a_port_in_use_ends_the_run_naming_its_variable(variable, attribute):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        local = LocalStack(**{variable: str(port)})
        assert getattr(local, attribute) != port  # the fixture picked another; the override wins
        try:
            code, took = _wait_exit(local, timeout=30)
        finally:
            local.stop()
    output = "\n".join(local.output)
    assert code is not None, f"still running after 30 s with {variable}={port} taken:\n{output}"
    assert code != 0 and took < 30
    assert variable in output and str(port) in output and "already in use" in output
    assert "Ready." not in output


def test_sigterm_stops_a_stack_with_a_running_fleet_within_seconds():
    # The default fleet replaying fast keeps ingestion busy, so the stop has work under way to cut short.
    local = LocalStack(GRIDPULSE_FLEET="2x3x4", GRIDPULSE_FLEET_SPEED="600", GRIDPULSE_QUIET="1")
    try:
        local.wait_ready()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("[fleet] sim" in line and "connected 29/29" in line
                                                          for line in local.output):
            time.sleep(0.5)
        assert any("connected 29/29" in line for line in local.output), "\n".join(local.output[-20:])
        time.sleep(10)  # readings flowing
        local.process.send_signal(signal.SIGTERM)
        code, took = _wait_exit(local, timeout=30)
    finally:
        local.stop()
    output = "\n".join(local.output)
    assert code == 0, output[-3000:]
    assert took < 10, f"exited {took:.1f} s after SIGTERM:\n{output[-3000:]}"
    assert "Stopping ..." in output and "Stopped" in output

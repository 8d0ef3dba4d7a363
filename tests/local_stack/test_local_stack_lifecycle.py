"""`make run` (python -m infrastructure.local) starting and stopping: a port
that is taken ends the run at once with a message naming the variable to
change; SIGTERM stops a stack with a running fleet within seconds."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest

from tests.e2e.conftest import LocalStack, local_only

pytestmark = [pytest.mark.e2e, local_only("starts and stops local stacks of its own")]


def _wait_exit(local: LocalStack, timeout: float) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        code = local.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    return code, time.monotonic() - started


@pytest.mark.parametrize(
    "variable,attribute",
    [
        ("GRIDPULSE_AWS_PORT", "aws_port"),
        ("GRIDPULSE_API_PORT", "api_port"),
        ("GRIDPULSE_MQTT_PORT", "mqtt_port"),
        ("GRIDPULSE_TUYA_PORT", "tuya_port"),
    ],
)
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
    assert code != 0 and took < 15
    assert variable in output and str(port) in output and "already in use" in output
    assert "Ready." not in output


def test_sigterm_stops_a_stack_with_a_running_fleet_within_seconds():
    # The default fleet replaying fast keeps ingestion busy, so the stop has work under way to cut short.
    local = LocalStack(GRIDPULSE_FLEET="2x3x4", GRIDPULSE_FLEET_SPEED="600", GRIDPULSE_QUIET="1")
    try:
        local.wait_ready()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            "[fleet] sim" in line and "connected 29/29" in line for line in local.output
        ):
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


def test_a_fresh_stack_shows_live_figures_within_a_minute_and_history_soon_after():
    """The fleet runs in real time from the start and uploads its history as a
    backlog, live readings first: no zeros, no device flagged offline."""
    from datetime import datetime, timedelta, timezone

    from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    local = LocalStack(GRIDPULSE_FLEET="1x1x2", GRIDPULSE_FLEET_HISTORY_DAYS="3", GRIDPULSE_QUIET="1")
    try:
        local.wait_ready()
        token = local.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("[fleet] sim" in line for line in local.output):
            time.sleep(0.5)  # provisioning
        fleet_started = time.monotonic()
        meters: list[dict] = []
        usage: list[dict] = []
        while time.monotonic() - fleet_started < 60:
            listed = local.request("GET", "/devices", token, params={"device_type": "meter"}).json()["items"]
            meters = [m for m in listed if m.get("room_id")]
            usage = [local.request("GET", f"/rooms/{m['room_id']}/real-time-usage", token).json() for m in meters]
            if len(usage) == 2 and all(u["current_power_w"] > 0 for u in usage):
                break
            time.sleep(2)
        live_after = time.monotonic() - fleet_started
        assert len(usage) == 2 and all(u["current_power_w"] > 0 and u["timestamp"] for u in usage), usage
        newest = max(datetime.fromisoformat(u["timestamp"].replace("Z", "+00:00")) for u in usage)
        assert datetime.now(timezone.utc) - newest < timedelta(minutes=2)  # live, not a replay of yesterday
        hours: dict = {}
        while time.monotonic() - fleet_started < 150:
            hours = local.request(
                "GET", f"/devices/{meters[0]['device_id']}/energy", token, params={"period": "hour", "start": "-48h"}
            ).json()
            if hours["count"] >= 46:
                break
            time.sleep(3)
        assert hours["count"] >= 46, hours  # the last 48 hours, hour by hour (a forecast's input)
        days = local.request(
            "GET", f"/devices/{meters[0]['device_id']}/energy", token, params={"period": "day", "start": "-3d"}
        ).json()
        assert days["count"] >= 3 and days["total_kwh"] > 0
        # The local stack runs the forecast schedule once the meters' newest 48 hours are in
        # (infrastructure.local.__main__._forecasts_soon): a prediction within a minute of the fleet.
        prediction = None
        while time.monotonic() - fleet_started < 60:
            answer = local.request("GET", f"/devices/{meters[0]['device_id']}/prediction", token)
            if answer.status_code == 200:
                prediction = answer.json()
                break
            time.sleep(2)
        assert prediction is not None, "no prediction within 60 s of the fleet starting"
        alerts = local.request("GET", "/alerts", token, params={"status": "open"}).json()["items"]
        assert [a for a in alerts if a["alert_type"] == "offline"] == []
        devices = local.request("GET", "/devices", token).json()["items"]
        assert devices and all(d["online"] for d in devices)
    finally:
        local.stop()
    assert live_after < 60

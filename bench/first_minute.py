"""The local stack's first minute: from `python -m infrastructure.local` (what
`make run` runs) with the default fleet to the first meter's and to every
meter's `GET /devices/{id}/prediction` 200, through the API as a user would
poll it. Two rows in the same run: the stack as it is (each device's newest
52 hours first, the rest of its history held until every device's are
stored: docs/local-stack.md) and the baseline without that hold
(`GRIDPULSE_FLEET_HISTORY_HOLD_S=0`). Takes a few minutes; `--only firstminute`.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from bench.table import render
from infrastructure.stack_process import LocalStackProcess

ADMIN = ("firstminute@gridpulse.example.com", "first-minute-password-1")
METERS = 2 * 3 * 4 + 1  # the default fleet's room meters and its household meter
LIMIT_S = 240.0  # a row gives up (">") after this long


def _call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def _measure(**env: str) -> dict[str, float | None]:
    """Seconds from the process start to: Ready, the meters listed, the first
    prediction, every meter's prediction (None: not within LIMIT_S)."""
    started = time.monotonic()
    stack = LocalStackProcess(ADMIN, GRIDPULSE_FLEET="2x3x4", GRIDPULSE_QUIET="1", **env)
    marks: dict[str, float | None] = {"ready": None, "meters": None, "first": None, "all": None}
    forecast: set[str] = set()
    try:
        stack.wait_ready()
        marks["ready"] = time.monotonic() - started
        status, answer = _call(stack.base, "POST", "/auth/login", body={"email": ADMIN[0], "password": ADMIN[1]})
        token = answer["token"]
        while time.monotonic() - started < LIMIT_S:
            status, page = _call(stack.base, "GET", "/devices?device_type=meter&limit=100", token)
            meters = [d["device_id"] for d in (page or {}).get("items", [])] if status == 200 else []
            if len(meters) >= METERS and marks["meters"] is None:
                marks["meters"] = time.monotonic() - started
            for device_id in meters:
                if (
                    device_id not in forecast
                    and _call(stack.base, "GET", f"/devices/{device_id}/prediction", token)[0] == 200
                ):
                    forecast.add(device_id)
                    if marks["first"] is None:
                        marks["first"] = time.monotonic() - started
            if len(meters) >= METERS and forecast >= set(meters):
                marks["all"] = time.monotonic() - started
                break
            time.sleep(1.0)
    finally:
        stack.stop()
    marks["forecast"] = float(len(forecast))
    marks["load"] = os.getloadavg()[0]
    return marks


def run() -> int:
    print(
        f"First minute: `python -m infrastructure.local` with the default fleet ({METERS} meters, 21 days of history) "
        "to GET /devices/{id}/prediction 200, polled through the API each second"
    )
    started = time.perf_counter()
    rows = []
    for label, env in (
        ("newest 52 h first, the rest held (as run)", {}),
        ("baseline: no hold (GRIDPULSE_FLEET_HISTORY_HOLD_S=0)", {"GRIDPULSE_FLEET_HISTORY_HOLD_S": "0"}),
    ):
        marks = _measure(**env)

        def s(name: str) -> str:
            return f"{marks[name]:.1f} s" if marks[name] is not None else f"> {LIMIT_S:.0f} s"

        rows.append(
            [label, s("ready"), s("meters"), s("first"), s("all"), f"{marks['forecast']:.0f}", f"{marks['load']:.1f}"]
        )
    print(
        render(
            ["fleet history", "stack ready", "meters listed", "first prediction", "every meter's", "forecast", "load"],
            rows,
            right={1, 2, 3, 4, 5, 6},
        )
    )
    print("  From process start; `load`: the 1-minute load average at the row's end (2 cores; figures grow with it).")
    print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0

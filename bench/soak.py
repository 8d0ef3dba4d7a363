"""Memory of the local stack under a fleet: RSS per 10,000 readings (`make soak`).

What is measured. The local stack (`python -m infrastructure.local`, what
`make run` runs) is started on free ports without its own fleet; this process
then runs the default fleet (2 hotels x 3 floors x 4 rooms, 4 street lights, a
prepaid meter: 29 devices, a reading every 30 s each) against it with the
simulator, replaying the recent past `speed` times faster than real time
(infrastructure/simulator, `backfill_s` chosen so that the replay holds
`readings` readings), so a day of readings arrives in minutes. Every 10,000
readings published it prints the stack process's resident set size (RSS, from
/proc), the readings stored so far (the telemetry table's item count through
GET /telemetry/status), how far ingestion is behind (the newest stored
reading of a few devices against the fleet's clock, in wall seconds) and the
MB added per 10,000 readings. After the last reading it keeps sampling for `idle_s` seconds while
the fleet continues in real time, to show that memory levels off, then stops
the stack with SIGTERM and times its exit.

How to read it: `MB per 10k` is the slope (the first row also holds the
warm-up: every handler's first call, AWS clients, moto's service models); a
day of the default fleet is about 83,500 readings, so the RSS after a day is
about the warmed-up RSS plus 8.4 x the slope (the bound stated in
docs/local-stack.md). Ingestion may fall behind a fast replay; readings still
queued count in the RSS too. Readings older than
the telemetry TTL (RAW_RETENTION_DAYS, 90 days) are deleted by the stack's
TTL sweeper, so beyond 90 days the raw readings stop adding up; the rollups
(a few hundred bytes per device-day) remain, as in DynamoDB. The fleet runs
in this process, so its memory is not in the figures. Linux only (/proc).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from datetime import datetime

from bench.table import render
from infrastructure.stack_process import LocalStackProcess

ADMIN = ("soak@gridpulse.example.com", "soak-admin-password-1")
READINGS_PER_DEVICE_HOUR = 120  # one every 30 s
STEP = 10_000


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Stack(LocalStackProcess):
    """The local stack on free ports, quiet, with the soak's admin."""

    def __init__(self):
        super().__init__(ADMIN, GRIDPULSE_QUIET="1")

    def _get(self, path: str, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stored_items(self) -> int:
        return int(self._get("/telemetry/status").get("approximate_items") or 0)

    def token(self) -> str:
        request = urllib.request.Request(
            f"{self.base}/auth/login",
            method="POST",
            data=json.dumps({"email": ADMIN[0], "password": ADMIN[1]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["token"]

    def newest_reading(self, device_id: str, token: str) -> datetime | None:
        """The newest reading stored for a device (how far ingestion has got)."""
        try:
            latest = self._get(f"/devices/{device_id}/readings/latest", token)
        except urllib.error.HTTPError:
            return None
        stamp = latest.get("timestamp")
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None

    def rss(self) -> float:
        return rss_mb(self.process.pid)

    def stop_timed(self) -> float:
        """Seconds the stack took to exit after SIGTERM."""
        started = time.monotonic()
        super().stop(signal.SIGTERM, timeout=60)
        return time.monotonic() - started


def run(readings: int = 100_000, speed: float = 200.0, idle_s: float = 60.0) -> int:
    if not os.path.exists("/proc/self/status"):
        print("soak: needs Linux (/proc) to read the stack's memory; skipped")
        return 0
    from infrastructure.simulator import start_fleet

    devices = 2 * 3 * 4 + 4 + 1
    backfill_s = readings / (devices * READINGS_PER_DEVICE_HOUR) * 3600
    print(
        f"Soak: the default fleet ({devices} devices) replays {backfill_s / 3600:.1f} h at {speed:g}x "
        f"(~{readings:,} readings) against the local stack, then runs {idle_s:g} s in real time"
    )
    stack = Stack()
    fleet = None
    rows = []
    try:
        stack.wait_ready()
        base_rss = stack.rss()
        started = time.monotonic()
        fleet = start_fleet(
            stack.base, *ADMIN, speed=speed, backfill_s=backfill_s, progress_s=0, drain_s=2, log=lambda line: None
        )
        token = stack.token()
        sample = [d.spec.device_id for d in fleet.devices[::7]]

        def lag() -> str:
            """How far behind the fleet's clock the stored readings are (wall seconds at this speed)."""
            newest = [stack.newest_reading(device_id, token) for device_id in sample]
            if any(n is None for n in newest):
                return "-"
            behind = (fleet.clock.now() - min(newest)).total_seconds() / speed
            return f"{max(behind, 0):.0f}"

        previous = (0, base_rss)
        rows.append(["0", "0", f"{base_rss:.0f}", "", "-", "0"])
        next_mark = STEP
        caught_up_at = None
        while True:
            time.sleep(1)
            sent = fleet.stats().readings_sent
            if sent >= next_mark:
                rss, items, behind = stack.rss(), stack.stored_items(), lag()
                slope = (rss - previous[1]) / ((sent - previous[0]) / STEP)
                rows.append(
                    [
                        f"{sent:,}",
                        f"{items:,}",
                        f"{rss:.0f}",
                        f"{slope:+.1f}",
                        behind,
                        f"{time.monotonic() - started:.0f}",
                    ]
                )
                print(
                    f"  {sent:>9,} readings  {items:>8,} items stored  RSS {rss:7.0f} MB  {slope:+6.1f} MB per 10k"
                    f"  ingestion {behind} s behind",
                    flush=True,
                )
                previous = (sent, rss)
                next_mark = (sent // STEP + 1) * STEP
            if caught_up_at is None and fleet.clock.caught_up():
                caught_up_at = time.monotonic()
            if caught_up_at is not None and time.monotonic() - caught_up_at >= idle_s:
                break
            if stack.process.poll() is not None:
                raise RuntimeError("the local stack ended:\n" + "\n".join(stack.output[-30:]))
        sent, rss, items = fleet.stats().readings_sent, stack.rss(), stack.stored_items()
        rows.append(
            [
                f"{sent:,} (then {idle_s:g} s in real time)",
                f"{items:,}",
                f"{rss:.0f}",
                f"{rss - previous[1]:+.1f} MB in {idle_s:g} s",
                lag(),
                f"{time.monotonic() - started:.0f}",
            ]
        )
        warm = next((float(r[2]) for r in rows[1:2]), base_rss)  # RSS at the first 10,000 (imports, clients made)
        warm_at = int(rows[1][0].replace(",", "")) if len(rows) > 2 else 0
        per_10k = (previous[1] - warm) / max((previous[0] - warm_at) / STEP, 1e-9)
    finally:
        if fleet is not None:
            fleet.stop(drain_s=1)
        exit_s = stack.stop_timed()
    print()
    print(render(["readings published", "telemetry items", "RSS MB", "MB per 10k", "ingestion behind (s)", "s"], rows))
    day = devices * READINGS_PER_DEVICE_HOUR * 24
    print(
        f"\nRSS {base_rss:.0f} MB when ready, {warm:.0f} MB once warmed up (the first 10,000 readings: handlers' "
        f"first calls, AWS clients); then {per_10k:.1f} MB per 10,000 readings, so a day of the default fleet "
        f"({day:,} readings) adds about {per_10k * day / STEP:.0f} MB (RSS about "
        f"{warm + per_10k * day / STEP:.0f} MB after a day). Exit {exit_s:.1f} s after SIGTERM."
    )
    return 0

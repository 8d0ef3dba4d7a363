"""EventBridge schedules on the laptop: every function's `Schedule` events
from template.yaml run on their rate, with a scheduled-event payload, and
can be run at once with POST /_local/schedules/<FunctionLogicalId>."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import datetime, timezone

from infrastructure.cfn import Stack

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise ValueError(f"only rate(...) schedules run locally, not {expression!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


class Scheduler:
    def __init__(self, stack: Stack, functions: dict, log=None):
        self.stack, self.functions, self.log = stack, functions, log
        self.jobs: dict[str, int] = {}
        for logical, res in stack.functions().items():
            for event in (res["Properties"].get("Events") or {}).values():
                if event.get("Type") == "Schedule":
                    self.jobs[logical] = rate_seconds(event["Properties"]["Schedule"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)

    def run(self, logical: str) -> dict:
        """Invoke a scheduled function now, as EventBridge would."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.stack.account,
            "time": datetime.now(timezone.utc).isoformat(),
            "region": self.stack.region,
            "resources": [],
            "detail": {},
        }
        return self.functions[logical].invoke(event, self.stack.region, self.stack.account)

    def _loop(self) -> None:
        due = {logical: time.monotonic() + every for logical, every in self.jobs.items()}
        while not self._stop.wait(1.0):
            for logical, when in due.items():
                if time.monotonic() >= when:
                    due[logical] = time.monotonic() + self.jobs[logical]
                    try:
                        result = self.run(logical)
                        if self.log:
                            self.log(f"schedule {logical}: {result}")
                    except Exception as exc:  # a failing job is reported, the scheduler goes on
                        if self.log:
                            self.log(f"schedule {logical} failed: {type(exc).__name__}: {exc}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

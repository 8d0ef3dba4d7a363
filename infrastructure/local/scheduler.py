"""EventBridge schedules on the laptop: every function's `Schedule` events
from template.yaml run on their rate, with a scheduled-event payload, and
can be run at once with POST /_local/schedules/<FunctionLogicalId>.
`run_logged` and `wait` let the local stack run one early, with a `detail`
of its own (its first forecasts: infrastructure/local/__main__.py). A timed
run that raises is handed to `on_failure(function, event JSON, reason)` (the
local stack: EventSources.invocation_failed, which keeps it in the function's
DeadLetterQueue, as Lambda does after its retries); a run asked for with
POST is answered with its error instead."""

from __future__ import annotations

import json
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
    def __init__(self, stack: Stack, functions: dict, log=None, on_failure=None):
        self.stack, self.functions, self.log, self.on_failure = stack, functions, log, on_failure
        self.jobs: dict[str, int] = {}
        for logical, res in stack.functions().items():
            for event in (res["Properties"].get("Events") or {}).values():
                if event.get("Type") == "Schedule":
                    self.jobs[logical] = rate_seconds(event["Properties"]["Schedule"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)

    def run(self, logical: str, detail: dict | None = None) -> dict:
        """Invoke a scheduled function now, as EventBridge would (`detail`: a
        rule's constant input in the event's detail; {} by default)."""
        return self.functions[logical].invoke(self.event(detail), self.stack.region, self.stack.account)

    def event(self, detail: dict | None = None) -> dict:
        """A scheduled event, as EventBridge sends it."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.stack.account,
            "time": datetime.now(timezone.utc).isoformat(),
            "region": self.stack.region,
            "resources": [],
            "detail": dict(detail or {}),
        }

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds`; True (at once) if the scheduler is stopping."""
        return self._stop.wait(seconds)

    def run_logged(self, logical: str, detail: dict | None = None) -> dict | None:
        """`run`, its result logged; a failure is logged and dead-lettered
        (`on_failure`), not raised (None)."""
        event = self.event(detail)
        try:
            result = self.functions[logical].invoke(event, self.stack.region, self.stack.account)
            if self.log:
                self.log(f"schedule {logical}: {result}")
            return result
        except Exception as exc:  # a failing job is reported (and dead-lettered), the scheduler goes on
            if self.log:
                self.log(f"schedule {logical} failed: {type(exc).__name__}: {exc}")
            if self.on_failure is not None:
                self.on_failure(logical, json.dumps(event), f"{logical} raised {type(exc).__name__}: {exc}")
            return None

    def _loop(self) -> None:
        due = {logical: time.monotonic() + every for logical, every in self.jobs.items()}
        while not self._stop.wait(1.0):
            for logical, when in due.items():
                if time.monotonic() >= when:
                    due[logical] = time.monotonic() + self.jobs[logical]
                    self.run_logged(logical)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

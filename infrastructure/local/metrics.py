"""The local stack's CloudWatch metrics: what the functions' EMF documents say.

The functions run in the local stack's process; every EMF document their
`@metrics.log_metrics` writes at the end of an invocation (the JSON line
Lambda would print for CloudWatch, gridpulse.observability) is also handed to
`LocalMetrics.record` (gridpulse.observability.metric_sink). The stack prints
nothing of it (POWERTOOLS_METRICS_DISABLED stays true locally) and serves:

* GET /_local/metrics: per metric and dimension set, the total since the
  stack started and the sum over the last minute; for milliseconds metrics
  (IngestionLag) the number of values since the start and in the last minute,
  and their p50/p95/max over the last minute;
* a one-line health summary, printed once a minute by `make run`
  (GRIDPULSE_HEALTH_EVERY_S): readings stored, rejected and duplicate, lag
  p50/p95, alerts raised, light commands, function errors (invocations that
  raised, what AWS/Lambda Errors counts) and messages in dead-letter queues.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Callable

WINDOW_S = 60.0


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (what CloudWatch's pNN approximates)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


class LocalMetrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S):
        self._clock = clock
        self.window_s = window_s
        self.started_at = datetime.now(timezone.utc)
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, tuple], float] = {}
        self._units: dict[str, str] = {}
        self._recent: deque[tuple[float, str, tuple, list[float]]] = deque()
        self._errors: deque[tuple[float, str]] = deque()
        self.errors_total = 0

    # ------------------------------------------------------------ input

    def record(self, document: dict) -> None:
        """One EMF document (gridpulse.observability): every metric of every
        dimension set it declares."""
        now = self._clock()
        directives = (document.get("_aws") or {}).get("CloudWatchMetrics") or []
        with self._lock:
            for directive in directives:
                for dimension_set in directive.get("Dimensions") or [[]]:
                    dims = tuple(sorted((name, str(document.get(name))) for name in dimension_set))
                    for metric in directive.get("Metrics") or []:
                        name = metric["Name"]
                        raw = document.get(name)
                        values = [float(v) for v in (raw if isinstance(raw, list) else [raw]) if v is not None]
                        self._units[name] = metric.get("Unit", "None")
                        key = (name, dims)
                        # Counts add up; for a milliseconds metric the total is how many values came.
                        added = len(values) if self._units[name] == "Milliseconds" else sum(values)
                        self._totals[key] = self._totals.get(key, 0.0) + added
                        self._recent.append((now, name, dims, values))
            self._trim(now)

    def function_error(self, function: str) -> None:
        """An invocation of `function` raised (Lambda's Errors metric)."""
        now = self._clock()
        with self._lock:
            self.errors_total += 1
            self._errors.append((now, function))
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        while self._errors and self._errors[0][0] < now - self.window_s:
            self._errors.popleft()

    # ------------------------------------------------------------ output

    def snapshot(self) -> dict:
        """GET /_local/metrics."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            minute: dict[tuple[str, tuple], list[float]] = {}
            for _, name, dims, values in self._recent:
                minute.setdefault((name, dims), []).extend(values)
            rows = []
            for (name, dims), total in sorted(self._totals.items()):
                values = minute.get((name, dims), [])
                unit = self._units.get(name, "None")
                row = {
                    "name": name,
                    "dimensions": dict(dims),
                    "unit": unit,
                    "total": _number(total),
                    "last_minute": _number(sum(values)),
                }
                if unit == "Milliseconds":
                    row.update(
                        total_values=row.pop("total"),
                        last_minute=len(values),
                        last_minute_p50=_number(_percentile(values, 50)),
                        last_minute_p95=_number(_percentile(values, 95)),
                        last_minute_max=_number(max(values) if values else None),
                    )
                rows.append(row)
            errors = [function for _, function in self._errors]
        return {
            "since": self.started_at.isoformat().replace("+00:00", "Z"),
            "window_s": self.window_s,
            "metrics": rows,
            "function_errors": {"total": self.errors_total, "last_minute": len(errors)},
        }

    def last_minute(self, name: str) -> float:
        """Sum over the last minute of `name` under `service` alone (the total)."""
        return sum(sum(values) for _, metric, dims, values in list(self._recent) if metric == name and len(dims) <= 1)

    def health_line(self, dead_letters: int | None = None) -> str:
        """The per-minute summary `make run` prints."""
        now = self._clock()
        with self._lock:
            self._trim(now)
            lag = [v for _, name, dims, values in self._recent if name == "IngestionLag" for v in values]
            errors = len(self._errors)

            def n(name: str) -> str:
                return f"{self.last_minute(name):g}"

            p50, p95 = _percentile(lag, 50), _percentile(lag, 95)
            lag_text = f"lag p50 {p50 / 1000:.1f} s p95 {p95 / 1000:.1f} s" if lag else "lag -"
            line = (
                f"health (last minute): readings {n('ReadingsIngested')} stored, {n('ReadingsRejected')} rejected, "
                f"{n('ReadingsDuplicate')} duplicate; {lag_text}; alerts {n('AlertsRaised')}; "
                f"light commands {n('CommandsSent')} sent, {n('CommandsConfirmed')} confirmed; "
                f"function errors {errors}"
            )
        if dead_letters is not None:
            line += f"; dead letters {dead_letters}"
        return line


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 3)


def dead_letter_count(stack, session) -> int | None:
    """Messages waiting in the template's dead-letter queues (every queue another
    queue redrives to, and the IoT rules' error queue); None when moto cannot say."""
    names = set()
    for res in stack.resources("AWS::SQS::Queue").values():
        policy = (res.get("Properties") or {}).get("RedrivePolicy")
        if policy:
            names.add(policy["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for rule in stack.resources("AWS::IoT::TopicRule").values():
        error = (rule["Properties"]["TopicRulePayload"].get("ErrorAction") or {}).get("Sqs")
        if error:
            names.add(error["QueueUrl"]["Ref"])
    try:
        sqs = session.client("sqs")
        total = 0
        for logical in names:
            url = stack.physical.get(logical)
            if url:
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                    "Attributes"
                ]
                total += int(attributes.get("ApproximateNumberOfMessages", 0))
        return total
    except Exception:
        return None

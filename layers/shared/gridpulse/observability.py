"""One Logger, Tracer and Metrics for the whole code base.

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE (set in template.yaml Globals).

`tracer.capture_lambda_handler` is the Powertools Tracer's wherever tracing is
on, i.e. in Lambda unless POWERTOOLS_TRACE_DISABLED is true: the Tracer (and
with it the X-Ray SDK, which patches botocore) is created on the first
invocation rather than at import, so it is not part of the import a cold start
waits for; the first invocation pays for it instead (`python -m bench --only
imports` prints how much). Where tracing is off (the local stack, the tests,
SAM local) the X-Ray SDK is never imported and the handler is left as it is.
Lambda's own active tracing (`Tracing: Active`) records each invocation either
way; the Tracer adds the subsegments (AWS calls) and the ColdStart and Service
annotations.

Metrics: `count(name, n, **dimension)` and `milliseconds(name, value)` add to
this invocation's figures (per thread: the local stack runs functions in
threads of one process); `@metrics.log_metrics` writes them at the end of the
invocation as CloudWatch embedded metric format (EMF) lines, in the namespace
POWERTOOLS_METRICS_NAMESPACE (`GridPulse`) with the dimension `service`. A
count given one low-cardinality dimension (`reason=...`, `kind=...`) is
written twice: the total under `service` alone (what the dashboard and the
alarms read) and the count under `service` and that dimension (one EMF line
per value). Device, user or any other ids are never dimensions. `metric_sink`
also receives each EMF document (the local stack's GET /_local/metrics).
`BUSINESS_METRICS` are the metrics of issue #16 item 1: each is emitted by the
code and shown on the template's dashboard (tests/deploy/test_operations.py).

X-Ray: `annotate(key, value)` annotates the invocation's trace (route, device
type, function group) where the Tracer traces, and does nothing elsewhere.

Event-driven functions (every function not behind API Gateway: SQS consumers,
schedules, IoT rule targets) wrap their handler in `event_handler(group)`: the
logger's Lambda context, the Tracer and the metrics as an API function gets
them (gridpulse/api.py `lambda_handler`), the `function_group` annotation, the
`device_type` annotation of the device types the invocation noted
(`note_device_type`), and the log's correlation id of what triggered it
(`trigger_id`). An SQS consumer sets each record's message id while it handles
that record (`correlate`, `each_record`, gridpulse/batch.py `process_groups`).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from gridpulse import gc_pause

__all__ = [
    "logger",
    "tracer",
    "metrics",
    "MetricUnit",
    "count",
    "milliseconds",
    "annotate",
    "pending",
    "tracing_enabled",
    "event_handler",
    "trigger_id",
    "correlate",
    "each_record",
    "note_device_type",
    "BUSINESS_METRICS",
]

# Issue #16 item 1, by the names the code emits (and the dashboard shows).
BUSINESS_METRICS = (
    "ReadingsIngested",
    "ReadingsRejected",  # and by `reason`
    "ReadingsDuplicate",
    "IngestionLag",  # milliseconds, the broker's receive time to stored, one value per MQTT message
    "AlertsRaised",  # and by `alert_type`
    "CommandsSent",  # light commands, and by `origin` (api, schedule)
    "CommandsConfirmed",  # the lamp reported the commanded state
    "CommandsFailed",  # the lamp reported another state or an error
    "BillingApplied",  # prepaid meter operations (top-ups, relay, ...), and by `operation`
    "BillingPending",
    "BillingGaveUp",
    "ForecastsMade",  # and by `trigger` (schedule, on_demand)
    "TuyaErrors",  # failed Tuya Cloud calls, and by `kind` (unavailable, rejected, auth)
)

MAX_VALUES = 100  # values of one metric in one EMF document (CloudWatch's limit)


class _Invocation(threading.local):
    """What this thread's invocation recorded so far."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], float] = {}  # (name, dimension, value) -> sum; ("", "") the total
        self.values: dict[str, list[float]] = {}  # milliseconds metrics: every value


_current = _Invocation()
metric_sink: Callable[[dict], None] | None = None  # also gets every EMF document written (the local stack)


class _Provider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, flushing this thread's figures (see the module docstring)."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        sink, quiet = metric_sink, is_metrics_disabled()
        documents = self.documents() if sink is not None or not quiet else []
        _current.__init__()
        for document in documents:
            if sink is not None:
                sink(document)
            if not quiet:
                print(json.dumps(document, separators=(",", ":")))

    def documents(self) -> list[dict]:
        """This invocation's figures as EMF documents: the totals and the
        milliseconds values under `service` (more documents when a metric has
        more than MAX_VALUES values), then one document per dimension value."""
        service = {"service": str(self.service or "gridpulse")}
        grouped: dict[tuple[str, str], dict[str, dict]] = {}
        for (name, dim, value), total in _current.counts.items():
            grouped.setdefault((dim, value), {})[name] = {"Unit": "Count", "StorageResolution": 60, "Value": [total]}
        first = grouped.pop(("", ""), {})
        more: list[dict] = []
        for name, values in _current.values.items():
            parts = [values[i : i + MAX_VALUES] for i in range(0, len(values), MAX_VALUES)]
            first[name] = {"Unit": "Milliseconds", "StorageResolution": 60, "Value": parts[0]}
            more += [{name: {"Unit": "Milliseconds", "StorageResolution": 60, "Value": part}} for part in parts[1:]]
        documents = [self._document(m, service) for m in ([first] if first else []) + more]
        for (dim, value), by_name in sorted(grouped.items()):
            documents.append(self._document(by_name, {**service, dim: value}))
        return documents

    def clear_metrics(self) -> None:
        super().clear_metrics()
        _current.__init__()

    def _document(self, by_name: dict, dimensions: dict) -> dict:
        return self.serialize_metric_set(metrics=by_name, dimensions=dimensions, metadata={})


logger = Logger()
metrics = Metrics(provider=_Provider())


def tracing_enabled() -> bool:
    """Whether the Powertools Tracer traces here (its own rule): in Lambda
    (LAMBDA_TASK_ROOT set), not under SAM local or Chalice, and
    POWERTOOLS_TRACE_DISABLED not true."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in ("1", "y", "yes", "t", "true", "on"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not (
        os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE")
    )


class _Tracer:
    """The Powertools Tracer, created on first use."""

    def __init__(self) -> None:
        self._powertools = None

    def load(self):
        """The Powertools Tracer (importing the X-Ray SDK and patching botocore the first time)."""
        if self._powertools is None:
            from aws_lambda_powertools import Tracer

            self._powertools = Tracer()
        return self._powertools

    def capture_lambda_handler(
        self,
        lambda_handler: Callable | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        """Powertools' `capture_lambda_handler`, applied on the first invocation;
        with tracing off, the handler unchanged."""
        if lambda_handler is None:
            return functools.partial(
                self.capture_lambda_handler, capture_response=capture_response, capture_error=capture_error
            )
        # Wrapping the handler is the last thing a function module does at import: in Lambda, garbage
        # collection paused while it loaded (gridpulse/gc_pause.py) is back on from here.
        gc_pause.resume()
        if not tracing_enabled():
            return lambda_handler
        traced: Callable | None = None

        @functools.wraps(lambda_handler)
        def handler(event, context, **kwargs):
            nonlocal traced
            if traced is None:
                traced = self.load().capture_lambda_handler(
                    lambda_handler, capture_response=capture_response, capture_error=capture_error
                )
            return traced(event, context, **kwargs)

        return handler


tracer = _Tracer()


def count(name: str, value: float = 1, **dimension: str) -> None:
    """Add `value` to a count of this invocation (readings ingested, logins
    failed, ...); with one dimension (`reason="out_of_range"`), to its total and
    to the count of that dimension value. Zero is recorded too (a batch that
    stored nothing shows as 0, not as missing data)."""
    if len(dimension) > 1:
        raise ValueError("a count takes at most one dimension")
    counts = _current.counts
    key = (name, "", "")
    counts[key] = counts.get(key, 0) + value
    for dim, dim_value in dimension.items():
        key = (name, dim, str(dim_value))
        counts[key] = counts.get(key, 0) + value


def milliseconds(name: str, value: float) -> None:
    """Record one duration (IngestionLag) of this invocation; every value is kept
    (CloudWatch computes p50/p95 from them)."""
    _current.values.setdefault(name, []).append(float(value))


def pending() -> dict[str, float]:
    """This invocation's counts so far, by name (totals; what the next flush writes)."""
    return {name: total for (name, dim, _), total in _current.counts.items() if not dim}


def annotate(key: str, value: str | int | float | bool) -> None:
    """Annotate this invocation's X-Ray trace (searchable: `annotation.device_type = "meter"`),
    where the Tracer traces; elsewhere nothing happens (no X-Ray SDK import)."""
    if value is None or value == "" or not tracing_enabled():
        return
    try:
        tracer.load().put_annotation(key=key, value=value)
    except Exception:  # an annotation never fails a request
        logger.debug("annotation not recorded", extra={"key": key})


# ------------------------------------------------------------------ event-driven functions


class _Event(threading.local):
    """What this thread's event invocation noted for its trace."""

    def __init__(self) -> None:
        self.device_types: set[str] | None = None  # None: not inside `event_handler`


_event = _Event()


def trigger_id(event: Any) -> str | None:
    """The id of what triggered an event-driven invocation, for the log's correlation id:
    the EventBridge event's `id` (schedules), the SQS message id of a batch of one
    record (a larger batch has none until a record is handled: `correlate`), the IoT
    rule's `message_id` where its output carries one; else None."""
    if not isinstance(event, dict):
        return None
    records = event.get("Records")
    if isinstance(records, list):
        if len(records) == 1 and isinstance(records[0], dict):
            return _text(records[0].get("messageId"))
        return None
    if "detail-type" in event or event.get("source") == "aws.events":
        return _text(event.get("id"))
    return _text(event.get("message_id"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def correlate(message_id: str | None) -> None:
    """The log's correlation id from now on: the SQS message id of the record being handled."""
    logger.set_correlation_id(message_id or None)


def each_record(event: dict) -> Iterator[dict]:
    """The SQS records of `event`, each with its message id as the log's correlation id
    while it is handled (reset to the batch's own `trigger_id` afterwards)."""
    try:
        for record in event.get("Records") or []:
            correlate(_text(record.get("messageId")) if isinstance(record, dict) else None)
            yield record
    finally:
        correlate(trigger_id(event))


def note_device_type(device_type: str | None) -> None:
    """Note a device type this event invocation worked on; `event_handler` annotates the
    trace with them (`meter`; several sorted and joined with commas)."""
    if device_type and _event.device_types is not None:
        _event.device_types.add(str(device_type))


def event_handler(group: str) -> Callable[[Callable], Callable]:
    """Decorate the handler of an event-driven function (functions/<group>/app.py): the
    logger's Lambda context (state cleared), the Tracer, the metrics, the
    `function_group` annotation (`group`), the `device_type` annotation of the types
    noted while it ran, and the correlation id of its trigger (`trigger_id`)."""

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def annotated(event, context):
            annotate("function_group", group)
            correlate(trigger_id(event))
            _event.device_types = set()
            try:
                return handler(event, context)
            finally:
                types, _event.device_types = _event.device_types or set(), None
                annotate("device_type", ",".join(sorted(types)))

        traced = tracer.capture_lambda_handler(metrics.log_metrics(annotated), capture_response=False)
        return logger.inject_lambda_context(traced, clear_state=True)

    return decorate

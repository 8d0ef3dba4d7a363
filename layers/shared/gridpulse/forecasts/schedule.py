"""Forecasts for every meter on a schedule: fan-out and the worker.

* ForecastScheduleFunction (EventBridge, template.yaml's rate) runs
  `fan_out`: it pages the meters through the devices table's `by-type` index
  (Query `device_type = meter`, device ids only; no Scan) and sends one
  message per device to ForecastQueue, ten per SendMessageBatch request.
* ForecastWorkerFunction (ForecastQueue's event source) runs `handle_batch`:
  each record is one device, forecast and stored by
  gridpulse.forecasts.service.compute. One record's failure costs only
  itself (gridpulse.batch): a throttle or service error is reported in
  `batchItemFailures` and retried, then lands in ForecastDeadLetterQueue; a
  failure of the device's own (a model error, a message that cannot be
  read) is logged and counted (`ForecastsFailed`) and not retried. A device
  with under 48 hours of history, or deleted since it was queued, is skipped
  and counted (`ForecastsSkipped`), not a failure.

A run may be a quick one (the scheduled event's `detail`, carried in each
message): `baseline_only` serves seasonal-naive without fitting the model
(milliseconds a device instead of about a second), and `only_missing`
queues, and forecasts, only the meters that have no forecast yet (one Query
per meter, Limit 1). The local stack fills its fleet's first forecasts this
way within a minute of starting and lets a full run replace them once the
history is in (infrastructure/local/__main__.py). The deployed schedule
sends an empty `detail`: full runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from gridpulse.aws import client
from gridpulse.devices.data import DeviceItem
from gridpulse.dynamodb import get_or_none
from gridpulse.observability import count, logger

DEVICE_TYPES = ("meter",)
SEND_BATCH = 10  # SendMessageBatch's limit


def _queue_url() -> str:
    url = os.environ.get("FORECAST_QUEUE_URL", "")
    if not url:
        raise RuntimeError("FORECAST_QUEUE_URL is not set")
    return url


def devices_to_forecast() -> Iterator[str]:
    """Every meter's id, through the by-type index (one paginated Query per type)."""
    for device_type in DEVICE_TYPES:
        for item in DeviceItem.by_type.query(device_type, attributes_to_get=["device_id"]):
            yield item.device_id


def enqueue(device_ids: Iterator[str], scheduled_at: str, options: dict | None = None) -> int:
    """One message per device (with `options`), ten per request; the number of messages sent."""
    url, sent, entries = _queue_url(), 0, []

    def flush() -> None:
        out = client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
        if out.get("Failed"):
            raise RuntimeError(f"{len(out['Failed'])} forecast messages not queued: {out['Failed'][:3]}")

    for device_id in device_ids:
        body = json.dumps(
            {"device_id": device_id, "scheduled_at": scheduled_at, **(options or {})}, separators=(",", ":")
        )
        entries.append({"Id": str(len(entries)), "MessageBody": body})
        if len(entries) == SEND_BATCH:
            flush()
            sent, entries = sent + len(entries), []
    if entries:
        flush()
        sent += len(entries)
    return sent


def run_options(detail: dict | None) -> dict:
    """The quick-run options of a scheduled event's `detail` (module docstring); {} for a full run."""
    detail = detail if isinstance(detail, dict) else {}
    return {name: True for name in ("baseline_only", "only_missing") if detail.get(name) is True}


def fan_out(scheduled_at: str, options: dict | None = None) -> dict:
    """The scheduled run: every meter queued for a forecast (only those without
    one under `only_missing`)."""
    from gridpulse.forecasts.service import has_forecast

    options = run_options(options)
    devices = devices_to_forecast()
    if options.get("only_missing"):
        devices = (d for d in devices if not has_forecast(d))
    queued = enqueue(devices, scheduled_at, options)
    count("ForecastsQueued", queued)
    return {"queued": queued, **options}


def forecast_device(device_id: str, baseline_only: bool = False, only_missing: bool = False) -> str:
    """Forecast one device now: `stored` or `skipped` (deleted, too little
    history, or under `only_missing` a device that has a forecast already)."""
    from gridpulse.forecasts import service

    device = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta")
    if device is None or (only_missing and service.has_forecast(device_id)):
        return "skipped"
    try:
        service.compute(device, baseline_only=baseline_only, trigger="schedule")
    except service.InsufficientHistoryError:
        return "skipped"
    return "stored"


def handle_batch(event: dict) -> dict:
    """ForecastQueue batch: one device per record; see the module docstring."""
    from gridpulse.batch import process_groups

    outcome = {"stored": 0, "skipped": 0}

    def handle(_key, bodies: list[str]) -> None:
        for body in bodies:
            message = json.loads(body)
            device_id = message["device_id"]
            if not isinstance(device_id, str) or not device_id:
                raise ValueError("a forecast message without a device_id")
            outcome[forecast_device(device_id, **run_options(message))] += 1

    def give_up(_key, body: str, exc: Exception) -> None:
        count("ForecastsFailed")

    groups = [(r["messageId"], [(r["messageId"], r["body"])]) for r in event.get("Records", [])]
    failures = process_groups(groups, handle, give_up, "forecast")
    count("ForecastsSkipped", outcome["skipped"])
    logger.info("forecasts", extra={**outcome, "retried": len(failures)})
    return {"batchItemFailures": failures}

"""Alert evaluation of telemetry: the telemetry IoT rule's second action (and
POST /telemetry) -> AlertsQueue -> this function."""

from __future__ import annotations

from typing import Any

from gridpulse.alerts.pipeline import handle_sqs_batch
from gridpulse.observability import event_handler


@event_handler("alert_evaluator")
def handler(event: dict, context: Any) -> dict:
    return handle_sqs_batch(event)

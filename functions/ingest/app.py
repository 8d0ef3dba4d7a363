"""Telemetry from IoT Core: IoT rule -> SQS -> this function, in batches.

Returns partial batch failures so that SQS retries only what failed.
"""

from __future__ import annotations

from typing import Any

from gridpulse.observability import event_handler
from gridpulse.telemetry.pipeline import handle_sqs_batch


@event_handler("ingest")
def handler(event: dict, context: Any) -> dict:
    return handle_sqs_batch(event)

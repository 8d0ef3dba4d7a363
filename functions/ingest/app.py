"""Telemetry from IoT Core: IoT rule -> SQS -> this function, in batches.

Returns partial batch failures so that SQS retries only what failed.
"""

from __future__ import annotations

from typing import Any

from gridpulse.observability import logger, metrics, tracer
from gridpulse.telemetry.pipeline import handle_sqs_batch


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    return handle_sqs_batch(event)

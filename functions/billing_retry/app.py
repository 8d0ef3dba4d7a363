"""Retries of pending billing operations (BillingRetryQueue): applies a top-up
Tuya could not be reached for, once, checking the meter before sending again."""

from __future__ import annotations

from typing import Any

from gridpulse.billing.service import handle_retries
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    return handle_retries(event)

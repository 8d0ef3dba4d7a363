"""Retries of pending billing operations (BillingRetryQueue): applies a top-up
Tuya could not be reached for, once, checking the meter before sending again."""

from __future__ import annotations

from typing import Any

from gridpulse.billing.service import handle_retries
from gridpulse.observability import event_handler


@event_handler("billing_retry")
def handler(event: dict, context: Any) -> dict:
    return handle_retries(event)

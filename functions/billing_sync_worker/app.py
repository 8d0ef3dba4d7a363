"""BillingSyncQueue consumer: syncs a batch of Tuya prepaid meters per message
(gridpulse.billing.sync.handle_batch); one bad message or meter costs only itself."""

from __future__ import annotations

from typing import Any

from gridpulse.billing.sync import handle_batch
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    return handle_batch(event)

"""Every five minutes: raise `offline` for devices silent too long."""

from __future__ import annotations

from typing import Any

from gridpulse.alerts.service import check_offline
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    result = check_offline()
    logger.info("offline check", extra=result)
    return result

"""Every five minutes: lights in automatic mode follow civil dusk and dawn (gridpulse.lights.schedule)."""

from __future__ import annotations

from typing import Any

from gridpulse.lights.schedule import run
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    result = run()
    logger.info("light schedule", extra=result)
    return result

"""ForecastQueue consumer: forecasts and stores one device per record
(gridpulse.forecasts.schedule.handle_batch); one failing device costs only itself."""

from __future__ import annotations

from typing import Any

from gridpulse.forecasts.schedule import handle_batch
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    return handle_batch(event)

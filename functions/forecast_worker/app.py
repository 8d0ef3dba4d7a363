"""ForecastQueue consumer: forecasts and stores one device per record
(gridpulse.forecasts.schedule.handle_batch); one failing device costs only itself."""

from __future__ import annotations

from typing import Any

from gridpulse.forecasts.schedule import handle_batch
from gridpulse.observability import event_handler


@event_handler("forecast_worker")
def handler(event: dict, context: Any) -> dict:
    return handle_batch(event)

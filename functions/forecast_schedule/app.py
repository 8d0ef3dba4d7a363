"""On a schedule: every meter queued for a day-ahead forecast (gridpulse.forecasts.schedule.fan_out);
the event's `detail` may ask for a quick run (baseline_only, only_missing)."""

from __future__ import annotations

from typing import Any

from gridpulse.forecasts.schedule import fan_out
from gridpulse.observability import event_handler, logger


@event_handler("forecast_schedule")
def handler(event: dict, context: Any) -> dict:
    result = fan_out(str(event.get("time") or ""), event.get("detail"))
    logger.info("forecasts queued", extra=result)
    return result

"""Every five minutes: lights in automatic mode follow civil dusk and dawn (gridpulse.lights.schedule)."""

from __future__ import annotations

from typing import Any

from gridpulse.lights.schedule import run
from gridpulse.observability import event_handler, logger


@event_handler("light_schedule")
def handler(event: dict, context: Any) -> dict:
    result = run()
    logger.info("light schedule", extra=result)
    return result

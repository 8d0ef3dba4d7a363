"""Every five minutes: raise `offline` for devices silent too long."""

from __future__ import annotations

from typing import Any

from gridpulse.alerts.service import check_offline
from gridpulse.observability import event_handler, logger


@event_handler("offline_check")
def handler(event: dict, context: Any) -> dict:
    result = check_offline()
    logger.info("offline check", extra=result)
    return result

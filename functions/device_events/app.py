"""IoT Core lifecycle events (online/offline) and light status messages."""

from __future__ import annotations

from typing import Any

from gridpulse.devices import presence
from gridpulse.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict, context: Any) -> dict:
    return presence.handle_device_event(event)

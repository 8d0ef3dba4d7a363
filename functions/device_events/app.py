"""IoT Core lifecycle events (online/offline) and light status messages."""

from __future__ import annotations

from typing import Any

from gridpulse.devices import presence
from gridpulse.observability import event_handler


@event_handler("device_events")
def handler(event: dict, context: Any) -> dict:
    return presence.handle_device_event(event)

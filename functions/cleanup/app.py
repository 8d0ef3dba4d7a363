"""Background removal of a deleted device's data (queue fed by device deletes)."""

from __future__ import annotations

from typing import Any

from gridpulse.devices.cleanup import handle_sqs_batch
from gridpulse.observability import event_handler


@event_handler("cleanup")
def handler(event: dict, context: Any) -> dict:
    return handle_sqs_batch(event)

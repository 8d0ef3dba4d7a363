"""BillingSyncQueue consumer: syncs a batch of Tuya prepaid meters per message
(gridpulse.billing.sync.handle_batch); one bad message or meter costs only itself."""

from __future__ import annotations

from typing import Any

from gridpulse.billing.sync import handle_batch
from gridpulse.observability import event_handler


@event_handler("billing_sync_worker")
def handler(event: dict, context: Any) -> dict:
    return handle_batch(event)

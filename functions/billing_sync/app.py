"""Sync of the Tuya project's prepaid meters: every 15 minutes (EventBridge)
it lists the project and queues the meters in batches for
BillingSyncWorkerFunction; `POST /devices/refresh` (admin) syncs now
(gridpulse.billing.sync)."""

from __future__ import annotations

from typing import Any

from gridpulse.accounts.roles import Role
from gridpulse.api import ADMIN, create_app, current_caller, lambda_handler
from gridpulse.billing import sync
from gridpulse.billing.summary_schemas import RefreshOut
from gridpulse.observability import event_handler, logger

app = create_app()


@app.post(
    "/devices/refresh",
    tags=["billing"],
    summary="Import and sync the Tuya project's prepaid meters now (admin)",
    security=ADMIN,
    responses={
        200: {"description": "Synced", "content": {"application/json": {"model": RefreshOut}}},
        502: {"description": "Tuya Cloud unreachable (connection_error) or refusing (billing_error)"},
    },
)
def refresh() -> RefreshOut:
    current_caller(app, Role.admin)
    return sync.refresh()


_api = lambda_handler(app, group="billing_sync")


@event_handler("billing_sync")
def _scheduled(event: dict, context: Any) -> dict:
    result = sync.fan_out()
    logger.info("billing sync queued", extra=result)
    return result


def handler(event: dict, context: Any) -> dict:
    if event.get("source") == "aws.events":
        return _scheduled(event, context)
    return _api(event, context)

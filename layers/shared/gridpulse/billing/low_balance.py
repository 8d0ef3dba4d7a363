"""The `low_balance` threshold of a prepaid meter, and resolving the alert
after a top-up (gridpulse.billing.service calls `after_top_up`; the sync,
gridpulse.billing.sync, raises and resolves it on every read).

Credit is compared in the meter's own unit: kWh for energy meters, money
otherwise; the threshold is the books' `low_balance_threshold`, else
BILLING_LOW_BALANCE_THRESHOLD (10). Imports neither the registry nor the
alerts service (the registry imports the billing service).
"""

from __future__ import annotations

import os
from decimal import Decimal

from gridpulse.billing import data
from gridpulse.observability import logger

LOW_BALANCE_ALERT = "low_balance"


def default_threshold() -> Decimal:
    return Decimal(os.environ.get("BILLING_LOW_BALANCE_THRESHOLD", "10"))


def threshold_of(books: dict) -> Decimal:
    value = books.get("low_balance_threshold")
    return Decimal(str(value)) if value is not None else default_threshold()


def credit_of(books: dict) -> Decimal | None:
    """The credit the threshold is compared with: kWh for energy meters, money otherwise."""
    if books.get("kind") == "energy":
        return books.get("energy_balance")
    return books.get("money_balance")


def after_top_up(device_id: str) -> None:
    """Resolve a `low_balance` alert that a top-up just cleared (the books as they are now);
    a failure here is logged, never the top-up's."""
    try:
        books = data.get(data.meter_pk(device_id), data.BOOKS, consistent=True) or {}
        credit = credit_of(books)
        if credit is not None and credit >= threshold_of(books):
            from gridpulse.alerts.resolution import resolve_type

            resolve_type(device_id, LOW_BALANCE_ALERT, by="top-up")
    except Exception:
        logger.exception("low_balance not settled after a top-up", extra={"device_id": device_id})

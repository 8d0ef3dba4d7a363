"""The billing shapes that other groups' routes answer with: the prepaid summary of
GET /devices/{device_id} (functions/devices) and what POST /devices/refresh did
(functions/billing_sync). Apart from gridpulse.billing.schemas (which re-exports
them) so that those functions do not build every billing model at a cold start."""

from __future__ import annotations

from pydantic import Field

from gridpulse.schemas import Output


class PrepaidSummaryOut(Output):
    """What GET /devices/{device_id} adds for a prepaid meter (from the last read, no Tuya call)."""

    balance: str | None = None
    energy_balance: str | None = None
    total_consumption: str | None = None
    total_energy_purchased: str | None = None
    credit_status: str
    currency: str | None = None
    unit_price: str | None = None
    prepayment_enabled: bool | None = Field(None, description="the meter's prepayment mode as last read")
    low_balance_threshold: str | None = Field(None, description="credit under this raises low_balance")
    as_of: str | None = None


class RefreshOut(Output):
    """POST /devices/refresh: what a sync of the Tuya project did (gridpulse.billing.sync)."""

    message: str
    total: int = Field(description="meters the Tuya project lists")
    new: int = Field(description="meters imported as devices by this refresh")
    updated: int = Field(description="known meters whose name or online state changed")

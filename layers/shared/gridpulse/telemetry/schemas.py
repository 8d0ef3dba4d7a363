"""Response bodies of the telemetry endpoint group (request bodies are
checked reading by reading in gridpulse.telemetry.readings, so that one bad
reading in a batch is reported, not the whole batch refused)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from gridpulse.schemas import Output, Page


class ItemResult(Output):
    index: int
    status: str
    timestamp: str | None = None
    reason: str | None = None
    field: str | None = None
    message: str | None = None


class IngestOut(Output):
    device_id: str
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemResult]


class ReadingOut(Output):
    timestamp: str
    received_at: str
    kwh_value: float | None = None
    power_w: float | None = None
    voltage: float | None = None
    current: float | None = None
    temperature: float | None = None


class ReadingsPage(Page[ReadingOut]):
    start: str
    end: str


class AggregatePoint(Output):
    timestamp: str
    value: float
    count: int


class AggregateOut(Output):
    device_id: str
    field: str
    fn: str
    window: str
    tz: str
    items: list[AggregatePoint]
    count: int


class EnergyPoint(Output):
    period: str
    kwh: float


class EnergyOut(Output):
    """Every bucket (hour, day or month) that overlaps the requested range
    counts whole; `start` and `end` are the aligned bounds the answer covers."""

    device_id: str
    period: str
    tz: str
    start: Annotated[
        str,
        Field(
            description="Start of the first bucket that overlaps the requested range "
            "(the requested start aligned down to its hour, day or month)"
        ),
    ]
    end: Annotated[
        str,
        Field(
            description="End of the last bucket that overlaps the requested range "
            "(the requested end aligned up to an hour, day or month boundary)"
        ),
    ]
    total_kwh: float
    items: list[EnergyPoint]
    count: int


class DeletedReadingsOut(Output):
    device_id: str
    deleted: int
    start: str
    end: str


class RejectedPage(Page[dict[str, Any]]):
    pass


class RoomUsageOut(Output):
    room_id: str
    current_power_w: float
    current_kwh: float
    timestamp: str | None = None
    devices: list[dict[str, Any]]


class HotelUsageOut(Output):
    hotel_id: str
    timezone: str
    start: str
    end: str
    total_kwh: float
    sections: list[dict[str, Any]]


class UserTelemetryOut(Output):
    user_id: str
    items: list[dict[str, Any]]
    count: int
    next_token: str | None = None


class StorageStatusOut(Output):
    status: str


class OverviewSpan(Output):
    kwh: Annotated[Decimal, Field(description="kWh of the span until now (decimal string)")]
    previous_kwh: Annotated[Decimal, Field(description="kWh of the same span of the period before")]
    start: str
    end: str
    previous_start: str
    previous_end: str


class OverviewSite(Output):
    hotel_id: str | None = None
    name: str
    power_w: Decimal
    today_kwh: Decimal
    devices: int


class OverviewDevice(Output):
    device_id: str
    device_name: str | None = None
    device_type: str | None = None
    hotel_id: str | None = None
    online: bool
    power_w: Decimal
    last_seen: str | None = None
    today_kwh: Decimal


class OverviewAlerts(Output):
    open: Annotated[int, Field(description="open alerts the caller may see (counted up to 100)")]
    open_more: bool
    items: list[dict[str, Any]]


class OverviewOut(Output):
    """Today and this month against the same span before, live power by site
    and device, open alerts: for the devices the caller may see (at most 500)."""

    generated_at: str
    tz: str
    today: OverviewSpan
    month: OverviewSpan
    power_w: Decimal
    devices_counted: int
    truncated: bool
    sites: list[OverviewSite]
    devices: list[OverviewDevice]
    alerts: OverviewAlerts

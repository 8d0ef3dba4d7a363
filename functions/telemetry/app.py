"""Telemetry endpoint group: HTTP ingestion and the readings/energy/usage queries."""

from __future__ import annotations

from typing import Annotated, Any

from gridpulse import idempotency
from gridpulse.api import (
    API_KEY,
    BEARER,
    Body,
    End,
    Limit,
    NextToken,
    Query,
    Response,
    Start,
    create_app,
    current_caller,
    current_device,
    json_response,
    lambda_handler,
    status_doc,
)
from gridpulse.devices import service as devices
from gridpulse.devices.context import require_context
from gridpulse.errors import NotFound
from gridpulse.pagination import parse_limit
from gridpulse.sites import service as sites
from gridpulse.telemetry import http_ingest
from gridpulse.telemetry import service as queries
from gridpulse.telemetry.schemas import (
    AggregateOut,
    DeletedReadingsOut,
    EnergyOut,
    HotelUsageOut,
    IngestOut,
    OverviewOut,
    ReadingOut,
    ReadingsPage,
    RejectedPage,
    RoomUsageOut,
    StorageStatusOut,
    UserTelemetryOut,
)

app = create_app()

Tz = Annotated[str | None, Query(description="IANA zone for calendar buckets; default the site's")]


def _context(device_id: str, owner_only: bool = False):
    caller = current_caller(app)
    # Reads: also a prepaid meter assigned to the caller (GET /devices lists it, GET /overview counts it).
    device = devices.owned(caller, device_id) if owner_only else devices.visible_or_assigned(caller, device_id)
    return require_context(device.device_id)


@app.post(
    "/telemetry",
    tags=["telemetry"],
    summary="Readings from a device speaking HTTP (one or {readings: [...]})",
    security=API_KEY,
    responses=status_doc(201, IngestOut, "All stored"),
)
def post_telemetry(
    body: Annotated[dict[str, Any], Body()], idempotency_key: idempotency.IdempotencyKeyHeader = None
) -> Response[IngestOut]:
    device = current_device(app)
    key = idempotency.checked_key(idempotency_key)
    context = app.current_event.request_context
    request_id = (context.request_id or None) if context else None
    status, out, replayed = idempotency.run_once(
        "telemetry.post",
        device.device_id,
        key,
        body,
        lambda: http_ingest.ingest_http(device.device_id, body, request_id),
        app.lambda_context,
    )
    return json_response(status, out, headers=idempotency.replay_headers(replayed))


@app.get("/devices/<device_id>/readings", tags=["telemetry"], summary="Raw readings over a time range", security=BEARER)
def get_readings(
    device_id: str, start: Start = None, end: End = None, limit: Limit = None, next_token: NextToken = None
) -> ReadingsPage:
    return queries.readings_page(_context(device_id), start, end, parse_limit(limit), next_token)


@app.get("/devices/<device_id>/readings/latest", tags=["telemetry"], summary="The newest reading", security=BEARER)
def get_latest(device_id: str) -> ReadingOut:
    reading = queries.latest(_context(device_id))
    if reading is None:
        raise NotFound("This device has sent no readings yet.", code="no_readings")
    return reading


@app.get(
    "/devices/<device_id>/readings/aggregate",
    tags=["telemetry"],
    summary="A field aggregated per window (mean, sum, min, max, count)",
    security=BEARER,
)
def get_aggregate(
    device_id: str,
    field: Annotated[str, Query()] = "power_w",
    fn: Annotated[str, Query()] = "mean",
    window: Annotated[str, Query(description="1m, 5m, 15m, 1h or 1d")] = "1h",
    start: Start = None,
    end: End = None,
    tz: Tz = None,
) -> AggregateOut:
    return queries.aggregate(_context(device_id), field, fn, window, start, end, tz)


@app.get(
    "/devices/<device_id>/readings/rejected",
    tags=["telemetry"],
    summary="Readings refused at ingestion, with the reason (kept 30 days)",
    security=BEARER,
)
def get_rejected(device_id: str, limit: Limit = None, next_token: NextToken = None) -> RejectedPage:
    context = _context(device_id)
    return queries.rejected_page(context.device_id, parse_limit(limit), next_token)


@app.delete(
    "/devices/<device_id>/readings",
    tags=["telemetry"],
    summary="Delete readings in [start, end]; rollups are recomputed (owner, admin)",
    security=BEARER,
)
def delete_readings(device_id: str, start: Start = None, end: End = None) -> DeletedReadingsOut:
    return queries.delete_readings(_context(device_id, owner_only=True), start, end)


@app.get(
    "/devices/<device_id>/energy",
    tags=["telemetry"],
    summary="kWh per hour, day or month in the site's time zone (from rollups)",
    security=BEARER,
)
def get_energy(
    device_id: str,
    period: Annotated[str, Query(description="hour, day or month")] = "day",
    start: Start = None,
    end: End = None,
    tz: Tz = None,
) -> EnergyOut:
    return queries.energy(_context(device_id), period, start, end, tz)


@app.get(
    "/users/<user_id>/telemetry", tags=["telemetry"], summary="Latest readings of a user's devices", security=BEARER
)
def user_telemetry(user_id: str, limit: Limit = None, next_token: NextToken = None) -> UserTelemetryOut:
    owned, token = devices.owned_items(current_caller(app), user_id, parse_limit(limit), next_token)
    items = queries.user_recent(owned)
    return {"user_id": user_id, "items": items, "count": len(items), "next_token": token}


@app.get("/telemetry/status", tags=["telemetry"], summary="Storage health (public)")
def telemetry_status() -> StorageStatusOut:
    return queries.storage_status()


@app.get(
    "/rooms/<room_id>/real-time-usage",
    tags=["telemetry"],
    summary="Current power and today's kWh of a room",
    security=BEARER,
)
def room_usage(room_id: str) -> RoomUsageOut:
    room = sites.visible_room(current_caller(app), room_id)
    return queries.room_real_time(room, sites.hotel_timezone(room.hotel_id))


@app.get(
    "/hotels/<hotel_id>/usage",
    tags=["telemetry"],
    summary="kWh by section and room over a range (rollups)",
    security=BEARER,
)
def hotel_usage(hotel_id: str, start: Start = None, end: End = None) -> HotelUsageOut:
    hotel = sites.visible_hotel(current_caller(app), hotel_id)
    return queries.hotel_usage(hotel_id, hotel.timezone, start, end)


@app.get(
    "/overview",
    tags=["telemetry"],
    summary="Today and this month against the span before, live power, open alerts (the dashboard's overview)",
    security=BEARER,
)
def get_overview(tz: Tz = None) -> OverviewOut:
    from gridpulse.telemetry.overview import overview  # loaded by this route only (cold start of ingestion)

    return overview(current_caller(app), tz)


handler = lambda_handler(app, group="telemetry")

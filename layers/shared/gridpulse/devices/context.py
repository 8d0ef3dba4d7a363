"""What ingestion and the telemetry routes need to know of a device: its
owner, time zone (its hotel's) and power limit, read once per container and
cached (`context_for`); `require_context` is the 404 form of it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from gridpulse.devices.data import DeviceItem
from gridpulse.errors import NotFound
from gridpulse.sites.service import hotel_timezone
from gridpulse.telemetry.energy import max_power_for

# A device's time zone and power limit change rarely (a device moved to another
# hotel, a new rating): reading them once per container every 10 minutes is enough.
CONTEXT_TTL_S = 600


@dataclass(frozen=True)
class DeviceContext:
    device_id: str
    owner_id: str
    tz: str
    max_power_w: float
    device_type: str = "meter"


_contexts: dict[str, tuple[float, DeviceContext | None]] = {}


def context_for(device_id: str) -> DeviceContext | None:
    """The device's time zone and power limit, cached for CONTEXT_TTL_S per container."""
    cached = _contexts.get(device_id)
    if cached and time.monotonic() - cached[0] < CONTEXT_TTL_S:
        return cached[1]
    try:
        device = DeviceItem.get(DeviceItem.key(device_id), "meta")
        context = DeviceContext(
            device_id=device_id,
            owner_id=device.owner_id,
            tz=hotel_timezone(device.hotel_id),
            max_power_w=max_power_for(device.power_rating_w),
            device_type=device.device_type or "meter",
        )
    except DoesNotExist:
        context = None
    _contexts[device_id] = (time.monotonic(), context)
    return context


def contexts_for(device_ids: list[str]) -> dict[str, DeviceContext | None]:
    """`context_for` of many devices: those not cached are read together (BatchGetItem of
    their records, then of their hotels, 100 keys a request) and cached as context_for does."""
    now = time.monotonic()
    out = {d: c[1] for d in device_ids if (c := _contexts.get(d)) and now - c[0] < CONTEXT_TTL_S}
    missing = [d for d in dict.fromkeys(device_ids) if d not in out]
    if not missing:
        return out
    from gridpulse.sites.data import HotelItem, key

    devices = {
        item.pk.split("#", 1)[1]: item for item in DeviceItem.batch_get([(DeviceItem.key(d), "meta") for d in missing])
    }
    hotel_ids = sorted({d.hotel_id for d in devices.values() if d.hotel_id})
    zones = {
        h.pk.split("#", 1)[1]: h.timezone or "UTC" for h in HotelItem.batch_get([key("hotel", h) for h in hotel_ids])
    }
    for device_id in missing:
        device = devices.get(device_id)
        context = (
            DeviceContext(
                device_id=device_id,
                owner_id=device.owner_id,
                tz=zones.get(device.hotel_id, "UTC") if device.hotel_id else "UTC",
                max_power_w=max_power_for(device.power_rating_w),
            )
            if device is not None
            else None
        )
        _contexts[device_id] = (now, context)
        out[device_id] = context
    return out


def require_context(device_id: str) -> DeviceContext:
    context = context_for(device_id)
    if context is None:
        raise NotFound("No such device.", code="device_not_found")
    return context


def forget_context(device_id: str | None = None) -> None:
    if device_id is None:
        _contexts.clear()
    else:
        _contexts.pop(device_id, None)

"""The device shapes every group shows: a device in a list (DeviceOut,
DevicesPage) and the field types of a device. The devices group's own request
and response bodies are in registry_schemas.py, the device-facing ones in
device_api_schemas.py, so that a function listing devices (users, groups)
does not build the models of routes it does not serve (cold start)."""

from __future__ import annotations

from typing import Literal

from gridpulse.devices.data import DEVICE_STATUSES, DEVICE_TYPES
from gridpulse.schemas import Output, Page, bounded_map, label, number, text

DeviceType = Literal[DEVICE_TYPES]
DeviceStatus = Literal[DEVICE_STATUSES]
Name = label(100)
Text = text(500)
Short = label(100, min_length=0)
Tag = label(40, min_length=0)
Ssid = label(32)
Latitude = number(ge=-90, le=90)
Longitude = number(ge=-180, le=180)
PowerRating = number(gt=0, le=1_000_000)
# What a device reports about its configuration: a small free-form map.
Config = bounded_map(
    max_depth=5,
    max_keys=200,
    max_key_length=64,
    max_string_length=1024,
    max_bytes=8 * 1024,
    description="a JSON object: keys 1-64 characters, at most 5 levels, 200 keys and 8 KiB; "
    "leaves are strings, numbers, booleans or null",
)


class DeviceOut(Output):
    device_id: str
    name: str
    device_name: str
    device_type: DeviceType
    status: DeviceStatus
    owner_id: str
    room_id: str | None = None
    hotel_id: str | None = None
    city: str | None = None
    thing_name: str
    online: bool
    last_seen: str | None = None
    created_at: str
    updated_at: str

    section_id: str | None = None
    wifi_ssid: str | None = None
    location: str | None = None
    address: str | None = None
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    power_rating_w: int | float | None = None  # a whole number of watts is shown as an integer
    firmware_version: str | None = None
    hardware_version: str | None = None
    provider: str | None = None
    external_id: str | None = None


class DevicesPage(Page[DeviceOut]):
    pass

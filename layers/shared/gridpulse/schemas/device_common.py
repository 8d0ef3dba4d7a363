"""What the devices, device-facing and groups schemas share: the field types of
a device, and a device as lists show it (also in the users group). Kept apart
so that a function imports only the models of the routes it serves."""

from __future__ import annotations

from typing import Literal

from gridpulse.schemas.common import Output, bounded_map, label, number, text

DeviceType = Literal["meter", "light", "sensor", "prepaid_meter"]
DeviceStatus = Literal["active", "inactive", "maintenance"]
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


class DevicesPage(Output):
    items: list[DeviceOut]
    count: int
    next_token: str | None = None

"""The devices in a room, as the sites context needs them when a room is
deleted. Apart from devices/service.py so that sites/service.py, which
devices/service.py imports for placement checks, depends only on this
module and the devices table (no import cycle)."""

from __future__ import annotations

from gridpulse.devices.data import DeviceItem
from gridpulse.timeutil import iso, utcnow


def room_has_devices(room_id: str) -> bool:
    return next(iter(DeviceItem.by_room.query(room_id, limit=1)), None) is not None


def detach_room_devices(room_id: str) -> int:
    """Take every device out of a room that is being deleted (they keep their owner)."""
    detached = 0
    for device in DeviceItem.by_room.query(room_id):
        device.update(
            actions=[
                DeviceItem.room_id.remove(),
                DeviceItem.section_id.remove(),
                DeviceItem.hotel_id.remove(),
                DeviceItem.updated_at.set(iso(utcnow())),
            ]
        )
        detached += 1
    return detached

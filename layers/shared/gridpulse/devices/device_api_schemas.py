"""Request and response bodies of the device-facing group (a device calling with its API key)."""

from __future__ import annotations

from typing import Any

from gridpulse.devices.schemas import Config, Tag
from gridpulse.schemas import Input, Output, integer


class HeartbeatIn(Input):
    firmware_version: Tag | None = None
    uptime_s: integer(ge=0) | None = None
    rssi: integer(ge=-150, le=0) | None = None


class HeartbeatOut(Output):
    device_id: str
    last_seen: str
    online: bool


class ConfigIn(Input):
    config: Config


class ConfigOut(Output):
    device_id: str
    reported_config: dict[str, Any] | None = None


class DeviceCredentialsOut(Output):
    device_id: str
    name: str
    thing_name: str
    topics: dict[str, str]

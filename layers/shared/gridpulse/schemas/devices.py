"""Request and response bodies of the devices, device-facing and groups groups."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from gridpulse.schemas.common import Input, NotNull, Output, bounded_map, integer, label, number, text

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
Config = bounded_map(max_depth=5, max_keys=200, max_key_length=64, max_string_length=1024, max_bytes=8 * 1024,
                     description="a JSON object: keys 1-64 characters, at most 5 levels, 200 keys and 8 KiB; "
                                 "leaves are strings, numbers, booleans or null")


class Wifi(Input):
    ssid: Ssid
    password: Annotated[str, Field(min_length=8, max_length=63, description="WPA2 passphrase; never returned")]


class DeviceFields(Input):
    location: Short | None = None
    address: Text | None = None
    city: Short | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    description: Text | None = None
    power_rating_w: PowerRating | None = None
    firmware_version: Tag | None = None
    hardware_version: Tag | None = None
    provider: Tag | None = None
    external_id: Short | None = None


def _present(*names: str) -> dict:
    """JSON Schema: each of `names` is there and not null."""
    return {"required": list(names), "properties": {n: {"not": {"type": "null"}} for n in names}}


class DeviceIn(DeviceFields):
    # The cross-field rule below, stated in the OpenAPI document too (JSON Schema 2020-12).
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["device_type"], "properties": {"device_type": {"const": "prepaid_meter"}}},
        "then": _present("provider", "external_id"),
    })

    name: Name
    device_type: DeviceType
    room_id: Annotated[str, Field(max_length=64)] | None = None
    wifi: Wifi | None = None

    @model_validator(mode="after")
    def prepaid_needs_provider(self):
        if self.device_type == "prepaid_meter" and (not self.provider or not self.external_id):
            raise ValueError("a prepaid_meter needs provider and external_id")
        return self


class RoomDeviceIn(Input):
    """Seed 000's body: a meter in a room with the Wi-Fi it should join."""

    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": _present("ssid"), "then": _present("password")},
        {"if": _present("password"), "then": _present("ssid")},
    ]})

    device_name: Name
    ssid: Ssid | None = None
    password: Annotated[str, Field(min_length=8, max_length=63)] | None = None
    device_type: DeviceType = "meter"
    power_rating_w: PowerRating | None = None

    @model_validator(mode="after")
    def wifi_pair(self):
        if bool(self.ssid) != bool(self.password):
            raise ValueError("send ssid and password together")
        return self


class DeviceUpdateIn(DeviceFields):
    """Fields left out keep their value; null clears an optional field."""

    name: NotNull[Name] = None
    status: NotNull[DeviceStatus] = None
    room_id: Annotated[str, Field(max_length=64)] | None = None
    wifi: Wifi | None = None


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


class DeviceDetailOut(DeviceOut):
    reported_config: dict[str, Any] | None = None
    connected: bool | None = None
    topics: dict[str, str]


class Credentials(Output):
    api_key: str
    certificate_id: str
    certificate_pem: str
    private_key: str
    ca_pem: str
    iot_endpoint: str
    mqtt_port: int = 8883
    thing_name: str
    topics: dict[str, str]


class DeviceCreatedOut(DeviceOut):
    credentials: Credentials


class RotatedOut(Credentials):
    device_id: str
    revoked_certificate_id: str | None = None


class DevicesPage(Output):
    items: list[DeviceOut]
    count: int
    next_token: str | None = None


# ---------------------------------------------------------------- device-facing


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


# ---------------------------------------------------------------- groups

Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="#RRGGBB")]


class GroupIn(Input):
    name: Name
    description: Text | None = None
    color: Color | None = None


class GroupUpdateIn(Input):
    """Fields left out keep their value; null clears description or color."""

    name: NotNull[Name] = None
    description: Text | None = None
    color: Color | None = None


class GroupOut(Output):
    group_id: str
    owner_id: str
    name: str
    description: str | None = None
    color: str | None = None
    device_ids: list[str] | None = None
    device_count: int | None = None
    created_at: str
    updated_at: str


class GroupsPage(Output):
    items: list[GroupOut]
    count: int
    next_token: str | None = None


class GroupDeviceIn(Input):
    device_id: Annotated[str, Field(min_length=1, max_length=64)]


class BulkIn(Input):
    device_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=100)]


class Skipped(Output):
    device_id: str
    reason: str


class BulkOut(Output):
    added: list[str]
    skipped: list[Skipped]


class MembershipOut(Output):
    group_id: str
    device_id: str
    added: bool

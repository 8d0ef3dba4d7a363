"""Request and response bodies of the devices group (functions/devices): registering,
updating and re-keying a device. The shapes other groups show are in schemas.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from gridpulse.billing.summary_schemas import PrepaidSummaryOut
from gridpulse.devices.schemas import (
    DeviceOut,
    DeviceStatus,
    DeviceType,
    Latitude,
    Longitude,
    Name,
    PowerRating,
    Short,
    Ssid,
    Tag,
    Text,
)
from gridpulse.schemas import Input, NotNull, Output, label

ExternalId = label(100, description="the device's id in its provider's cloud (a Tuya device id)")


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
    # A key of the devices table's by-external index: never an empty string (DynamoDB refuses one).
    external_id: ExternalId | None = None


def _present(*names: str) -> dict:
    """JSON Schema: each of `names` is there and not null."""
    return {"required": list(names), "properties": {n: {"not": {"type": "null"}} for n in names}}


class DeviceIn(DeviceFields):
    # The cross-field rule below, stated in the OpenAPI document too (JSON Schema 2020-12).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["device_type"], "properties": {"device_type": {"const": "prepaid_meter"}}},
            "then": _present("provider", "external_id"),
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {"if": _present("ssid"), "then": _present("password")},
                {"if": _present("password"), "then": _present("ssid")},
            ]
        }
    )

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


class DeviceDetailOut(DeviceOut):
    reported_config: dict[str, Any] | None = None
    connected: bool | None = None
    topics: dict[str, str]
    summary: PrepaidSummaryOut | None = Field(
        None, description="prepaid meters only: balance, energy_balance, total_consumption, credit_status"
    )


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

"""The devices table: the registry, volatile device state, API keys (the
groups' items of this table are in gridpulse/groups/data.py, the alert rules' in gridpulse/alerts/data.py).

Key (`pk`, `sk`). The registry record and the fast-changing state are two
items of one partition, so a heartbeat rewrites a small item that no index
carries (one write unit), while the indexes only change when the registry
record does.

| item            | pk                 | sk              | indexed by                            |
|-----------------|--------------------|-----------------|---------------------------------------|
| device          | `device#<id>`      | `meta`          | by-owner, by-room, by-hotel, by-city, by-type (+ light-city for lights) |
| device state    | `device#<id>`      | `state`         | light-auto (lights in automatic mode only) |
| API key         | `apikey#<sha256>`  | `apikey`        | -                                     |
| group           | `group#<id>`       | `meta`          | by-owner                              |
| membership      | `group#<id>`       | `device#<id>`   | -  (and its mirror below)             |
| membership      | `device#<id>`      | `group#<id>`    | -                                     |
| log line        | `device#<id>`      | `log#<ms>#<kind>#<n>` | `ttl` 90 days ahead (the table's TTL attribute); lights' control and status history |
| counter         | `counter#devices`  | `counter`       | -                                     |

Index keys: `owner_id` + `owner_sk` (`device#<created>#<id>` or
`group#<created>#<id>`); `room_id`, `hotel_id`, `city_key` (`<city>`) and
`device_type`, each with `list_sk` (`<created>#<id>`); `light_city` (the
lower-case city of a light, set only on lights that have a city) with
`device_id`; `light_auto` (`auto`, set on a light's state item only while
its mode is auto) with `pk`, keys only. Attributes absent on an item keep it out of that
index (sparse indexes).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import KeysOnlyProjection
from pynamodb.models import Model

from gridpulse.dynamodb import gsi, region, table_name

DEVICES_TABLE = table_name("DEVICES_TABLE", "gridpulse-devices")

# The values of DeviceItem.device_type and .status: the one list of each (the
# API's DeviceType and DeviceStatus in devices/schemas.py are derived from them).
DEVICE_TYPES = ("meter", "light", "sensor", "prepaid_meter")
DEVICE_STATUSES = ("active", "inactive", "maintenance")


class DevicesTableMeta:
    """Meta of every model of the devices table (also groups.data and alerts.data)."""

    table_name = DEVICES_TABLE
    region = region()


class DeviceItem(Model):
    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="meta")
    device_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    owner_sk = UnicodeAttribute()
    name = UnicodeAttribute()
    device_type = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    list_sk = UnicodeAttribute()
    room_id = UnicodeAttribute(null=True)
    section_id = UnicodeAttribute(null=True)
    hotel_id = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    city_key = UnicodeAttribute(null=True)  # lower-case city, for ?city= lists (any device)
    # Lights only: the lower-case city, key of the sparse light-city index (see light_city_of).
    light_city = UnicodeAttribute(null=True)
    city_scoped = BooleanAttribute(null=True)  # an admin placed it in `city` (see sites/scope.city_scope)
    location = UnicodeAttribute(null=True)
    address = UnicodeAttribute(null=True)
    latitude = NumberAttribute(null=True)
    longitude = NumberAttribute(null=True)
    description = UnicodeAttribute(null=True)
    power_rating_w = NumberAttribute(null=True)
    firmware_version = UnicodeAttribute(null=True)
    hardware_version = UnicodeAttribute(null=True)
    provider = UnicodeAttribute(null=True)
    external_id = UnicodeAttribute(null=True)
    # Devices another cloud provides (gridpulse.devices.external): when that provider stopped listing it.
    provider_removed_at = UnicodeAttribute(null=True)
    thing_name = UnicodeAttribute()
    certificate_id = UnicodeAttribute(null=True)
    certificate_arn = UnicodeAttribute(null=True)
    api_key_hash = UnicodeAttribute()
    wifi_ssid = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_owner = gsi("by-owner", "owner_id", "owner_sk")
    by_room = gsi("by-room", "room_id", "list_sk")
    by_hotel = gsi("by-hotel", "hotel_id", "list_sk")
    by_city = gsi("by-city", "city_key", "list_sk")
    by_type = gsi("by-type", "device_type", "list_sk")
    by_light_city = gsi("light-city", "light_city", "device_id")
    by_external = gsi("by-external", "external_id", "device_id")  # sparse: records with an external_id

    @staticmethod
    def key(device_id: str) -> str:
        return f"device#{device_id}"


def light_city_of(device_type: str | None, city: str | None) -> str | None:
    """The light-city index key of a device: its lower-case city when it is a light."""
    return city.strip().lower() if device_type == "light" and city and city.strip() else None


class DeviceStateItem(Model):
    """Presence and what the device reported; written on every heartbeat."""

    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="state")
    last_seen = UnicodeAttribute(null=True)
    last_seen_epoch = NumberAttribute(null=True)
    # True/False once IoT Core lifecycle events have been seen; None for HTTP-only devices.
    connected = BooleanAttribute(null=True)
    reported_config = MapAttribute(null=True)
    firmware_version = UnicodeAttribute(null=True)
    # Epoch ms of the lifecycle event behind `connected` (older events are ignored).
    presence_at = NumberAttribute(null=True)
    disconnect_reason = UnicodeAttribute(null=True)
    # Street lights: what the lamp last reported.
    light_status = UnicodeAttribute(null=True)
    light_error = UnicodeAttribute(null=True)
    light_status_at = NumberAttribute(null=True)  # epoch ms of the last change of status
    light_report_at = NumberAttribute(null=True)  # epoch ms of the newest report applied
    # Street lights: what was asked of the lamp (gridpulse.lights): the mode
    # (on, off, auto) and brightness last sent, and the last command with its
    # confirmation state (pending until a matching status report; a pending
    # command older than the time limit reads as failed).
    light_mode = UnicodeAttribute(null=True)
    # "auto" while light_mode is auto, else absent: the key of the sparse
    # light-auto index, through which the dusk/dawn schedule finds only automatic lights.
    light_auto = UnicodeAttribute(null=True)
    light_brightness = NumberAttribute(null=True)
    cmd_id = UnicodeAttribute(null=True)
    cmd_action = UnicodeAttribute(null=True)
    cmd_brightness = NumberAttribute(null=True)
    cmd_expect = UnicodeAttribute(null=True)  # the status that confirms it (None: any report)
    cmd_state = UnicodeAttribute(null=True)  # pending, confirmed or failed
    cmd_issued_at = UnicodeAttribute(null=True)
    cmd_issued_ms = NumberAttribute(null=True)
    cmd_settled_at = UnicodeAttribute(null=True)
    cmd_seq = NumberAttribute(null=True)  # rises by one per command of this light (the lamp applies only newer ones)

    # Keys only: a heartbeat of an automatic light (non-key attributes) writes nothing to it.
    by_light_auto = gsi("light-auto", "light_auto", "pk", projection=KeysOnlyProjection)


class DeviceLogItem(Model):
    """A line of a device's history: a light's controls and status changes
    (the REST contract's "Street lights": action, performed_by, control_type,
    previous_status, new_status, brightness, error_details, created_at)."""

    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # log#<epoch ms, 13 digits>#<kind>#<random>
    kind = UnicodeAttribute()  # control or status
    status = UnicodeAttribute(null=True)  # the new status
    details = UnicodeAttribute(null=True)  # error details
    actor = UnicodeAttribute(null=True)  # performed_by: an email, "device" or "schedule"
    at = UnicodeAttribute()
    ttl = NumberAttribute()
    action = UnicodeAttribute(null=True)
    control_type = UnicodeAttribute(null=True)  # manual, automatic or device
    previous_status = UnicodeAttribute(null=True)
    brightness = NumberAttribute(null=True)
    command_id = UnicodeAttribute(null=True)


class ApiKeyItem(Model):
    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="apikey")
    device_id = UnicodeAttribute()

    @staticmethod
    def key(key_hash: str) -> str:
        return f"apikey#{key_hash}"


class DeviceCounterItem(Model):
    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True, default="counter#devices")
    sk = UnicodeAttribute(range_key=True, default="counter")
    total = NumberAttribute(default=0)
    active = NumberAttribute(default=0)

"""Finding a device a caller may see, and how a device shows in answers.

The light part of the registry that reading routes need (groups, alerts,
lights, the device's own API): visibility checks, presence (online, last
seen) and the device views. Registration, credentials and device auth live in
gridpulse.devices.service, which re-exports these names.
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import DoesNotExist

from gridpulse.accounts.roles import Caller
from gridpulse.devices.data import DeviceItem, DeviceStateItem
from gridpulse.dynamodb import LOAD_ERRORS, batch_get_intact, get_or_none, skip_unreadable
from gridpulse.errors import Forbidden, NotFound
from gridpulse.observability import annotate
from gridpulse.sites import scope
from gridpulse.views import view

# An HTTP-only device counts as online this long after its last heartbeat.
ONLINE_WINDOW_S = 300

# Registry fields a caller may set (anything else in a body is refused by the schema).
DESCRIPTIVE_FIELDS = (
    "location",
    "address",
    "description",
    "latitude",
    "longitude",
    "power_rating_w",
    "firmware_version",
    "hardware_version",
    "provider",
    "external_id",
)


# ---------------------------------------------------------------- views


def is_online(state: DeviceStateItem | None, now: float | None = None) -> bool:
    if state is None:
        return False
    if state.connected is not None:
        return bool(state.connected)
    if state.last_seen_epoch is None:
        return False
    return (now or time.time()) - float(state.last_seen_epoch) <= ONLINE_WINDOW_S


# The keys of a device in every answer, in order: the fields of DeviceOut, then
# what DeviceDetailOut adds for
# one device, and the fields of DeviceStatusOut for the admin's status list
# (gridpulse.devices.schemas, gridpulse.accounts.schemas; tests/unit/test_views.py
# checks they match).
DEVICE_FIELDS = (
    "device_id",
    "name",
    "device_name",
    "device_type",
    "status",
    "owner_id",
    "room_id",
    "section_id",
    "hotel_id",
    "city",
    "thing_name",
    "wifi_ssid",
    "created_at",
    "updated_at",
    "online",
    "last_seen",
    *DESCRIPTIVE_FIELDS,
)
DETAIL_FIELDS = (*DEVICE_FIELDS, "reported_config", "connected", "topics", "summary")
STATUS_FIELDS = ("device_id", "name", "device_type", "status", "online", "last_seen")


def _whole(value: Any) -> Any:
    """A whole float as an int (a power rating of 60.0 W shows as 60)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def device_view(device: DeviceItem, state: DeviceStateItem | None = None) -> dict:
    return view(device, DEVICE_FIELDS, **computed_fields(device, state))


def status_view(device: DeviceItem, state: DeviceStateItem | None) -> dict:
    return view(device, STATUS_FIELDS, online=is_online(state), last_seen=state.last_seen if state else None)


def computed_fields(device: DeviceItem, state: DeviceStateItem | None) -> dict[str, Any]:
    """The fields every device view derives rather than stores: name, presence, rating."""
    return {
        "device_name": device.name,
        "online": is_online(state),
        "last_seen": state.last_seen if state else None,
        "power_rating_w": _whole(device.power_rating_w),
    }


# ---------------------------------------------------------------- loading


# What a list shows of a device's state (presence); the reported config is only
# read for one device at a time (detail_view).
PRESENCE_ATTRIBUTES = ["pk", "sk", "last_seen", "last_seen_epoch", "connected"]


def state_of(device: DeviceItem) -> DeviceStateItem | None:
    return state_by_id(device.device_id)


def state_by_id(device_id: str) -> DeviceStateItem | None:
    """The device's state; one that cannot be read back whole (a reported
    config stored before configs were checked) is read again without its
    config, so that the device itself still shows (and can report a new one)."""
    try:
        return get_or_none(DeviceStateItem, DeviceItem.key(device_id), "state")
    except LOAD_ERRORS as exc:
        skip_unreadable("device state", device_id, f"{type(exc).__name__}: {exc}")
    try:
        return DeviceStateItem.get(DeviceItem.key(device_id), "state", attributes_to_get=PRESENCE_ATTRIBUTES)
    except (DoesNotExist, *LOAD_ERRORS):
        return None


MAX_ID_LENGTH = 64  # device ids are UUIDs (36 characters)


def visible(caller: Caller, device_id: str, device_type: str | None = None) -> DeviceItem:
    """The device, if the caller may see it; 404 `device_not_found` for an
    unknown id or a device outside the caller's scope. With `device_type`
    (e.g. "light"), a device of another type is as unknown, and the 404 says
    so in that type's words (`light_not_found`, "No such light.")."""
    noun = device_type or "device"
    if 0 < len(device_id) <= MAX_ID_LENGTH:  # no longer id exists (and DynamoDB keys are bounded)
        device = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta")
        if (
            device is not None
            and (device_type is None or device.device_type == device_type)
            and scope.sees_device(caller, device)
        ):
            annotate("device_type", device.device_type)
            return device
    raise NotFound(f"No such {noun}.", code=f"{noun}_not_found")


def visible_or_assigned(caller: Caller, device_id: str) -> DeviceItem:
    """`visible`, and also a prepaid meter assigned to the caller (BillingTable's
    `ASSIGN#<user id>` item, one GetItem, read only for a prepaid meter outside the
    caller's scope; gridpulse.billing.data is a small module). Others: 404."""
    if 0 < len(device_id) <= MAX_ID_LENGTH:
        device = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta")
        if device is not None and scope.sees_device(caller, device):
            annotate("device_type", device.device_type)
            return device
        if device is not None and device.device_type == "prepaid_meter" and not caller.is_admin:
            from gridpulse.billing import data as billing_data

            if billing_data.get(billing_data.meter_pk(device_id), f"{billing_data.ASSIGN_PREFIX}{caller.user_id}"):
                annotate("device_type", device.device_type)
                return device
    raise NotFound("No such device.", code="device_not_found")


def owned(caller: Caller, device_id: str) -> DeviceItem:
    """Owner or admin may change a device; others in scope get 403, the rest 404."""
    device = visible(caller, device_id)
    if not scope.owns_device(caller, device):
        raise Forbidden("Only the device's owner or an admin may do this.", code="forbidden")
    return device


def states_for(devices: list[DeviceItem], attributes: list[str] = PRESENCE_ATTRIBUTES) -> dict[str, DeviceStateItem]:
    """The state of each device (by default only its presence), by device id;
    a state that cannot be read back is left out (the device shows as offline)
    rather than failing the list."""
    keys = [(DeviceItem.key(d.device_id), "state") for d in devices]
    states = batch_get_intact(DeviceStateItem, keys, "device state", attributes_to_get=attributes)
    return {s.pk.split("#", 1)[1]: s for s in states}


def with_states(devices: list[DeviceItem]) -> list[dict]:
    states = states_for(devices)
    return [device_view(d, states.get(d.device_id)) for d in devices]

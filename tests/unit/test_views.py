"""Each view answers exactly the keys of the response schema it feeds.

A view (gridpulse.views.view) reads the names of a tuple beside it
(HOTEL_FIELDS, ALERT_FIELDS, ...), because the event functions build views
too and must not import pydantic. Here each view is built from an item with
every attribute set and compared with its Out schema's fields, so every key
an answer carries is declared in openapi.json. A field added to a schema and not to its
view, or to a view and not to its schema, fails here; so does a view whose
values the schema would refuse.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import BaseModel
from pynamodb.attributes import BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute

from gridpulse.accounts import sessions, users
from gridpulse.accounts.data import UserItem
from gridpulse.accounts.schemas import DeviceStatusOut, SessionOut, UserOut
from gridpulse.alerts import service as alerts
from gridpulse.alerts.data import AlertItem
from gridpulse.alerts.schemas import AlertOut
from gridpulse.devices import service as devices
from gridpulse.devices.data import DeviceItem, DeviceStateItem
from gridpulse.devices.registry_schemas import DeviceDetailOut
from gridpulse.devices.schemas import DeviceOut
from gridpulse.groups import service as groups
from gridpulse.groups.data import GroupItem
from gridpulse.groups.schemas import GroupOut
from gridpulse.lights import service as lights
from gridpulse.lights.schemas import LightOut
from gridpulse.security.tokens import TokenClaims
from gridpulse.sites import service as sites
from gridpulse.sites.data import HotelItem, RoomItem, SectionItem
from gridpulse.sites.schemas import HotelOut, RoomOut, SectionOut
from gridpulse.views import view

# Values a schema restricts (a Literal); every other attribute gets one of its type.
VALUES = {
    "device_type": "meter",
    "status": "active",
    "role": "viewer",
    "severity": "warning",
    "occupancy_status": "vacant",
    "power_rating_w": 60.0,
    "timezone": "UTC",
}
ALERT_STATUS = "open"


def _filled(model: type, **values: object) -> object:
    """An item of `model` with every attribute set (so no key is left out for want of a value)."""
    item = model()
    for name, attribute in model.get_attributes().items():
        if name in values:
            value = values[name]
        elif name in VALUES:
            value = VALUES[name]
        elif isinstance(attribute, UnicodeAttribute):
            value = f"{name}-1"
        elif isinstance(attribute, NumberAttribute):
            value = 3
        elif isinstance(attribute, BooleanAttribute):
            value = True
        elif isinstance(attribute, ListAttribute):
            value = [f"{name}-1"]
        elif isinstance(attribute, MapAttribute):
            value = {"mode": "eco"}
        else:  # pragma: no cover - a new attribute type: say which
            raise AssertionError(f"no sample value for {model.__name__}.{name} ({type(attribute).__name__})")
        setattr(item, name, value)
    return item


def _state() -> DeviceStateItem:
    state = _filled(DeviceStateItem)
    state.reported_config = MapAttribute(mode="eco")
    return state


def _light_state() -> DeviceStateItem:
    """A light's state: a status, mode and command state its schema allows."""
    state = _state()
    state.light_status, state.light_mode, state.cmd_action, state.cmd_state = "on", "auto", "on", "confirmed"
    return state


def _session() -> sessions.Session:
    claims = TokenClaims(sub="user_id-1", role="viewer", jti="j", iat=1_700_000_000, exp=1_700_003_600, ver=1)
    return sessions.Session(token="t" * 20, claims=claims, user=_filled(UserItem))


# name: (its schema, the view of a filled item, the schema's fields that view leaves out on purpose)
CASES: dict[str, tuple[type[BaseModel], Callable[[], dict], set[str]]] = {
    "hotel": (HotelOut, lambda: sites.hotel_view(_filled(HotelItem)), set()),
    "section": (SectionOut, lambda: sites.section_view(_filled(SectionItem)), set()),
    "room": (RoomOut, lambda: sites.room_view(_filled(RoomItem)), set()),
    "alert": (AlertOut, lambda: alerts.alert_view(_filled(AlertItem, status=ALERT_STATUS)), set()),
    "user": (UserOut, lambda: users.public_view(_filled(UserItem)), set()),
    "session": (SessionOut, lambda: sessions.session_view(_session()), set()),
    "group with its devices": (GroupOut, lambda: groups.group_view(_filled(GroupItem), ["d1", "d2"]), set()),
    # Without device ids (a device's groups) the member fields are left out, not null.
    "group": (GroupOut, lambda: groups.group_view(_filled(GroupItem)), {"device_ids", "device_count"}),
    "device": (DeviceOut, lambda: devices.device_view(_filled(DeviceItem), _state()), set()),
    "device without state": (DeviceOut, lambda: devices.device_view(_filled(DeviceItem)), set()),
    "device detail": (DeviceDetailOut, lambda: devices.detail_view(_filled(DeviceItem), _state()), set()),
    "device status": (DeviceStatusOut, lambda: devices.status_view(_filled(DeviceItem), _state()), set()),
    "light": (LightOut, lambda: lights.light_view(_filled(DeviceItem), _light_state()), set()),
    "light without state": (LightOut, lambda: lights.light_view(_filled(DeviceItem), None), set()),
}


def _schema_keys(schema: type[BaseModel]) -> set[str]:
    return set(schema.model_fields)


@pytest.mark.parametrize("name", CASES)
def test_a_view_has_exactly_the_keys_of_its_schema(name):
    schema, build, left_out = CASES[name]
    keys = set(build())
    assert keys == _schema_keys(schema) - left_out, (
        f"{name}: only in the view {sorted(keys - _schema_keys(schema))}, "
        f"only in {schema.__name__} {sorted(_schema_keys(schema) - left_out - keys)}"
    )


@pytest.mark.parametrize("name", CASES)
def test_the_schema_accepts_its_view(name):
    schema, build, _ = CASES[name]
    schema.model_validate(build())


def test_converted_values():
    device = _filled(DeviceItem, power_rating_w=60.0)
    assert devices.device_view(device)["power_rating_w"] == 60
    assert type(devices.device_view(device)["power_rating_w"]) is int
    device.power_rating_w = 60.5
    assert devices.device_view(device)["power_rating_w"] == 60.5
    assert type(alerts.alert_view(_filled(AlertItem, count=2.0))["count"]) is int
    user = users.public_view(_filled(UserItem))
    assert type(user["active"]) is bool and type(user["hotel_ids"]) is list
    assert devices.device_view(_filled(DeviceItem))["online"] is False
    assert devices.device_view(_filled(DeviceItem))["device_name"] == "name-1"


def test_light_values():
    light = lights.light_view(_filled(DeviceItem, latitude=38, longitude=-9), _light_state())
    assert (light["latitude"], light["longitude"]) == (38.0, -9.0) and type(light["latitude"]) is float
    assert light["light_id"] == "device_id-1" and light["is_automatic"] is True and light["brightness"] == 3
    assert light["last_command"]["state"] == "confirmed"
    bare = lights.light_view(_filled(DeviceItem), None)
    assert (bare["status"], bare["brightness"], bare["online"], bare["last_command"]) == ("unknown", 100, False, None)


def test_view_reads_the_fields_in_order_and_takes_computed_values():
    class Item:
        a, b, c = 1, 2, 3

    assert list(view(Item(), ("c", "a", "b"), a=10).items()) == [("c", 3), ("a", 10), ("b", 2)]


def test_a_computed_key_outside_the_fields_is_refused():
    class Item:
        a = 1

    with pytest.raises(ValueError, match="not in the view's fields: \\['b'\\]"):
        view(Item(), ("a",), b=2)

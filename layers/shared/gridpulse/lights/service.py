"""Street lights (the REST contract's "Street lights", issue #12): city lists, summary,
map, detail and history, control over the device shadow and MQTT, status
reports over HTTP.

A light is a device with `device_type: light` (gridpulse.devices). Lights
are found through indexes only: `light-city` (lower-case city -> device id,
sparse: only lights with a city) for a city, and `by-type` (`device_type =
light`) for an admin's "all lights". Scope is the devices' scope
(gridpulse.sites.scope.sees_device): a user with `cities` sees the lights
there, an owner its own, an admin all; anything else does not exist (404).
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gridpulse.accounts.roles import Caller, Role
from gridpulse.devices import messaging, provisioning
from gridpulse.devices.data import DeviceItem, DeviceLogItem, DeviceStateItem
from gridpulse.devices.lookup import is_online, states_for, visible
from gridpulse.dynamodb import intact
from gridpulse.errors import ApiError, Forbidden, NotFound
from gridpulse.lights import state as light_state
from gridpulse.observability import count, logger
from gridpulse.pagination import chained_page, decode_token, encode_token
from gridpulse.sites import scope
from gridpulse.telemetry.readings import iso_ms
from gridpulse.views import view

RECENT_LOGS = 10

# What lists read of each light's state item (never the reported config).
STATE_ATTRIBUTES = [
    "pk",
    "sk",
    "last_seen",
    "last_seen_epoch",
    "connected",
    "light_status",
    "light_error",
    "light_status_at",
    "light_mode",
    "light_brightness",
    "cmd_id",
    "cmd_action",
    "cmd_brightness",
    "cmd_expect",
    "cmd_state",
    "cmd_issued_at",
    "cmd_issued_ms",
]


class CommandNotSent(ApiError):
    status = 502
    code = "command_not_sent"


# ---------------------------------------------------------------- views


# The fields of a light (LightOut), in order: gridpulse.views.view reads them.
LIGHT_FIELDS = (
    "light_id",
    "name",
    "city",
    "latitude",
    "longitude",
    "address",
    "status",
    "is_automatic",
    "brightness",
    "last_status_change",
    "error_details",
    "online",
    "last_seen",
    "last_command",
)


def _number(value) -> float | None:
    return float(value) if value is not None else None


def light_view(device: DeviceItem, state: DeviceStateItem | None) -> dict:
    """A light (LightOut): its record's name, city and address, and what its state says."""
    return view(
        device,
        LIGHT_FIELDS,
        light_id=device.device_id,
        latitude=_number(device.latitude),
        longitude=_number(device.longitude),
        status=(state.light_status if state else None) or "unknown",
        is_automatic=bool(state and state.light_mode == "auto"),
        brightness=int(state.light_brightness)
        if state and state.light_brightness is not None
        else light_state.DEFAULT_BRIGHTNESS,
        last_status_change=iso_ms(int(state.light_status_at)) if state and state.light_status_at else None,
        error_details=state.light_error if state else None,
        online=is_online(state),
        last_seen=state.last_seen if state else None,
        last_command=light_state.last_command(state),
    )


def map_item(view: dict) -> dict:
    return {
        "light_id": view["light_id"],
        "name": view["name"],
        "city": view["city"],
        "location": {"latitude": view["latitude"], "longitude": view["longitude"]},
        "status": view["status"],
        "online": view["online"],
        "last_seen": view["last_seen"],
        "last_status_change": view["last_status_change"],
        "last_command": view["last_command"],
    }


def geojson(views: list[dict], next_token: str | None) -> dict:
    """A FeatureCollection: [longitude, latitude] points (RFC 7946 order)."""
    features = []
    for v in views:
        has_point = v["latitude"] is not None and v["longitude"] is not None
        features.append(
            {
                "type": "Feature",
                "id": v["light_id"],
                "geometry": {"type": "Point", "coordinates": [v["longitude"], v["latitude"]]} if has_point else None,
                "properties": {
                    "light_id": v["light_id"],
                    "name": v["name"],
                    "status": v["status"],
                    "online": v["online"],
                    "is_automatic": v["is_automatic"],
                    "brightness": v["brightness"],
                    "address": v["address"],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features, "next_token": next_token}


# ---------------------------------------------------------------- finding lights


def _not_found() -> NotFound:
    return NotFound("No such light.", code="light_not_found")


def visible_light(caller: Caller, light_id: str) -> DeviceItem:
    """The light, if the caller may see it; 404 `light_not_found` for an unknown
    id, a device that is not a light, or a light outside the caller's scope."""
    return visible(caller, light_id, device_type="light")


def _city_key(city: str) -> str:
    return city.strip().lower()


def _source(index, hash_value: str, newest_first: bool, keep):
    def query(limit: int, start: dict | None):
        result = index.query(hash_value, limit=limit, last_evaluated_key=start, scan_index_forward=not newest_first)
        return list(intact(result, "device")), result.last_evaluated_key

    return f"{index.Meta.index_name}:{hash_value}", query, keep


def _sources(caller: Caller, city: str | None) -> tuple[list, str | None]:
    """The index ranges holding the lights a list shows, and the city they are for.

    ?city, else the caller's own city; an admin without either: every light
    (by-type); a user without a city: the lights of each city it is scoped to."""

    def visible(d: DeviceItem) -> bool:
        return d.device_type == "light" and scope.sees_device(caller, d)

    city = city if city is not None else caller.city
    if city:
        return [_source(DeviceItem.by_light_city, _city_key(city), False, visible)], city
    if caller.is_admin:
        return [_source(DeviceItem.by_type, "light", True, visible)], None
    return [_source(DeviceItem.by_light_city, _city_key(c), False, visible) for c in sorted(set(caller.cities))], None


def _states(devices: list[DeviceItem]) -> dict[str, DeviceStateItem]:
    return states_for(devices, STATE_ATTRIBUTES)


def _views(devices: list[DeviceItem], status: str | None = None) -> list[dict]:
    states = _states(devices)
    views = [light_view(d, states.get(d.device_id)) for d in devices]
    return [v for v in views if status is None or v["status"] == status]


def _page(caller: Caller, city: str | None, status: str | None, limit: int, next_token: str | None, kind: str):
    sources, _ = _sources(caller, city)
    devices, token = chained_page(sources, limit, next_token, f"lights.{kind}:{caller.user_id}")
    return _views(devices, status), token


def list_lights(caller: Caller, city: str | None, status: str | None, limit: int, next_token: str | None) -> dict:
    """A page of lights, with `?status` applied after reading their state (a
    page may then hold fewer than `limit` items while next_token is not null)."""
    views, token = _page(caller, city, status, limit, next_token, "list")
    return {"items": views, "count": len(views), "next_token": token}


def map_lights(caller: Caller, city: str | None, limit: int, next_token: str | None, as_geojson: bool) -> dict:
    views, token = _page(caller, city, None, limit, next_token, "map")
    if as_geojson:
        return geojson(views, token)
    items = [map_item(v) for v in views]
    return {"items": items, "count": len(items), "next_token": token}


def summary(caller: Caller, city: str | None) -> dict:
    """Counts by stored status over every visible light of the city (one
    index Query, read to its end, and BatchGetItem of their states). on, off,
    error and unknown add up to the total; offline counts the lights not
    connected, whatever their last status. 404 city_not_found when no
    visible light is in the city."""
    sources, city_name = _sources(caller, city)
    devices: list[DeviceItem] = []
    for _, query, keep in sources:
        start = None
        while True:
            batch, start = query(1000, start)
            devices += [d for d in batch if keep(d)]
            if not start:
                break
    if not devices and city_name:
        raise NotFound(f"No lights in {city_name}.", code="city_not_found")
    views = _views(devices)
    statuses = [v["status"] for v in views]
    changes = [v["last_status_change"] for v in views if v["last_status_change"]]
    return {
        "city": city_name,
        "total_lights": len(views),
        "lights_on": statuses.count("on"),
        "lights_off": statuses.count("off"),
        "lights_in_error": statuses.count("error"),
        "lights_unknown": statuses.count("unknown"),
        "lights_offline": sum(1 for v in views if not v["online"]),
        "last_updated": max(changes) if changes else None,
    }


# ---------------------------------------------------------------- one light


def _log_items(light_id: str, limit: int, start: dict | None):
    result = DeviceLogItem.query(
        DeviceItem.key(light_id),
        DeviceLogItem.sk.startswith("log#"),
        limit=limit,
        last_evaluated_key=start,
        scan_index_forward=False,
    )
    return [light_state.log_view(i) for i in intact(result, "light log")], result.last_evaluated_key


def detail(caller: Caller, light_id: str) -> dict:
    device = visible_light(caller, light_id)
    # State first, logs second: a status report writes its log entry before it
    # settles the command, so a command shown as settled has its entry listed.
    state = light_state.read_state(light_id)
    logs, _ = _log_items(light_id, RECENT_LOGS, None)
    return {"light": light_view(device, state), "recent_logs": logs}


def logs(caller: Caller, light_id: str, limit: int, next_token: str | None) -> dict:
    visible_light(caller, light_id)
    purpose = f"lights.logs:{light_id}"
    items, last_key = _log_items(light_id, limit, decode_token(next_token, purpose))
    return {"items": items, "count": len(items), "next_token": encode_token(last_key, purpose)}


# ---------------------------------------------------------------- control


def control(caller: Caller, performed_by: str, light_id: str, action: str, brightness: int | None) -> dict:
    """Ask a light to switch: record the command (pending), write the desired
    state to its shadow (kept for a lamp that is offline), publish the command
    on gridpulse/{thing}/commands, log it.

    The command is recorded before it is sent, so the lamp's status report
    always finds it. A lamp that is online and already reports the status
    the command leads to will not report again (the firmware reports
    changes): its command is confirmed at once."""
    device = visible_light(caller, light_id)
    if not (caller.is_admin or caller.role is Role.operator):
        raise Forbidden("Your role does not allow controlling lights.", code="forbidden")
    return send_command(device, action, brightness, performed_by=performed_by, control_type="manual")


def send_command(
    device: DeviceItem,
    action: str,
    brightness: int | None,
    *,
    performed_by: str,
    control_type: str,
    mode: str | None = None,
) -> dict:
    """What `control` does once the caller may: record the command, write the
    shadow, publish, log. No caller checks: also used by the dusk/dawn
    schedule (gridpulse.lights.schedule), which sends on/off with `mode`
    "auto" so that the light stays automatic (`light_mode` is `mode`, else
    the action).

    Ordering (gridpulse.lights.state): recording the command gives it the
    light's next `seq` (atomic ADD); the shadow's desired state is replaced
    only by a newer seq (provisioning.set_desired_if_newer), and the command
    and the desired state carry command_id and seq, so the lamp applies the
    newest command whatever order they arrive in."""
    light_id = device.device_id
    mode = mode or action
    before = light_state.read_state(light_id)
    previous = (before.light_status if before else None) or "unknown"
    level = brightness
    if level is None:
        level = int(before.light_brightness) if before and before.light_brightness is not None else 100
    expect = light_state.expected_status(action, level)
    at_ms = light_state.now_ms()
    issued_at = iso_ms(at_ms)
    command_id = str(uuid.uuid4())
    already = expect is not None and previous == expect and is_online(before)
    state = DeviceStateItem(DeviceItem.key(light_id), "state")
    state.update(
        actions=[
            DeviceStateItem.light_mode.set(mode),
            DeviceStateItem.light_auto.set("auto") if mode == "auto" else DeviceStateItem.light_auto.remove(),
            DeviceStateItem.light_brightness.set(level),
            DeviceStateItem.cmd_id.set(command_id),
            DeviceStateItem.cmd_action.set(action),
            DeviceStateItem.cmd_brightness.set(level),
            DeviceStateItem.cmd_expect.set(expect) if expect else DeviceStateItem.cmd_expect.remove(),
            DeviceStateItem.cmd_state.set("confirmed" if already else "pending"),
            DeviceStateItem.cmd_issued_at.set(issued_at),
            DeviceStateItem.cmd_issued_ms.set(at_ms),
            DeviceStateItem.cmd_settled_at.set(issued_at) if already else DeviceStateItem.cmd_settled_at.remove(),
            DeviceStateItem.cmd_seq.add(1),
        ]
    )
    seq = int(state.cmd_seq)
    desired = {"action": action, "brightness": level, "command_id": command_id, "seq": seq}
    try:
        provisioning.set_desired_if_newer(device.thing_name, "light", desired, seq)
    except (ClientError, BotoCoreError) as exc:
        logger.error("light shadow update failed", extra={"light_id": light_id, "error": type(exc).__name__})
        state.update(
            actions=[DeviceStateItem.cmd_state.set("failed")],
            condition=DeviceStateItem.cmd_id == command_id,
        )
        raise CommandNotSent("The light's shadow could not be updated; try again.") from None
    command: dict[str, Any] = {
        "command_id": command_id,
        "seq": seq,
        "action": action,
        "brightness": level,
        "issued_at": issued_at,
    }
    try:
        messaging.publish_json(provisioning.topics_for(device.thing_name)["commands"], command)
    except Exception:
        # The shadow holds the desired state: the lamp gets it as a delta when it (re)connects.
        logger.exception("light command not published; the shadow keeps it", extra={"light_id": light_id})
    light_state.write_log(
        light_id,
        "control",
        action=action,
        new_status=expect or previous,
        previous_status=previous,
        performed_by=performed_by,
        control_type=control_type,
        brightness=level,
        command_id=command_id,
        at_ms=at_ms,
    )
    count("CommandsSent", origin="schedule" if control_type == "automatic" else "api")
    if already:
        count("CommandsConfirmed")  # the lamp already shows it: nothing to wait for
    return {
        "light_id": light_id,
        "status": expect or previous,
        "is_automatic": mode == "auto",
        "brightness": level,
        "last_status_change": iso_ms(int(before.light_status_at)) if before and before.light_status_at else None,
        "command_id": command_id,
    }


# ---------------------------------------------------------------- status from the light (X-API-Key)


def report_status(
    device: DeviceItem, light_id: str, status: str, error_details: str | None, command_id: str | None = None
) -> dict:
    """A light reporting its own status over HTTP: the same update as its
    MQTT status topic. Another device's key (or a device that is not a
    light) gets 404, as for a light that does not exist."""
    if device.device_id != light_id or device.device_type != "light":
        raise _not_found()
    result = light_state.apply_status(
        light_id, status, error_details, light_state.now_ms(), actor="device", command_id=command_id
    )
    if result is None:
        raise _not_found()
    current = light_state.read_state(light_id)
    return {
        "light_id": light_id,
        "status": (current.light_status if current else None) or status,
        "error_details": current.light_error if current else None,
        "last_status_change": iso_ms(int(current.light_status_at)) if current and current.light_status_at else None,
    }

"""Device events from IoT Core: presence (lifecycle) and light status (stored
by gridpulse.lights.state, the same code as POST /lights/{light_id}/status).

Online/offline comes from the broker's lifecycle events, not from the device:
a device that loses power cannot say goodbye, but the broker notices the
dropped connection. Events can arrive out of order, so each carries its time
and an older event never overwrites a newer one.
"""

from __future__ import annotations

import time

from pynamodb.exceptions import UpdateError

from gridpulse.devices.data import DeviceItem, DeviceStateItem
from gridpulse.devices.provisioning import device_id_for
from gridpulse.lights import state as light_state
from gridpulse.observability import count, logger, note_device_type
from gridpulse.telemetry.pipeline import current_certificate
from gridpulse.telemetry.readings import iso_ms

LIGHT_STATUSES = light_state.LIGHT_STATUSES


def handle_device_event(event: dict) -> dict:
    if "event_type" in event:
        return apply_presence(event)
    return apply_light_status(event)


def _event_ms(value) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return int(time.time() * 1000)


def apply_presence(event: dict) -> dict:
    device_id = device_id_for(str(event.get("thing_name") or ""))
    if device_id is None or event.get("event_type") not in ("connected", "disconnected"):
        return {"applied": False, "reason": "not a device lifecycle event"}
    at = _event_ms(event.get("event_time"))
    connected = event["event_type"] == "connected"
    state = DeviceStateItem(DeviceItem.key(device_id), "state")
    actions = [
        DeviceStateItem.connected.set(connected),
        DeviceStateItem.presence_at.set(at),
        DeviceStateItem.last_seen.set(iso_ms(at)),
        DeviceStateItem.last_seen_epoch.set(at // 1000),
    ]
    actions.append(
        DeviceStateItem.disconnect_reason.set(event["disconnect_reason"])
        if not connected and event.get("disconnect_reason")
        else DeviceStateItem.disconnect_reason.remove()
    )
    try:
        state.update(
            actions=actions,
            condition=DeviceStateItem.pk.exists()
            & (DeviceStateItem.presence_at.does_not_exist() | (DeviceStateItem.presence_at <= at)),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return {"applied": False, "reason": "stale event or unknown device"}
        raise
    count("DeviceConnected" if connected else "DeviceDisconnected")
    return {"applied": True, "device_id": device_id, "connected": connected}


def apply_light_status(event: dict) -> dict:
    device_id = device_id_for(str(event.get("thing_name") or ""))
    status = event.get("status")
    if device_id is None or status not in LIGHT_STATUSES:
        logger.warning("light status refused", extra={"reason": "unknown thing or status", "status": str(status)[:20]})
        return {"applied": False, "reason": "status must be on, off or error"}
    principal = event.get("principal")
    if principal and principal != current_certificate(device_id):
        logger.warning("light status refused", extra={"reason": "revoked_certificate", "device_id": device_id})
        return {"applied": False, "reason": "sent with a certificate that is no longer the device's"}
    command_id = event.get("command_id")
    result = light_state.apply_status(
        device_id,
        status,
        event.get("error_details"),
        _event_ms(event.get("received_at")),
        actor="device",
        command_id=str(command_id)[:64] if isinstance(command_id, str) and command_id else None,
    )
    if result is None:
        return {"applied": False, "reason": "unknown device"}
    note_device_type("light")
    if not result["applied"]:
        return {"applied": False, "reason": result["reason"]}
    return {"applied": True, "device_id": device_id, "status": status}

"""Device events from IoT Core: presence (lifecycle) and light status.

Online/offline comes from the broker's lifecycle events, not from the device:
a device that loses power cannot say goodbye, but the broker notices the
dropped connection. Events can arrive out of order, so each carries its time
and an older event never overwrites a newer one.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from pynamodb.exceptions import UpdateError

from gridpulse.devices.data import DeviceItem, DeviceLogItem, DeviceStateItem
from gridpulse.devices.provisioning import device_id_for
from gridpulse.observability import count, logger
from gridpulse.telemetry.pipeline import current_certificate
from gridpulse.telemetry.readings import iso_ms

LIGHT_STATUSES = ("on", "off", "error")
LOG_DAYS = 90


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
    details = event.get("error_details")
    details = str(details)[:500] if details is not None else None
    at = _event_ms(event.get("received_at"))
    state = DeviceStateItem(DeviceItem.key(device_id), "state")
    try:
        state.update(
            actions=[
                DeviceStateItem.light_status.set(status),
                DeviceStateItem.light_error.set(details) if details else DeviceStateItem.light_error.remove(),
                DeviceStateItem.light_status_at.set(at),
                DeviceStateItem.last_seen.set(iso_ms(at)),
                DeviceStateItem.last_seen_epoch.set(at // 1000),
            ],
            condition=DeviceStateItem.pk.exists(),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return {"applied": False, "reason": "unknown device"}
        raise
    write_log(device_id, "status", status, details, actor="device", at_ms=at)
    return {"applied": True, "device_id": device_id, "status": status}


def write_log(
    device_id: str, kind: str, status: str | None, details: str | None, actor: str, at_ms: int | None = None
) -> None:
    at_ms = at_ms or int(time.time() * 1000)
    DeviceLogItem(
        DeviceItem.key(device_id),
        f"log#{at_ms:013d}#{kind}",
        kind=kind,
        status=status,
        details=details,
        actor=actor,
        at=datetime.fromtimestamp(at_ms / 1000, tz=timezone.utc).isoformat(),
        ttl=int(time.time()) + LOG_DAYS * 86400,
    ).save()

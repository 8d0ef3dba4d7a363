"""A street light's stored state: its reported status, what was asked of it,
the confirmation of the last command, and its history (log items).

Shared by the lights API (gridpulse.lights.service) and by the IoT path
(gridpulse.devices.presence, the `gridpulse/+/status` rule): both apply a
status report through `apply_status`, so the two paths store the same thing.
No pydantic here: DeviceEventsFunction imports this module.

Where it lives (devices table, partition `device#<id>`):

* `state` item: `light_status`, `light_error`, `light_status_at` (what the
  lamp reported, and when that status began), `light_report_at` (the newest
  report applied: an older one arriving late is not applied), `light_mode`, `light_brightness` (what was last asked) and
  the last command: `cmd_id`, `cmd_action`, `cmd_brightness`, `cmd_expect`,
  `cmd_state`, `cmd_issued_at`, `cmd_issued_ms`, `cmd_settled_at`;
* `log#<epoch ms>#<kind>#<random>` items: one per control and per status
  change, read newest first with a Query on the partition.

Ordering and confirmation (two controls in quick succession must not leave
the stored status and the lamp disagreeing): every command gets `cmd_seq`,
one more than the light's previous command (an atomic ADD on the state
item), and carries it to the lamp (commands topic and shadow desired state);
the lamp ignores a command whose seq is not newer than the last it applied,
and its status report carries the `command_id` of the last command it
applied. `apply_status` then takes:

* a report with the id of the light's latest command (`cmd_id`): stored; it
  confirms that command when its status is the one the command leads to
  (`expected_status`: on, off, or any for auto), fails it on `error` or on
  another status;
* a report with the id of an older command: not stored (the lamp has not got
  the latest one yet, or that report was overtaken), so it cannot overwrite
  what the newer command leads to;
* a report without a command id (a spontaneous change: a failed bulb, the
  photocell in auto): stored when it is newer than the pending command (its
  time is not before `cmd_issued_ms`); an `error` fails the pending command,
  anything else confirms nothing.

A command still pending COMMAND_TIMEOUT_S after it was issued reads as
`failed` (computed on read from `cmd_issued_ms`, nothing scheduled); a later
report carrying its id still confirms it.

Alerts: a change to `error` opens (or bumps) the light's `light_error` alert
through gridpulse.alerts; a change from `error` to on or off resolves it.
"""

from __future__ import annotations

import os
import secrets
import time

from pynamodb.exceptions import UpdateError

from gridpulse.devices.data import DeviceItem, DeviceLogItem, DeviceStateItem
from gridpulse.dynamodb import get_or_none
from gridpulse.observability import count, logger
from gridpulse.telemetry.readings import iso_ms

LIGHT_STATUSES = ("on", "off", "error")
LIGHT_ACTIONS = ("on", "off", "auto")
LOG_DAYS = 90
DEFAULT_BRIGHTNESS = 100  # the firmware's brightness until told otherwise
LIGHT_ERROR_ALERT = "light_error"


def command_timeout_s() -> int:
    """How long a command may wait for the lamp's confirmation (LIGHT_COMMAND_TIMEOUT_S, default 60 s)."""
    try:
        return max(1, int(os.environ.get("LIGHT_COMMAND_TIMEOUT_S", "60")))
    except ValueError:
        return 60


def now_ms() -> int:
    return int(time.time() * 1000)


def expected_status(action: str, brightness: int | None) -> str | None:
    """The status a lamp reports once it has obeyed (None: auto, the lamp decides).
    The firmware keeps the lamp dark at brightness 0."""
    if action == "auto":
        return None
    if action == "on" and brightness != 0:
        return "on"
    return "off"


def command_state(state: DeviceStateItem | None, at_ms: int | None = None) -> str | None:
    if state is None or not state.cmd_id:
        return None
    if (
        state.cmd_state == "pending"
        and (at_ms or now_ms()) - int(state.cmd_issued_ms or 0) > command_timeout_s() * 1000
    ):
        return "failed"
    return state.cmd_state


def last_command(state: DeviceStateItem | None) -> dict | None:
    if state is None or not state.cmd_id:
        return None
    out = {
        "command_id": state.cmd_id,
        "action": state.cmd_action,
        "state": command_state(state),
        "issued_at": state.cmd_issued_at,
    }
    if state.cmd_brightness is not None:
        out["brightness"] = int(state.cmd_brightness)
    return out


def read_state(device_id: str) -> DeviceStateItem | None:
    return get_or_none(DeviceStateItem, DeviceItem.key(device_id), "state", consistent_read=True)


def _conditional(update) -> bool:
    try:
        update()
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def apply_status(
    device_id: str,
    status: str,
    details: str | None,
    at_ms: int,
    actor: str = "device",
    command_id: str | None = None,
) -> dict | None:
    """Store a status report of a light (MQTT or HTTP): status, error details,
    time of the change; settle the command it answers; log a change.

    Returns the stored view, or None when the device has no state item
    (unknown device). Not applied: a report older than the stored one (IoT
    rule invocations may arrive out of order), one about an older command
    than the light's latest, one without a command id from before the
    pending command (see the module's docstring)."""
    details = str(details)[:500] if details else None
    before = read_state(device_id)
    if before is None:
        return None
    if command_id is not None and before.cmd_id and command_id != before.cmd_id:
        return {"applied": False, "reason": "report about an older command", "status": before.light_status}
    if command_id is None and before.cmd_state == "pending" and at_ms < int(before.cmd_issued_ms or 0):
        return {"applied": False, "reason": "report from before the pending command", "status": before.light_status}
    changed = before.light_status != status or (before.light_error or None) != details
    # Unchanged status keeps its last_status_change; a change is stamped with the report's time.
    status_at = at_ms if changed or before.light_status_at is None else int(before.light_status_at)
    state = DeviceStateItem(DeviceItem.key(device_id), "state")
    applied = _conditional(
        lambda: state.update(
            actions=[
                DeviceStateItem.light_status.set(status),
                DeviceStateItem.light_error.set(details) if details else DeviceStateItem.light_error.remove(),
                DeviceStateItem.light_status_at.set(status_at),
                DeviceStateItem.light_report_at.set(at_ms),
                DeviceStateItem.last_seen.set(iso_ms(at_ms)),
                DeviceStateItem.last_seen_epoch.set(at_ms // 1000),
            ],
            condition=DeviceStateItem.pk.exists()
            & (DeviceStateItem.light_report_at.does_not_exist() | (DeviceStateItem.light_report_at <= at_ms)),
        )
    )
    if not applied:
        return {"applied": False, "reason": "stale report", "status": before.light_status}
    if changed:
        write_log(
            device_id,
            "status",
            action=status,
            new_status=status,
            previous_status=before.light_status or "unknown",
            performed_by=actor,
            control_type="device",
            error_details=details,
            at_ms=at_ms,
        )
    if changed:
        _alert(device_id, status, before.light_status, details, at_ms)
    # Last: whoever sees the command confirmed also sees the status and its log entry.
    _settle_command(state, before, status, at_ms, command_id)
    return {
        "applied": True,
        "status": status,
        "error_details": details,
        "last_status_change": iso_ms(status_at),
    }


def _alert(device_id: str, status: str, previous: str | None, details: str | None, at_ms: int) -> None:
    """An `error` report opens the light's `light_error` alert through the
    alert path (one open alert per light and type: a new error bumps it); on
    or off after an error resolves it. Best effort: the status is stored
    whatever happens here (logged and counted, metric LightAlertFailed)."""
    from gridpulse.alerts import service as alerts  # only when a light's status changes
    from gridpulse.alerts.rules import rules_for

    try:
        if status == "error":
            device = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta")
            if device is not None:
                message = f"{device.name} reports an error" + (f": {details}" if details else "")
                alerts.raise_alert(
                    device, rules_for(device), LIGHT_ERROR_ALERT, "warning", message, None, None, at_ms, source="device"
                )
        elif previous == "error":
            alerts.resolve_type(device_id, LIGHT_ERROR_ALERT, by="device")
    except Exception:
        logger.exception("light alert not raised or resolved", extra={"device_id": device_id, "status": status})
        count("LightAlertFailed")


def _settle_command(
    state: DeviceStateItem, before: DeviceStateItem, status: str, at_ms: int, command_id: str | None
) -> None:
    """Confirm or fail the command this report answers: only a report
    carrying the command's id confirms it (the status it leads to) or fails
    it (another status, or error); a report without an id fails a pending
    command on `error` only. Conditional on the command still being the one
    read: a newer command is never settled by a report about an older one."""
    if not before.cmd_id or before.cmd_state != "pending":
        return
    if command_id is None:
        if status != "error" or at_ms < int(before.cmd_issued_ms or 0):
            return
        outcome = "failed"
    elif status == "error":
        outcome = "failed"
    elif before.cmd_expect is None or before.cmd_expect == status:
        outcome = "confirmed"
    else:
        outcome = "failed"
    settled = _conditional(
        lambda: state.update(
            actions=[DeviceStateItem.cmd_state.set(outcome), DeviceStateItem.cmd_settled_at.set(iso_ms(at_ms))],
            condition=(DeviceStateItem.cmd_id == before.cmd_id) & (DeviceStateItem.cmd_state == "pending"),
        )
    )
    if settled and outcome == "confirmed":
        count("CommandsConfirmed")
    elif settled:
        count("CommandsFailed")


def write_log(
    device_id: str,
    kind: str,
    *,
    action: str,
    new_status: str | None,
    previous_status: str | None,
    performed_by: str,
    control_type: str,
    brightness: int | None = None,
    error_details: str | None = None,
    command_id: str | None = None,
    at_ms: int | None = None,
) -> None:
    """One entry of the light's history (`log#<ms>#<kind>#<random>`: newest
    first by sort key; the random part keeps two entries of one millisecond apart)."""
    at_ms = at_ms or now_ms()
    DeviceLogItem(
        DeviceItem.key(device_id),
        f"log#{at_ms:013d}#{kind}#{secrets.token_hex(4)}",
        kind=kind,
        action=action,
        status=new_status,
        previous_status=previous_status,
        details=error_details,
        actor=performed_by,
        control_type=control_type,
        brightness=brightness,
        command_id=command_id,
        at=iso_ms(at_ms),
        ttl=int(time.time()) + LOG_DAYS * 86400,
    ).save()


def log_view(item: DeviceLogItem) -> dict:
    out = {
        "action": item.action or item.status,
        "performed_by": item.actor or "device",
        "control_type": item.control_type or ("device" if item.kind == "status" else "manual"),
        "previous_status": item.previous_status,
        "new_status": item.status,
        "created_at": item.at,
    }
    if item.brightness is not None:
        out["brightness"] = int(item.brightness)
    if item.details:
        out["error_details"] = item.details
    if item.command_id:
        out["command_id"] = item.command_id
    return out

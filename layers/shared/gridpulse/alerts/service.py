"""Raising, bumping, resolving and listing alerts; notifications.

No alert storms: a device has at most one open alert per type. A new breach
of a type that is already open bumps that alert (`count`, `last_seen`)
instead of creating another; the guard item that enforces it is written in
the same transaction as the alert. Alerts resolve themselves once their
condition has been clear for the rule's `clear_after_s`, or when a user
resolves them; only a new alert notifies (SNS email for the owner if the
device's rules say `notify`, and the MQTT topic `gridpulse/users/<owner>/alerts`).
"""

from __future__ import annotations

import json
import time
import uuid
import zlib
from zoneinfo import ZoneInfo

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from gridpulse.accounts.roles import Caller, Role
from gridpulse.alerts.data import SEVERITIES, AlertItem, AlertStateItem, OpenAlertsCounterItem, OpenGuardItem
from gridpulse.alerts.evaluate import State, cleared, evaluate
from gridpulse.alerts.resolution import _lost_race, _resolve, resolve_by_id, resolve_type  # noqa: F401
from gridpulse.alerts.rules import AlertRules, rules_for
from gridpulse.aws import client
from gridpulse.batch import Retryable
from gridpulse.devices import messaging
from gridpulse.devices import service as devices
from gridpulse.devices.data import DeviceItem, DeviceStateItem
from gridpulse.dynamodb import connection, get_or_none, intact
from gridpulse.errors import Forbidden, NotFound
from gridpulse.observability import count, logger
from gridpulse.pagination import chained_page
from gridpulse.settings import get_settings
from gridpulse.sites import scope
from gridpulse.telemetry.readings import Reading, iso_ms
from gridpulse.views import view

NOTIFY_MIN_SEVERITY = "warning"
WATCH_SHARDS = 10
MAX_RETRIES = 5


def _now_ms() -> int:
    return int(time.time() * 1000)


# The keys of an alert in every answer and notification, in order: the fields
# of AlertOut (gridpulse.alerts.schemas; tests/unit/test_views.py checks they match).
ALERT_FIELDS = (
    "alert_id",
    "device_id",
    "device_name",
    "owner_id",
    "alert_type",
    "severity",
    "status",
    "message",
    "value",
    "threshold",
    "count",
    "first_seen",
    "last_seen",
    "resolved_at",
    "resolved_by",
    "source",
)


def alert_view(a: AlertItem) -> dict:
    return view(a, ALERT_FIELDS, count=int(a.count))


# ---------------------------------------------------------------- raise / bump / resolve


def raise_alert(
    device: DeviceItem,
    rules: AlertRules,
    alert_type: str,
    severity: str,
    message: str,
    value: float | None,
    threshold: float | None,
    at_ms: int,
    occurrences: int = 1,
    source: str = "rule",
) -> tuple[AlertItem, bool]:
    """Open an alert, or bump the open one of that type. Returns (alert, created)."""
    guard_key = OpenGuardItem.key(device.device_id, alert_type)
    for _ in range(MAX_RETRIES):
        guard = get_or_none(OpenGuardItem, guard_key, consistent_read=True)
        if guard is not None:
            alert = AlertItem(AlertItem.key(guard.alert_id))
            try:
                alert.update(
                    actions=[
                        AlertItem.count.add(occurrences),
                        AlertItem.last_seen.set(iso_ms(at_ms)),
                        AlertItem.value.set(value) if value is not None else AlertItem.value.remove(),
                        AlertItem.message.set(message),
                    ],
                    condition=AlertItem.pk.exists(),
                )
                return alert, False
            except UpdateError as exc:
                if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                    raise
                # The alert went away under us: its guard is stale.
                logger.info("stale open guard", extra={"alert_id": guard.alert_id})
                try:
                    guard.delete(condition=OpenGuardItem.alert_id == guard.alert_id)
                except DeleteError:
                    pass  # replaced meanwhile: read it again
                continue
        alert_id = str(uuid.uuid4())
        now = iso_ms(at_ms)
        alert = AlertItem(
            AlertItem.key(alert_id),
            alert_id=alert_id,
            device_id=device.device_id,
            device_name=device.name,
            owner_id=device.owner_id,
            hotel_id=device.hotel_id,
            city=scope.city_scope(device),
            alert_type=alert_type,
            severity=severity,
            status="open",
            message=message,
            value=value,
            threshold=threshold,
            count=occurrences,
            first_seen=now,
            last_seen=now,
            source=source,
            created_sk=f"{now}#{alert_id}",
        )
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.save(OpenGuardItem(guard_key, alert_id=alert_id), condition=OpenGuardItem.pk.does_not_exist())
                tx.save(alert)
                tx.update(OpenAlertsCounterItem(OpenAlertsCounterItem.KEY), actions=[OpenAlertsCounterItem.n.add(1)])
        except TransactWriteError as exc:
            if not _lost_race(exc):
                raise
            continue  # someone opened it first: bump theirs
        count("AlertsRaised", alert_type=alert_type)
        logger.info(
            "alert raised",
            extra={"device_id": device.device_id, "alert_id": alert_id, "alert_type": alert_type, "severity": severity},
        )
        if rules.notify and SEVERITIES.index(severity) >= SEVERITIES.index(NOTIFY_MIN_SEVERITY):
            notify(alert)
        return alert, True
    raise Retryable(f"could not raise {alert_type} for {device.device_id}")


def open_alerts() -> int:
    """Alerts not resolved (open or read), platform-wide: one GetItem."""
    try:
        return int(OpenAlertsCounterItem.get(OpenAlertsCounterItem.KEY).n or 0)
    except DoesNotExist:
        return 0


def notify(alert: AlertItem) -> None:
    """Email (SNS, filtered to the owner's subscription) and MQTT for apps. A
    notification failure is logged and never loses the alert itself."""
    body = alert_view(alert)
    subject = (
        f"[GridPulse] {alert.severity}: {alert.alert_type.replace('_', ' ')} on {alert.device_name or alert.device_id}"
    )
    try:
        client("sns").publish(
            TopicArn=get_settings().alerts_topic_arn,
            Subject=subject[:100],
            Message=f"{alert.message}\n\nDevice: {alert.device_name} ({alert.device_id})\nSeverity: {alert.severity}\n"
            f"Alert: {alert.alert_id}\nFirst seen: {alert.first_seen}\n",
            MessageAttributes={
                "owner_id": {"DataType": "String", "StringValue": alert.owner_id},
                "severity": {"DataType": "String", "StringValue": alert.severity},
            },
        )
    except Exception:
        logger.exception("alert email not sent", extra={"alert_id": alert.alert_id})
    try:
        messaging.publish_json(f"gridpulse/users/{alert.owner_id}/alerts", body)
    except Exception:
        logger.exception("alert MQTT message not sent", extra={"alert_id": alert.alert_id})


def subscribe_owner(email: str, owner_id: str) -> None:
    """The owner's email receives the owner's alerts (SNS filter policy on owner_id)."""
    client("sns").subscribe(
        TopicArn=get_settings().alerts_topic_arn,
        Protocol="email",
        Endpoint=email,
        Attributes={"FilterPolicy": json.dumps({"owner_id": [owner_id]})},
        ReturnSubscriptionArn=True,
    )


# ---------------------------------------------------------------- evaluation state


def _load_state(device_id: str) -> tuple[AlertStateItem, State]:
    try:
        item = AlertStateItem.get(AlertStateItem.key(device_id), consistent_read=True)
    except DoesNotExist:
        item = AlertStateItem(AlertStateItem.key(device_id), version=0)
    state = State(
        last_ts=int(item.last_ts or 0),
        last_key=item.last_key,
        baseline_w=item.baseline_w,
        profile=json.loads(item.profile or "{}"),
        hour_acc=json.loads(item.hour_acc) if item.hour_acc else None,
        breaches=json.loads(item.breaches or "{}"),
    )
    return item, state


def _shard(device_id: str) -> str:
    return f"w#{zlib.crc32(device_id.encode()) % WATCH_SHARDS}"


def _save_state(
    item: AlertStateItem, state: State, rules: AlertRules, device_id: str, heard_s: int, offline: bool
) -> bool:
    version = int(item.version or 0)
    item.last_ts = state.last_ts
    item.last_key = state.last_key
    item.baseline_w = round(state.baseline_w, 3) if state.baseline_w is not None else None
    item.profile = json.dumps(state.profile, separators=(",", ":"))
    item.hour_acc = json.dumps(state.hour_acc) if state.hour_acc else None
    item.breaches = json.dumps(state.breaches, separators=(",", ":"))
    item.offline_after_s = rules.offline_after_s
    item.offline_open = offline
    # An offline device stays out of the silence index until it is heard from again.
    item.watch_pk = None if offline else _shard(device_id)
    item.watch_at = max(int(item.watch_at or 0), heard_s)
    item.version = version + 1
    try:
        # Version 0: no evaluation saved yet (a heartbeat may have created the item).
        item.save(
            condition=AlertStateItem.version == version
            if version
            else (AlertStateItem.version.does_not_exist() | (AlertStateItem.version == 0))
        )
        return True
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise


def evaluate_readings(device: DeviceItem, readings: list[Reading], tz: ZoneInfo, heard_ms: int | None = None) -> dict:
    """Evaluate new readings of a device: raise, bump and auto-resolve alerts.

    `heard_ms` is when the platform received the newest message behind these
    readings (default: the readings' own receive times). It, not the device's
    clock, is what the offline check measures silence from: a device uploading
    a backlog of old readings is heard now."""
    rules = rules_for(device)
    heard_s = (heard_ms if heard_ms is not None else max((r.received_ms for r in readings), default=0)) // 1000
    for _ in range(MAX_RETRIES):
        item, state = _load_state(device.device_id)
        was_offline = bool(item.offline_open)
        # A message received before `offline` was raised (a late redelivery) does not clear it.
        heard_since = heard_s > int(item.watch_at or 0)
        breaches, fresh = evaluate(readings, rules, state, tz)
        if fresh == 0:
            if heard_since:
                _heard(device.device_id, heard_s, was_offline)
            return {"evaluated": 0, "raised": 0}
        to_clear = cleared(state, rules, state.last_ts, {b.alert_type for b in breaches})
        for alert_type in to_clear:
            state.breaches.pop(alert_type, None)
        if _save_state(item, state, rules, device.device_id, heard_s, offline=was_offline and not heard_since):
            break
    else:
        raise Retryable("alert state kept changing underneath")
    raised = 0
    for breach in breaches:
        _, created = raise_alert(
            device,
            rules,
            breach.alert_type,
            breach.severity,
            breach.message,
            breach.value,
            breach.threshold,
            breach.at_ms,
            breach.occurrences,
        )
        raised += created
    for alert_type in to_clear:
        resolve_type(device.device_id, alert_type, "auto")
    recovered = was_offline and heard_since
    if recovered:
        resolve_type(device.device_id, "offline", "auto")
    count("AlertEvaluations", fresh)
    return {"evaluated": fresh, "raised": raised, "resolved": len(to_clear) + recovered}


def _heard(device_id: str, heard_s: int, was_offline: bool) -> None:
    """The device was heard at `heard_s` (only older readings, or none that
    passed the checks): move its silence clock, and clear `offline`."""
    state = AlertStateItem(AlertStateItem.key(device_id))
    try:
        state.update(
            actions=[
                AlertStateItem.watch_pk.set(_shard(device_id)),
                AlertStateItem.watch_at.set(heard_s),
                AlertStateItem.offline_open.set(False),
            ],
            condition=AlertStateItem.watch_at.does_not_exist() | (AlertStateItem.watch_at < heard_s),
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return  # heard more recently by another message
        raise
    if was_offline:
        resolve_type(device_id, "offline", "auto")


def touch(device: DeviceItem) -> None:
    """A heartbeat: the device is alive (clears `offline`, feeds the silence index)."""
    now_s = int(time.time())
    state = AlertStateItem(AlertStateItem.key(device.device_id))
    state.update(
        actions=[
            AlertStateItem.watch_pk.set(_shard(device.device_id)),
            AlertStateItem.watch_at.set(now_s),
            AlertStateItem.offline_open.set(False),
        ]
    )
    resolve_type(device.device_id, "offline", "auto")


def _presence(device_id: str) -> DeviceStateItem | None:
    return get_or_none(DeviceStateItem, DeviceItem.key(device_id), "state")


def check_offline(now_s: int | None = None) -> dict:
    """Raise `offline` for watched devices silent longer than their offline_after_s.

    Silence is measured on the platform's clock, never the device's: from the
    last time a message of the device was received (telemetry on either path,
    a heartbeat) or the broker reported it connecting or disconnecting,
    whichever is later. A device the broker reports connected is online and
    not flagged, however old the readings it sends.

    One Query per shard of the sparse `silence` index (watch_at older than the
    shortest allowed threshold); a device that went offline leaves the index
    until it is heard from again, so dead devices are not re-read every run.
    """
    now_s = now_s or int(time.time())
    candidates = []
    for shard in range(WATCH_SHARDS):
        candidates += list(AlertStateItem.silence.query(f"w#{shard}", AlertStateItem.watch_at < now_s - 60))
    raised = 0
    for candidate in candidates:
        device_id = candidate.pk.split("#", 1)[1]
        try:
            item = AlertStateItem.get(candidate.pk, consistent_read=True)
            device = DeviceItem.get(DeviceItem.key(device_id), "meta")
        except DoesNotExist:
            continue
        rules = rules_for(device)
        if item.offline_open or device.status != "active":
            continue
        presence = _presence(device_id)
        if presence is not None and presence.connected:
            continue
        heard_s = max(int(item.watch_at or 0), int(presence.presence_at or 0) // 1000 if presence else 0)
        silent_for = now_s - heard_s
        if silent_for <= rules.offline_after_s:
            continue
        _, created = raise_alert(
            device,
            rules,
            "offline",
            "warning",
            f"No data for {silent_for // 60} min (limit {rules.offline_after_s // 60} min)",
            float(silent_for),
            float(rules.offline_after_s),
            now_s * 1000,
        )
        item.update(actions=[AlertStateItem.offline_open.set(True), AlertStateItem.watch_pk.remove()])
        raised += created
    return {"checked": len(candidates), "raised": raised}


# ---------------------------------------------------------------- API side


def visible_alert(caller: Caller, alert_id: str) -> AlertItem:
    """The alert, if the caller owns its device, is an admin, or can see its
    device now (the device's current hotel and city scope, not the scope it
    had when the alert was raised; or a prepaid meter assigned to the caller, as
    GET /alerts lists it); 404 otherwise."""
    alert = get_or_none(AlertItem, AlertItem.key(alert_id))
    if alert is not None and (caller.is_admin or alert.owner_id == caller.user_id):
        return alert
    try:
        if alert is not None:
            devices.visible_or_assigned(caller, alert.device_id)
            return alert
    except NotFound:
        pass
    raise NotFound("No such alert.", code="alert_not_found")


def mark_read(caller: Caller, alert_id: str) -> dict:
    alert = visible_alert(caller, alert_id)
    if alert.status == "open":
        alert.update(actions=[AlertItem.status.set("read")], condition=AlertItem.status == "open")
    return alert_view(alert)


def resolve(caller: Caller, alert_id: str) -> dict:
    """Resolve by hand: the device's owner, an operator in scope or an admin.
    A viewer who sees the alert through its scope may only mark it read (403)."""
    alert = visible_alert(caller, alert_id)
    if not (caller.is_admin or alert.owner_id == caller.user_id or caller.role is Role.operator):
        raise Forbidden("Only the device's owner, an operator or an admin may resolve an alert.", code="forbidden")
    return alert_view(_resolve(alert.alert_id, f"user:{caller.user_id}") or alert)


def manual(caller: Caller, device: DeviceItem, message: str, alert_type: str, severity: str) -> tuple[dict, bool]:
    caller.require(Role.operator, Role.admin)
    alert, created = raise_alert(
        device, rules_for(device), alert_type, severity, message, None, None, _now_ms(), source=f"user:{caller.user_id}"
    )
    return alert_view(alert), created


def _matches(alert: AlertItem, filters: dict) -> bool:
    return all(
        not filters.get(k) or getattr(alert, k) == filters[k] for k in ("status", "device_id", "severity", "alert_type")
    )


def _source(index, hash_value: str, filters: dict, keep=lambda a: True):
    def query(limit: int, start: dict | None):
        result = index.query(hash_value, scan_index_forward=False, limit=limit, last_evaluated_key=start)
        items = [a for a in intact(result, "alert") if _matches(a, filters) and keep(a)]
        return items, result.last_evaluated_key

    return f"{index.Meta.index_name}:{hash_value}", query, lambda a: True


def list_alerts(caller: Caller, filters: dict, limit: int, next_token: str | None, user_id: str | None = None) -> dict:
    """Newest first. By device (when given), the user's own, or everything for admins;
    scoped users also see the alerts of devices in their hotels and cities, and of the prepaid
    meters assigned to them (as GET /devices lists them; the device filter sees them too)."""
    if filters.get("device_id"):
        device = devices.visible_or_assigned(caller, filters["device_id"])
        sources = [_source(AlertItem.by_device, device.device_id, filters)]
    elif user_id is not None:
        sources = [_source(AlertItem.by_owner, user_id, filters)]
    elif caller.is_admin:
        sources = [_source(AlertItem.all_alerts, "alerts", filters)]
    else:
        # Own devices' alerts, then those of other devices the caller may see
        # (its hotels' and cities' devices: one Query per device).
        sources = [_source(AlertItem.by_owner, caller.user_id, filters)]
        others = devices.list_visible(caller, {}, 1000, None)["items"]
        sources += [
            _source(AlertItem.by_device, d["device_id"], filters) for d in others if d["owner_id"] != caller.user_id
        ]
    items, token = chained_page(sources, limit, next_token, f"alerts:{caller.user_id}:{sorted(filters.items())}")
    views = [alert_view(a) for a in items]
    return {"items": views, "count": len(views), "next_token": token}


def owner_email(user_id: str) -> str | None:
    from gridpulse.accounts.data import UserItem

    try:
        return UserItem.get(UserItem.key(user_id)).email
    except DoesNotExist:
        return None

"""Resolving alerts by the platform itself (no caller checks): by device and
type (the open guard names the alert) or by id. Apart from
gridpulse.alerts.service so that contexts the registry imports (billing: a
top-up resolves `low_balance`) can resolve without importing the registry.
"""

from __future__ import annotations

import time

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from gridpulse.alerts.data import AlertItem, OpenAlertsCounterItem, OpenGuardItem
from gridpulse.dynamodb import connection
from gridpulse.observability import count
from gridpulse.telemetry.readings import iso_ms


def _now_ms() -> int:
    return int(time.time() * 1000)


def resolve_type(device_id: str, alert_type: str, by: str) -> AlertItem | None:
    try:
        guard = OpenGuardItem.get(OpenGuardItem.key(device_id, alert_type), consistent_read=True)
    except DoesNotExist:
        return None
    return _resolve(guard.alert_id, by)


def resolve_by_id(alert_id: str, by: str) -> AlertItem | None:
    """Resolve an alert (no caller checks: for the platform itself)."""
    return _resolve(alert_id, by)


def _resolve(alert_id: str, by: str) -> AlertItem | None:
    try:
        alert = AlertItem.get(AlertItem.key(alert_id), consistent_read=True)
    except DoesNotExist:
        return None
    if alert.status == "resolved":
        return alert
    try:
        # Conditional, so that two resolvers racing count the alert out of the open ones once.
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                alert,
                actions=[
                    AlertItem.status.set("resolved"),
                    AlertItem.resolved_at.set(iso_ms(_now_ms())),
                    AlertItem.resolved_by.set(by),
                ],
                condition=AlertItem.status != "resolved",
            )
            tx.delete(
                OpenGuardItem(OpenGuardItem.key(alert.device_id, alert.alert_type)),
                condition=OpenGuardItem.pk.does_not_exist() | (OpenGuardItem.alert_id == alert_id),
            )
            tx.update(OpenAlertsCounterItem(OpenAlertsCounterItem.KEY), actions=[OpenAlertsCounterItem.n.add(-1)])
    except TransactWriteError as exc:
        if not _lost_race(exc):
            raise
    alert.refresh(consistent_read=True)
    count("AlertsResolved")
    return alert


def _lost_race(exc: TransactWriteError) -> bool:
    """The transaction was refused by one of its conditions (someone else got there first)."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return getattr(exc, "cause_response_code", None) == "TransactionCanceledException" and any(
        r is not None and r.code == "ConditionalCheckFailed" for r in reasons
    )

"""Platform-wide counts for /admin/stats and /status, read from counter items
(kept by the writes themselves) so that no request ever scans a table.

* users, devices: the identity and device tables' counters;
* readings stored: `counter#readings` in the telemetry table, added to where
  new readings are stored (once per SQS batch or HTTP request; a redelivery
  stores nothing new) and subtracted from where readings are deleted;
* open alerts: `counter#open-alerts` in the alerts table, changed in the same
  transaction that opens or resolves an alert (open and read alerts count).

Only counter items are read here (no registry or account code), so that
HealthFunction's /status imports nothing but the tables' models.
"""

from __future__ import annotations

from gridpulse.accounts.data import CounterItem
from gridpulse.alerts.data import OpenAlertsCounterItem
from gridpulse.devices.data import DeviceCounterItem
from gridpulse.dynamodb import get_or_none
from gridpulse.telemetry.data import ReadingsCounterItem


def _counter(model, *key) -> int:
    item = get_or_none(model, *key)
    return max(0, int(item.n or 0)) if item is not None else 0


def _totals(model, *key) -> dict:
    """A counter item with `total` and `active`, as a dict; zeros before its first write."""
    item = get_or_none(model, *key)
    return {"total": int(item.total), "active": int(item.active)} if item is not None else {"total": 0, "active": 0}


def platform_stats() -> dict:
    device_counts = _totals(DeviceCounterItem, "counter#devices", "counter")
    return {
        "users": _totals(CounterItem, CounterItem.USERS),
        "total_devices": device_counts["total"],
        "active_devices": device_counts["active"],
        "readings_stored": _counter(ReadingsCounterItem, ReadingsCounterItem.KEY, "counter"),
        "open_alerts": _counter(OpenAlertsCounterItem, OpenAlertsCounterItem.KEY),
    }

"""Platform-wide counts for /admin/stats and /status, read from counter items
(kept by the writes themselves) so that no request ever scans a table.

* users, devices: the identity and device tables' counters;
* readings stored: `counter#readings` in the telemetry table, added to where
  new readings are stored (once per SQS batch or HTTP request; a redelivery
  stores nothing new) and subtracted from where readings are deleted;
* open alerts: `counter#open-alerts` in the alerts table, changed in the same
  transaction that opens or resolves an alert (open and read alerts count).
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from gridpulse.data.alerts import OpenAlertsCounterItem
from gridpulse.data.telemetry import ReadingsCounterItem
from gridpulse.domain import devices, users


def _counter(model, *key) -> int:
    try:
        return max(0, int(model.get(*key).n or 0))
    except DoesNotExist:
        return 0


def platform_stats() -> dict:
    device_counts = devices.counts()
    return {
        "users": users.user_counts(),
        "total_devices": device_counts["total"],
        "active_devices": device_counts["active"],
        "readings_stored": _counter(ReadingsCounterItem, ReadingsCounterItem.KEY, "counter"),
        "open_alerts": _counter(OpenAlertsCounterItem, OpenAlertsCounterItem.KEY),
    }


def device_statuses(limit: int, next_token: str | None) -> dict:
    return devices.statuses(limit, next_token)

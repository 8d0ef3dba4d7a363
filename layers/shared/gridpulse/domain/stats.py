"""Platform-wide counts for /admin/stats and /status, read from counter items
(kept by the writes themselves) so that no request ever scans a table."""
from __future__ import annotations

from gridpulse.domain import devices, users


def platform_stats() -> dict:
    device_counts = devices.counts()
    # Readings and alerts get their own counters with their tables; until
    # those exist the platform honestly has none of them.
    return {
        "users": users.user_counts(),
        "total_devices": device_counts["total"],
        "active_devices": device_counts["active"],
        "readings_stored": 0,
        "open_alerts": 0,
    }


def device_statuses(limit: int, next_token: str | None) -> dict:
    return devices.statuses(limit, next_token)

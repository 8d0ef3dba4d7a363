"""The alerts table: alerts, the "one open alert per device and type" guard,
and each device's evaluation state.

| item | pk | notes |
|---|---|---|
| alert | `alert#<alert_id>` | GetItem by id; listed by index `by-device`, `by-owner` and `all-alerts` (all three on `created_sk` = `<created>#<id>`) |
| open guard | `open#<device_id>#<type>` | exists while an alert of that type is open (or read) for the device; created in the same transaction as the alert, so a second one cannot be |
| open alerts counter | `counter#open-alerts` | alerts not resolved, platform-wide (/admin/stats); changed in the transactions that open and resolve alerts |
| evaluation state | `state#<device_id>` | last evaluated reading, power baseline, hour-of-day profile, last breach per type; `watch_pk`/`watch_at` (when the platform last heard from the device: receive time, epoch s) put it in the sparse `silence` index that the offline check queries |

A device's alert rules are an item of the devices table (`device#<id>`,
`alert-rules`): AlertRulesItem below.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import KeysOnlyProjection
from pynamodb.models import Model

from gridpulse.devices.data import DevicesTableMeta
from gridpulse.dynamodb import gsi, region, table_name

ALERTS_TABLE = table_name("ALERTS_TABLE", "gridpulse-alerts")

# The values of AlertItem.severity, lowest first (the API's Severity is derived from it).
SEVERITIES = ("info", "warning", "critical")


class _Meta:
    table_name = ALERTS_TABLE
    region = region()


class AlertItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    alert_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    device_name = UnicodeAttribute(null=True)
    owner_id = UnicodeAttribute()
    hotel_id = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    alert_type = UnicodeAttribute()
    severity = UnicodeAttribute()
    status = UnicodeAttribute()  # open, read, resolved
    message = UnicodeAttribute()
    value = NumberAttribute(null=True)
    threshold = NumberAttribute(null=True)
    count = NumberAttribute(default=1)
    first_seen = UnicodeAttribute()
    last_seen = UnicodeAttribute()
    resolved_at = UnicodeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    source = UnicodeAttribute(default="rule")
    list_pk = UnicodeAttribute(default="alerts")
    created_sk = UnicodeAttribute()

    by_device = gsi("by-device", "device_id", "created_sk")
    by_owner = gsi("by-owner", "owner_id", "created_sk")
    all_alerts = gsi("all-alerts", "list_pk", "created_sk")

    @staticmethod
    def key(alert_id: str) -> str:
        return f"alert#{alert_id}"


class OpenGuardItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    alert_id = UnicodeAttribute()

    @staticmethod
    def key(device_id: str, alert_type: str) -> str:
        return f"open#{device_id}#{alert_type}"


class AlertStateItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    last_ts = NumberAttribute(default=0)
    last_key = UnicodeAttribute(null=True)  # identity of the last reading evaluated at last_ts
    baseline_w = NumberAttribute(null=True)
    profile = UnicodeAttribute(default="{}")  # JSON {local hour: [n, mean, m2]}
    hour_acc = UnicodeAttribute(null=True)  # JSON [hour key, sum, n] of the hour being accumulated
    breaches = UnicodeAttribute(default="{}")  # JSON {type: last breach epoch ms}
    offline_open = BooleanAttribute(default=False)
    offline_after_s = NumberAttribute(null=True)
    watch_pk = UnicodeAttribute(null=True)
    watch_at = NumberAttribute(null=True)
    version = NumberAttribute(default=0)

    silence = gsi("silence", "watch_pk", "watch_at", NumberAttribute, KeysOnlyProjection)

    @staticmethod
    def key(device_id: str) -> str:
        return f"state#{device_id}"


class OpenAlertsCounterItem(Model):
    class Meta(_Meta):
        pass

    KEY = "counter#open-alerts"

    pk = UnicodeAttribute(hash_key=True)
    n = NumberAttribute(default=0)


class AlertRulesItem(Model):
    """A device's alert rules, in the devices table's device partition."""

    class Meta(DevicesTableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="alert-rules")
    rules = UnicodeAttribute()  # JSON of the fields that were set

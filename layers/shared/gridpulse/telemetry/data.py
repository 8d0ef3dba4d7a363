"""The telemetry table: raw readings, day and month rollups and quarantine, per device.

Key (`pk` = `device#<id>`, `sk`); everything of one device lives in its own
partition, so load spreads across devices and every read is a Query or a
GetItem in one partition.

| item | sk | holds |
|---|---|---|
| raw readings | `r#<bucket ms, 13 digits>#<first ts>#<digest>` | the readings of one message that fall in one bucket (a local hour), compact JSON; TTL = retention |
| month rollup | `m#<YYYY-MM>` (site time zone) | the kWh of each day of the month, with the day rollup's version |
| day rollup | `d#<YYYY-MM-DD>` (site time zone) | per-bucket stats (kWh, count, power sum/min/max), day totals, the newest reading, a version for optimistic locking |
| quarantine | `q#<received ms>#<digest of origin and text>#<index>` | a refused reading or message, the reason and field; TTL 30 days |

One more item, outside any device: `pk` = `counter#readings`, `sk` =
`counter`, the number of readings stored (for /admin/stats; atomic ADD).

Raw items are grouped by bucket so that recomputing a bucket is one Query; a
message costs one write per bucket it touches (usually one), not one per
reading. Day items make a 30-day chart 30 items; month items make a year by
month 12 items plus the day items of the last, partial month.
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from gridpulse.dynamodb import region, table_name

TELEMETRY_TABLE = table_name("TELEMETRY_TABLE", "gridpulse-telemetry")


class _Meta:
    table_name = TELEMETRY_TABLE
    region = region()


class RawItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    bucket = NumberAttribute()
    first_ts = NumberAttribute()
    last_ts = NumberAttribute()
    n = NumberAttribute()
    readings = UnicodeAttribute()  # JSON list of Reading.compact()
    ttl = NumberAttribute()


class DayItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    date = UnicodeAttribute()
    tz = UnicodeAttribute()
    buckets = UnicodeAttribute(default="{}")  # JSON {bucket ms: stats}
    kwh = NumberAttribute(default=0)
    n = NumberAttribute(default=0)
    latest = UnicodeAttribute(null=True)  # JSON Reading.compact() of the newest reading
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


class MonthItem(Model):
    """Monthly rollup: the kWh of each local day, with the version of the day
    rollup it came from (an older day version never overwrites a newer one)."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # m#YYYY-MM
    tz = UnicodeAttribute()
    days = MapAttribute(default=dict)  # {YYYY-MM-DD: {"k": kWh, "v": day version}}


class QuarantineItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    field = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
    raw = UnicodeAttribute()
    received_at = UnicodeAttribute()
    source = UnicodeAttribute()
    ttl = NumberAttribute()


class ReadingsCounterItem(Model):
    class Meta(_Meta):
        pass

    KEY = "counter#readings"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    n = NumberAttribute(default=0)


def device_pk(device_id: str) -> str:
    return f"device#{device_id}"


def raw_prefix(bucket_ms: int) -> str:
    return f"r#{bucket_ms:013d}#"


def day_sk(date: str) -> str:
    return f"d#{date}"


def month_sk(month: str) -> str:
    return f"m#{month}"

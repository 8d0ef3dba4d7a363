"""Buckets and the day and month rollups, recomputed from the raw readings.

A rollup is never incremented: after new readings are stored, every bucket
they touch (and the bucket after it, whose first interval depends on them)
is recomputed from the raw readings and written into its day item with an
optimistic version check; the day's total then goes into its month item
(unless that already holds a newer version of the day). Recomputing makes rollups correct under MQTT
redelivery (a reading counted twice is impossible: readings are de-duplicated
by identity when a bucket is read), under late and out-of-order data, and
after deletes; the version check makes concurrent writers safe (the loser
re-reads and recomputes).

A bucket holds the interval energy (`e`), the number of intervals (`n`),
power statistics (`ps`/`pn` sum and count, `pmin`/`pmax`), the flagged
intervals (`q`) and, where the readings carry them, the sums and counts of
voltage (`vs`/`vn`), current (`as`/`an`) and temperature (`ts`/`tn`) of
the bucket's readings, so an hour's mean of each is sum / count (the
forecasts' expected voltage, current and temperature). All of it is the
one day item's write.

Buckets are the hours of the site's time zone, identified by the UTC instant
(epoch ms) at which each local hour starts, so a day is exactly the buckets of
its local calendar date: 23 on the spring DST day, 25 in autumn.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from gridpulse.batch import Retryable
from gridpulse.dynamodb import get_or_none
from gridpulse.observability import logger
from gridpulse.telemetry.data import DayItem, MonthItem, RawItem, day_sk, device_pk, month_sk, raw_prefix
from gridpulse.telemetry.energy import intervals
from gridpulse.telemetry.readings import Reading

HOUR_MS = 3_600_000
MAX_RETRIES = 5
# Reading field -> bucket key prefix of its sum (`<p>s`) and count (`<p>n`).
ELECTRICS = {"voltage": "v", "current": "a", "temperature": "t"}


# ---------------------------------------------------------------- time buckets


def bucket_of(ts_ms: int, tz: ZoneInfo) -> int:
    """Epoch ms at which the local hour containing ts_ms starts."""
    local = datetime.fromtimestamp(ts_ms / 1000, tz=tz)
    start = local.replace(minute=0, second=0, microsecond=0)
    return int(start.timestamp() * 1000)


def local_date(bucket_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(bucket_ms / 1000, tz=tz).date().isoformat()


def day_bounds_ms(day: date, tz: ZoneInfo) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


# ---------------------------------------------------------------- raw reads


def _readings_of(item: RawItem) -> list[Reading]:
    return [Reading.from_compact(r) for r in json.loads(item.readings)]


def bucket_readings(device_id: str, bucket_ms: int) -> list[Reading]:
    """Every stored reading of one bucket (all messages), de-duplicated."""
    seen: dict[str, Reading] = {}
    for item in RawItem.query(device_pk(device_id), RawItem.sk.startswith(raw_prefix(bucket_ms)), consistent_read=True):
        for reading in _readings_of(item):
            seen.setdefault(reading.identity, reading)
    return sorted(seen.values(), key=lambda r: (r.ts_ms, r.identity))


def neighbour_bucket(device_id: str, bucket_ms: int, forward: bool) -> int | None:
    """The nearest bucket with data strictly before or after `bucket_ms`."""
    if forward:
        condition = RawItem.sk.between(raw_prefix(bucket_ms) + "~", "r#~")
    else:
        condition = RawItem.sk.between("r#", raw_prefix(bucket_ms))
    for item in RawItem.query(
        device_pk(device_id), condition, scan_index_forward=forward, limit=1, consistent_read=True
    ):
        return int(item.bucket)
    return None


# ---------------------------------------------------------------- stats


@dataclass
class BucketStats:
    kwh: float = 0.0
    n: int = 0
    flagged: dict = field(default_factory=dict)
    p_sum: float = 0.0
    p_n: int = 0
    p_min: float | None = None
    p_max: float | None = None
    jumps: list = field(default_factory=list)  # readings whose interval was refused (not stored in the rollup)
    electrics: dict = field(default_factory=dict)  # ELECTRICS prefix -> [sum, count] over the bucket's readings

    def as_json(self) -> dict:
        out = {"e": round(self.kwh, 6), "n": self.n}
        if self.p_n:
            out.update(ps=round(self.p_sum, 3), pn=self.p_n, pmin=self.p_min, pmax=self.p_max)
        if self.flagged:
            out["q"] = self.flagged
        for prefix, (total, n) in sorted(self.electrics.items()):
            out[f"{prefix}s"], out[f"{prefix}n"] = round(total, 3), n
        return out


def electric_means(stats: dict) -> dict[str, float]:
    """The bucket's mean voltage, current and temperature (by reading field name), where it has them."""
    out = {}
    for name, prefix in ELECTRICS.items():
        n = stats.get(f"{prefix}n")
        if n:
            out[name] = float(stats[f"{prefix}s"]) / int(n)
    return out


def bucket_stats(readings: list[Reading], previous: Reading | None, max_power_w: float) -> BucketStats:
    stats = BucketStats()
    for iv in intervals(readings, previous, max_power_w):
        stats.n += 1
        stats.kwh += iv.kwh
        if iv.flag in ("impossible_jump", "reset", "gap"):
            stats.flagged[iv.flag] = stats.flagged.get(iv.flag, 0) + 1
        if iv.flag == "impossible_jump":
            stats.jumps.append(iv.reading)
        p = iv.reading.power_w
        if p is not None:
            stats.p_sum += p
            stats.p_n += 1
            stats.p_min = p if stats.p_min is None else min(stats.p_min, p)
            stats.p_max = p if stats.p_max is None else max(stats.p_max, p)
    for reading in readings:
        for name, prefix in ELECTRICS.items():
            value = getattr(reading, name)
            if value is not None and math.isfinite(value):
                total = stats.electrics.setdefault(prefix, [0.0, 0])
                total[0] += value
                total[1] += 1
    return stats


# ---------------------------------------------------------------- recompute


class BucketCache:
    """Buckets read during one recompute, so neighbours are read once."""

    def __init__(self, device_id: str):
        self.device_id = device_id
        self.readings: dict[int, list[Reading]] = {}

    def get(self, bucket_ms: int) -> list[Reading]:
        if bucket_ms not in self.readings:
            self.readings[bucket_ms] = bucket_readings(self.device_id, bucket_ms)
        return self.readings[bucket_ms]

    def preload(self, buckets: set[int]) -> None:
        """Read many buckets with one Query per run of consecutive hours (a
        backlog upload touches hundreds) instead of one Query per bucket; a
        bucket far from the others is still read alone, so a late reading
        beside a live one never reads the raw days between them."""
        runs: list[list[int]] = []
        for bucket in sorted(b for b in buckets if b not in self.readings):
            if runs and bucket - runs[-1][-1] <= HOUR_MS:
                runs[-1].append(bucket)
            else:
                runs.append([bucket])
        for run in runs:
            if len(run) == 1:
                self.get(run[0])
                continue
            found: dict[int, dict[str, Reading]] = {b: {} for b in run}
            condition = RawItem.sk.between(raw_prefix(run[0]), raw_prefix(run[-1]) + "~")
            for item in RawItem.query(device_pk(self.device_id), condition, consistent_read=True):
                seen = found.setdefault(int(item.bucket), {})
                for reading in _readings_of(item):
                    seen.setdefault(reading.identity, reading)
            for bucket, seen in found.items():
                self.readings[bucket] = sorted(seen.values(), key=lambda r: (r.ts_ms, r.identity))

    def add(self, bucket_ms: int, readings: list[Reading]) -> None:
        """Readings this process has just stored in a bucket it already read."""
        merged = {r.identity: r for r in self.readings.get(bucket_ms, [])}
        for reading in readings:
            merged.setdefault(reading.identity, reading)
        self.readings[bucket_ms] = sorted(merged.values(), key=lambda r: (r.ts_ms, r.identity))

    def previous_reading(self, bucket_ms: int) -> Reading | None:
        before = self.readings.get(bucket_ms - HOUR_MS)
        if not before:
            found = neighbour_bucket(self.device_id, bucket_ms, forward=False)
            if found is None:
                return None
            before = self.get(found)
        return before[-1] if before else None


def preload_days(device_id: str, buckets: set[int], tz: ZoneInfo, tz_name: str) -> dict[str, DayItem]:
    """The day items a write to `buckets` may touch (their dates and the next
    hour's), read before any raw bucket so that `recompute` can use the raw
    readings already read: a writer that read raw data older than a
    concurrent writer's then fails its version check and re-reads everything."""
    dates = {local_date(b, tz) for b in buckets} | {local_date(b + HOUR_MS, tz) for b in buckets}
    return {day: _load_day(device_id, day, tz_name) for day in sorted(dates)}


def recompute(
    device_id: str,
    buckets: set[int],
    tz_name: str,
    max_power_w: float,
    cache: BucketCache | None = None,
    days: dict[str, DayItem] | None = None,
) -> list[Reading]:
    """Recompute `buckets` (and each one's successor) into their day items.
    Returns the readings whose interval was refused as an impossible jump.

    `cache` and `days` let the caller reuse what it read, on the condition of
    `preload_days`: the day items were read before the raw buckets."""
    tz = ZoneInfo(tz_name)
    affected = set(buckets)
    for bucket in buckets:
        if bucket + HOUR_MS in buckets and _same_minutes(bucket, bucket + HOUR_MS, tz):
            continue  # the next local hour is being recomputed anyway: nothing lies between
        following = neighbour_bucket(device_id, bucket, forward=True)
        if following is not None:
            affected.add(following)
    by_date: dict[str, list[int]] = {}
    for bucket in sorted(affected):
        by_date.setdefault(local_date(bucket, tz), []).append(bucket)
    jumps: list[Reading] = []
    for day, day_buckets in sorted(by_date.items()):
        preloaded = (days or {}).get(day)
        jumps += _write_day(
            device_id,
            day,
            day_buckets,
            tz_name,
            max_power_w,
            first_try=(preloaded, cache) if preloaded is not None and cache is not None else None,
        )
    return jumps


def _same_minutes(a_ms: int, b_ms: int, tz: ZoneInfo) -> bool:
    """Whether the zone's UTC offset has the same minutes at both instants, so
    that no local hour starts strictly between two buckets an hour apart."""

    def minutes(ms: int) -> float:
        offset = datetime.fromtimestamp(ms / 1000, tz=tz).utcoffset() or timedelta(0)
        return offset.total_seconds() % 3600

    return minutes(a_ms) == minutes(b_ms)


def _load_day(device_id: str, day: str, tz_name: str) -> DayItem:
    try:
        return DayItem.get(device_pk(device_id), day_sk(day), consistent_read=True)
    except DoesNotExist:
        return DayItem(device_pk(device_id), day_sk(day), date=day, tz=tz_name, version=0)


def _write_day(
    device_id: str,
    day: str,
    buckets: list[int],
    tz_name: str,
    max_power_w: float,
    first_try: tuple[DayItem, BucketCache] | None = None,
) -> list[Reading]:
    for attempt in range(MAX_RETRIES):
        jumps: list[Reading] = []
        if attempt == 0 and first_try is not None:
            item, cache = first_try
        else:
            # Read the day item (and its version) before the raw readings: a writer
            # that read stale raw data then fails its version check and retries.
            item = _load_day(device_id, day, tz_name)
            cache = BucketCache(device_id)
        version = int(item.version or 0)
        stored = json.loads(item.buckets or "{}")
        for bucket in buckets:
            readings = cache.get(bucket)
            if readings:
                stats = bucket_stats(readings, cache.previous_reading(bucket), max_power_w)
                stored[str(bucket)] = stats.as_json()
                jumps += stats.jumps
                latest = json.loads(item.latest) if item.latest else None
                if latest is None or readings[-1].ts_ms >= latest["t"]:
                    item.latest = json.dumps(readings[-1].compact(), separators=(",", ":"))
            else:
                stored.pop(str(bucket), None)
        item.buckets = json.dumps(stored, separators=(",", ":"), sort_keys=True)
        item.kwh = round(sum(s["e"] for s in stored.values()), 6)
        item.n = sum(s["n"] for s in stored.values())
        item.tz = tz_name
        item.version = version + 1
        item.updated_at = datetime.now(timezone.utc).isoformat()
        if not stored and version == 0:
            return jumps
        condition = DayItem.version == version if version else DayItem.pk.does_not_exist()
        try:
            item.save(condition=condition)
            _record_day_in_month(device_id, day, float(item.kwh), version + 1, tz_name)
            return jumps
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
            logger.info("day rollup changed underneath; recomputing", extra={"attempt": attempt + 1})
            time.sleep(0.01 * (attempt + 1))
    raise Retryable(f"could not update the rollup of {day} after {MAX_RETRIES} attempts")


def _record_day_in_month(device_id: str, day: str, kwh: float, version: int, tz_name: str) -> None:
    """Put a day's total into its month rollup, unless a newer version of that
    day is already there (writers of one day can finish in any order)."""
    pk, sk = device_pk(device_id), month_sk(day[:7])
    entry = {"k": round(kwh, 6), "v": version}
    for _ in range(MAX_RETRIES):
        try:
            MonthItem(pk, sk).update(
                actions=[MonthItem.days[day].set(entry), MonthItem.tz.set(tz_name)],
                condition=MonthItem.days.exists()
                & (MonthItem.days[day].does_not_exist() | (MonthItem.days[day]["v"] < version)),
            )
            return
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
        current = get_or_none(MonthItem, pk, sk, consistent_read=True)
        if current is None:
            try:
                MonthItem(pk, sk, tz=tz_name, days={day: entry}).save(condition=MonthItem.pk.does_not_exist())
                return
            except PutError:
                continue  # created meanwhile: update it
        stored = (current.days.as_dict() if current.days is not None else {}).get(day)
        if stored is not None and int(stored["v"]) >= version:
            return  # a newer version of this day is already recorded
    raise Retryable(f"could not record {day} in its month rollup")


def month_items(device_id: str, first: str, last: str) -> list[MonthItem]:
    """Month rollups from `first` to `last` (YYYY-MM, inclusive): one Query."""
    return list(MonthItem.query(device_pk(device_id), MonthItem.sk.between(month_sk(first), month_sk(last))))


# ---------------------------------------------------------------- reads


def day_items(device_id: str, first: str, last: str) -> list[DayItem]:
    """Day rollups from `first` to `last` (ISO dates, inclusive): one Query."""
    return list(DayItem.query(device_pk(device_id), DayItem.sk.between(day_sk(first), day_sk(last))))


def today_item(device_id: str, tz: ZoneInfo) -> DayItem | None:
    today = datetime.now(tz).date().isoformat()
    return get_or_none(DayItem, device_pk(device_id), day_sk(today))


def buckets_of(item: DayItem) -> dict[int, dict]:
    return {int(k): v for k, v in json.loads(item.buckets or "{}").items()}

"""Reading telemetry back: raw readings, latest, aggregates, energy, usage.

Short windows read raw readings (one Query over the buckets of the range);
energy reads rollups, whatever the sampling rate: a 30-day chart by day is
30 day items; a year by month is 12 month items for the whole months plus
the day items of the last, partial month.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from gridpulse.aws import client
from gridpulse.devices.context import DeviceContext
from gridpulse.devices.data import DeviceItem
from gridpulse.errors import BadRequest, field_error
from gridpulse.pagination import decode_token, encode_token
from gridpulse.settings import get_settings
from gridpulse.sites.data import RoomItem, SectionItem, key
from gridpulse.sites.service import hotel_timezone
from gridpulse.telemetry import rollups
from gridpulse.telemetry.data import DayItem, QuarantineItem, RawItem, day_sk, device_pk, raw_prefix
from gridpulse.telemetry.ingest import record_readings_stored
from gridpulse.telemetry.readings import Reading, iso_ms
from gridpulse.timeutil import iso, parse_range, utcnow, zone

RAW_MAX_SPAN = timedelta(days=31)
WINDOWS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": None}
FIELDS = ("power_w", "voltage", "current", "temperature", "power_factor", "frequency", "energy_kwh")
FUNCTIONS = ("mean", "sum", "min", "max", "count")
PERIOD_LIMITS = {"hour": timedelta(days=31), "day": timedelta(days=366), "month": timedelta(days=3 * 366)}
PERIOD_DEFAULTS = {"hour": timedelta(hours=24), "day": timedelta(days=30), "month": timedelta(days=365)}
FRESH_MS = 10 * 60 * 1000  # a latest reading older than this does not count as "current power"


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


# ---------------------------------------------------------------- raw readings


def _raw_items(device_id: str, start_ms: int, end_ms: int, tz: ZoneInfo, forward: bool = True):
    first = rollups.bucket_of(start_ms, tz)
    last = rollups.bucket_of(end_ms, tz)
    return RawItem.query(
        device_pk(device_id), RawItem.sk.between(raw_prefix(first), raw_prefix(last) + "~"), scan_index_forward=forward
    )


def readings_in(context: DeviceContext, start_ms: int, end_ms: int) -> list[Reading]:
    seen: dict[str, Reading] = {}
    for item in _raw_items(context.device_id, start_ms, end_ms, ZoneInfo(context.tz)):
        for data in json.loads(item.readings):
            reading = Reading.from_compact(data)
            if start_ms <= reading.ts_ms <= end_ms:
                seen.setdefault(reading.identity, reading)
    return sorted(seen.values(), key=lambda r: (r.ts_ms, r.identity))


def readings_page(
    context: DeviceContext, start: str | None, end: str | None, limit: int, next_token: str | None
) -> dict:
    start_ts, end_ts = parse_range(start, end, max_span=RAW_MAX_SPAN)
    start_ms, end_ms = _ms(start_ts), _ms(end_ts)
    purpose = f"readings:{context.device_id}"
    cursor = decode_token(next_token, purpose)
    after = (int(cursor.get("t", 0)), str(cursor.get("k", ""))) if cursor else None
    if after:
        start_ms = max(start_ms, after[0])
    readings = [r for r in readings_in(context, start_ms, end_ms) if after is None or (r.ts_ms, r.identity) > after]
    page, more = readings[:limit], len(readings) > limit
    token = encode_token({"t": page[-1].ts_ms, "k": page[-1].identity}, purpose) if more and page else None
    return {
        "items": [r.view() for r in page],
        "count": len(page),
        "next_token": token,
        "start": iso(start_ts),
        "end": iso(end_ts),
    }


_UNREAD = object()


def latest(context: DeviceContext, today=_UNREAD) -> dict | None:
    """The newest reading: today's rollup holds it (one GetItem, or `today`, the rollup or None,
    when the caller read it already: latest_many); else the newest raw bucket."""
    item = rollups.today_item(context.device_id, ZoneInfo(context.tz)) if today is _UNREAD else today
    if item is not None and item.latest:
        return Reading.from_compact(json.loads(item.latest)).view()
    newest = next(
        iter(
            RawItem.query(device_pk(context.device_id), RawItem.sk.startswith("r#"), scan_index_forward=False, limit=1)
        ),
        None,
    )
    if newest is None:
        return None
    readings = rollups.bucket_readings(context.device_id, int(newest.bucket))
    return readings[-1].view() if readings else None


def latest_many(contexts: list[DeviceContext]) -> dict[str, dict | None]:
    """`latest` of each device, by device id: today's rollups of all of them in BatchGetItem
    requests (100 keys each); only a device without one today reads its newest raw bucket."""
    keys = [(device_pk(c.device_id), day_sk(datetime.now(ZoneInfo(c.tz)).date().isoformat())) for c in contexts]
    today = {i.pk.split("#", 1)[1]: i for i in DayItem.batch_get(keys)} if keys else {}
    return {c.device_id: latest(c, today.get(c.device_id)) for c in contexts}


def rejected_page(device_id: str, limit: int, next_token: str | None) -> dict:
    result = QuarantineItem.query(
        device_pk(device_id),
        QuarantineItem.sk.startswith("q#"),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=decode_token(next_token, f"rejected:{device_id}"),
    )
    items = [
        {
            "received_at": q.received_at,
            "reason": q.reason,
            "field": q.field,
            "message": q.message,
            "source": q.source,
            "raw": q.raw,
        }
        for q in result
    ]
    return {
        "items": items,
        "count": len(items),
        "next_token": encode_token(result.last_evaluated_key, f"rejected:{device_id}"),
    }


# ---------------------------------------------------------------- aggregates


def _window_start(ts_ms: int, window: str, tz: ZoneInfo) -> int:
    size = WINDOWS[window]
    if size is None:  # calendar day in tz
        local = datetime.fromtimestamp(ts_ms / 1000, tz=tz)
        return int(datetime(local.year, local.month, local.day, tzinfo=tz).timestamp() * 1000)
    if size >= 3_600_000:  # hours follow the zone (half-hour zones)
        return rollups.bucket_of(ts_ms, tz)
    return ts_ms - ts_ms % size


def _apply(fn: str, values: list[float]) -> float:
    if fn == "count":
        return len(values)
    if fn == "sum":
        return round(math.fsum(values), 6)
    if fn == "min":
        return min(values)
    if fn == "max":
        return max(values)
    return round(math.fsum(values) / len(values), 6)


def aggregate(
    context: DeviceContext, field: str, fn: str, window: str, start: str | None, end: str | None, tz_name: str | None
) -> dict:
    errors = []
    if field not in FIELDS:
        errors.append(field_error("field", f"one of {', '.join(FIELDS)}"))
    if fn not in FUNCTIONS:
        errors.append(field_error("fn", f"one of {', '.join(FUNCTIONS)}"))
    if window not in WINDOWS:
        errors.append(field_error("window", f"one of {', '.join(WINDOWS)}"))
    if errors:
        raise BadRequest("Invalid aggregate query.", code="validation_error", fields=errors)
    tz = zone(tz_name or context.tz)
    start_ts, end_ts = parse_range(start, end, max_span=RAW_MAX_SPAN)
    readings = readings_in(context, _ms(start_ts), _ms(end_ts))
    groups: dict[int, list[float]] = defaultdict(list)
    if field == "energy_kwh" and fn == "sum":
        # Consumption per window: the interval energy of each reading, not the counter value.
        from gridpulse.telemetry.energy import intervals

        previous = (
            rollups.BucketCache(context.device_id).previous_reading(
                rollups.bucket_of(readings[0].ts_ms, ZoneInfo(context.tz))
            )
            if readings
            else None
        )
        for iv in intervals(readings, previous, context.max_power_w):
            groups[_window_start(iv.reading.ts_ms, window, tz)].append(iv.kwh)
    else:
        for reading in readings:
            value = getattr(reading, field)
            if value is not None:
                groups[_window_start(reading.ts_ms, window, tz)].append(value)
    items = [
        {"timestamp": iso_ms(start_ms), "value": _apply(fn, values), "count": len(values)}
        for start_ms, values in sorted(groups.items())
    ]
    return {
        "device_id": context.device_id,
        "field": field,
        "fn": fn,
        "window": window,
        "tz": str(tz),
        "items": items,
        "count": len(items),
    }


# ---------------------------------------------------------------- energy from rollups


def _day_range(start_ms: int, end_ms: int, site_tz: ZoneInfo) -> tuple[str, str]:
    """The first and last local dates (ISO) of the day rollups that hold [start, end)."""
    first = rollups.local_date(rollups.bucket_of(start_ms, site_tz), site_tz)
    last = rollups.local_date(rollups.bucket_of(max(start_ms, end_ms - 1), site_tz), site_tz)
    return first, last


def _buckets_in(items, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
    """(bucket start ms, kWh) of every bucket of these day rollups inside [start, end), in order."""
    out = []
    for item in items:
        for bucket, stats in rollups.buckets_of(item).items():
            if start_ms <= bucket < end_ms:
                out.append((bucket, float(stats.get("e", 0))))
    return sorted(out)


def _slots(device_id: str, start_ms: int, end_ms: int, site_tz: ZoneInfo) -> list[tuple[int, float]]:
    """(bucket start ms, kWh) of every rollup bucket inside [start, end)."""
    return _buckets_in(rollups.day_items(device_id, *_day_range(start_ms, end_ms, site_tz)), start_ms, end_ms)


def _add_slots(totals: dict[str, float], slots: list[tuple[int, float]], period: str, tz) -> None:
    for bucket, kwh in slots:
        local = datetime.fromtimestamp(bucket / 1000, tz=tz)
        label = {"hour": iso_ms(bucket), "day": local.date().isoformat(), "month": local.strftime("%Y-%m")}[period]
        totals[label] += kwh


BATCH_MAX_DAYS = 31  # longer ranges: one Query per device reads fewer request units than a key per day


def day_totals(contexts: list[DeviceContext], start: str, end: str, tz_name: str) -> dict[str, float]:
    """The `total_kwh` that GET /devices/{id}/energy?period=day&start&end&tz answers for each
    device, by device id. Ranges of up to BATCH_MAX_DAYS days read the day rollups of all the
    devices with BatchGetItem (100 keys a request); longer ones Query each device's rollups."""
    tz = zone(tz_name)
    start_ts, end_ts = parse_range(start, end, default_span=PERIOD_DEFAULTS["day"], max_span=PERIOD_LIMITS["day"])
    windows, keys = {}, []
    for context in contexts:
        site_tz = ZoneInfo(context.tz)
        first_ts, last_ts = aligned_window("day", start_ts, end_ts, tz, site_tz)
        start_ms, end_ms = _ms(first_ts), _ms(last_ts)
        first, last = _day_range(start_ms, end_ms, site_tz)
        days = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).days + 1
        windows[context.device_id] = (start_ms, end_ms, site_tz, days <= BATCH_MAX_DAYS)
        if days <= BATCH_MAX_DAYS:
            day = datetime.fromisoformat(first)
            keys += [
                (device_pk(context.device_id), day_sk((day + timedelta(days=n)).date().isoformat()))
                for n in range(days)
            ]
    batched: dict[str, list] = defaultdict(list)
    for item in DayItem.batch_get(keys) if keys else ():
        batched[item.pk.split("#", 1)[1]].append(item)
    out = {}
    for device_id, (start_ms, end_ms, site_tz, in_batch) in windows.items():
        slots = (
            _buckets_in(batched.get(device_id, []), start_ms, end_ms)
            if in_batch
            else _slots(device_id, start_ms, end_ms, site_tz)
        )
        totals: dict[str, float] = defaultdict(float)
        _add_slots(totals, slots, "day", tz)
        out[device_id] = round(math.fsum(totals.values()), 6)
    return out


def _next_month(local: datetime) -> datetime:
    return datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=local.tzinfo)


def aligned_window(
    period: str, start_ts: datetime, end_ts: datetime, tz, site_tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """[start, end) widened to whole buckets: every bucket that overlaps the
    requested range counts whole. Hours are the site's local hours (the
    rollup buckets); days and months are calendar days and months in `tz`."""
    if period == "hour":
        start_ms, end_ms = rollups.bucket_of(_ms(start_ts), site_tz), _ms(end_ts)
        last = rollups.bucket_of(end_ms, site_tz)
        if last != end_ms:
            last = rollups.bucket_of(last + 3_600_000 + 60_000, site_tz)  # the next local hour (DST-safe)
        return (
            datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc),
            datetime.fromtimestamp(last / 1000, tz=timezone.utc),
        )
    local_start, local_end = start_ts.astimezone(tz), end_ts.astimezone(tz)
    if period == "day":
        first = datetime(local_start.year, local_start.month, local_start.day, tzinfo=tz)
        last = datetime(local_end.year, local_end.month, local_end.day, tzinfo=tz)
        if last < local_end:
            following = last.date() + timedelta(days=1)
            last = datetime(following.year, following.month, following.day, tzinfo=tz)
    else:
        first = datetime(local_start.year, local_start.month, 1, tzinfo=tz)
        last = datetime(local_end.year, local_end.month, 1, tzinfo=tz)
        if last < local_end:
            last = _next_month(last)
    return first.astimezone(timezone.utc), last.astimezone(timezone.utc)


def energy(context: DeviceContext, period: str, start: str | None, end: str | None, tz_name: str | None) -> dict:
    """kWh per hour, day or month. Every bucket that overlaps [start, end)
    counts whole (a meter that reported for 20 minutes of an hour shows that
    hour), and the answer's `start`/`end` are the aligned bounds it covers."""
    if period not in PERIOD_LIMITS:
        raise BadRequest(
            "Invalid period.", code="validation_error", fields=[field_error("period", "one of hour, day, month")]
        )
    tz = zone(tz_name or context.tz)
    start_ts, end_ts = parse_range(start, end, default_span=PERIOD_DEFAULTS[period], max_span=PERIOD_LIMITS[period])
    start_ts, end_ts = aligned_window(period, start_ts, end_ts, tz, ZoneInfo(context.tz))
    totals: dict[str, float] = defaultdict(float)
    slots_from = start_ts
    if period == "month" and str(tz) == context.tz:
        # Whole months before the one `end` falls in come from month rollups
        # (12 items for a year); the last, partial month from its day rollups.
        end_local = (end_ts - timedelta(milliseconds=1)).astimezone(tz)
        last_month_start = datetime(end_local.year, end_local.month, 1, tzinfo=tz)
        if last_month_start > start_ts:
            first, last = (
                start_ts.astimezone(tz).strftime("%Y-%m"),
                (last_month_start - timedelta(days=1)).strftime("%Y-%m"),
            )
            for item in rollups.month_items(context.device_id, first, last):
                days = item.days.as_dict() if item.days is not None else {}
                totals[item.sk[2:]] += math.fsum(float(d["k"]) for d in days.values())
            slots_from = last_month_start.astimezone(timezone.utc)
    _add_slots(totals, _slots(context.device_id, _ms(slots_from), _ms(end_ts), ZoneInfo(context.tz)), period, tz)
    items = [{"period": label, "kwh": round(value, 6)} for label, value in sorted(totals.items())]
    return {
        "device_id": context.device_id,
        "period": period,
        "tz": str(tz),
        "start": iso(start_ts),
        "end": iso(end_ts),
        "total_kwh": round(math.fsum(totals.values()), 6),
        "items": items,
        "count": len(items),
    }


# ---------------------------------------------------------------- deletes


def delete_readings(context: DeviceContext, start: str | None, end: str | None) -> dict:
    if not start or not end:
        raise BadRequest(
            "start and end are required to delete readings.",
            code="validation_error",
            fields=[field_error(name, "required") for name, value in (("start", start), ("end", end)) if not value],
        )
    start_ts, end_ts = parse_range(start, end)
    start_ms, end_ms = _ms(start_ts), _ms(end_ts)
    removed, touched = 0, set()
    for item in list(_raw_items(context.device_id, start_ms, end_ms, ZoneInfo(context.tz))):
        readings = json.loads(item.readings)
        keep = [r for r in readings if not start_ms <= int(r["t"]) <= end_ms]
        if len(keep) == len(readings):
            continue
        removed += len(readings) - len(keep)
        touched.add(int(item.bucket))
        if keep:
            item.readings = json.dumps(keep, separators=(",", ":"))
            item.n = len(keep)
            item.first_ts, item.last_ts = int(keep[0]["t"]), int(keep[-1]["t"])
            item.save()
        else:
            item.delete()
    if touched:
        rollups.recompute(context.device_id, touched, context.tz, context.max_power_w)
    record_readings_stored(-removed)
    return {"device_id": context.device_id, "deleted": removed, "start": iso(start_ts), "end": iso(end_ts)}


# ---------------------------------------------------------------- rooms, hotels, users


def _today_items(devices: list[DeviceItem], tz: ZoneInfo) -> dict[str, DayItem]:
    today = datetime.now(tz).date().isoformat()
    keys = [(device_pk(d.device_id), day_sk(today)) for d in devices]
    return {i.pk.split("#", 1)[1]: i for i in DayItem.batch_get(keys)} if keys else {}


def room_real_time(room: RoomItem, tz_name: str) -> dict:
    tz = ZoneInfo(tz_name)
    devices = list(DeviceItem.by_room.query(room.room_id))
    today = _today_items(devices, tz)
    now_ms = _ms(utcnow())
    rows, power, kwh, newest = [], 0.0, 0.0, None
    for device in devices:
        item = today.get(device.device_id)
        latest = Reading.from_compact(json.loads(item.latest)) if item and item.latest else None
        fresh = latest is not None and now_ms - latest.ts_ms <= FRESH_MS
        device_power = latest.power_w if fresh and latest.power_w is not None else 0.0
        device_kwh = float(item.kwh) if item else 0.0
        power += device_power
        kwh += device_kwh
        if latest and (newest is None or latest.ts_ms > newest):
            newest = latest.ts_ms
        rows.append(
            {
                "device_id": device.device_id,
                "device_name": device.name,
                "current_power_w": device_power,
                "current_kwh": round(device_kwh, 6),
                "timestamp": iso_ms(latest.ts_ms) if latest else None,
                "fresh": fresh,
            }
        )
    return {
        "room_id": room.room_id,
        "room_number": room.room_number,
        "current_power_w": round(power, 3),
        "current_kwh": round(kwh, 6),
        "timestamp": iso_ms(newest) if newest else None,
        "timezone": tz_name,
        "devices": rows,
    }


def hotel_usage(hotel_id: str, tz_name: str, start: str | None, end: str | None) -> dict:
    site_tz = ZoneInfo(tz_name)
    start_ts, end_ts = parse_range(start, end, default_span=timedelta(days=30), max_span=timedelta(days=366))
    start_ms, end_ms = _ms(start_ts), _ms(end_ts)
    devices = list(DeviceItem.by_hotel.query(hotel_id))
    per_room: dict[str | None, float] = defaultdict(float)
    for device in devices:
        per_room[device.room_id] += math.fsum(k for _, k in _slots(device.device_id, start_ms, end_ms, site_tz))
    rooms = {r.room_id: r for r in RoomItem.batch_get([key("room", rid) for rid in per_room if rid])}
    sections = (
        {
            s.section_id: s
            for s in SectionItem.batch_get([key("section", sid) for sid in {r.section_id for r in rooms.values()}])
        }
        if rooms
        else {}
    )
    out: dict[str, dict] = {}
    for room_id, value in per_room.items():
        room = rooms.get(room_id)
        section_id = room.section_id if room else None
        section = out.setdefault(
            section_id or "unassigned",
            {
                "section_id": section_id,
                "section_name": sections[section_id].section_name if section_id in sections else None,
                "kwh": 0.0,
                "rooms": [],
            },
        )
        section["kwh"] = round(section["kwh"] + value, 6)
        section["rooms"].append(
            {"room_id": room_id, "room_number": room.room_number if room else None, "kwh": round(value, 6)}
        )
    for section in out.values():
        section["rooms"].sort(key=lambda r: r["room_number"] or "")
    return {
        "hotel_id": hotel_id,
        "timezone": tz_name,
        "start": iso(start_ts),
        "end": iso(end_ts),
        "total_kwh": round(math.fsum(per_room.values()), 6),
        "sections": sorted(out.values(), key=lambda s: s["section_name"] or "~"),
    }


def user_recent(devices: list[DeviceItem]) -> list[dict]:
    """The newest reading of each device (today's rollup of each, one BatchGetItem)."""
    out = []
    by_zone: dict[str, list[DeviceItem]] = defaultdict(list)
    for device in devices:
        by_zone[hotel_timezone(device.hotel_id)].append(device)
    for tz_name, group in by_zone.items():
        today = _today_items(group, ZoneInfo(tz_name))
        for device in group:
            item = today.get(device.device_id)
            reading = Reading.from_compact(json.loads(item.latest)).view() if item and item.latest else None
            out.append(
                {
                    "device_id": device.device_id,
                    "device_name": device.name,
                    "today_kwh": round(float(item.kwh), 6) if item else 0.0,
                    "latest": reading,
                }
            )
    return out


def storage_status() -> dict:
    table = get_settings().telemetry_table
    started = datetime.now(timezone.utc)
    try:
        described = client("dynamodb").describe_table(TableName=table)["Table"]
        status = {
            "status": "healthy" if described.get("TableStatus") == "ACTIVE" else "degraded",
            "table_status": described.get("TableStatus"),
            "approximate_items": described.get("ItemCount", 0),
            "approximate_bytes": described.get("TableSizeBytes", 0),
        }
    except Exception as exc:  # reported, not raised: this is a health endpoint
        status = {"status": "unhealthy", "detail": type(exc).__name__}
    status["latency_ms"] = round((datetime.now(timezone.utc) - started).total_seconds() * 1000, 2)
    status["timestamp"] = iso(utcnow())
    return status

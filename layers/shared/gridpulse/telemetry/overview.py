"""GET /overview: the dashboard's first screen in one answer.

For the devices the caller may see (what GET /devices lists, at most
`MAX_DEVICES`), it adds up, from the rollups only:

* today until now, and yesterday until the same local time;
* this month until now, and last month's same days until the same time
  (last month's whole span when it has no such day, e.g. on 31 March);
* the live power (the newest reading of today's rollup, if fresh) and
  today's kWh of every device and of every site (hotel);

and lists the newest open alerts. A span counts every rollup hour that
starts inside it, so each figure is what GET /devices/{id}/energy answers
for the same `start`/`end`, summed over the devices.

Reads: the device list (as GET /devices), one BatchGetItem of the hotels,
then BatchGetItems of rollups, about ten keys a device: in its site's zone,
the local days that lie whole inside a span come from the month items (each
day's kWh), the days a span's bounds cut (today, yesterday, the first days
when the overview's zone is another one, last month's same day) hour by hour
from their day items; then the open alerts (as GET /alerts?status=open).
Energy is summed as Decimals.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from gridpulse.accounts.roles import Caller
from gridpulse.devices import service as devices
from gridpulse.sites.data import HotelItem, key
from gridpulse.telemetry import rollups
from gridpulse.telemetry.data import DayItem, MonthItem, day_sk, device_pk, month_sk
from gridpulse.telemetry.readings import Reading
from gridpulse.timeutil import iso, utcnow, zone

MAX_DEVICES = 500
ALERT_ITEMS = 5
ALERT_COUNT_CAP = 100
FRESH_MS = 10 * 60 * 1000  # as GET /rooms/{id}/real-time-usage: an older reading is not "power now"
KWH = Decimal("0.000001")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Span:
    """Rollup hours whose start is in [start_ms, end_ms)."""

    start_ms: int
    end_ms: int

    def view(self) -> dict:
        return {"start": _iso_ms(self.start_ms), "end": _iso_ms(self.end_ms)}


@dataclass(frozen=True)
class Spans:
    now: datetime  # local, in the overview's zone
    today: Span
    yesterday: Span
    month: Span
    previous_month: Span


def _iso_ms(ms: int) -> str:
    return iso(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def spans(now_utc: datetime, tz: ZoneInfo) -> Spans:
    now = now_utc.astimezone(tz)
    today_start = datetime(now.year, now.month, now.day, tzinfo=tz)
    yesterday = now.date() - timedelta(days=1)
    yesterday_start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=tz)
    yesterday_now = datetime.combine(yesterday, now.time(), tzinfo=tz)
    month_start = datetime(now.year, now.month, 1, tzinfo=tz)
    prev_year, prev_month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    previous_start = datetime(prev_year, prev_month, 1, tzinfo=tz)
    try:
        previous_now = datetime(prev_year, prev_month, now.day, tzinfo=tz).replace(
            hour=now.hour, minute=now.minute, second=now.second, microsecond=now.microsecond
        )
    except ValueError:  # 31 March -> February has no 31st: all of February
        previous_now = month_start
    end = _ms(now_utc)
    return Spans(
        now=now,
        today=Span(_ms(today_start), end),
        yesterday=Span(_ms(yesterday_start), _ms(yesterday_now)),
        month=Span(_ms(month_start), end),
        previous_month=Span(_ms(previous_start), _ms(previous_now)),
    )


def _buckets(item: DayItem | None) -> dict[int, Decimal]:
    if item is None:
        return {}
    raw = json.loads(item.buckets or "{}", parse_float=Decimal, parse_int=Decimal)
    return {int(k): Decimal(v.get("e", 0)) for k, v in raw.items()}


def _in(buckets: dict[int, Decimal], span: Span) -> Decimal:
    return sum((v for b, v in buckets.items() if span.start_ms <= b < span.end_ms), ZERO)


def _days(item: MonthItem | None) -> dict[str, Decimal]:
    days = item.days.as_dict() if item is not None and item.days is not None else {}
    return {day: Decimal(str(entry["k"])) for day, entry in days.items()}


@dataclass
class Figures:
    today: Decimal = ZERO
    yesterday: Decimal = ZERO
    month: Decimal = ZERO
    previous_month: Decimal = ZERO
    power_w: Decimal = ZERO
    latest_ms: int | None = None


def _power(figures: Figures, today_item: DayItem | None, now_ms: int) -> None:
    if today_item is None or not today_item.latest:
        return
    reading = Reading.from_compact(json.loads(today_item.latest))
    figures.latest_ms = reading.ts_ms
    if now_ms - reading.ts_ms <= FRESH_MS and reading.power_w is not None:
        figures.power_w = Decimal(str(reading.power_w))


def _dates(span: Span, tz: ZoneInfo) -> list[date]:
    """The site-local days that hold the span's rollup hours."""
    first = datetime.fromtimestamp(rollups.bucket_of(span.start_ms, tz) / 1000, tz=tz).date()
    last = datetime.fromtimestamp(max(span.start_ms, span.end_ms - 1) / 1000, tz=tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _plan(s: Spans, tz: ZoneInfo) -> tuple[dict[str, list[tuple[date, bool]]], set[str], set[str]]:
    """Per span, its site-local days and whether each lies whole inside it;
    the days read hour by hour (those cut by a span's bounds) and the months
    whose month items give the whole days."""
    days: dict[str, list[tuple[date, bool]]] = {}
    partial: set[str] = set()
    months: set[str] = set()
    for name in ("today", "yesterday", "month", "previous_month"):
        span = getattr(s, name)
        days[name] = []
        for day in _dates(span, tz):
            start, end = rollups.day_bounds_ms(day, tz)
            whole = start >= span.start_ms and end <= span.end_ms
            days[name].append((day, whole))
            if whole:
                months.add(day.strftime("%Y-%m"))
            else:
                partial.add(day.isoformat())
    return days, partial, months


def _figures(ids_by_zone: dict[str, list[str]], s: Spans, now_ms: int) -> dict[str, Figures]:
    """Each device's figures from its rollups in its site's zone: whole local
    days from month items, the days cut by a span's bounds hour by hour from
    their day items (BatchGetItem, about ten keys a device)."""
    plans = {zone_name: _plan(s, ZoneInfo(zone_name)) for zone_name in ids_by_zone}
    day_keys, month_keys = [], []
    for zone_name, ids in ids_by_zone.items():
        _, partial, months = plans[zone_name]
        today = datetime.fromtimestamp(now_ms / 1000, tz=ZoneInfo(zone_name)).date().isoformat()
        for device_id in ids:
            day_keys += [(device_pk(device_id), day_sk(d)) for d in sorted(partial | {today})]
            month_keys += [(device_pk(device_id), month_sk(m)) for m in sorted(months)]
    day_items = {(i.pk, i.sk): i for i in DayItem.batch_get(day_keys)} if day_keys else {}
    whole_by_device: dict[str, dict[str, Decimal]] = {}
    for item in MonthItem.batch_get(month_keys) if month_keys else ():
        whole_by_device.setdefault(item.pk, {}).update(_days(item))
    out = {}
    for zone_name, ids in ids_by_zone.items():
        days, _, _ = plans[zone_name]
        today = datetime.fromtimestamp(now_ms / 1000, tz=ZoneInfo(zone_name)).date().isoformat()
        for device_id in ids:
            pk = device_pk(device_id)
            whole_days = whole_by_device.get(pk, {})
            f = Figures()
            for name in ("today", "yesterday", "month", "previous_month"):
                span = getattr(s, name)
                total = ZERO
                for day, whole in days[name]:
                    key_date = day.isoformat()
                    if whole:
                        total += whole_days.get(key_date, ZERO)
                    else:
                        total += _in(_buckets(day_items.get((pk, day_sk(key_date)))), span)
                setattr(f, name, total)
            _power(f, day_items.get((pk, day_sk(today))), now_ms)
            out[device_id] = f
    return out


def _kwh(value: Decimal) -> Decimal:
    return value.quantize(KWH)


def overview(caller: Caller, tz_name: str | None) -> dict:
    requested = zone(tz_name) if tz_name else None  # 400 invalid_timezone before any read
    listed = devices.list_visible(caller, {}, MAX_DEVICES, None)
    rows = listed["items"]
    hotel_ids = sorted({d["hotel_id"] for d in rows if d.get("hotel_id")} | set(caller.hotel_ids))
    hotels = {h.pk.split("#", 1)[1]: h for h in HotelItem.batch_get([key("hotel", h) for h in hotel_ids])}
    site_zone = {hid: (h.timezone or "UTC") for hid, h in hotels.items()}
    if requested is not None:
        tz = requested
    else:
        # The caller's sites' zone: the one most of its devices are in (the first site's when none).
        counts = Counter(site_zone.get(d.get("hotel_id"), "UTC") for d in rows if d.get("hotel_id") in site_zone)
        tz = ZoneInfo(counts.most_common(1)[0][0] if counts else (site_zone[hotel_ids[0]] if site_zone else "UTC"))
    now_utc = utcnow()
    now_ms = _ms(now_utc)
    s = spans(now_utc, tz)

    ids_by_zone: dict[str, list[str]] = {}
    for d in rows:
        ids_by_zone.setdefault(site_zone.get(d.get("hotel_id"), "UTC"), []).append(d["device_id"])
    figures = _figures(ids_by_zone, s, now_ms)

    total = Figures()
    sites: dict[str | None, dict] = {}
    device_rows = []
    for d in rows:
        f = figures[d["device_id"]]
        total.today += f.today
        total.yesterday += f.yesterday
        total.month += f.month
        total.previous_month += f.previous_month
        total.power_w += f.power_w
        hotel_id = d.get("hotel_id") if d.get("hotel_id") in hotels else None
        site = sites.setdefault(
            hotel_id,
            {
                "hotel_id": hotel_id,
                "name": hotels[hotel_id].hotel_name if hotel_id else "Not in a hotel",
                "power_w": ZERO,
                "today_kwh": ZERO,
                "devices": 0,
            },
        )
        site["power_w"] += f.power_w
        site["today_kwh"] += f.today
        site["devices"] += 1
        device_rows.append(
            {
                "device_id": d["device_id"],
                "device_name": d.get("device_name"),
                "device_type": d.get("device_type"),
                "hotel_id": d.get("hotel_id"),
                "online": bool(d.get("online")),
                "power_w": f.power_w,
                "last_seen": d.get("last_seen"),
                "today_kwh": _kwh(f.today),
            }
        )
    for site in sites.values():
        site["today_kwh"] = _kwh(site["today_kwh"])
    return {
        "generated_at": iso(now_utc),
        "tz": str(tz),
        "today": {
            "kwh": _kwh(total.today),
            "previous_kwh": _kwh(total.yesterday),
            **s.today.view(),
            "previous_start": s.yesterday.view()["start"],
            "previous_end": s.yesterday.view()["end"],
        },
        "month": {
            "kwh": _kwh(total.month),
            "previous_kwh": _kwh(total.previous_month),
            **s.month.view(),
            "previous_start": s.previous_month.view()["start"],
            "previous_end": s.previous_month.view()["end"],
        },
        "power_w": total.power_w,
        "devices_counted": len(rows),
        "truncated": listed["next_token"] is not None,
        "sites": sorted(sites.values(), key=lambda x: (x["hotel_id"] is None, x["name"].lower())),
        "devices": sorted(device_rows, key=lambda x: (-x["power_w"], (x["device_name"] or "").lower())),
        "alerts": _open_alerts(caller),
    }


def _open_alerts(caller: Caller) -> dict:
    """The newest open alerts, as GET /alerts?status=open lists them; the count
    stops at ALERT_COUNT_CAP (then `open_more` is true)."""
    from gridpulse.alerts import service as alerts  # only this route of the group needs it

    page = alerts.list_alerts(caller, {"status": "open"}, ALERT_COUNT_CAP, None)
    return {"open": page["count"], "open_more": page["next_token"] is not None, "items": page["items"][:ALERT_ITEMS]}

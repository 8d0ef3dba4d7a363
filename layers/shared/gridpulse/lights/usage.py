"""Burning hours and energy of a street light per day (issue #12, item 6):
`GET /lights/{light_id}/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`.

A day is a calendar day of the light's telemetry time zone: the zone its
day rollups are written in (gridpulse.devices.context.DeviceContext.tz, its
hotel's, else UTC; a street light usually has no hotel, so UTC), so the
energy of a day is exactly the day rollup of that date (gridpulse.telemetry.rollups).

* Burning hours: from the light's status changes (its `status` log items,
  gridpulse.lights.state.write_log: every change the lamp reported, over MQTT
  or HTTP). The lamp burns from a change to `on` until its next change; each
  interval is clipped to the day, and one still open counts up to now. The
  status at the start of the range is the previous status of the first change
  at or after it; without any change since, the stored status (`state`
  item) if it began before the range. `switch_ons` counts the changes to on.
* Energy: the day rollup's kWh (the light's telemetry readings: power or
  an energy counter, through the normal telemetry path); null for a day the
  light sent no readings.

Reads, all on keys: the state item (GetItem), the status log items of the
range (a Query on the light's partition from the range's start, read until
the first change after its end), the day rollups (one Query). The range is
at most MAX_DAYS days and starts at most LOG_DAYS days ago (log items
expire then), so every read is bounded.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from gridpulse.devices.data import DeviceItem, DeviceLogItem
from gridpulse.errors import BadRequest, field_error
from gridpulse.lights import state as light_state
from gridpulse.lights.state import LOG_DAYS, read_state
from gridpulse.sites.service import hotel_timezone
from gridpulse.telemetry.rollups import day_bounds_ms, day_items

MAX_DAYS = 31
DEFAULT_DAYS = 7
HOUR_MS = Decimal(3_600_000)
THOUSANDTHS = Decimal("0.001")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _decimal(value: Decimal) -> str:
    return str(value.quantize(THOUSANDTHS, rounding=ROUND_HALF_EVEN))


def _parse_day(value: str, field: str) -> date:
    if _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise BadRequest(
        f"{field} is not a date",
        code="validation_error",
        fields=[field_error(field, "expected a calendar date YYYY-MM-DD")],
    )


def days_asked(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The inclusive range of days: default the last DEFAULT_DAYS days up to
    today; 400 naming the field for a bad date, `from` after `to`, a day
    after today, a range longer than MAX_DAYS, or one starting (or a `to`)
    more than LOG_DAYS ago."""
    end = _parse_day(last, "to") if last is not None else today
    earliest = today - timedelta(days=LOG_DAYS - 1)
    if end < earliest:
        # Before the default `from` is counted back from it (0001-01-01 - 6 days overflows).
        raise BadRequest(
            "to is too far back",
            code="date_out_of_range",
            fields=[
                field_error("to", f"must not be before {earliest.isoformat()} (status history is kept {LOG_DAYS} days)")
            ],
        )
    start = _parse_day(first, "from") if first is not None else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRequest("from is after to", code="invalid_range", fields=[field_error("from", "must not be after to")])
    if end > today:
        raise BadRequest(
            "to is in the future",
            code="date_out_of_range",
            fields=[field_error("to", f"must not be after today ({today.isoformat()} in the light's time zone)")],
        )
    if start < earliest:
        raise BadRequest(
            "from is too far back",
            code="date_out_of_range",
            fields=[
                field_error(
                    "from", f"must not be before {earliest.isoformat()} (status history is kept {LOG_DAYS} days)"
                )
            ],
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(
            f"the range may span at most {MAX_DAYS} days",
            code="range_too_large",
            fields=[field_error("from", f"range longer than {MAX_DAYS} days")],
        )
    return start, end


def _status_changes(light_id: str, start_ms: int, end_ms: int) -> tuple[list[tuple[int, str | None]], str | None, bool]:
    """The status changes in [start_ms, end_ms) as (ms, new status), the status
    before the first one (None when unknown) and whether any change at or
    after start_ms was found. Read ascending from start_ms; stops at the first
    change at or after end_ms (its previous status is the status throughout
    a range without changes)."""
    changes: list[tuple[int, str | None]] = []
    before: str | None = None
    found = False
    items = DeviceLogItem.query(
        DeviceItem.key(light_id),
        DeviceLogItem.sk.between(f"log#{start_ms:013d}", "log#~"),
        filter_condition=DeviceLogItem.kind == "status",
        page_size=100,
    )
    for item in items:
        at_ms = int(item.sk.split("#")[1])
        if not found:
            before = item.previous_status
            found = True
        if at_ms >= end_ms:
            break
        changes.append((at_ms, item.status))
    return changes, before, found


def _burning_ms(timeline: list[tuple[int, str | None]], lo: int, hi: int) -> tuple[int, int]:
    """Milliseconds `on` within [lo, hi), and changes to on inside it, from a
    timeline of (ms, status) sorted by time whose first entry starts at or before lo."""
    burning = switch_ons = 0
    for n, (at, status) in enumerate(timeline):
        until = timeline[n + 1][0] if n + 1 < len(timeline) else hi
        if status == "on":
            burning += max(0, min(until, hi) - max(at, lo))
            previous = timeline[n - 1][1] if n else None
            if lo <= at < hi and n and previous != "on":
                switch_ons += 1
    return burning, switch_ons


def usage(device: DeviceItem, first: str | None, last: str | None, now_ms: int | None = None) -> dict:
    """The light's burning hours, switch-ons and energy per day (see the module docstring)."""
    now_ms = now_ms or light_state.now_ms()
    tz_name = hotel_timezone(device.hotel_id)
    tz = ZoneInfo(tz_name)
    today = datetime.fromtimestamp(now_ms / 1000, tz=tz).date()
    start, end = days_asked(first, last, today)
    start_ms, _ = day_bounds_ms(start, tz)
    _, end_ms = day_bounds_ms(end, tz)
    end_ms = min(end_ms, now_ms)

    light_id = device.device_id
    changes, before, found = _status_changes(light_id, start_ms, end_ms)
    if not found:
        # No change since the range began: the stored status, if it began before.
        state = read_state(light_id)
        began = int(state.light_status_at) if state and state.light_status_at is not None else None
        if state is not None and began is not None and began <= start_ms:
            before = state.light_status
        elif state is not None and began is not None and began < end_ms:
            changes = [(began, state.light_status)]  # a status whose change is no longer logged
    timeline = [(start_ms, before), *changes]

    energy = {item.date: item.kwh for item in day_items(light_id, start.isoformat(), end.isoformat())}
    days = []
    total_ms = 0
    total_kwh: Decimal | None = None
    day = start
    while day <= end:
        lo, hi = day_bounds_ms(day, tz)
        burning, switch_ons = _burning_ms(timeline, lo, min(hi, now_ms))
        total_ms += burning
        kwh = energy.get(day.isoformat())
        kwh_exact = Decimal(repr(float(kwh))) if kwh is not None else None
        if kwh_exact is not None:
            total_kwh = (total_kwh or Decimal(0)) + kwh_exact
        days.append(
            {
                "date": day.isoformat(),
                "burning_hours": _decimal(Decimal(burning) / HOUR_MS),
                "switch_ons": switch_ons,
                "energy_kwh": _decimal(kwh_exact) if kwh_exact is not None else None,
            }
        )
        day += timedelta(days=1)
    return {
        "light_id": light_id,
        "tz": tz_name,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "total_burning_hours": _decimal(Decimal(total_ms) / HOUR_MS),
        "total_energy_kwh": _decimal(total_kwh) if total_kwh is not None else None,
        "days": days,
    }

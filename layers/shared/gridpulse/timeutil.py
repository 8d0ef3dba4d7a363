"""Timestamps and time ranges as the API speaks them.

* Timestamps are ISO 8601 in UTC on the way out (`2026-11-22T10:00:00Z`).
* `start`/`end` accept ISO 8601 (with an offset or `Z`; a naive value is UTC)
  or a time relative to now: `-90s`, `-15m`, `-1h`, `-24h`, `-7d`, `-2w`, and `now`.
* Calendar buckets use an IANA zone (`Europe/Paris`), DST included.
* Every time the API accepts lies in [EARLIEST, LATEST]; anything else (or a
  value whose offset pushes it past what `datetime` holds) is a 400.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from gridpulse.errors import BadRequest, field_error

_RELATIVE = re.compile(r"^-(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The oldest and newest instants a query may name: nothing is stored outside them.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    """Format as ISO 8601 UTC with a `Z` and second precision (ms if present)."""
    ts = ts.astimezone(timezone.utc)
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str, field: str, now: datetime | None = None) -> datetime:
    """Parse an absolute or relative time; raise 400 naming `field` otherwise."""
    now = now or utcnow()
    text = value.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    try:
        if match:
            amount, unit = int(match.group(1)), match.group(2)
            parsed = now - timedelta(**{_UNITS[unit]: amount})
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            parsed = parsed.astimezone(timezone.utc)
    except ValueError:
        raise BadRequest(
            f"{field} must be ISO 8601 or relative like -24h",
            code="invalid_time",
            fields=[field_error(field, "expected ISO 8601 (2026-11-22T10:00:00Z) or -15m, -24h, -7d")],
        ) from None
    except OverflowError:
        parsed = None  # past what datetime holds: out of range below
    if parsed is None or not EARLIEST <= parsed <= LATEST:
        raise BadRequest(
            f"{field} is out of range",
            code="time_out_of_range",
            fields=[field_error(field, f"expected a time from {iso(EARLIEST)} to {iso(LATEST)}")],
        )
    return parsed


def parse_range(
    start: str | None,
    end: str | None,
    default_span: timedelta = timedelta(hours=24),
    max_span: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[datetime, datetime]:
    """Resolve `start`/`end` query values into an ordered UTC range."""
    now = now or utcnow()
    end_ts = parse_time(end, "end", now) if end else now
    start_ts = parse_time(start, "start", now) if start else end_ts - default_span
    if start_ts >= end_ts:
        raise BadRequest(
            "start must be before end",
            code="invalid_range",
            fields=[field_error("start", "must be before end")],
        )
    if max_span is not None and end_ts - start_ts > max_span:
        raise BadRequest(
            f"the range may span at most {max_span}",
            code="range_too_large",
            fields=[field_error("start", f"range longer than {max_span}")],
        )
    return start_ts, end_ts


def zone(name: str, field: str = "tz") -> tzinfo:
    """An IANA zone by name; 400 naming `field` when it is unknown."""
    try:
        if name not in _known_zones():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"unknown time zone {name[:64]!r}",
            code="invalid_timezone",
            fields=[field_error(field, "expected an IANA time zone such as Europe/Paris")],
        ) from None


_ZONES: set[str] | None = None


def _known_zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        # localtime and posixrules are files of the host's zoneinfo, not zone names.
        _ZONES = (available_timezones() - {"localtime", "posixrules"}) | {"UTC"}
    return _ZONES


def local_day_bounds(day: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants that open and close the calendar day containing `day` in `tz`.

    A DST change makes such a day 23 or 25 hours long; this is why days are
    computed from local midnights rather than by adding 24 hours.
    """
    local = day.astimezone(tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
    next_local = midnight.date() + timedelta(days=1)
    next_midnight = datetime(next_local.year, next_local.month, next_local.day, tzinfo=tz)
    return midnight.astimezone(timezone.utc), next_midnight.astimezone(timezone.utc)

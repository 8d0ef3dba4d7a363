"""Period phrases resolved to [start, end) in a time zone.

The recogniser gives language-neutral slot values (sentences/<lang>.yaml):
`period` (today, yesterday, this_week, last_week, this_month, last_month),
`days` (the last N calendar days, today included), `weekday` (since that day,
0 = Monday) or `month` (1..12: that month this year, or last year when it has
not begun yet). Weeks start on Monday. A period that contains now ends now;
a past one ends at the local midnight that closes it. Local midnights come
from the zone's calendar, so DST days are 23 or 25 hours long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

from gridpulse.assistant.language import say, text

PERIOD_IDS = ("today", "yesterday", "this_week", "last_week", "this_month", "last_month")
MAX_DAYS = 366
# The labels ("yesterday", "in the last 7 days", "since Monday", "in March 2026") are the
# `periods` texts of the language file (gridpulse.assistant.language).


@dataclass(frozen=True)
class Period:
    key: dict  # the slots it came from, kept with a conversation
    label: str  # "yesterday", "in the last 7 days", "since Monday", "in March 2026": reads after "you used 3 kWh"
    start: datetime  # UTC
    end: datetime  # UTC, exclusive

    def as_dict(self) -> dict:
        from gridpulse.timeutil import iso

        return {"start": iso(self.start), "end": iso(self.end), "label": self.label}


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(timezone.utc)


def _month_start(year: int, month: int, tz: tzinfo) -> datetime:
    return _midnight(date(year, month, 1), tz)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def resolve(slots: dict, now: datetime, tz: tzinfo) -> Period | None:
    """The period named by `slots` (see the module docstring), or None when they name none."""
    today = now.astimezone(tz).date()
    now = now.astimezone(timezone.utc)
    if slots.get("period") in PERIOD_IDS:
        pid = slots["period"]
        label = say(f"periods.{pid}")
        if pid == "today":
            start, end = _midnight(today, tz), now
        elif pid == "yesterday":
            start, end = _midnight(today - timedelta(days=1), tz), _midnight(today, tz)
        elif pid == "this_week":
            start, end = _midnight(today - timedelta(days=today.weekday()), tz), now
        elif pid == "last_week":
            monday = today - timedelta(days=today.weekday())
            start, end = _midnight(monday - timedelta(days=7), tz), _midnight(monday, tz)
        elif pid == "this_month":
            start, end = _month_start(today.year, today.month, tz), now
        else:  # last_month
            year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
            start, end = _month_start(year, month, tz), _month_start(today.year, today.month, tz)
        return Period({"period": pid}, label, start, end)
    if slots.get("days") is not None:
        days = max(1, min(MAX_DAYS, int(slots["days"])))
        start = _midnight(today - timedelta(days=days - 1), tz)
        label = say("periods.today") if days == 1 else say("periods.last_days", days=days)
        return Period({"days": days}, label, start, now)
    if slots.get("weekday") is not None:
        weekday = int(slots["weekday"]) % 7
        back = (today.weekday() - weekday) % 7
        start = _midnight(today - timedelta(days=back), tz)
        return Period({"weekday": weekday}, say("periods.since", weekday=text("periods.weekdays")[weekday]), start, now)
    if slots.get("month") is not None:
        month = int(slots["month"])
        if not 1 <= month <= 12:
            return None
        year = today.year if month <= today.month else today.year - 1
        start = _month_start(year, month, tz)
        end = min(now, _month_start(*_next_month(year, month), tz))
        return Period(
            {"month": month}, say("periods.in_month", month=text("periods.months")[month - 1], year=year), start, end
        )
    return None


def previous(period: Period, now: datetime, tz: tzinfo) -> Period | None:
    """The period a comparison goes against by default: yesterday for today,
    last week for this week, last month for this month; None otherwise."""
    pid = period.key.get("period")
    other = {"today": "yesterday", "this_week": "last_week", "this_month": "last_month"}.get(pid)
    return resolve({"period": other}, now, tz) if other else None

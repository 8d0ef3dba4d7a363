"""Period phrases of the assistant resolved to [start, end) in a time zone
(gridpulse.assistant.periods): local midnights, Monday weeks, months, DST."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from gridpulse.assistant.periods import previous, resolve

LISBON = ZoneInfo("Europe/Lisbon")
# Wednesday 18 March 2026, 15:30 in Lisbon (UTC+0 until the 29th, then UTC+1).
NOW = datetime(2026, 3, 18, 15, 30, tzinfo=timezone.utc)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("slots", "label", "start", "end"),
    [
        ({"period": "today"}, "today", utc(2026, 3, 18), NOW),
        ({"period": "yesterday"}, "yesterday", utc(2026, 3, 17), utc(2026, 3, 18)),
        ({"period": "this_week"}, "this week", utc(2026, 3, 16), NOW),
        ({"period": "last_week"}, "last week", utc(2026, 3, 9), utc(2026, 3, 16)),
        ({"period": "this_month"}, "this month", utc(2026, 3, 1), NOW),
        ({"period": "last_month"}, "last month", utc(2026, 2, 1), utc(2026, 3, 1)),
        ({"days": 7}, "in the last 7 days", utc(2026, 3, 12), NOW),
        ({"days": 1}, "today", utc(2026, 3, 18), NOW),
        ({"weekday": 0}, "since Monday", utc(2026, 3, 16), NOW),
        ({"weekday": 2}, "since Wednesday", utc(2026, 3, 18), NOW),  # today is Wednesday
        ({"weekday": 3}, "since Thursday", utc(2026, 3, 12), NOW),
        ({"month": 3}, "in March 2026", utc(2026, 3, 1), NOW),  # the current month ends now
        ({"month": 1}, "in January 2026", utc(2026, 1, 1), utc(2026, 2, 1)),
        ({"month": 11}, "in November 2025", utc(2025, 11, 1), utc(2025, 12, 1)),  # not begun this year: last year's
    ],
)
def test_periods_in_lisbon(slots, label, start, end):
    period = resolve(slots, NOW, LISBON)
    assert (period.label, period.start, period.end) == (label, start, end)


def test_a_zone_east_of_utc_moves_the_day():
    tokyo = ZoneInfo("Asia/Tokyo")  # 15:30 UTC is 00:30 on the 19th in Tokyo
    today = resolve({"period": "today"}, NOW, tokyo)
    assert today.start == utc(2026, 3, 18, 15) and today.end == NOW
    assert resolve({"period": "yesterday"}, NOW, tokyo).start == utc(2026, 3, 17, 15)


def test_a_week_across_the_spring_dst_change_is_167_hours():
    after = datetime(2026, 4, 1, 12, tzinfo=timezone.utc)  # Wednesday after the change on Sunday 29 March
    last_week = resolve({"period": "last_week"}, after, LISBON)
    assert last_week.start == utc(2026, 3, 23) and last_week.end == utc(2026, 3, 29, 23)  # Monday 00:00 WEST
    assert (last_week.end - last_week.start).total_seconds() == 167 * 3600


def test_january_looks_back_to_december_and_unknown_slots_are_none():
    new_year = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    assert resolve({"period": "last_month"}, new_year, LISBON).start == utc(2025, 12, 1)
    assert resolve({}, NOW, LISBON) is None
    assert resolve({"period": "next_year"}, NOW, LISBON) is None
    assert resolve({"month": 13}, NOW, LISBON) is None
    assert resolve({"days": 100000}, NOW, LISBON).label == "in the last 366 days"


def test_the_default_comparison():
    today = resolve({"period": "today"}, NOW, LISBON)
    assert previous(today, NOW, LISBON).label == "yesterday"
    assert previous(resolve({"period": "this_month"}, NOW, LISBON), NOW, LISBON).label == "last month"
    assert previous(resolve({"days": 3}, NOW, LISBON), NOW, LISBON) is None

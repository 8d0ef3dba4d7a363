"""The dusk/dawn decision of automatic street lights (gridpulse.lights.schedule)."""

from __future__ import annotations

import datetime as dt

import pytest

from gridpulse.lights.schedule import should_be_on

LISBON = (38.72, -9.14)
TROMSO = (69.65, 18.96)
SYDNEY = (-33.87, 151.21)


def at(year, month, day, hour, minute=0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def test_lisbon_is_dark_at_night_and_light_at_noon():
    assert should_be_on(*LISBON, at(2026, 12, 2, 12)) is False
    assert should_be_on(*LISBON, at(2026, 12, 2, 23)) is True
    assert should_be_on(*LISBON, at(2026, 12, 2, 5)) is True  # before civil dawn (about 07:07 UTC)
    assert should_be_on(*LISBON, at(2026, 12, 2, 17, 30)) is False  # after sunset, before civil dusk (17:45)
    assert should_be_on(*LISBON, at(2026, 12, 2, 18)) is True


def test_a_city_where_dusk_comes_first_in_the_utc_day():
    # Sydney in December: civil dusk about 09:30 UTC, civil dawn about 18:10 UTC.
    assert should_be_on(*SYDNEY, at(2026, 12, 2, 2)) is False
    assert should_be_on(*SYDNEY, at(2026, 12, 2, 14)) is True
    assert should_be_on(*SYDNEY, at(2026, 12, 2, 22)) is False


@pytest.mark.parametrize("hour", [0, 6, 12, 18, 23])
def test_polar_day_keeps_the_lamp_off(hour):
    assert should_be_on(*TROMSO, at(2026, 6, 25, hour)) is False


@pytest.mark.parametrize("hour", [0, 6, 11, 18, 23])
def test_polar_night_keeps_the_lamp_on(hour):
    # Tromsø's sun stays below the horizon in late December (astral raises
    # ValueError); the lamp stays on all day, through the twilight around noon.
    assert should_be_on(*TROMSO, at(2026, 12, 21, hour)) is True


def test_white_nights_keep_the_lamp_off_and_civil_polar_night_keeps_it_on():
    # Tromsø in mid-May: the sun sets but never gets 6 degrees below the horizon.
    assert should_be_on(*TROMSO, at(2026, 5, 20, 23)) is False
    # Longyearbyen in December: even civil twilight never comes.
    assert should_be_on(78.22, 15.65, at(2026, 12, 21, 11)) is True


def test_poles_and_naive_times_do_not_crash():
    assert should_be_on(89.9, 0.0, at(2026, 6, 21, 0)) is False
    assert should_be_on(-89.9, 0.0, at(2026, 6, 21, 12)) is True
    assert should_be_on(*LISBON, dt.datetime(2026, 12, 2, 23)) is True  # naive: read as UTC

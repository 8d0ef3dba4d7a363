from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gridpulse.errors import BadRequest
from gridpulse.timeutil import iso, local_day_bounds, parse_range, parse_time, zone

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("-24h", NOW - timedelta(hours=24)),
        ("-7d", NOW - timedelta(days=7)),
        ("-15m", NOW - timedelta(minutes=15)),
        ("-2w", NOW - timedelta(weeks=2)),
        ("now", NOW),
        ("2026-11-22T08:00:00Z", datetime(2026, 11, 22, 8, tzinfo=timezone.utc)),
        ("2026-11-22T09:00:00+01:00", datetime(2026, 11, 22, 8, tzinfo=timezone.utc)),
        ("2026-11-22T08:00:00", datetime(2026, 11, 22, 8, tzinfo=timezone.utc)),
    ],
)
def test_parse_time_accepts_iso_and_relative(text, expected):
    assert parse_time(text, "start", NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-5x", "24h", "2026-13-01", ""])
def test_parse_time_names_the_field_it_refuses(text):
    with pytest.raises(BadRequest) as err:
        parse_time(text, "end", NOW)
    assert err.value.fields[0]["field"] == "end"


def test_range_defaults_to_last_24_hours_and_must_be_ordered():
    assert parse_range(None, None, now=NOW) == (NOW - timedelta(hours=24), NOW)
    with pytest.raises(BadRequest) as err:
        parse_range("-1h", "-2h", now=NOW)
    assert err.value.code == "invalid_range"


def test_range_can_be_capped():
    with pytest.raises(BadRequest) as err:
        parse_range("-400d", None, max_span=timedelta(days=366), now=NOW)
    assert err.value.code == "range_too_large"


def test_iso_is_utc_with_z():
    assert iso(datetime(2026, 11, 22, 11, 0, tzinfo=ZoneInfo("Europe/Paris"))) == "2026-11-22T10:00:00Z"
    assert iso(datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=timezone.utc)) == "2026-11-22T10:00:00.123Z"


def test_calendar_days_follow_dst():
    paris = zone("Europe/Paris")
    spring = local_day_bounds(datetime(2026, 3, 29, 12, tzinfo=timezone.utc), paris)
    autumn = local_day_bounds(datetime(2026, 10, 25, 12, tzinfo=timezone.utc), paris)
    plain = local_day_bounds(datetime(2026, 11, 22, 12, tzinfo=timezone.utc), paris)
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert plain == (datetime(2026, 11, 21, 23, tzinfo=timezone.utc), datetime(2026, 11, 22, 23, tzinfo=timezone.utc))


def test_unknown_zone_is_400():
    with pytest.raises(BadRequest) as err:
        zone("Mars/Olympus", "tz")
    assert err.value.fields[0]["field"] == "tz"


def test_host_files_that_are_not_zone_names_are_400_and_a_long_name_is_not_echoed_whole():
    # /usr/share/zoneinfo/localtime is the host's zone (UTC on Lambda, anything on a laptop), not an IANA name.
    for name in ("localtime", "posixrules", "A" * 5000):
        with pytest.raises(BadRequest) as err:
            zone(name, "tz")
        assert err.value.fields[0]["field"] == "tz" and len(str(err.value)) < 200

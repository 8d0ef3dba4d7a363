"""The day-ahead forecaster (gridpulse.forecasts.model): what a caller of
`forecast()` sees: 24 ordered points, the method and why, refusals on short
history, DST-correct local calendar features, and reproducible answers."""

import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from gridpulse.forecasts import features
from gridpulse.forecasts.model import MIN_HOURS, InsufficientHistory, forecast

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=timezone.utc)
LISBON = ZoneInfo("Europe/Lisbon")


def _history(days: int, end: datetime = NOW, seed: int = 1) -> list[tuple[datetime, float]]:
    """Hourly kWh with a daily shape in Lisbon time, a weekend lift and noise."""
    rng = np.random.default_rng(seed)
    last = end.replace(minute=0, second=0, microsecond=0)
    out = []
    for i in range(days * 24, 0, -1):
        t = last - timedelta(hours=i)
        local = t.astimezone(LISBON)
        kwh = 1 + 0.5 * math.sin(2 * math.pi * local.hour / 24) + 0.3 * (local.weekday() >= 5)
        out.append((t, kwh + rng.normal(0, 0.1)))
    return out


@pytest.fixture(scope="module")
def model_forecast():
    return forecast(_history(20), NOW, "Europe/Lisbon")


def test_calendar_features_follow_the_site_clock_across_dst():
    # Lisbon leaves summer time on 2026-10-25 at 02:00 local (01:00 UTC): the
    # local hour repeats 01:00 and the UTC hour 00:00 is local 01:00 (WEST).
    start = int(datetime(2026, 10, 24, 22, tzinfo=timezone.utc).timestamp())
    hours = start + 3600 * np.arange(6)
    hour, weekday = features.calendar(hours, LISBON)
    assert hour.tolist() == [23, 0, 1, 1, 2, 3]
    assert weekday.tolist() == [5, 6, 6, 6, 6, 6]  # Saturday, then Sunday
    # A week later the same UTC hour is one local hour earlier.
    later, _ = features.calendar(hours + 7 * 24 * 3600, LISBON)
    assert later.tolist() == [22, 23, 0, 1, 2, 3]


def test_lags_and_shifted_mean_are_known_a_day_ahead():
    grid = features.build_grid([(3600 * i, float(i)) for i in range(200)], origin=3600 * 200, max_hours=400)
    targets = features.target_hours(3600 * 200)
    X = features.design(grid, targets, ZoneInfo("UTC"))
    assert X[0, 2:5].tolist() == [176, 152, 32]  # lag24, lag48, lag168 of hour 200
    assert X[0, 5] == pytest.approx(np.mean(np.arange(153, 177)))  # hours T-47 .. T-24
    assert not np.isnan(X[:, 2:]).any()  # all 24 targets: nothing younger than 24 h is needed


def test_fewer_than_48_hours_is_refused_with_the_hours_needed():
    with pytest.raises(InsufficientHistory) as err:
        forecast(_history(1), NOW, "Europe/Lisbon")
    assert err.value.hours_needed == MIN_HOURS == 48
    assert err.value.hours_have == 24


def test_under_14_days_the_baseline_serves_and_says_so():
    f = forecast(_history(10), NOW, "Europe/Lisbon")
    assert f.method == "seasonal_naive"
    assert f.model_backtest is None
    assert f.backtest.method == "seasonal_naive" and f.backtest.hours == 5 * 24
    assert len(f.points) == 24 and f.coverage == 0.8
    # seasonal-naive: the same hour a week earlier
    week_ago = dict(_history(10))[f.points[0].hour - timedelta(days=7)]
    assert f.points[0].kwh == pytest.approx(week_ago)


def test_from_14_days_the_method_that_backtests_better_serves(model_forecast):
    f = model_forecast
    assert f.model_backtest is not None and f.baseline_backtest.hours == f.model_backtest.hours == 7 * 24
    better = "model" if f.model_backtest.mase < f.baseline_backtest.mase else "seasonal_naive"
    assert f.method == better
    assert f.backtest.method == f.method
    assert 0 <= f.confidence <= 1
    assert f.confidence == round(1 - f.backtest.wape, 2)
    assert f.points[0].hour == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)  # the hour containing `now`
    assert f.points[-1].hour == f.points[0].hour + timedelta(hours=23)


def test_every_point_is_ordered_and_non_negative(model_forecast):
    for f in (model_forecast, forecast(_history(3), NOW, "Europe/Lisbon")):
        for p in f.points:
            assert 0 <= p.lower <= p.kwh <= p.upper
            assert p.mean_power_w == pytest.approx(p.kwh * 1000)
        assert any(p.lower < p.upper for p in f.points)  # an interval, not a point


def test_same_history_same_forecast(model_forecast):
    again = forecast(_history(20), NOW, "Europe/Lisbon")
    assert again.method == model_forecast.method
    assert [p.kwh for p in again.points] == [p.kwh for p in model_forecast.points]
    assert [p.upper for p in again.points] == [p.upper for p in model_forecast.points]


def test_nan_infinite_and_negative_hours_are_skipped_not_used():
    history = _history(4)
    bad = {-30: math.nan, -20: math.inf, -10: -1.0, -5: None}
    for i, v in bad.items():
        history[i] = (history[i][0], v)
    f = forecast(history, NOW, "Europe/Lisbon")
    assert f.skipped_hours == 4
    assert f.history_hours == 4 * 24 - 4
    assert all(math.isfinite(p.kwh) and math.isfinite(p.upper) for p in f.points)


def test_skipped_hours_count_against_the_minimum():
    history = _history(2)
    history[0] = (history[0][0], math.nan)
    with pytest.raises(InsufficientHistory) as err:
        forecast(history, NOW, "Europe/Lisbon")
    assert err.value.hours_have == 47


def test_naive_or_duplicate_timestamps_are_rejected():
    history = _history(3)
    with pytest.raises(ValueError, match="twice"):
        forecast(history + history[-1:], NOW, "Europe/Lisbon")
    with pytest.raises(ValueError, match="time zone"):
        forecast([(t.replace(tzinfo=None), v) for t, v in history], NOW, "Europe/Lisbon")


# -- site calendar, holidays, expected electrics, confidence ---------------------------


def test_the_site_zone_defaults_to_utc():
    history = _history(3)
    assert [p.kwh for p in forecast(history, NOW).points] == [p.kwh for p in forecast(history, NOW, "UTC").points]


def test_public_holidays_come_from_the_sites_country():
    from datetime import date

    assert features.country_of_zone("Europe/Lisbon") == "PT"
    assert features.country_of_zone(ZoneInfo("Australia/Sydney")) == "AU"
    assert features.country_of_zone("UTC") is None
    days = features.holiday_dates("PT", date(2026, 12, 1), date(2026, 12, 31))
    assert {date(2026, 12, 8), date(2026, 12, 25)} <= days and date(2026, 12, 9) not in days
    assert date(2026, 3, 9) in features.holiday_dates("AU-VIC", date(2026, 3, 1), date(2026, 3, 31))  # Labour Day
    assert date(2026, 3, 9) not in features.holiday_dates("AU-NSW", date(2026, 3, 1), date(2026, 3, 31))
    assert features.holiday_dates("XX", date(2026, 1, 1), date(2026, 12, 31)) == frozenset()
    assert features.holiday_dates(None, date(2026, 1, 1), date(2026, 12, 31)) == frozenset()


def test_the_holiday_flag_follows_the_local_date():
    from datetime import date

    sydney = ZoneInfo("Australia/Sydney")  # UTC+11 in December
    start = int(datetime(2026, 12, 24, 11, tzinfo=timezone.utc).timestamp())
    hours = start + 3600 * np.arange(4)  # local 22:00, 23:00 on the 24th, 00:00, 01:00 on the 25th
    grid = features.build_grid([], origin=start, max_hours=10)
    X = features.design(grid, hours, sydney, {date(2026, 12, 25)})
    assert features.FEATURES[-1] == "holiday"
    assert X[:, -1].tolist() == [0, 0, 1, 1]


def _closed_days_history(days: int, closed: set) -> list[tuple[datetime, float]]:
    """A shop that uses a fifth of its energy on its closing days."""
    rng = np.random.default_rng(3)
    last = NOW.replace(minute=0)
    out = []
    for i in range(days * 24, 0, -1):
        t = last - timedelta(hours=i)
        local = t.astimezone(LISBON)
        kwh = 2 + math.sin(2 * math.pi * local.hour / 24)
        out.append((t, kwh * (0.2 if local.date() in closed else 1.0) + rng.normal(0, 0.05)))
    return out


def test_a_holiday_ahead_is_forecast_low_when_the_history_shows_holidays_are_low():
    tomorrow = (NOW + timedelta(days=1)).astimezone(LISBON).date()
    closed = {tomorrow - timedelta(days=5 * k) for k in range(9)}  # every fifth day, tomorrow (21 Nov) among them
    history = _closed_days_history(40, closed)
    known = forecast(history, NOW, "Europe/Lisbon", holidays=closed)
    unaware = forecast(history, NOW, "Europe/Lisbon", holidays=set())
    assert known.method == "model"
    on_holiday = [p for p in known.points if p.hour.astimezone(LISBON).date() == tomorrow]
    before = [p for p in known.points if p.hour.astimezone(LISBON).date() != tomorrow]
    assert on_holiday and before
    assert max(p.kwh for p in on_holiday) < min(p.kwh for p in before)
    assert known.backtest.mae < unaware.backtest.mae
    assert sum(p.kwh for p in known.points) < sum(p.kwh for p in unaware.points)


def test_expected_voltage_and_temperature_are_the_same_hour_median_of_the_last_week():
    history = _history(3)
    # voltage: 230 + the local hour / 10, with a different day 8 days ago (outside the week)
    voltage = [
        (t, 230 + t.astimezone(LISBON).hour / 10 + (5 if t < NOW - timedelta(days=7) else 0)) for t, _ in history
    ]
    temperature = [(t, 21.0 if i % 2 else math.nan) for i, (t, _) in enumerate(history)]
    f = forecast(history, NOW, "Europe/Lisbon", electrics={"voltage": voltage, "temperature": temperature})
    for p in f.points:
        assert p.voltage == pytest.approx(230 + p.hour.astimezone(LISBON).hour / 10)
        assert p.current is None  # the device reports no current
    assert {p.temperature for p in f.points} == {21.0, None}  # NaN hours are no value
    assert forecast(history, NOW, "Europe/Lisbon").points[0].voltage is None


def test_confidence_is_one_minus_the_backtests_wape():
    from gridpulse.forecasts.model import Backtest, confidence_of

    def bt(wape):
        return Backtest("model", mae=1, mase=1, coverage=0.8, wape=wape, hours=168)

    assert confidence_of(bt(0.127)) == 0.87
    assert confidence_of(bt(0.0)) == 1.0
    assert confidence_of(bt(1.7)) == 0.0
    assert confidence_of(bt(math.nan)) == 0.0

"""Day-ahead hourly kWh forecasts for one device, with 80 % intervals and a backtest.

`forecast(history, now, tz)` forecasts the 24 hours starting at the hour that
contains `now` from the device's complete hours before it (`tz`: the site's IANA
zone, UTC by default):

* **seasonal_naive**: the kWh of the same hour a week earlier (168 h), or a day
  earlier (24 h) where the week-old hour is unknown; its interval is
  split-conformal: point +- the 80 % quantile of the absolute day-ahead errors
  of the same rule over the last week of history (lower bound floored at 0).
* **model**: scikit-learn `HistGradientBoostingRegressor` with quantile loss at
  0.5 (the median; fixed `random_state`), on the features of
  `gridpulse.forecasts.features` (local hour and weekday, lags 24/48/168, the
  24 h mean shifted by 24 h, public holiday of the site's country: `country`,
  else the country of `tz` in the zone table, or explicit `holidays` dates).
  Its interval is split-conformal too: point +- the
  80 % quantile of the model's absolute errors over the backtest's 7 days.
  (A 0.1/0.9 quantile band was measured on the real series of `make backtest`
  and covered 56 % of hours, 91 % once widened by conformalized quantile
  regression; median +- conformal covered 84 %: docs/decisions.md.)
  `model_backtest.coverage` is two-fold: the half-width calibrated on one half
  of the backtest hours, counted on the other, and the other way round.

Which one serves: fewer than 48 valid hours raise `InsufficientHistory`; under
14 days (336 valid hours) the baseline serves; from 14 days on, both are
backtested on the device's last 7 days (one fit on the hours before them; every
held-out hour is then a day-ahead forecast, since no feature is younger than
24 h) and the one with the lower MASE serves; with `baseline_only` (a quick
run: gridpulse.forecasts.schedule) the baseline serves whatever the history. MASE divides the MAE by the
in-sample MAE of naive-168 on the hours before the backtest (naive-24 when the
history is too short for it; `mase_scale` says which). `confidence`
(`confidence_of`) is 1 - WAPE of the serving method on the backtest, where
WAPE = sum of |actual - point| / sum of actual kWh over the held-out hours,
clipped to 0..1 and rounded to 2 places (0 when the backtest has no energy):
0.9 means the forecasts of the last week missed by 10 % of the energy used.

Where the device reports them, `electrics` (hourly means of `voltage`,
`current`, `temperature` as (hour start, value) pairs) give each point the
expected value: the median of the same local hour over the last 7 days
(`features.same_hour_median`); None when the device reported none.

History values that are NaN, infinite or negative are skipped (left unknown,
counted in `skipped_hours`), not repaired; unknown lags are NaN features, which
the gradient boosting handles natively. The fits run on one thread
(OMP_NUM_THREADS and threadpoolctl).

Needs numpy and scikit-learn, which are not in the shared Lambda layer: only
the forecasting functions may import this module.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from gridpulse.forecasts.features import (  # noqa: E402
    HOUR,
    HourlyGrid,
    build_grid,
    country_of_zone,
    design,
    holiday_dates,
    lagged,
    same_hour_median,
    target_hours,
    to_datetimes,
)

COVERAGE = 0.8
QUANTILE = 0.5
HORIZON = 24
MIN_HOURS = 48  # fewer valid hours: InsufficientHistory
MODEL_MIN_HOURS = 14 * 24  # fewer: the baseline serves without a model backtest
MAX_HISTORY_HOURS = 56 * 24  # the model trains on the last 8 weeks at most
BACKTEST_HOURS = 7 * 24
CALIBRATION_HOURS = 7 * 24  # the baseline's conformal residuals
SEED = 0
MAX_ITER = 100
MODEL_VERSION = "2026.12-2"  # 2: holiday feature
ELECTRICS = ("voltage", "current", "temperature")


class InsufficientHistory(Exception):
    def __init__(self, hours_needed: int, hours_have: int):
        super().__init__(f"{hours_needed} hours of history needed, {hours_have} known")
        self.hours_needed = hours_needed
        self.hours_have = hours_have


@dataclass(frozen=True)
class ForecastPoint:
    hour: datetime  # hour start, UTC
    kwh: float
    lower: float
    upper: float
    voltage: float | None = None  # expected hourly means, where the device reports them
    current: float | None = None
    temperature: float | None = None

    @property
    def mean_power_w(self) -> float:
        return self.kwh * 1000.0  # kWh over one hour = mean kW


@dataclass(frozen=True)
class Backtest:
    method: str
    mae: float
    mase: float
    coverage: float  # share of actual hours inside [lower, upper]
    wape: float
    hours: int


@dataclass(frozen=True)
class Forecast:
    points: list[ForecastPoint]
    method: str  # "model" or "seasonal_naive"
    model_version: str
    generated_at: datetime
    confidence: float
    backtest: Backtest  # the serving method's
    baseline_backtest: Backtest  # seasonal-naive on the same hours
    model_backtest: Backtest | None  # None under 14 days of history
    mase_scale: str  # "naive_168" or "naive_24"
    history_hours: int
    skipped_hours: int
    coverage: float = COVERAGE
    horizon_hours: int = HORIZON


# -- the baseline ---------------------------------------------------------------


def naive(grid: HourlyGrid, targets: np.ndarray) -> np.ndarray:
    """Same hour a week earlier, else a day earlier, else the mean of the last known day."""
    point = lagged(grid, targets, 168)
    day = lagged(grid, targets, 24)
    point = np.where(np.isnan(point), day, point)
    if np.isnan(point).any():
        recent = grid.values[-24:]
        level = float(np.nanmean(recent)) if np.isfinite(recent).any() else float(np.nanmean(grid.values))
        point = np.where(np.isnan(point), level, point)
    return point


def conformal_halfwidth(residuals: np.ndarray, coverage: float = COVERAGE) -> float:
    """Split-conformal half-width: the ceil((n+1) * coverage)-th smallest absolute residual."""
    r = np.sort(np.abs(residuals[np.isfinite(residuals)]))
    if not len(r):
        return 0.0
    k = math.ceil((len(r) + 1) * coverage)
    return float(r[min(k, len(r)) - 1])


def _naive_residuals(grid: HourlyGrid, last: int) -> np.ndarray:
    hours = grid.hours()[-last:]
    actual = grid.values[-last:]
    pred = naive(grid, hours)
    return (actual - pred)[~np.isnan(actual)]


def baseline_predict(grid: HourlyGrid, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seasonal-naive point and split-conformal bounds for target hours after the grid."""
    point = naive(grid, targets)
    q = conformal_halfwidth(_naive_residuals(grid, CALIBRATION_HOURS))
    return point, np.maximum(point - q, 0.0), point + q


# -- the model --------------------------------------------------------------------


def _limits():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def model_fit(grid: HourlyGrid, tz: ZoneInfo, holidays: Collection[date] = frozenset()):
    """The median gradient-boosting model, on every known hour of the grid."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    hours = grid.hours()
    known = ~np.isnan(grid.values)
    X, y = design(grid, hours[known], tz, holidays), grid.values[known]
    model = HistGradientBoostingRegressor(
        loss="quantile",
        quantile=QUANTILE,
        max_iter=MAX_ITER,
        learning_rate=0.1,
        early_stopping=False,
        categorical_features=[0, 1],
        random_state=SEED,
    )
    with _limits():
        return model.fit(X, y)


def model_predict(
    model, grid: HourlyGrid, targets: np.ndarray, tz: ZoneInfo, holidays: Collection[date] = frozenset()
) -> np.ndarray:
    with _limits():
        return np.maximum(model.predict(design(grid, targets, tz, holidays)), 0.0)


def _two_fold_coverage(actual: np.ndarray, point: np.ndarray) -> float:
    """Coverage of point +- a conformal half-width calibrated on the other half of the hours."""
    err = np.abs(actual - point)
    half = len(err) // 2
    inside, counted = 0, 0
    for cal, test in ((err[:half], err[half:]), (err[half:], err[:half])):
        q = conformal_halfwidth(cal)
        known = test[np.isfinite(test)]
        inside += int(np.count_nonzero(known <= q))
        counted += len(known)
    return inside / counted if counted else float("nan")


# -- backtest and choice --------------------------------------------------------


def _scale(train: HourlyGrid) -> tuple[float, str]:
    """In-sample MAE of naive-168 on the training hours (naive-24 when too short)."""
    hours, actual = train.hours(), train.values
    for lag, name in ((168, "naive_168"), (24, "naive_24")):
        err = np.abs(actual - lagged(train, hours, lag))
        err = err[np.isfinite(err)]
        if len(err) >= 24 and err.mean() > 0:
            return float(err.mean()), name
    return float("nan"), "none"


def score(method: str, actual: np.ndarray, point, lower, upper, scale: float) -> Backtest:
    ok = ~np.isnan(actual)
    a, p, lo, hi = actual[ok], point[ok], lower[ok], upper[ok]
    mae = float(np.mean(np.abs(a - p))) if len(a) else float("nan")
    total = float(np.sum(a))
    return Backtest(
        method=method,
        mae=mae,
        mase=mae / scale if scale and math.isfinite(scale) else float("nan"),
        coverage=float(np.mean((a >= lo) & (a <= hi))) if len(a) else float("nan"),
        wape=float(np.sum(np.abs(a - p)) / total) if total > 0 else float("nan"),
        hours=int(len(a)),
    )


def backtest(
    grid: HourlyGrid, tz: ZoneInfo, with_model: bool, holidays: Collection[date] = frozenset()
) -> tuple[Backtest, Backtest | None, str, float]:
    """Both methods on the grid's last days (up to 7), trained on the hours before them; also the
    model's conformal half-width from its absolute errors there."""
    days = min(BACKTEST_HOURS, max(24, (len(grid.values) // 2) // 24 * 24)) // 24
    hold = days * 24
    train = HourlyGrid(grid.start, grid.values[:-hold], grid.skipped)
    if np.count_nonzero(~np.isnan(train.values)) < 24:  # too short to hold out: in-sample
        train = grid
    targets, actual = grid.hours()[-hold:], grid.values[-hold:]
    scale, scale_name = _scale(train)
    # Baseline: points from the full grid are day-ahead (lags >= 24 h); the
    # conformal width comes from the training hours only.
    point = naive(grid, targets)
    q = conformal_halfwidth(_naive_residuals(train, CALIBRATION_HOURS))
    base = score("seasonal_naive", actual, point, np.maximum(point - q, 0), point + q, scale)
    model, widen = None, 0.0
    if with_model:
        point = model_predict(model_fit(train, tz, holidays), grid, targets, tz, holidays)
        widen = conformal_halfwidth(actual - point)
        model = score("model", actual, point, point - widen, point + widen, scale)
        model = replace(model, coverage=_two_fold_coverage(actual, point))
    return base, model, scale_name, widen


def _origin(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("now has no time zone")
    t = int(now.timestamp())
    return t - t % HOUR


def confidence_of(backtest: Backtest) -> float:
    """1 - WAPE of a backtest, clipped to 0..1, 2 places (0 when WAPE is unknown)."""
    if not math.isfinite(backtest.wape):
        return 0.0
    return round(min(1.0, max(0.0, 1.0 - backtest.wape)), 2)


def holidays_for(grid: HourlyGrid, origin: int, tz: ZoneInfo, country: str | None) -> frozenset[date]:
    """The public holidays (local dates) from the grid's first hour to the horizon's last."""
    first = datetime.fromtimestamp(grid.start, tz).date()
    last = datetime.fromtimestamp(origin + HORIZON * HOUR, tz).date()
    return holiday_dates(country if country is not None else country_of_zone(tz), first, last)


def forecast(
    history: Iterable[tuple[datetime | int | float, float]],
    now: datetime,
    tz: str | ZoneInfo = "UTC",
    *,
    country: str | None = None,
    holidays: Collection[date] | None = None,
    electrics: Mapping[str, Iterable[tuple[datetime | int | float, float | None]]] | None = None,
    baseline_only: bool = False,
) -> Forecast:
    """The next 24 hourly kWh from `history`: (hour start, kWh) pairs, hour starts as
    aware datetimes or epoch seconds, in any order; `tz` is the site's IANA zone.

    `country` (ISO 3166 alpha-2, or `CC-SUBDIV`; "" for none) selects the public
    holidays; by default the country of `tz`. `holidays` (local dates) replaces
    them. `electrics` maps "voltage", "current" and "temperature" to the
    device's hourly means, (hour start, value) pairs. `baseline_only` serves
    seasonal-naive whatever the history (no model fit: milliseconds instead of
    about a second), with `model_backtest` None."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    origin = _origin(now)
    grid = build_grid(history, origin, MAX_HISTORY_HOURS)
    have = grid.valid_hours
    if have < MIN_HOURS:
        raise InsufficientHistory(MIN_HOURS, have)
    with_model = have >= MODEL_MIN_HOURS and not baseline_only
    days_off = frozenset(holidays) if holidays is not None else holidays_for(grid, origin, zone, country)
    base_bt, model_bt, scale_name, widen = backtest(grid, zone, with_model, days_off)
    use_model = model_bt is not None and math.isfinite(model_bt.mase) and model_bt.mase < base_bt.mase
    targets = target_hours(origin, HORIZON)
    if use_model:
        point = model_predict(model_fit(grid, zone, days_off), grid, targets, zone, days_off)
        lower, upper = np.maximum(point - widen, 0.0), point + widen
    else:
        point, lower, upper = baseline_predict(grid, targets)
    lower, upper = np.minimum(lower, point), np.maximum(upper, point)
    chosen = model_bt if use_model else base_bt
    confidence = confidence_of(chosen)
    expected = {
        name: same_hour_median(series, targets, zone) for name, series in (electrics or {}).items() if name in ELECTRICS
    }
    points = [
        ForecastPoint(
            hour=h,
            kwh=float(p),
            lower=float(lo),
            upper=float(hi),
            **{name: float(v[i]) for name, v in expected.items() if math.isfinite(v[i])},
        )
        for i, (h, p, lo, hi) in enumerate(zip(to_datetimes(targets), point, lower, upper))
    ]
    return Forecast(
        points=points,
        method="model" if use_model else "seasonal_naive",
        model_version=MODEL_VERSION,
        generated_at=now.astimezone(timezone.utc),
        confidence=confidence,
        backtest=chosen,
        baseline_backtest=base_bt,
        model_backtest=model_bt,
        mase_scale=scale_name,
        history_hours=have,
        skipped_hours=grid.skipped,
    )

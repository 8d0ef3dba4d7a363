"""The hourly series the forecaster works on, and its day-ahead features.

Only numpy and the standard library (zoneinfo): no pandas on the run-time path.

* `HourlyGrid` puts a device's hourly kWh on a regular grid of UTC hour starts
  ending just before the forecast origin. Hours with no value, and values that
  are NaN, infinite or negative, are left as NaN on the grid (the forecaster
  skips them) and counted in `skipped`.
* `calendar(hours, tz)` gives the local hour (0..23) and weekday (0 = Monday) of
  each UTC hour start in the site's zone, so a DST change shifts them as the
  site's clock does.
* `design(grid, targets, tz, holidays)` gives, for each target hour T, only what
  is known 24 hours ahead: hour, weekday, the kWh at T-24 h, T-48 h and T-168 h
  (absolute hours), the mean of the 24 hours ending at T-24 h (unknown lags are
  NaN), and whether T's local date is a public holiday (1.0) or not (0.0).
* `holiday_dates(country, first, last)` gives the public holidays of a country
  (ISO 3166 alpha-2, optionally `CC-SUBDIV` such as `AU-VIC`) between two dates
  from the `holidays` package (in the ML layer; none when it is not installed or
  does not know the country); `country_of_zone(tz)` guesses the country of an
  IANA zone from the zone table (`zone.tab`) of the system's time zone database
  (None for UTC, Etc/* and when the table is missing).
* `same_hour_median(series, targets, tz)` gives, for each target hour, the
  median of a per-hour value (e.g. the hourly mean voltage) over the same local
  hour of the last 7 days before the first target: the expected value, or NaN.
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

HOUR = 3600
LAGS = (24, 48, 168)
FEATURES = ("hour", "weekday", "lag24", "lag48", "lag168", "mean24_shift24", "holiday")


def _epoch_hour(ts: datetime | int | float) -> int:
    """Seconds since the epoch of an hour start: an aware datetime or epoch seconds."""
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError(f"timestamp {ts.isoformat()} has no time zone")
        seconds = ts.timestamp()
    else:
        seconds = float(ts)
    if seconds % HOUR:
        raise ValueError(f"timestamp {seconds} is not an hour start")
    return int(seconds)


@dataclass(frozen=True)
class HourlyGrid:
    """kWh per hour on consecutive UTC hour starts: `values[i]` is the hour starting at `start + i h`."""

    start: int  # epoch seconds of the first hour
    values: np.ndarray  # float64, NaN where unknown
    skipped: int  # hours dropped for a NaN, infinite or negative value

    @property
    def end(self) -> int:
        """Epoch seconds just after the last hour (the forecast origin)."""
        return self.start + len(self.values) * HOUR

    @property
    def valid_hours(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.values)))

    def hours(self) -> np.ndarray:
        return self.start + HOUR * np.arange(len(self.values), dtype=np.int64)

    def tail(self, n: int) -> HourlyGrid:
        if n >= len(self.values):
            return self
        return HourlyGrid(self.end - n * HOUR, self.values[-n:], self.skipped)


def build_grid(history: Iterable[tuple[datetime | int | float, float]], origin: int, max_hours: int) -> HourlyGrid:
    """The last `max_hours` hours before `origin` (epoch seconds of an hour start).

    Entries at or after the origin are ignored (not yet complete). A timestamp
    that is not an hour start, naive, or given twice raises ValueError.
    """
    first = origin - max_hours * HOUR
    values = np.full(max_hours, np.nan)
    seen = np.zeros(max_hours, dtype=bool)
    skipped = 0
    earliest = origin
    for ts, kwh in history:
        t = _epoch_hour(ts)
        if t >= origin or t < first:
            continue
        i = (t - first) // HOUR
        if seen[i]:
            raise ValueError(f"hour {datetime.fromtimestamp(t, timezone.utc).isoformat()} is given twice")
        seen[i] = True
        earliest = min(earliest, t)
        v = float(kwh) if kwh is not None else math.nan
        if math.isfinite(v) and v >= 0:
            values[i] = v
        else:
            skipped += 1
    # The grid starts at the first hour the history names.
    offset = (earliest - first) // HOUR
    return HourlyGrid(earliest, values[offset:], skipped)


def calendar(hours: np.ndarray, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Local hour of day and weekday (Monday = 0) of each UTC hour start (epoch seconds)."""
    local = [datetime.fromtimestamp(int(t), tz) for t in hours]
    return (
        np.fromiter((d.hour for d in local), dtype=np.float64, count=len(local)),
        np.fromiter((d.weekday() for d in local), dtype=np.float64, count=len(local)),
    )


def lagged(grid: HourlyGrid, targets: np.ndarray, lag: int) -> np.ndarray:
    """kWh at T - lag hours for each target hour T (NaN outside the grid or unknown)."""
    idx = (targets - grid.start) // HOUR - lag
    out = np.full(len(targets), np.nan)
    ok = (idx >= 0) & (idx < len(grid.values))
    out[ok] = grid.values[idx[ok]]
    return out


def mean24_shift24(grid: HourlyGrid, targets: np.ndarray) -> np.ndarray:
    """Mean of the known kWh over T-47 h .. T-24 h (NaN when fewer than 12 of them are known)."""
    vals = np.where(np.isnan(grid.values), 0.0, grid.values)
    known = (~np.isnan(grid.values)).astype(np.float64)
    csum = np.concatenate([[0.0], np.cumsum(vals)])
    ccount = np.concatenate([[0.0], np.cumsum(known)])
    hi = (targets - grid.start) // HOUR - 24 + 1  # exclusive end index: T-24 included
    lo = hi - 24
    n = len(grid.values)
    lo_c, hi_c = np.clip(lo, 0, n), np.clip(hi, 0, n)
    count = ccount[hi_c] - ccount[lo_c]
    total = csum[hi_c] - csum[lo_c]
    return np.where(count >= 12, total / np.maximum(count, 1), np.nan)


def holiday_flags(hours: np.ndarray, tz: ZoneInfo, holidays: Collection[date]) -> np.ndarray:
    """1.0 where the local date of the UTC hour start is in `holidays`, else 0.0."""
    if not holidays:
        return np.zeros(len(hours))
    return np.fromiter(
        (datetime.fromtimestamp(int(t), tz).date() in holidays for t in hours), dtype=np.float64, count=len(hours)
    )


def design(grid: HourlyGrid, targets: np.ndarray, tz: ZoneInfo, holidays: Collection[date] = frozenset()) -> np.ndarray:
    """The feature matrix (rows: targets, columns: FEATURES)."""
    hour, weekday = calendar(targets, tz)
    columns = [
        hour,
        weekday,
        *(lagged(grid, targets, lag) for lag in LAGS),
        mean24_shift24(grid, targets),
        holiday_flags(targets, tz, holidays),
    ]
    return np.column_stack(columns)


# -- holidays ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country code, from the first zone.tab on the zoneinfo path."""
    for root in zoneinfo.TZPATH:
        path = Path(root) / "zone.tab"
        if path.is_file():
            out = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split("\t")
                if len(parts) >= 3 and not line.startswith("#"):
                    out[parts[2]] = parts[0]
            return out
    return {}


def country_of_zone(tz: str | ZoneInfo) -> str | None:
    """The country whose zone `tz` is (Europe/Lisbon -> PT), or None."""
    return _zone_countries().get(str(tz.key if isinstance(tz, ZoneInfo) else tz))


@functools.lru_cache(maxsize=64)
def holiday_dates(country: str | None, first: date, last: date) -> frozenset[date]:
    """Public holidays of `country` (`PT`, or `AU-VIC` for a subdivision) from
    `first` to `last` inclusive; empty when unknown or without the package."""
    if not country:
        return frozenset()
    try:
        import holidays as hol
    except ImportError:
        return frozenset()
    code, _, subdiv = country.upper().partition("-")
    try:
        table = hol.country_holidays(code, subdiv=subdiv or None, years=range(first.year, last.year + 1))
    except NotImplementedError:  # a country or subdivision the package does not know
        return frozenset()
    return frozenset(d for d in table if first <= d <= last)


# -- expected electrical values ----------------------------------------------------


def same_hour_median(
    series: Iterable[tuple[datetime | int | float, float | None]], targets: np.ndarray, tz: ZoneInfo, days: int = 7
) -> np.ndarray:
    """For each target hour, the median of the series' finite values at the
    same local hour of day over the `days` days before the first target (NaN
    where there is none). `series` holds (UTC hour start, value) pairs."""
    if not len(targets):
        return np.array([])
    origin = int(targets[0])
    first = origin - days * 24 * HOUR
    by_hour: dict[int, list[float]] = {}
    for ts, value in series:
        t = _epoch_hour(ts)
        if not first <= t < origin or value is None or not math.isfinite(float(value)):
            continue
        by_hour.setdefault(datetime.fromtimestamp(t, tz).hour, []).append(float(value))
    hour, _ = calendar(targets, tz)
    return np.array([float(np.median(by_hour[int(h)])) if int(h) in by_hour else math.nan for h in hour])


def target_hours(origin: int, horizon: int = 24) -> np.ndarray:
    return origin + HOUR * np.arange(horizon, dtype=np.int64)


def to_datetimes(hours: Sequence[int]) -> list[datetime]:
    return [datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=int(t)) for t in hours]

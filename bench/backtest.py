"""`python -m bench --only backtest` (`make backtest`): day-ahead accuracy on a real series.

The series is the hourly electricity demand of Victoria, Australia (MW, 2012-01-01
to 2012-05-29, 3,600 hours) that statsmodels ships as
`statsmodels/tsa/stl/tests/results/mstl_elec_vic.csv` (a dev-only dependency).
Its hours are on a regular grid in Australian Eastern Standard Time, taken here
as UTC+10 with the site zone Australia/Brisbane (UTC+10, no DST); the public
holidays are Victoria's (`AU-VIC`, from the `holidays` package).

For each of the last DAYS days, at local midnight, the forecaster sees only the
hours before that origin (up to 8 weeks, as in production) and forecasts the
next 24: seasonal-naive with its split-conformal band, the median model with
its split-conformal band (both exactly as `gridpulse.forecasts.model.forecast`
serves them), and whichever of the two `forecast` would serve at that origin.
MAE, MASE (scaled by the in-sample naive-168 MAE before the first origin) and
the 80 % interval coverage are computed on the same hours for all three.
"""

from __future__ import annotations

import csv
import os
import pathlib
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

DAYS = 21
TZ = ZoneInfo("Australia/Brisbane")
COUNTRY = "AU-VIC"
AEST = timezone(timedelta(hours=10))


def load() -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of each hour start and the demand (MW)."""
    import statsmodels

    path = pathlib.Path(statsmodels.__file__).parent / "tsa/stl/tests/results/mstl_elec_vic.csv"
    hours, values = [], []
    with path.open() as f:
        for row in csv.DictReader(f):
            hours.append(int(datetime.fromisoformat(row["ds"]).replace(tzinfo=AEST).timestamp()))
            values.append(float(row["y"]))
    return np.array(hours, dtype=np.int64), np.array(values)


def run(days: int = DAYS) -> int:
    from gridpulse.forecasts import model as fm
    from gridpulse.forecasts.features import build_grid, target_hours

    started = time.perf_counter()
    hours, values = load()
    pairs = list(zip(hours.tolist(), values.tolist()))
    origins = [int(h) for h in hours[-days * 24 :: 24]]
    first, last = (datetime.fromtimestamp(int(h), AEST).date() for h in (hours[0], hours[-1]))
    days_off = fm.holiday_dates(COUNTRY, first, last)
    scale, scale_name = fm._scale(build_grid(pairs, origins[0], fm.MAX_HISTORY_HOURS))
    index = {int(h): i for i, h in enumerate(hours)}
    rows = {"seasonal_naive": [], "model": [], "served": []}
    served_model = 0
    for origin in origins:
        grid = build_grid(pairs, origin, fm.MAX_HISTORY_HOURS)
        targets = target_hours(origin)
        actual = values[[index[int(t)] for t in targets]]
        base = fm.baseline_predict(grid, targets)
        base_bt, model_bt, _, widen = fm.backtest(grid, TZ, with_model=True, holidays=days_off)
        point = fm.model_predict(fm.model_fit(grid, TZ, days_off), grid, targets, TZ, days_off)
        model = (point, np.maximum(point - widen, 0.0), point + widen)
        use_model = model_bt.mase < base_bt.mase
        served_model += use_model
        for name, pred in (("seasonal_naive", base), ("model", model), ("served", model if use_model else base)):
            rows[name].append((actual, *pred))
    print(f"Day-ahead backtest: Victoria electricity demand (statsmodels mstl_elec_vic.csv), {days} daily origins")
    print(f"  public holidays ({COUNTRY}) in the series: {', '.join(str(d) for d in sorted(days_off)) or 'none known'}")
    first = datetime.fromtimestamp(origins[0], AEST).date()
    last = datetime.fromtimestamp(origins[-1], AEST).date()
    print(
        f"  origins {first} .. {last} at local midnight, 24 hours each ({days * 24} in all); MASE scale: {scale_name} in-sample MAE"
    )
    print(f"  {'method':<16} {'MAE (MW)':>10} {'MASE':>7} {'80% coverage':>13}")
    results = {}
    for name, parts in rows.items():
        a, p, lo, hi = (np.concatenate(x) for x in zip(*parts))
        s = fm.score(name, a, p, lo, hi, scale)
        results[name] = s
        print(f"  {name:<16} {s.mae:>10.1f} {s.mase:>7.3f} {s.coverage * 100:>12.1f}%")
    print(
        f"  (served: the method forecast() picks per origin from its own 7-day backtest; model on {served_model}/{days})"
    )
    m, b = results["model"], results["seasonal_naive"]
    beats = "beats" if m.mase < b.mase else "does NOT beat"
    print(f"  The model {beats} seasonal-naive on MASE ({m.mase:.3f} vs {b.mase:.3f}).")
    for name in ("model", "seasonal_naive", "served"):
        c = results[name].coverage * 100
        verdict = "within" if 75 <= c <= 85 else "OUTSIDE"
        print(f"  {name} 80% interval coverage {c:.1f}% is {verdict} 75-85%.")
    print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0

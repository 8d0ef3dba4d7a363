"""Day-ahead forecasts of a device's consumption: computed, stored, read back.

* `compute(device)` (POST /devices/{id}/predict and the scheduled worker):
  reads the device's hourly kWh from its day rollups (one Query on the
  telemetry partition for the last HISTORY_DAYS local days; raw readings are
  never read), runs gridpulse.forecasts.model.forecast in the site's time
  zone (the device's hotel's, else UTC), with the hourly mean voltage,
  current and temperature of the same rollups where the device reports them
  (each forecast hour then has the expected value: the median of the same
  local hour over the last 7 days), renders the answer (`render`),
  stores it (gridpulse.forecasts.data, one PutItem) and returns it. Fewer
  than 48 known hours: 422 `insufficient_history` with `needed_hours` and
  `have_hours` (a device that sends no energy, e.g. a light without a
  meter, has 0).
* `predict(device)` (POST /devices/{id}/predict): the device's newest
  forecast as stored (200) when it was made less than REUSE_S ago, by the
  schedule or an earlier POST, so a double click or a retry costs one Query,
  not a model fit; else `compute` (201).
* `newest(device_id)`: one Query (newest first, Limit 1); 404 `no_prediction`.
* `history(device_id, ...)`: the stored forecasts newest first, paged, each
  hour with `actual_kwh` from the same day rollups once the hour has passed
  (null while it has not, and for an hour the device sent nothing in): one
  Query of forecasts, one Query of the day rollups the page's hours cover.
* `hotel_forecast(hotel_id)`: the newest forecast of each of the hotel's
  devices (Query `by-hotel`, then one Query per device, Limit 1), summed hour
  by hour over the devices whose newest forecast covers that hour.

Figures are decimal strings, as energy is in the billing and light-usage
answers: kWh to the watt-hour (3 decimals), mean power in whole watts
(kWh x 1000 of the rounded kWh, so the two always agree). MASE, confidence
and coverage are plain numbers (ratios).

The rollup buckets are the site's local hours; in a zone whose offset is not
a whole number of hours each local hour is counted at the UTC hour it starts
in (the forecaster works on UTC hour starts).

The model (numpy, scikit-learn) is imported on first use, so the routes'
function imports without it (reads need no model).
"""

from __future__ import annotations

import json
import math
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from gridpulse.devices.data import DeviceItem
from gridpulse.errors import ApiError, NotFound
from gridpulse.forecasts.data import PREFIX, RETENTION_DAYS, ForecastItem, device_pk, forecast_sk
from gridpulse.observability import count
from gridpulse.pagination import decode_token, encode_token
from gridpulse.sites.service import hotel_timezone
from gridpulse.telemetry import rollups
from gridpulse.timeutil import iso, utcnow

HOUR = 3600
# The model looks at most 8 weeks back (model.MAX_HISTORY_HOURS); one more
# local day covers a time zone ahead of UTC.
HISTORY_DAYS = 57
KWH = Decimal("0.001")
WATT = Decimal(1)
HOTEL_MAX_DEVICES = 500
REUSE_S = 60  # POST predict within this long of the device's newest forecast returns that one (200)


class InsufficientHistoryError(ApiError):
    status = 422
    code = "insufficient_history"


# ---------------------------------------------------------------- history


def hourly_series(
    device_id: str, tz_name: str, first_ms: int, end_ms: int
) -> tuple[dict[int, float], dict[str, dict[int, float]]]:
    """kWh of every rollup bucket in [first_ms, end_ms), by UTC hour start
    (epoch seconds), and the buckets' mean voltage, current and temperature
    where the readings carried them (reading field name -> hour -> mean):
    one Query of the day rollups of those local dates."""
    tz = ZoneInfo(tz_name)
    first = rollups.local_date(rollups.bucket_of(first_ms, tz), tz)
    last = rollups.local_date(rollups.bucket_of(max(first_ms, end_ms - 1), tz), tz)
    kwh: dict[int, float] = defaultdict(float)
    electrics: dict[str, dict[int, float]] = defaultdict(dict)
    for item in rollups.day_items(device_id, first, last):
        for bucket, stats in rollups.buckets_of(item).items():
            if first_ms <= bucket < end_ms:
                t = bucket // 1000
                kwh[t - t % HOUR] += float(stats.get("e", 0))
                for name, mean in rollups.electric_means(stats).items():
                    electrics[name][t - t % HOUR] = mean
    return dict(kwh), dict(electrics)


def hourly_kwh(device_id: str, tz_name: str, first_ms: int, end_ms: int) -> dict[int, float]:
    """kWh of every rollup bucket in [first_ms, end_ms), by UTC hour start (epoch seconds)."""
    return hourly_series(device_id, tz_name, first_ms, end_ms)[0]


# ---------------------------------------------------------------- rendering


def _kwh(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(KWH, rounding=ROUND_HALF_EVEN)


def _watts(kwh: Decimal) -> str:
    return str((kwh * 1000).quantize(WATT, rounding=ROUND_HALF_EVEN))


def _ratio(value: float, places: int = 3) -> float | None:
    return round(float(value), places) if value is not None and math.isfinite(value) else None


def render(device_id: str, forecast_id: str, fc) -> dict:
    """The API's forecast from a gridpulse.forecasts.model.Forecast."""
    items = []
    for point in fc.points:
        kwh, lower, upper = _kwh(point.kwh), _kwh(point.lower), _kwh(point.upper)
        item = {
            "timestamp": iso(point.hour),
            "kwh": str(kwh),
            "kwh_lower": str(lower),
            "kwh_upper": str(upper),
            "power_w": _watts(kwh),
            "power_w_lower": _watts(lower),
            "power_w_upper": _watts(upper),
        }
        for name in ("voltage", "current", "temperature"):  # where the model gives them
            value = getattr(point, name, None)
            if value is not None and math.isfinite(value):
                item[name] = round(float(value), 2)
        items.append(item)
    chosen, base = fc.backtest, fc.baseline_backtest
    return {
        "device_id": device_id,
        "forecast_id": forecast_id,
        "generated_at": iso(fc.generated_at),
        "model_version": fc.model_version,
        "method": fc.method,
        "horizon_hours": fc.horizon_hours,
        "coverage": fc.coverage,
        "confidence": fc.confidence,
        "history_hours": fc.history_hours,
        "items": items,
        "backtest": {
            "mae": str(_kwh(chosen.mae)) if math.isfinite(chosen.mae) else None,
            "mase": _ratio(chosen.mase),
            "baseline_mae": str(_kwh(base.mae)) if math.isfinite(base.mae) else None,
            "baseline_mase": _ratio(base.mase),
            "interval_coverage": _ratio(chosen.coverage),
            "hours": chosen.hours,
        },
    }


# ---------------------------------------------------------------- compute and store


def compute(
    device: DeviceItem, now: datetime | None = None, baseline_only: bool = False, trigger: str = "on_demand"
) -> dict:
    """Forecast the next 24 hours of `device` now, store it and return it
    (`baseline_only`: seasonal-naive without fitting the model). `trigger`
    (`on_demand`: POST /devices/{id}/predict; `schedule`: the forecast worker) is the
    dimension of the ForecastsMade metric."""
    from gridpulse.forecasts import model  # numpy and scikit-learn: only here

    now = now or utcnow()
    tz_name = hotel_timezone(device.hotel_id)
    origin_ms = int(now.timestamp()) // HOUR * HOUR * 1000
    history, electrics = hourly_series(device.device_id, tz_name, origin_ms - HISTORY_DAYS * 86_400_000, origin_ms)
    try:
        fc = model.forecast(
            history.items(),
            now,
            tz_name,
            electrics={name: hours.items() for name, hours in electrics.items()},
            baseline_only=baseline_only,
        )
    except model.InsufficientHistory as exc:
        raise InsufficientHistoryError(
            f"A forecast needs {exc.hours_needed} hours of energy history; this device has {exc.hours_have}.",
            extra={"needed_hours": exc.hours_needed, "have_hours": exc.hours_have},
        ) from None
    forecast_id = str(uuid.uuid4())
    body = render(device.device_id, forecast_id, fc)
    generated_ms = int(fc.generated_at.timestamp() * 1000)
    ForecastItem(
        device_pk(device.device_id),
        forecast_sk(generated_ms, forecast_id),
        device_id=device.device_id,
        forecast_id=forecast_id,
        generated_at=body["generated_at"],
        method=body["method"],
        body=json.dumps(body, separators=(",", ":")),
        ttl=generated_ms // 1000 + RETENTION_DAYS * 86400,
    ).save()
    count("ForecastsMade", trigger=trigger)
    return body


# ---------------------------------------------------------------- reads


def _newest_item(device_id: str) -> ForecastItem | None:
    query = ForecastItem.query(
        device_pk(device_id), ForecastItem.sk.startswith(PREFIX), scan_index_forward=False, limit=1
    )
    return next(iter(query), None)


def predict(device: DeviceItem, now: datetime | None = None) -> tuple[int, dict]:
    """(201, a forecast computed now), or (200, the newest one) when it is under REUSE_S old."""
    now = now or utcnow()
    item = _newest_item(device.device_id)
    if item is not None:
        made = datetime.fromisoformat(item.generated_at.replace("Z", "+00:00"))
        if timedelta(0) <= now - made < timedelta(seconds=REUSE_S):
            return 200, json.loads(item.body)
    return 201, compute(device, now)


def has_forecast(device_id: str) -> bool:
    return _newest_item(device_id) is not None


def newest(device_id: str) -> dict:
    item = _newest_item(device_id)
    if item is None:
        raise NotFound("This device has no forecast yet.", code="no_prediction")
    return json.loads(item.body)


def _with_actuals(device_id: str, tz_name: str, forecasts: list[dict], now_s: int) -> None:
    """Set `actual_kwh` on every hour of `forecasts`: the rollup's kWh once the
    hour has passed, else null."""
    passed = [
        int(datetime.fromisoformat(i["timestamp"]).timestamp())
        for f in forecasts
        for i in f["items"]
        if int(datetime.fromisoformat(i["timestamp"]).timestamp()) + HOUR <= now_s
    ]
    actual = hourly_kwh(device_id, tz_name, min(passed) * 1000, (max(passed) + HOUR) * 1000) if passed else {}
    for f in forecasts:
        for i in f["items"]:
            t = int(datetime.fromisoformat(i["timestamp"]).timestamp())
            known = t + HOUR <= now_s and t in actual
            i["actual_kwh"] = str(_kwh(actual[t])) if known else None


def history(device: DeviceItem, limit: int, next_token: str | None, now: datetime | None = None) -> dict:
    """A page of the device's forecasts, newest first, with the actual kWh of past hours."""
    purpose = f"predictions:{device.device_id}"
    result = ForecastItem.query(
        device_pk(device.device_id),
        ForecastItem.sk.startswith(PREFIX),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=decode_token(next_token, purpose),
    )
    forecasts = [json.loads(item.body) for item in result]
    now_s = int((now or utcnow()).timestamp())
    _with_actuals(device.device_id, hotel_timezone(device.hotel_id), forecasts, now_s)
    return {
        "items": forecasts,
        "count": len(forecasts),
        "next_token": encode_token(result.last_evaluated_key, purpose),
    }


def hotel_forecast(hotel_id: str, now: datetime | None = None) -> dict:
    """The hotel's next hours: its devices' newest forecasts summed hour by hour."""
    devices = DeviceItem.by_hotel.query(hotel_id, limit=HOTEL_MAX_DEVICES)
    return {"hotel_id": hotel_id, **_summed(devices, now)}


def room_forecast(room_id: str, hotel_id: str, now: datetime | None = None) -> dict:
    """The room's next hours: its devices' newest forecasts summed hour by hour."""
    devices = DeviceItem.by_room.query(room_id, limit=HOTEL_MAX_DEVICES)
    return {"room_id": room_id, "hotel_id": hotel_id, **_summed(devices, now)}


def _summed(devices, now: datetime | None) -> dict:
    """The next 24 hours from the hour now falls in: each hour's kWh, lower and
    upper bounds summed over the devices whose newest forecast covers it (summed
    bounds are as wide as an 80 % interval of the total when the devices' errors
    move together, and wider when they do not)."""
    now = now or utcnow()
    now_s = int(now.timestamp())
    origin = now_s - now_s % HOUR
    totals: dict[int, list[Decimal]] = {}
    contributors: dict[int, int] = defaultdict(int)
    included, missing = [], []
    for device in devices:
        item = _newest_item(device.device_id)
        if item is None:
            missing.append(device.device_id)
            continue
        body = json.loads(item.body)
        included.append(
            {"device_id": device.device_id, "forecast_id": body["forecast_id"], "generated_at": body["generated_at"]}
        )
        for i in body["items"]:
            t = int(datetime.fromisoformat(i["timestamp"]).timestamp())
            if t < origin:
                continue
            row = totals.setdefault(t, [Decimal(0), Decimal(0), Decimal(0)])
            row[0] += Decimal(i["kwh"])
            row[1] += Decimal(i["kwh_lower"])
            row[2] += Decimal(i["kwh_upper"])
            contributors[t] += 1
    items = [
        {
            "timestamp": iso(datetime.fromtimestamp(t, timezone.utc)),
            "kwh": str(kwh),
            "kwh_lower": str(lower),
            "kwh_upper": str(upper),
            "power_w": _watts(kwh),
            "devices": contributors[t],
        }
        for t, (kwh, lower, upper) in sorted(totals.items())
        if t < origin + 24 * HOUR
    ]
    return {
        "generated_at": iso(now),
        "start": iso(datetime.fromtimestamp(origin, timezone.utc)),
        "end": iso(datetime.fromtimestamp(origin, timezone.utc) + timedelta(hours=24)),
        "items": items,
        "devices": included,
        "devices_without_forecast": missing,
    }

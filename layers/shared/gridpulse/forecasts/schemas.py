"""Response bodies of the forecasts group (the REST contract's "Predictions and assistant").

kWh and watts are decimal strings (kWh to the watt-hour; watts whole, the
kWh of the same hour x 1000); MASE, confidence and coverage are numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gridpulse.schemas import Output, Page

Method = Literal["model", "seasonal_naive"]
Kwh = Annotated[str, Field(description="kWh, a decimal string (3 decimals)", examples=["0.412"])]
Watts = Annotated[str, Field(description="mean power over the hour in watts, a decimal string", examples=["412"])]


class ForecastHourOut(Output):
    timestamp: Annotated[str, Field(description="start of the hour, UTC")]
    kwh: Kwh
    kwh_lower: Kwh
    kwh_upper: Kwh
    power_w: Watts
    power_w_lower: Watts
    power_w_upper: Watts
    voltage: Annotated[
        float | None,
        Field(
            description="expected mean voltage (V) in the hour: the median of the same local hour over the "
            "last 7 days of the device's readings; absent when the device reports no voltage",
            examples=[229.4],
        ),
    ] = None
    current: Annotated[
        float | None,
        Field(description="expected mean current (A) in the hour, the same way; absent when not reported"),
    ] = None
    temperature: Annotated[
        float | None,
        Field(description="expected mean temperature (deg C) in the hour, the same way; absent when not reported"),
    ] = None


class ForecastBacktestOut(Output):
    """The serving method and seasonal-naive, day-ahead, on the device's own last days."""

    mae: Kwh | None = None
    mase: Annotated[float | None, Field(description="MAE / in-sample MAE of naive-168 (naive-24 on short history)")] = (
        None
    )
    baseline_mae: Kwh | None = None
    baseline_mase: float | None = None
    interval_coverage: Annotated[
        float | None, Field(description="share of backtest hours inside the served method's interval")
    ] = None
    hours: int


class ForecastOut(Output):
    device_id: str
    forecast_id: str
    generated_at: str
    model_version: str
    method: Annotated[
        Method, Field(description="model, or seasonal_naive (under 14 days of history, or it backtests better)")
    ]
    horizon_hours: int
    coverage: Annotated[float, Field(description="nominal coverage of every [lower, upper] interval")]
    confidence: Annotated[float, Field(ge=0, le=1, description="1 - WAPE of the served method on the backtest")]
    history_hours: int | None = None
    items: list[ForecastHourOut]
    backtest: ForecastBacktestOut


class PredictionHourOut(ForecastHourOut):
    actual_kwh: Annotated[
        str | None, Field(description="the kWh measured in the hour, once it has passed (null until then, or if none)")
    ] = None


class PredictionOut(ForecastOut):
    items: list[PredictionHourOut]


class PredictionsPage(Page[PredictionOut]):
    pass


class HotelForecastHourOut(Output):
    timestamp: str
    kwh: Kwh
    kwh_lower: Annotated[
        str, Field(description="sum of the devices' lower bounds (wider than an 80 % interval of the sum)")
    ]
    kwh_upper: Annotated[str, Field(description="sum of the devices' upper bounds")]
    power_w: Watts
    devices: Annotated[int, Field(description="devices whose newest forecast covers this hour")]


class HotelForecastDeviceOut(Output):
    device_id: str
    forecast_id: str
    generated_at: str


class SiteForecastOut(Output):
    generated_at: str
    start: str
    end: str
    items: list[HotelForecastHourOut]
    devices: list[HotelForecastDeviceOut]
    devices_without_forecast: list[str]


class HotelForecastOut(SiteForecastOut):
    hotel_id: str


class RoomForecastOut(SiteForecastOut):
    room_id: str
    hotel_id: str

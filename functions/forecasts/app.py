"""Forecasts endpoint group: a device's next 24 hours computed now, the
newest forecast, the history with actual kWh, a hotel's hourly total
(gridpulse.forecasts.service). Computing needs numpy and scikit-learn,
imported on the first POST only."""

from __future__ import annotations

from gridpulse.api import (
    BEARER,
    Limit,
    NextToken,
    Response,
    create_app,
    current_caller,
    json_response,
    lambda_handler,
    status_doc,
)
from gridpulse.devices.lookup import visible_or_assigned
from gridpulse.forecasts import service as forecasts
from gridpulse.forecasts.schemas import ForecastOut, HotelForecastOut, PredictionsPage, RoomForecastOut
from gridpulse.pagination import parse_limit
from gridpulse.sites.service import visible_hotel, visible_room

app = create_app()


@app.post(
    "/devices/<device_id>/predict",
    tags=["forecasts"],
    summary="Forecast the device's next 24 hours now (422 insufficient_history under 48 hours of energy history)",
    description="Computes and stores a forecast (201). Within 60 s of the device's newest forecast (made by the "
    "schedule or an earlier call) it computes nothing and returns that forecast as stored (200; its "
    "`generated_at` says when it was made), so repeated calls cost no model fit.",
    security=BEARER,
    responses={
        **status_doc(
            201,
            ForecastOut,
            "The forecast, computed now and stored",
            also={200: "The device's newest forecast, made less than 60 s ago, as stored (nothing computed)"},
        ),
        422: {"description": "insufficient_history, with needed_hours and have_hours"},
    },
)
def predict(device_id: str) -> Response[ForecastOut]:
    device = visible_or_assigned(current_caller(app), device_id)
    status, body = forecasts.predict(device)
    return json_response(status, body)


@app.get(
    "/devices/<device_id>/prediction",
    tags=["forecasts"],
    summary="The device's newest forecast (404 no_prediction when none)",
    security=BEARER,
)
def prediction(device_id: str) -> ForecastOut:
    device = visible_or_assigned(current_caller(app), device_id)
    return forecasts.newest(device.device_id)


@app.get(
    "/devices/<device_id>/predictions",
    tags=["forecasts"],
    summary="The device's forecasts, newest first, each past hour with its actual kWh",
    security=BEARER,
)
def predictions(device_id: str, limit: Limit = None, next_token: NextToken = None) -> PredictionsPage:
    device = visible_or_assigned(current_caller(app), device_id)
    return forecasts.history(device, parse_limit(limit), next_token)


@app.get(
    "/hotels/<hotel_id>/forecast",
    tags=["forecasts"],
    summary="The hotel's next 24 hours: its devices' newest forecasts summed hour by hour",
    security=BEARER,
)
def hotel_forecast(hotel_id: str) -> HotelForecastOut:
    hotel = visible_hotel(current_caller(app), hotel_id)
    return forecasts.hotel_forecast(hotel.hotel_id)


@app.get(
    "/rooms/<room_id>/forecast",
    tags=["forecasts"],
    summary="The room's next 24 hours: its devices' newest forecasts summed hour by hour",
    security=BEARER,
)
def room_forecast(room_id: str) -> RoomForecastOut:
    room = visible_room(current_caller(app), room_id)
    return forecasts.room_forecast(room.room_id, room.hotel_id)


handler = lambda_handler(app, group="forecasts")

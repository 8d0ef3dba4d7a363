"""Street lights endpoint group: city lists, summary, map, detail and logs,
control (shadow + MQTT command) and status reports from the lights."""

from __future__ import annotations

from typing import Annotated, Literal

from gridpulse.api import (
    API_KEY,
    BEARER,
    STAFF,
    Limit,
    NextToken,
    Query,
    Response,
    create_app,
    current_caller,
    current_device,
    current_user,
    lambda_handler,
)
from gridpulse.errors import BadRequest, field_error
from gridpulse.lights import service as lights
from gridpulse.lights import usage as light_usage
from gridpulse.lights.schemas import (
    LightControlIn,
    LightControlOut,
    LightDetailOut,
    LightLogsPage,
    LightMapOut,
    LightsGeoJsonOut,
    LightsPage,
    LightStatusIn,
    LightStatusOut,
    LightSummaryOut,
    LightUsageOut,
)
from gridpulse.pagination import MAX_LIMIT, parse_limit
from gridpulse.validation import control_character

app = create_app()

City = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="city name (case-insensitive); default: the caller's city (an admin without one: all)",
    ),
]
StatusFilter = Annotated[
    Literal["on", "off", "error", "unknown"] | None, Query(description="on, off, error or unknown")
]
Format = Annotated[Literal["json", "geojson"], Query(description="json (default) or geojson (a FeatureCollection)")]
GEOJSON = "application/geo+json"


def _city(city: str | None) -> str | None:
    """The ?city label, stripped; 400 naming `city` for blank or control characters."""
    if city is None:
        return None
    found = control_character(city)
    if found or not city.strip():
        raise BadRequest(
            "city is not a valid city name",
            code="validation_error",
            fields=[field_error("city", f"must not contain control characters (found {found})" if found else "blank")],
        )
    return city.strip()


@app.get("/lights", tags=["lights"], summary="Street lights of a city the caller may see", security=BEARER)
def list_lights(
    city: City = None, status: StatusFilter = None, limit: Limit = None, next_token: NextToken = None
) -> LightsPage:
    return lights.list_lights(current_caller(app), _city(city), status, parse_limit(limit), next_token)


@app.get(
    "/lights/summary",
    tags=["lights"],
    summary="Counts of a city's lights by status (404 city_not_found without visible lights)",
    security=BEARER,
)
def light_summary(city: City = None) -> LightSummaryOut:
    return lights.summary(current_caller(app), _city(city))


@app.get(
    "/lights/map",
    tags=["lights"],
    summary="Lights with their location and status; ?format=geojson gives a FeatureCollection",
    security=BEARER,
    responses={
        200: {
            "description": "The map items (application/json) or a GeoJSON FeatureCollection (application/geo+json)",
            "content": {"application/json": {"model": LightMapOut}, GEOJSON: {"model": LightsGeoJsonOut}},
        }
    },
)
def light_map(city: City = None, format: Format = "json", limit: Limit = None, next_token: NextToken = None):
    as_geojson = format == "geojson"
    body = lights.map_lights(
        current_caller(app), _city(city), parse_limit(limit if limit is not None else MAX_LIMIT), next_token, as_geojson
    )
    # Checked against its model and serialized here: Powertools serializes
    # only application/json bodies, and this route answers two media types.
    model = LightsGeoJsonOut if as_geojson else LightMapOut
    return Response(
        status_code=200,
        content_type=GEOJSON if as_geojson else "application/json",
        body=model.model_validate(body).model_dump_json(),
    )


@app.get("/lights/<light_id>", tags=["lights"], summary="A light with its recent logs", security=BEARER)
def get_light(light_id: str) -> LightDetailOut:
    return lights.detail(current_caller(app), light_id)


@app.get(
    "/lights/<light_id>/logs",
    tags=["lights"],
    summary="A light's control and status history, newest first",
    security=BEARER,
)
def light_logs(light_id: str, limit: Limit = None, next_token: NextToken = None) -> LightLogsPage:
    return lights.logs(current_caller(app), light_id, parse_limit(limit), next_token)


@app.get(
    "/lights/<light_id>/usage",
    tags=["lights"],
    summary="A light's burning hours and energy per day (?from, ?to: at most 31 days, default the last 7)",
    security=BEARER,
)
def light_usage_days(
    light_id: str,
    from_: Annotated[str | None, Query(alias="from", max_length=10, description="first day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(max_length=10, description="last day, YYYY-MM-DD (default today)")] = None,
) -> LightUsageOut:
    return light_usage.usage(lights.visible_light(current_caller(app), light_id), from_, to)


@app.post(
    "/lights/<light_id>/control",
    tags=["lights"],
    summary="Switch a light on, off or to automatic (operator, admin in scope): shadow + MQTT command",
    security=STAFF,
)
def control_light(light_id: str, body: LightControlIn) -> LightControlOut:
    caller, user = current_user(app)
    return lights.control(caller, user.email, light_id, body.action, body.brightness)


@app.post(
    "/lights/<light_id>/status",
    tags=["lights"],
    summary="A light reports its status (X-API-Key of that light)",
    security=API_KEY,
)
def report_status(light_id: str, body: LightStatusIn) -> LightStatusOut:
    return lights.report_status(current_device(app), light_id, body.status, body.error_details, body.command_id)


handler = lambda_handler(app, group="lights")

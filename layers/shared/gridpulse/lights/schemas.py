"""Request and response bodies of the street-lights group (the REST contract's "Street lights")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from gridpulse.schemas import Input, Output, Page, text

LightStatus = Literal["on", "off", "error", "unknown"]
ReportedStatus = Literal["on", "off", "error"]
Action = Literal["on", "off", "auto"]
CommandState = Literal["pending", "confirmed", "failed"]
ErrorDetails = text(500)


class LightCommandOut(Output):
    command_id: str
    action: Action
    brightness: int | None = None
    state: CommandState
    issued_at: str


class LightOut(Output):
    light_id: str
    name: str
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    status: LightStatus
    is_automatic: bool
    brightness: int
    last_status_change: str | None = None
    error_details: str | None = None
    online: bool
    last_seen: str | None = Field(None, description="when the light was last heard from")
    last_command: LightCommandOut | None = None


class LightsPage(Page[LightOut]):
    pass


class LightLogOut(Output):
    action: str
    performed_by: str
    control_type: Literal["manual", "automatic", "device"]
    previous_status: str | None = None
    new_status: str | None = None
    brightness: int | None = None
    error_details: str | None = None
    command_id: str | None = None
    created_at: str


class LightLogsPage(Page[LightLogOut]):
    pass


class LightDetailOut(Output):
    light: LightOut
    recent_logs: list[LightLogOut]


class LightSummaryOut(Output):
    city: str | None = None
    total_lights: int
    lights_on: int
    lights_off: int
    lights_in_error: int
    lights_unknown: int
    lights_offline: int
    last_updated: str | None = None


class LightLocation(Output):
    latitude: float | None = None
    longitude: float | None = None


class LightMapItemOut(Output):
    light_id: str
    name: str
    city: str | None = None
    location: LightLocation
    status: LightStatus
    online: bool
    last_seen: str | None = Field(None, description="when the light was last heard from")
    last_status_change: str | None = None
    last_command: LightCommandOut | None = Field(None, description="the newest command: pending until the lamp reports")


class LightMapOut(Output):
    items: list[LightMapItemOut]
    count: int
    next_token: str | None = None


class LightsGeoJsonOut(Output):
    """A GeoJSON FeatureCollection (RFC 7946): one Point feature per light
    (geometry null for a light without coordinates); `next_token` as in lists."""

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
    next_token: str | None = None


class LightControlIn(Input):
    action: Action
    brightness: (
        Annotated[int, Field(ge=0, le=100, strict=True, description="0..100; default: the current one")] | None
    ) = None


class LightControlOut(Output):
    light_id: str
    status: LightStatus
    is_automatic: bool
    brightness: int
    last_status_change: str | None = None
    command_id: str


class LightStatusIn(Input):
    status: ReportedStatus
    error_details: ErrorDetails | None = None
    command_id: text(64) | None = Field(
        None, description="The last command the lamp applied: its report confirms that command (and only it)."
    )


class LightStatusOut(Output):
    light_id: str
    status: ReportedStatus
    error_details: str | None = None
    last_status_change: str | None = None


class LightUsageDayOut(Output):
    date: str = Field(description="calendar day (YYYY-MM-DD) in the light's telemetry time zone (`tz`)")
    burning_hours: str = Field(description="hours the lamp reported `on` that day, decimal string (3 decimals)")
    switch_ons: int = Field(description="changes to `on` that day")
    energy_kwh: str | None = Field(
        None, description="kWh from the light's telemetry that day (decimal string); null when it sent no readings"
    )


class LightUsageOut(Output):
    light_id: str
    tz: str
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    total_burning_hours: str
    total_energy_kwh: str | None = None
    days: list[LightUsageDayOut]

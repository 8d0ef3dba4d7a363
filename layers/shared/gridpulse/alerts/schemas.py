"""Request and response bodies of the alerts endpoint group."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gridpulse.alerts.data import SEVERITIES
from gridpulse.schemas import Input, Output, Page, integer, number, text

Severity = Literal[SEVERITIES]
Positive = number(gt=0)


class AlertOut(Output):
    alert_id: str
    device_id: str
    alert_type: str
    severity: Severity
    status: Literal["open", "read", "resolved"]
    message: str
    count: int
    first_seen: str
    last_seen: str

    device_name: str | None = None
    owner_id: str | None = None
    value: float | None = None  # the measured value that raised or last bumped the alert
    threshold: float | None = None
    resolved_at: str | None = None
    resolved_by: str | None = None
    source: str | None = None


class AlertsPage(Page[AlertOut]):
    pass


class ManualAlertIn(Input):
    device_id: Annotated[str, Field(min_length=1, max_length=64)]
    message: Annotated[text(500), Field(min_length=1)]
    alert_type: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")] = "manual"
    severity: Severity = "warning"


class AlertRulesIn(Input):
    """Thresholds; anything left out keeps its current value (defaults come from power_rating_w)."""

    max_power_w: Positive | None = None
    min_voltage: number(ge=0, le=500) | None = None
    max_voltage: number(gt=0, le=500) | None = None
    max_current: Positive | None = None
    max_temperature: number(gt=-50, le=150) | None = None
    spike_factor: number(gt=1, le=100) | None = None
    offline_after_s: integer(ge=60, le=7 * 86400) | None = None
    clear_after_s: integer(ge=0, le=86400) | None = None
    anomaly: bool | None = None
    notify: bool | None = None


class AlertRulesOut(Output):
    device_id: str
    max_power_w: float
    min_voltage: float
    max_voltage: float
    max_current: float
    max_temperature: float
    spike_factor: float
    offline_after_s: int
    clear_after_s: int
    anomaly: bool
    notify: bool

"""Alerts endpoint group: alerts and per-device alert rules."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from gridpulse.alerts import rules, service
from gridpulse.alerts.schemas import AlertOut, AlertRulesIn, AlertRulesOut, AlertsPage, ManualAlertIn
from gridpulse.api import (
    BEARER,
    STAFF,
    Limit,
    NextToken,
    Query,
    Response,
    create_app,
    current_user,
    json_response,
    lambda_handler,
    status_doc,
)
from gridpulse.devices import service as devices
from gridpulse.pagination import parse_limit

app = create_app()

Status = Annotated[str | None, Query(description="open, read or resolved")]


def _filters(status, device_id, severity, alert_type) -> dict:
    return {"status": status, "device_id": device_id, "severity": severity, "alert_type": alert_type}


@app.get("/alerts", tags=["alerts"], summary="Alerts the caller may see, newest first", security=BEARER)
def list_alerts(
    status: Status = None,
    device_id: Annotated[str | None, Query()] = None,
    severity: Annotated[str | None, Query()] = None,
    alert_type: Annotated[str | None, Query()] = None,
    limit: Limit = None,
    next_token: NextToken = None,
) -> AlertsPage:
    caller, _ = current_user(app)
    return service.list_alerts(
        caller, _filters(status, device_id, severity, alert_type), parse_limit(limit), next_token
    )


@app.get(
    "/users/<user_id>/alerts", tags=["alerts"], summary="Alerts of a user's devices (self or admin)", security=BEARER
)
def user_alerts(user_id: str, status: Status = None, limit: Limit = None, next_token: NextToken = None) -> AlertsPage:
    caller, _ = current_user(app)
    caller.require_self_or_admin(user_id)
    return service.list_alerts(
        caller, _filters(status, None, None, None), parse_limit(limit), next_token, user_id=user_id
    )


@app.post(
    "/alerts",
    tags=["alerts"],
    summary="Raise a manual alert (operator, admin)",
    security=STAFF,
    responses=status_doc(201, AlertOut, "Raised", also={200: "Bumped the open alert of that type"}),
)
def create_alert(body: ManualAlertIn) -> Response[AlertOut]:
    caller, _ = current_user(app)
    device = devices.visible(caller, body.device_id)
    alert, created = service.manual(caller, device, body.message, body.alert_type, body.severity)
    return json_response(201 if created else 200, alert)


@app.put("/alerts/<alert_id>/read", tags=["alerts"], summary="Mark an alert read", security=BEARER)
def read_alert(alert_id: str) -> AlertOut:
    caller, _ = current_user(app)
    return service.mark_read(caller, alert_id)


@app.put(
    "/alerts/<alert_id>/resolve",
    tags=["alerts"],
    summary="Resolve an alert (the device's owner, an operator in scope, an admin)",
    security=BEARER,
)
def resolve_alert(alert_id: str) -> AlertOut:
    caller, _ = current_user(app)
    return service.resolve(caller, alert_id)


@app.get(
    "/devices/<device_id>/alert-rules",
    tags=["alerts"],
    summary="A device's alert thresholds (owner, admin)",
    security=BEARER,
)
def get_rules(device_id: str) -> AlertRulesOut:
    caller, _ = current_user(app)
    device = devices.owned(caller, device_id)
    return {"device_id": device_id, **asdict(rules.rules_for(device, use_cache=False))}


@app.put(
    "/devices/<device_id>/alert-rules",
    tags=["alerts"],
    summary="Change alert thresholds (owner, admin)",
    security=BEARER,
)
def put_rules(device_id: str, body: AlertRulesIn) -> AlertRulesOut:
    caller, user = current_user(app)
    device = devices.owned(caller, device_id)
    saved = rules.save_rules(device, body.model_dump(exclude_none=True))
    if saved.notify:
        owner_email = user.email if device.owner_id == user.user_id else service.owner_email(device.owner_id)
        if owner_email:
            service.subscribe_owner(owner_email, device.owner_id)
    return {"device_id": device_id, **asdict(saved)}


handler = lambda_handler(app, group="alerts")

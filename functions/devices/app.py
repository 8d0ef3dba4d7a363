"""Devices endpoint group: the registry and provisioning in AWS IoT."""

from __future__ import annotations

from typing import Annotated

from gridpulse import idempotency
from gridpulse.alerts import service as alerts
from gridpulse.api import (
    BEARER,
    STAFF,
    Limit,
    NextToken,
    Query,
    Response,
    create_app,
    current_caller,
    current_user,
    json_response,
    lambda_handler,
    status_doc,
)
from gridpulse.devices import service as devices
from gridpulse.devices.registry_schemas import (
    DeviceCreatedOut,
    DeviceDetailOut,
    DeviceIn,
    DeviceUpdateIn,
    RoomDeviceIn,
    RotatedOut,
)
from gridpulse.devices.schemas import DeviceOut, DevicesPage, DeviceStatus, DeviceType
from gridpulse.pagination import parse_limit
from gridpulse.schemas import MessageOut

app = create_app()


def _register(fields: dict, wifi: dict | None, body=None, idempotency_key: str | None = None) -> Response:
    """Register and provision; with an Idempotency-Key, at most once per key and body.

    Credentials are shown once and kept nowhere (only hashes and IoT ids are
    stored), so the remembered answer holds the device without them: a retry
    with the same key gets the same device with new credentials, and the
    ones of the lost first answer are revoked."""
    caller, user = current_user(app)
    key = idempotency.checked_key(idempotency_key)
    issued: dict = {}

    def run() -> tuple[int, dict]:
        device, issued["credentials"] = devices.register(caller, fields, wifi)
        alerts.subscribe_owner(user.email, user.user_id)  # alert emails for the new owner (idempotent)
        return 201, device

    status, out, replayed = idempotency.run_once(
        "devices.create",
        caller.user_id,
        key,
        body.model_dump(mode="json") if body is not None else None,
        run,
        app.lambda_context,
    )
    if replayed:
        rotated = devices.rotate_credentials(caller, out["device_id"])
        issued["credentials"] = {k: v for k, v in rotated.items() if k not in ("device_id", "revoked_certificate_id")}
    return json_response(
        status, {**out, "credentials": issued["credentials"]}, headers=idempotency.replay_headers(replayed)
    )


@app.post(
    "/devices",
    tags=["devices"],
    summary="Register and provision a device (owner = caller)",
    security=BEARER,
    responses=status_doc(
        201, DeviceCreatedOut, "Created; credentials are shown once (a retry with its Idempotency-Key gets new ones)"
    ),
)
def create_device(
    body: DeviceIn, idempotency_key: idempotency.IdempotencyKeyHeader = None
) -> Response[DeviceCreatedOut]:
    fields = body.model_dump(exclude={"wifi"})
    wifi = body.wifi.model_dump() if body.wifi else None
    return _register(fields, wifi, body, idempotency_key)


@app.get("/devices", tags=["devices"], summary="Devices the caller may see", security=BEARER)
def list_devices(
    status: Annotated[DeviceStatus | None, Query(description="active, inactive or maintenance")] = None,
    device_type: Annotated[DeviceType | None, Query(description="meter, light, sensor or prepaid_meter")] = None,
    room_id: Annotated[str | None, Query()] = None,
    city: Annotated[str | None, Query()] = None,
    limit: Limit = None,
    next_token: NextToken = None,
) -> DevicesPage:
    filters = {"status": status, "device_type": device_type, "room_id": room_id, "city": city}
    return devices.list_visible(current_caller(app), filters, parse_limit(limit), next_token)


@app.get(
    "/devices/<device_id>", tags=["devices"], summary="A device with presence and reported config", security=BEARER
)
def get_device(device_id: str) -> DeviceDetailOut:
    # A prepaid meter is also shown to a user it is assigned to (billing assignment).
    device = devices.visible_or_assigned(current_caller(app), device_id)
    return devices.detail_view(device, devices.state_of(device))


@app.put(
    "/devices/<device_id>",
    tags=["devices"],
    summary="Update a device (owner, admin); wifi goes to its shadow",
    security=BEARER,
)
def update_device(device_id: str, body: DeviceUpdateIn) -> DeviceOut:
    return devices.update(current_caller(app), device_id, body.model_dump(exclude_unset=True))


@app.delete(
    "/devices/<device_id>",
    tags=["devices"],
    summary="Delete a device; revokes its certificate and API key",
    security=BEARER,
)
def delete_device(device_id: str) -> MessageOut:
    devices.delete(current_caller(app), device_id)
    return {"message": "Device deleted; its certificate is revoked and its API key no longer works."}


@app.post(
    "/devices/<device_id>/rotate-credentials",
    tags=["devices"],
    summary="New certificate, key and API key; the old ones are revoked",
    security=BEARER,
)
def rotate(device_id: str) -> RotatedOut:
    return devices.rotate_credentials(current_caller(app), device_id)


@app.get("/rooms/<room_id>/devices", tags=["devices"], summary="Devices in a room", security=BEARER)
def list_room_devices(room_id: str, limit: Limit = None, next_token: NextToken = None) -> DevicesPage:
    return devices.list_in_room(current_caller(app), room_id, parse_limit(limit), next_token)


@app.post(
    "/rooms/<room_id>/devices",
    tags=["devices"],
    summary="Register a device in a room (admin, operator in scope)",
    security=STAFF,
    responses=status_doc(201, DeviceCreatedOut, "Created; credentials are shown once"),
)
def create_room_device(room_id: str, body: RoomDeviceIn) -> Response[DeviceCreatedOut]:
    fields = {
        "name": body.device_name,
        "device_type": body.device_type,
        "room_id": room_id,
        "power_rating_w": body.power_rating_w,
    }
    wifi = {"ssid": body.ssid, "password": body.password} if body.ssid else None
    return _register(fields, wifi)


handler = lambda_handler(app, group="devices")

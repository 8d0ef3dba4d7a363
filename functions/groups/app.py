"""Groups endpoint group: a user's named sets of devices."""

from __future__ import annotations

from typing import Annotated

from gridpulse.api import (
    BEARER,
    Limit,
    NextToken,
    Query,
    Response,
    create_app,
    current_caller,
    json_response,
    lambda_handler,
    status_doc,
)
from gridpulse.devices.schemas import DevicesPage
from gridpulse.groups import service as groups
from gridpulse.groups.schemas import (
    BulkIn,
    BulkOut,
    GroupDeviceIn,
    GroupIn,
    GroupOut,
    GroupsPage,
    GroupUpdateIn,
    MembershipOut,
)
from gridpulse.pagination import parse_limit
from gridpulse.schemas import MessageOut

app = create_app()


@app.post(
    "/groups",
    tags=["groups"],
    summary="Create a group",
    security=BEARER,
    responses=status_doc(201, GroupOut, "Group created"),
)
def create_group(body: GroupIn) -> Response[GroupOut]:
    return json_response(201, groups.create(current_caller(app), body.name, body.description, body.color))


@app.get("/groups", tags=["groups"], summary="The caller's groups", security=BEARER)
def list_groups(
    include_devices: Annotated[bool, Query(description="add device_ids to each group")] = False,
    limit: Limit = None,
    next_token: NextToken = None,
) -> GroupsPage:
    return groups.list_own(current_caller(app), include_devices, parse_limit(limit), next_token)


@app.get("/groups/<group_id>", tags=["groups"], summary="A group with its device ids", security=BEARER)
def get_group(group_id: str) -> GroupOut:
    return groups.get(current_caller(app), group_id)


@app.put("/groups/<group_id>", tags=["groups"], summary="Update a group", security=BEARER)
def update_group(group_id: str, body: GroupUpdateIn) -> GroupOut:
    return groups.update(current_caller(app), group_id, body.model_dump(exclude_unset=True))


@app.delete("/groups/<group_id>", tags=["groups"], summary="Delete a group (its devices stay)", security=BEARER)
def delete_group(group_id: str) -> MessageOut:
    groups.delete(current_caller(app), group_id)
    return {"message": "Group deleted; its devices are unchanged."}


@app.get("/groups/<group_id>/devices", tags=["groups"], summary="Devices in a group", security=BEARER)
def group_devices(group_id: str) -> DevicesPage:
    return groups.list_devices(current_caller(app), group_id)


@app.post(
    "/groups/<group_id>/devices",
    tags=["groups"],
    summary="Add a device you can see",
    security=BEARER,
    responses=status_doc(201, MembershipOut, "Added"),
)
def add_device(group_id: str, body: GroupDeviceIn) -> Response[MembershipOut]:
    return json_response(201, groups.add_device(current_caller(app), group_id, body.device_id))


@app.post(
    "/groups/<group_id>/devices/bulk",
    tags=["groups"],
    summary="Add up to 100 devices: {added, skipped}",
    security=BEARER,
)
def add_devices(group_id: str, body: BulkIn) -> BulkOut:
    return groups.add_devices(current_caller(app), group_id, body.device_ids)


@app.delete(
    "/groups/<group_id>/devices/<device_id>", tags=["groups"], summary="Remove a device from a group", security=BEARER
)
def remove_device(group_id: str, device_id: str) -> MessageOut:
    groups.remove_device(current_caller(app), group_id, device_id)
    return {"message": "Device removed from the group."}


@app.get("/devices/<device_id>/groups", tags=["groups"], summary="The caller's groups a device is in", security=BEARER)
def device_groups(device_id: str) -> GroupsPage:
    return groups.groups_of_device(current_caller(app), device_id)


handler = lambda_handler(app, group="groups")

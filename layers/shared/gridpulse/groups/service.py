"""Device groups: a user's own named sets of devices it can see.

A group belongs to its creator; only the owner (or an admin) sees or changes
it, and a device can only be added by someone who can see that device. A
membership does not outlive the caller's scope: every read through a group
(its devices, its device ids and count) shows only the members the caller
can see now; a member that left the caller's scope stays in the group,
hidden, and shows again if the scope comes back.
Deleting a group keeps its devices. Each membership is two items (group ->
device and device -> group) written together, so both "devices of a group"
and "groups of a device" are one Query.
"""

from __future__ import annotations

import uuid

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from gridpulse.accounts.roles import Caller
from gridpulse.devices import lookup as devices
from gridpulse.devices.data import DeviceItem
from gridpulse.dynamodb import batch_get_intact, connection, get_or_none, intact
from gridpulse.errors import Conflict, NotFound
from gridpulse.groups.data import GroupItem, MembershipItem
from gridpulse.pagination import decode_token, encode_token
from gridpulse.sites import scope
from gridpulse.timeutil import iso, utcnow
from gridpulse.views import view

# The keys of a group in every answer, in order: the fields of GroupOut
# (gridpulse.groups.schemas; tests/unit/test_views.py checks they match), the
# member fields only when the view is given the group's device ids.
GROUP_FIELDS = ("group_id", "owner_id", "name", "description", "color", "created_at", "updated_at")
GROUP_MEMBER_FIELDS = ("device_ids", "device_count")


def group_view(group: GroupItem, device_ids: list[str] | None = None) -> dict:
    if device_ids is None:
        return view(group, GROUP_FIELDS)
    return view(group, GROUP_FIELDS + GROUP_MEMBER_FIELDS, device_ids=device_ids, device_count=len(device_ids))


def _owned(caller: Caller, group_id: str) -> GroupItem:
    group = get_or_none(GroupItem, GroupItem.key(group_id), "meta")
    if group is None or not (caller.is_admin or group.owner_id == caller.user_id):
        raise NotFound("No such group.", code="group_not_found")
    return group


def _member_ids(group_id: str) -> list[str]:
    return [
        m.sk.split("#", 1)[1]
        for m in MembershipItem.query(GroupItem.key(group_id), MembershipItem.sk.startswith("device#"))
    ]


def _visible_members(caller: Caller, group_id: str) -> list[DeviceItem]:
    """The group's devices the caller may see now, in membership order (one
    Query and a BatchGetItem)."""
    ids = _member_ids(group_id)
    found = batch_get_intact(DeviceItem, [(DeviceItem.key(i), "meta") for i in ids], "device")
    found = [d for d in found if scope.sees_device(caller, d)]
    order = {device_id: n for n, device_id in enumerate(ids)}
    return sorted(found, key=lambda d: order[d.device_id])


def _visible_ids(caller: Caller, group_id: str) -> list[str]:
    return [d.device_id for d in _visible_members(caller, group_id)]


def create(caller: Caller, name: str, description: str | None, color: str | None) -> dict:
    group_id, now = str(uuid.uuid4()), iso(utcnow())
    group = GroupItem(
        GroupItem.key(group_id),
        "meta",
        group_id=group_id,
        owner_id=caller.user_id,
        owner_sk=f"group#{now}#{group_id}",
        name=name,
        description=description,
        color=color,
        created_at=now,
        updated_at=now,
    )
    group.save(condition=GroupItem.pk.does_not_exist())
    return group_view(group, [])


def list_own(caller: Caller, include_devices: bool, limit: int, next_token: str | None) -> dict:
    result = GroupItem.by_owner.query(
        caller.user_id,
        GroupItem.owner_sk.startswith("group#"),
        limit=limit,
        last_evaluated_key=decode_token(next_token, f"groups:{caller.user_id}"),
        scan_index_forward=False,
    )
    groups = list(intact(result, "group"))
    items = [group_view(g, _visible_ids(caller, g.group_id) if include_devices else None) for g in groups]
    token = encode_token(result.last_evaluated_key, f"groups:{caller.user_id}")
    return {"items": items, "count": len(items), "next_token": token}


def get(caller: Caller, group_id: str) -> dict:
    group = _owned(caller, group_id)
    return group_view(group, _visible_ids(caller, group_id))


def update(caller: Caller, group_id: str, changes: dict) -> dict:
    group = _owned(caller, group_id)
    actions = [GroupItem.updated_at.set(iso(utcnow()))]
    for field in ("name", "description", "color"):
        if field in changes:
            attr = getattr(GroupItem, field)
            actions.append(attr.set(changes[field]) if changes[field] is not None else attr.remove())
    group.update(actions=actions, condition=GroupItem.pk.exists())
    return group_view(group, _visible_ids(caller, group_id))


def delete(caller: Caller, group_id: str) -> None:
    group = _owned(caller, group_id)
    _delete_group(group)


def _delete_group(group: GroupItem) -> None:
    pk = GroupItem.key(group.group_id)
    with MembershipItem.batch_write() as batch:
        for member in MembershipItem.query(pk, MembershipItem.sk.startswith("device#")):
            batch.delete(member)
            batch.delete(MembershipItem(member.sk, pk))
        batch.delete(MembershipItem(pk, "meta"))


def delete_all_owned_by(user_id: str) -> int:
    groups = list(GroupItem.by_owner.query(user_id, GroupItem.owner_sk.startswith("group#")))
    for group in groups:
        _delete_group(group)
    return len(groups)


def list_devices(caller: Caller, group_id: str) -> dict:
    _owned(caller, group_id)
    views = devices.with_states(_visible_members(caller, group_id))
    return {"items": views, "count": len(views), "next_token": None}


def _add(group_id: str, device_id: str) -> None:
    now = iso(utcnow())
    gpk, dpk = GroupItem.key(group_id), DeviceItem.key(device_id)
    with TransactWrite(connection=connection()) as tx:
        tx.condition_check(GroupItem, gpk, "meta", condition=GroupItem.pk.exists())
        tx.save(MembershipItem(gpk, dpk, added_at=now), condition=MembershipItem.pk.does_not_exist())
        tx.save(MembershipItem(dpk, gpk, added_at=now))


def add_device(caller: Caller, group_id: str, device_id: str) -> dict:
    _owned(caller, group_id)
    devices.visible(caller, device_id)
    try:
        _add(group_id, device_id)
    except TransactWriteError:
        raise Conflict("The device is already in this group.", code="already_in_group") from None
    return {"group_id": group_id, "device_id": device_id, "added": True}


def add_devices(caller: Caller, group_id: str, device_ids: list[str]) -> dict:
    """Add what can be added; say why for the rest (unknown, not visible, duplicate)."""
    _owned(caller, group_id)
    present = set(_member_ids(group_id))
    added, skipped = [], []
    for device_id in dict.fromkeys(device_ids):
        try:
            devices.visible(caller, device_id)
        except NotFound:
            skipped.append({"device_id": device_id, "reason": "device_not_found"})
            continue
        if device_id in present:
            skipped.append({"device_id": device_id, "reason": "already_in_group"})
            continue
        try:
            _add(group_id, device_id)
            added.append(device_id)
        except TransactWriteError:
            skipped.append({"device_id": device_id, "reason": "already_in_group"})
    return {"added": added, "skipped": skipped}


def remove_device(caller: Caller, group_id: str, device_id: str) -> None:
    _owned(caller, group_id)
    gpk, dpk = GroupItem.key(group_id), DeviceItem.key(device_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(MembershipItem(gpk, dpk), condition=MembershipItem.pk.exists())
            tx.delete(MembershipItem(dpk, gpk))
    except TransactWriteError:
        raise NotFound("The device is not in this group.", code="not_in_group") from None


def groups_of_device(caller: Caller, device_id: str) -> dict:
    """The groups a visible device is in, limited to groups the caller may see."""
    devices.visible(caller, device_id)
    ids = [
        m.sk.split("#", 1)[1]
        for m in MembershipItem.query(DeviceItem.key(device_id), MembershipItem.sk.startswith("group#"))
    ]
    found = batch_get_intact(GroupItem, [(GroupItem.key(i), "meta") for i in ids], "group")
    items = [group_view(g) for g in found if caller.is_admin or g.owner_id == caller.user_id]
    return {"items": items, "count": len(items), "next_token": None}

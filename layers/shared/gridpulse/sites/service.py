"""Hotels, sections (floors) and rooms.

Admins manage hotels; an operator manages the sections and rooms of the
hotels in its scope; everyone in scope reads. Deleting a node that still has
children is a 409 unless `cascade` is asked for; a cascade removes the
sections and rooms below and detaches the rooms' devices (the devices stay,
with their owners, outside any room), so nothing is left pointing at a node
that no longer exists.
"""

from __future__ import annotations

import uuid

from pynamodb.exceptions import DoesNotExist

from gridpulse.accounts.roles import Caller, Role
from gridpulse.dynamodb import batch_get_intact, get_or_none, intact
from gridpulse.errors import Conflict, NotFound, field_error
from gridpulse.pagination import decode_token, encode_token, invalid_token
from gridpulse.sites import scope
from gridpulse.sites.data import HotelItem, RoomItem, SectionItem, key, sort_key
from gridpulse.timeutil import iso, utcnow, zone
from gridpulse.views import view

HOTELS_PARENT = "hotels"


# ---------------------------------------------------------------- views


# The keys of each view, in the order answered: the fields of HotelOut,
# SectionOut and RoomOut (gridpulse.sites.schemas; tests/unit/test_views.py
# checks they match).
HOTEL_FIELDS = ("hotel_id", "hotel_name", "address", "timezone", "created_at", "updated_at")
SECTION_FIELDS = ("section_id", "hotel_id", "section_name", "created_at", "updated_at")
ROOM_FIELDS = ("room_id", "section_id", "hotel_id", "room_number", "occupancy_status", "created_at", "updated_at")


def hotel_view(h: HotelItem) -> dict:
    return view(h, HOTEL_FIELDS)


def section_view(s: SectionItem) -> dict:
    return view(s, SECTION_FIELDS)


def room_view(r: RoomItem) -> dict:
    return view(r, ROOM_FIELDS)


# ---------------------------------------------------------------- loading


def _get(model, kind: str, node_id: str):
    item = get_or_none(model, key(kind, node_id))
    if item is None:
        raise NotFound(f"No such {kind}.", code=f"{kind}_not_found")
    return item


def visible_hotel(caller: Caller, hotel_id: str) -> HotelItem:
    scope.require_hotel_visible(caller, hotel_id)
    return _get(HotelItem, "hotel", hotel_id)


def visible_section(caller: Caller, section_id: str) -> SectionItem:
    section = _get(SectionItem, "section", section_id)
    scope.require_hotel_visible(caller, section.hotel_id, "section")
    return section


def visible_room(caller: Caller, room_id: str) -> RoomItem:
    room = _get(RoomItem, "room", room_id)
    scope.require_hotel_visible(caller, room.hotel_id, "room")
    return room


def managed_room(caller: Caller, room_id: str) -> RoomItem:
    room = _get(RoomItem, "room", room_id)
    scope.require_hotel_managed(caller, room.hotel_id, "room")
    return room


def _query_page(index_query, parent: str, limit: int, next_token: str | None, view) -> dict:
    purpose = f"children:{parent}"
    result = index_query(parent, limit=limit, last_evaluated_key=decode_token(next_token, purpose))
    items = [view(item) for item in intact(result, "site")]
    return {"items": items, "count": len(items), "next_token": encode_token(result.last_evaluated_key, purpose)}


# ---------------------------------------------------------------- hotels


def _check_timezone(name: str | None) -> str:
    tz = name or "UTC"
    zone(tz, "timezone")
    return tz


def list_hotels(caller: Caller, limit: int, next_token: str | None) -> dict:
    if caller.is_admin:
        return _query_page(HotelItem.children.query, HOTELS_PARENT, limit, next_token, hotel_view)
    # Everyone else: the hotels of its scope, read by key (no index needed).
    ids = sorted(caller.hotel_ids)
    purpose = f"hotels:{caller.user_id}:{','.join(ids)}"
    offset = (decode_token(next_token, purpose) or {"i": 0}).get("i")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= len(ids):
        raise invalid_token("not a token of this list")
    chunk = ids[offset : offset + min(limit, 100)]
    found = {h.pk: h for h in batch_get_intact(HotelItem, [key("hotel", i) for i in chunk], "hotel")}
    items = [hotel_view(found[key("hotel", i)]) for i in chunk if key("hotel", i) in found]
    following = offset + len(chunk)
    return {
        "items": items,
        "count": len(items),
        "next_token": encode_token({"i": following}, purpose) if following < len(ids) else None,
    }


def create_hotel(caller: Caller, hotel_name: str, address: str | None, timezone: str | None) -> dict:
    caller.require(Role.admin)
    hotel_id, now = str(uuid.uuid4()), iso(utcnow())
    hotel = HotelItem(
        key("hotel", hotel_id),
        kind="hotel",
        parent=HOTELS_PARENT,
        child_sk=sort_key(hotel_name, hotel_id),
        hotel_id=hotel_id,
        hotel_name=hotel_name,
        address=address,
        timezone=_check_timezone(timezone),
        created_at=now,
        updated_at=now,
    )
    hotel.save(condition=HotelItem.pk.does_not_exist())
    return hotel_view(hotel)


def update_hotel(caller: Caller, hotel_id: str, changes: dict) -> dict:
    caller.require(Role.admin)
    hotel = _get(HotelItem, "hotel", hotel_id)
    actions = [HotelItem.updated_at.set(iso(utcnow()))]
    if "hotel_name" in changes:
        actions += [
            HotelItem.hotel_name.set(changes["hotel_name"]),
            HotelItem.child_sk.set(sort_key(changes["hotel_name"], hotel_id)),
        ]
    if "address" in changes:
        actions.append(HotelItem.address.set(changes["address"]) if changes["address"] else HotelItem.address.remove())
    if "timezone" in changes:
        actions.append(HotelItem.timezone.set(_check_timezone(changes["timezone"])))
    hotel.update(actions=actions, condition=HotelItem.pk.exists())
    return hotel_view(hotel)


def delete_hotel(caller: Caller, hotel_id: str, cascade: bool) -> dict:
    caller.require(Role.admin)
    hotel = _get(HotelItem, "hotel", hotel_id)
    sections = list(SectionItem.children.query(key("hotel", hotel_id)))
    if sections and not cascade:
        raise Conflict(
            "The hotel still has sections; delete them first or pass ?cascade=true.",
            code="has_children",
            fields=[field_error("cascade", "required while sections exist")],
        )
    removed = {"sections": 0, "rooms": 0, "devices_detached": 0}
    for section in sections:
        counts = _delete_section_tree(section)
        removed["sections"] += 1
        removed["rooms"] += counts["rooms"]
        removed["devices_detached"] += counts["devices_detached"]
    hotel.delete()
    return {"message": "Hotel deleted.", "removed": removed}


# ---------------------------------------------------------------- sections


def list_sections(caller: Caller, hotel_id: str, limit: int, next_token: str | None) -> dict:
    visible_hotel(caller, hotel_id)
    return _query_page(SectionItem.children.query, key("hotel", hotel_id), limit, next_token, section_view)


def create_section(caller: Caller, hotel_id: str, section_name: str) -> dict:
    scope.require_hotel_managed(caller, hotel_id)
    _get(HotelItem, "hotel", hotel_id)
    section_id, now = str(uuid.uuid4()), iso(utcnow())
    section = SectionItem(
        key("section", section_id),
        kind="section",
        parent=key("hotel", hotel_id),
        child_sk=sort_key(section_name, section_id),
        hotel_id=hotel_id,
        section_id=section_id,
        section_name=section_name,
        created_at=now,
        updated_at=now,
    )
    section.save(condition=SectionItem.pk.does_not_exist())
    return section_view(section)


def update_section(caller: Caller, section_id: str, section_name: str | None) -> dict:
    section = visible_section(caller, section_id)
    scope.require_hotel_managed(caller, section.hotel_id, "section")
    if section_name is not None:
        section.update(
            actions=[
                SectionItem.section_name.set(section_name),
                SectionItem.child_sk.set(sort_key(section_name, section_id)),
                SectionItem.updated_at.set(iso(utcnow())),
            ],
            condition=SectionItem.pk.exists(),
        )
    return section_view(section)


def delete_section(caller: Caller, section_id: str, cascade: bool) -> dict:
    section = visible_section(caller, section_id)
    scope.require_hotel_managed(caller, section.hotel_id, "section")
    has_rooms = next(iter(RoomItem.children.query(key("section", section_id), limit=1)), None)
    if has_rooms and not cascade:
        raise Conflict(
            "The section still has rooms; delete them first or pass ?cascade=true.",
            code="has_children",
            fields=[field_error("cascade", "required while rooms exist")],
        )
    counts = _delete_section_tree(section)
    return {"message": "Section deleted.", "removed": counts}


def _delete_section_tree(section: SectionItem) -> dict:
    from gridpulse.devices import placement  # only deletes touch devices: not loaded by reads

    rooms = list(RoomItem.children.query(key("section", section.section_id)))
    detached = sum(placement.detach_room_devices(room.room_id) for room in rooms)
    with RoomItem.batch_write() as batch:
        for room in rooms:
            batch.delete(room)
    section.delete()
    return {"rooms": len(rooms), "devices_detached": detached}


# ---------------------------------------------------------------- rooms


def list_rooms(caller: Caller, section_id: str, limit: int, next_token: str | None) -> dict:
    visible_section(caller, section_id)
    return _query_page(RoomItem.children.query, key("section", section_id), limit, next_token, room_view)


def create_room(caller: Caller, section_id: str, room_number: str, occupancy_status: str) -> dict:
    section = visible_section(caller, section_id)
    scope.require_hotel_managed(caller, section.hotel_id, "section")
    room_id, now = str(uuid.uuid4()), iso(utcnow())
    room = RoomItem(
        key("room", room_id),
        kind="room",
        parent=key("section", section_id),
        child_sk=sort_key(room_number, room_id),
        hotel_id=section.hotel_id,
        section_id=section_id,
        room_id=room_id,
        room_number=room_number,
        occupancy_status=occupancy_status,
        created_at=now,
        updated_at=now,
    )
    room.save(condition=RoomItem.pk.does_not_exist())
    return room_view(room)


def update_room(caller: Caller, room_id: str, changes: dict) -> dict:
    room = managed_room(caller, room_id)
    actions = [RoomItem.updated_at.set(iso(utcnow()))]
    if "room_number" in changes:
        actions += [
            RoomItem.room_number.set(changes["room_number"]),
            RoomItem.child_sk.set(sort_key(changes["room_number"], room_id)),
        ]
    if "occupancy_status" in changes:
        actions.append(RoomItem.occupancy_status.set(changes["occupancy_status"]))
    room.update(actions=actions, condition=RoomItem.pk.exists())
    return room_view(room)


def delete_room(caller: Caller, room_id: str, cascade: bool) -> dict:
    from gridpulse.devices import placement  # only deletes touch devices: not loaded by reads

    room = managed_room(caller, room_id)
    if placement.room_has_devices(room_id) and not cascade:
        raise Conflict(
            "The room still has devices; move or delete them first, or pass ?cascade=true to detach them.",
            code="has_children",
            fields=[field_error("cascade", "required while devices are in the room")],
        )
    detached = placement.detach_room_devices(room_id)
    room.delete()
    return {"message": "Room deleted.", "removed": {"devices_detached": detached}}


def hotel_timezone(hotel_id: str | None) -> str:
    if not hotel_id:
        return "UTC"
    try:
        return HotelItem.get(key("hotel", hotel_id)).timezone or "UTC"
    except DoesNotExist:
        return "UTC"

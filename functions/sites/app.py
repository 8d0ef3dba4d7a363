"""Sites endpoint group: hotels -> sections (floors) -> rooms."""

from __future__ import annotations

from typing import Annotated

from gridpulse.api import (
    ADMIN,
    BEARER,
    STAFF,
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
from gridpulse.pagination import parse_limit
from gridpulse.sites import service as sites
from gridpulse.sites.schemas import (
    DeletedOut,
    HotelIn,
    HotelOut,
    HotelsPage,
    HotelUpdateIn,
    RoomIn,
    RoomOut,
    RoomsPage,
    RoomUpdateIn,
    SectionIn,
    SectionOut,
    SectionsPage,
    SectionUpdateIn,
)

app = create_app()

Cascade = Annotated[bool, Query(description="also delete what is below (devices are detached, not deleted)")]


@app.get("/hotels", tags=["sites"], summary="Hotels in the caller's scope", security=BEARER)
def list_hotels(limit: Limit = None, next_token: NextToken = None) -> HotelsPage:
    return sites.list_hotels(current_caller(app), parse_limit(limit), next_token)


@app.post(
    "/hotels",
    tags=["sites"],
    summary="Create a hotel (admin)",
    security=ADMIN,
    responses=status_doc(201, HotelOut, "Hotel created"),
)
def create_hotel(body: HotelIn) -> Response[HotelOut]:
    return json_response(201, sites.create_hotel(current_caller(app), body.hotel_name, body.address, body.timezone))


@app.get("/hotels/<hotel_id>", tags=["sites"], summary="A hotel", security=BEARER)
def get_hotel(hotel_id: str) -> HotelOut:
    return sites.hotel_view(sites.visible_hotel(current_caller(app), hotel_id))


@app.put("/hotels/<hotel_id>", tags=["sites"], summary="Update a hotel (admin)", security=ADMIN)
def update_hotel(hotel_id: str, body: HotelUpdateIn) -> HotelOut:
    return sites.update_hotel(current_caller(app), hotel_id, body.model_dump(exclude_unset=True))


@app.delete(
    "/hotels/<hotel_id>", tags=["sites"], summary="Delete a hotel (admin); 409 while it has sections", security=ADMIN
)
def delete_hotel(hotel_id: str, cascade: Cascade = False) -> DeletedOut:
    return sites.delete_hotel(current_caller(app), hotel_id, cascade)


@app.get("/hotels/<hotel_id>/sections", tags=["sites"], summary="Sections (floors) of a hotel", security=BEARER)
def list_sections(hotel_id: str, limit: Limit = None, next_token: NextToken = None) -> SectionsPage:
    return sites.list_sections(current_caller(app), hotel_id, parse_limit(limit), next_token)


@app.post(
    "/hotels/<hotel_id>/sections",
    tags=["sites"],
    summary="Add a section (admin, operator in scope)",
    security=STAFF,
    responses=status_doc(201, SectionOut, "Section created"),
)
def create_section(hotel_id: str, body: SectionIn) -> Response[SectionOut]:
    return json_response(201, sites.create_section(current_caller(app), hotel_id, body.section_name))


@app.put("/sections/<section_id>", tags=["sites"], summary="Rename a section", security=STAFF)
def update_section(section_id: str, body: SectionUpdateIn) -> SectionOut:
    return sites.update_section(current_caller(app), section_id, body.section_name)


@app.delete(
    "/sections/<section_id>", tags=["sites"], summary="Delete a section; 409 while it has rooms", security=STAFF
)
def delete_section(section_id: str, cascade: Cascade = False) -> DeletedOut:
    return sites.delete_section(current_caller(app), section_id, cascade)


@app.get("/sections/<section_id>/rooms", tags=["sites"], summary="Rooms of a section", security=BEARER)
def list_rooms(section_id: str, limit: Limit = None, next_token: NextToken = None) -> RoomsPage:
    return sites.list_rooms(current_caller(app), section_id, parse_limit(limit), next_token)


@app.post(
    "/sections/<section_id>/rooms",
    tags=["sites"],
    summary="Add a room (admin, operator in scope)",
    security=STAFF,
    responses=status_doc(201, RoomOut, "Room created"),
)
def create_room(section_id: str, body: RoomIn) -> Response[RoomOut]:
    return json_response(
        201, sites.create_room(current_caller(app), section_id, body.room_number, body.occupancy_status)
    )


@app.put("/rooms/<room_id>", tags=["sites"], summary="Update a room", security=STAFF)
def update_room(room_id: str, body: RoomUpdateIn) -> RoomOut:
    return sites.update_room(current_caller(app), room_id, body.model_dump(exclude_unset=True))


@app.delete("/rooms/<room_id>", tags=["sites"], summary="Delete a room; 409 while it has devices", security=STAFF)
def delete_room(room_id: str, cascade: Cascade = False) -> DeletedOut:
    return sites.delete_room(current_caller(app), room_id, cascade)


handler = lambda_handler(app, group="sites")

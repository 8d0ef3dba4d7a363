"""Request and response bodies of the sites endpoint group."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gridpulse.schemas.common import Input, Output

Label = Annotated[str, Field(min_length=1, max_length=100)]
Occupancy = Literal["vacant", "occupied", "reserved", "maintenance"]


class HotelIn(Input):
    hotel_name: Label
    address: Annotated[str, Field(max_length=300)] | None = None
    timezone: Annotated[str, Field(max_length=64, description="IANA zone, default UTC")] | None = None


class HotelUpdateIn(Input):
    hotel_name: Label | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None


class HotelOut(Output):
    hotel_id: str
    hotel_name: str
    address: str | None = None
    timezone: str
    created_at: str
    updated_at: str


class SectionIn(Input):
    section_name: Label


class SectionUpdateIn(Input):
    section_name: Label | None = None


class SectionOut(Output):
    section_id: str
    hotel_id: str
    section_name: str
    created_at: str
    updated_at: str


class RoomIn(Input):
    room_number: Annotated[str, Field(min_length=1, max_length=20)]
    occupancy_status: Occupancy = "vacant"


class RoomUpdateIn(Input):
    room_number: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    occupancy_status: Occupancy | None = None


class RoomOut(Output):
    room_id: str
    section_id: str
    hotel_id: str
    room_number: str
    occupancy_status: Occupancy
    created_at: str
    updated_at: str


class HotelsPage(Output):
    items: list[HotelOut]
    count: int
    next_token: str | None = None


class SectionsPage(Output):
    items: list[SectionOut]
    count: int
    next_token: str | None = None


class RoomsPage(Output):
    items: list[RoomOut]
    count: int
    next_token: str | None = None


class DeletedOut(Output):
    message: str
    removed: dict[str, int] = {}

"""Request and response bodies of the sites endpoint group."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gridpulse.schemas import Input, NotNull, Output, Page, label, text
from gridpulse.sites.data import OCCUPANCY

Label = label(100)
RoomNumber = label(20)
Address = text(300)
Occupancy = Literal[OCCUPANCY]


class HotelIn(Input):
    hotel_name: Label
    address: Address | None = None
    timezone: Annotated[str, Field(max_length=64, description="IANA zone, default UTC")] | None = None


class HotelUpdateIn(Input):
    """Fields left out keep their value; null clears the address and sets the time zone back to UTC."""

    hotel_name: NotNull[Label] = None
    address: Address | None = None
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
    section_name: NotNull[Label] = None


class SectionOut(Output):
    section_id: str
    hotel_id: str
    section_name: str
    created_at: str
    updated_at: str


class RoomIn(Input):
    room_number: RoomNumber
    occupancy_status: Occupancy = "vacant"


class RoomUpdateIn(Input):
    """Fields left out keep their value."""

    room_number: NotNull[RoomNumber] = None
    occupancy_status: NotNull[Occupancy] = None


class RoomOut(Output):
    room_id: str
    section_id: str
    hotel_id: str
    room_number: str
    occupancy_status: Occupancy
    created_at: str
    updated_at: str


class HotelsPage(Page[HotelOut]):
    pass


class SectionsPage(Page[SectionOut]):
    pass


class RoomsPage(Page[RoomOut]):
    pass


class DeletedOut(Output):
    message: str
    removed: dict[str, int] = {}

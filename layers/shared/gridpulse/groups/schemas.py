"""Request and response bodies of the groups group."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from gridpulse.devices.schemas import Name, Text
from gridpulse.schemas import Input, NotNull, Output, Page

Color = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="#RRGGBB")]


class GroupIn(Input):
    name: Name
    description: Text | None = None
    color: Color | None = None


class GroupUpdateIn(Input):
    """Fields left out keep their value; null clears description or color."""

    name: NotNull[Name] = None
    description: Text | None = None
    color: Color | None = None


class GroupOut(Output):
    group_id: str
    owner_id: str
    name: str
    description: str | None = None
    color: str | None = None
    device_ids: list[str] | None = None
    device_count: int | None = None
    created_at: str
    updated_at: str


class GroupsPage(Page[GroupOut]):
    pass


class GroupDeviceIn(Input):
    device_id: Annotated[str, Field(min_length=1, max_length=64)]


class BulkIn(Input):
    device_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=100)]


class Skipped(Output):
    device_id: str
    reason: str


class BulkOut(Output):
    added: list[str]
    skipped: list[Skipped]


class MembershipOut(Output):
    group_id: str
    device_id: str
    added: bool

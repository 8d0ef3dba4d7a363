"""Pydantic building blocks shared by the API schemas."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Input(BaseModel):
    """Request bodies: unknown fields are rejected (400 naming them), which is
    what stops mass assignment of role, owner_id, api_key and friends."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: list[dict] | None = None


class MessageOut(Output):
    message: str

"""Roles and the caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from gridpulse.errors import Forbidden


class Role(str, Enum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as established by a verified token and a fresh user read."""

    user_id: str
    role: Role
    hotel_ids: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    city: str | None = None
    jti: str = ""
    token_exp: int = 0
    revoked: dict = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("Your role does not allow this.", code="forbidden")

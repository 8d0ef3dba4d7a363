"""Roles and the caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from gridpulse.errors import Forbidden, NotFound


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

    def require_self_or_admin(self, user_id: str) -> None:
        """What a caller may see of another user: itself, or anyone when admin;
        anything else is 404 (as for a user that does not exist), so that
        user ids cannot be probed."""
        if not self.is_admin and self.user_id != user_id:
            raise NotFound("No such user.", code="user_not_found")

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden("Your role does not allow this.", code="forbidden")

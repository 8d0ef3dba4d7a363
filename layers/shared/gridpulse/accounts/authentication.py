"""Who is calling: `Authorization: Bearer <jwt>` resolved into a Caller.

What every API function with bearer routes imports (through gridpulse.api),
so it holds nothing else: one JWT check and one strongly-consistent GetItem
per request; no password hashing, mail or transactions (sessions.py,
password_reset.py and users.py hold those).
"""

from __future__ import annotations

from gridpulse.accounts.data import UserItem
from gridpulse.accounts.roles import Caller, Role
from gridpulse.dynamodb import get_or_none
from gridpulse.errors import Unauthorized
from gridpulse.security.tokens import decode_token as decode_jwt


def load_user(user_id: str) -> UserItem | None:
    return get_or_none(UserItem, UserItem.key(user_id), consistent_read=True)


def _revoked(user: UserItem) -> dict[str, int]:
    raw = user.revoked.as_dict() if user.revoked is not None else {}
    return {str(jti): int(exp) for jti, exp in raw.items()}


def authenticate(authorization: str | None) -> tuple[Caller, UserItem]:
    """Resolve `Authorization: Bearer <jwt>` into the caller, or raise 401.

    One strongly-consistent GetItem: logout, deactivation, deletion and
    password changes therefore take effect on the very next request.
    """
    if not authorization:
        raise Unauthorized("Send Authorization: Bearer <token>.", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send Authorization: Bearer <token>.", code="missing_token")
    claims = decode_jwt(token.strip())
    user = load_user(claims.sub)
    if user is None:
        raise Unauthorized("The token is not valid.", code="invalid_token")
    if not user.active:
        raise Unauthorized("This account is deactivated.", code="account_deactivated")
    revoked = _revoked(user)
    if int(user.token_version) != claims.ver or claims.jti in revoked:
        raise Unauthorized("The token has been revoked.", code="token_revoked")
    caller = Caller(
        user_id=user.user_id,
        role=Role(user.role),
        hotel_ids=tuple(user.hotel_ids or ()),
        cities=tuple(user.cities or ()),
        city=user.city,
        jti=claims.jti,
        token_exp=claims.exp,
        revoked=revoked,
    )
    return caller, user

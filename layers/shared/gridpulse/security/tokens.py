"""Access tokens: short-lived JWTs signed with HS256, algorithm pinned.

Claims: iss, aud, sub (user id), role, jti (revocation handle), iat, exp and
ver (the user's token_version: bumping it revokes every older token at once).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from gridpulse.errors import Unauthorized
from gridpulse.security.secrets import jwt_signing_key
from gridpulse.settings import get_settings

ALGORITHM = "HS256"
ISSUER = "gridpulse"
AUDIENCE = "gridpulse-api"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "role", "jti", "iat", "exp", "ver"]


@dataclass(frozen=True)
class TokenClaims:
    sub: str
    role: str
    jti: str
    iat: int
    exp: int
    ver: int


def issue_token(user_id: str, role: str, token_version: int, now: float | None = None) -> tuple[str, TokenClaims]:
    issued = int(now if now is not None else time.time())
    claims = TokenClaims(
        sub=user_id,
        role=role,
        jti=secrets.token_urlsafe(16),
        iat=issued,
        exp=issued + get_settings().token_ttl_seconds,
        ver=token_version,
    )
    payload = {"iss": ISSUER, "aud": AUDIENCE, **claims.__dict__}
    return jwt.encode(payload, jwt_signing_key(), algorithm=ALGORITHM), claims


def decode_token(token: str) -> TokenClaims:
    """Verify signature, algorithm, issuer, audience and expiry; 401 otherwise."""
    try:
        payload = jwt.decode(
            token,
            jwt_signing_key(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("The token is not valid.", code="invalid_token") from None
    try:
        return TokenClaims(
            sub=str(payload["sub"]),
            role=str(payload["role"]),
            jti=str(payload["jti"]),
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
            ver=int(payload["ver"]),
        )
    except (TypeError, ValueError):
        raise Unauthorized("The token is not valid.", code="invalid_token") from None

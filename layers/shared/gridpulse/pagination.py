"""List pagination: `?limit=` and an opaque `next_token` (never offsets).

A token carries where the next page starts (a DynamoDB LastEvaluatedKey, or
a small cursor of our own), JSON-encoded and base64url'd, followed by a MAC
over that payload and the list it belongs to (`purpose`, e.g.
`devices:owner:<user id>`). So a token is only ever read back by the list
that issued it: a forged, edited or borrowed token is a 400, never a
DynamoDB error and never silently accepted. The MAC key is derived from the
JWT signing key, which every paged (authenticated) route has loaded already.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json

from gridpulse.errors import BadRequest, field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_TOKEN_LENGTH = 2048
_MAC_BYTES = 16


def parse_limit(raw: str | int | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(
            f"limit must be an integer from 1 to {MAX_LIMIT}",
            code="invalid_limit",
            fields=[field_error("limit", f"expected 1..{MAX_LIMIT}")],
        )
    return value


@functools.cache
def _key() -> bytes:
    from gridpulse.security.secrets import jwt_signing_key

    return hmac.new(jwt_signing_key(), b"gridpulse page tokens v1", hashlib.sha256).digest()


def reset_key() -> None:
    _key.cache_clear()


def _mac(payload: bytes, purpose: str) -> bytes:
    return hmac.new(_key(), purpose.encode() + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def encode_token(cursor: dict | None, purpose: str) -> str | None:
    """The next_token for `cursor` in the list named `purpose` (None: no next page)."""
    if not cursor:
        return None
    payload = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload, purpose))}"


def invalid_token(reason: str = "pass back the next_token of the previous page unchanged") -> BadRequest:
    return BadRequest("next_token is not valid", code="invalid_next_token", fields=[field_error("next_token", reason)])


def decode_token(token: str | None, purpose: str) -> dict | None:
    """The cursor a token of the list `purpose` carries; 400 for anything else."""
    if not token:
        return None
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise invalid_token()
    body, mac = token.split(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except (binascii.Error, ValueError):
        raise invalid_token() from None
    if not hmac.compare_digest(given, _mac(payload, purpose)):
        raise invalid_token()
    try:
        value = json.loads(payload)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not value:
        raise invalid_token()
    return value


def page(items: list, last_key: dict | None, purpose: str) -> dict:
    return {"items": items, "count": len(items), "next_token": encode_token(last_key, purpose)}


# ---------------------------------------------------------------- many sources

# A source: (name, query(limit, start_key) -> (items, last_key), keep(item) -> bool).
# The name (e.g. "by-hotel:<hotel id>") says which key range the source reads.


def chained_page(sources: list, limit: int, next_token: str | None, purpose: str) -> tuple[list, str | None]:
    """One page over several Queries read one after the other.

    Used where what a caller may see is the union of a few key ranges (its own
    devices, then the devices of each of its hotels, then of each of its
    cities). The token records which source to continue and where; `keep`
    drops items an earlier source already returned. A page may hold fewer
    than `limit` items while `next_token` is not null: keep paging. The
    caller's scope may have changed since the token was issued: the sources'
    names are part of what the token is bound to, so a token of another set
    of sources is a 400, never a start key handed to the wrong Query.
    """
    purpose = "|".join([purpose, *(name for name, _, _ in sources)])
    state = decode_token(next_token, purpose) or {"s": 0, "k": None}
    index, start = state.get("s"), state.get("k")
    if (
        not isinstance(index, int)
        or isinstance(index, bool)
        or not 0 <= index <= len(sources)
        or not (start is None or isinstance(start, dict))
    ):
        raise invalid_token("not a token of this list")
    items: list = []
    while index < len(sources) and len(items) < limit:
        _, query, keep = sources[index]
        batch, last_key = query(limit - len(items), start)
        items += [item for item in batch if keep(item)]
        if last_key:
            start = last_key
            if len(items) >= limit:
                break
        else:
            index, start = index + 1, None
    done = index >= len(sources)
    return items, None if done else encode_token({"s": index, "k": start}, purpose)

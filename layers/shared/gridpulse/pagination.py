"""List pagination: `?limit=` and an opaque `next_token` (never offsets).

The token is the DynamoDB LastEvaluatedKey, JSON-encoded and base64url'd. It
can only move a Query within the partition the caller is already allowed to
read, so a forged token cannot widen access; a malformed one is a 400.
"""
from __future__ import annotations

import base64
import binascii
import json

from gridpulse.errors import BadRequest, field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def parse_limit(raw: str | None) -> int:
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


def encode_token(last_key: dict | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None) -> dict | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict) or not value:
        raise BadRequest(
            "next_token is not valid",
            code="invalid_next_token",
            fields=[field_error("next_token", "pass back the next_token of the previous page unchanged")],
        )
    return value


def page(items: list, last_key: dict | None) -> dict:
    return {"items": items, "count": len(items), "next_token": encode_token(last_key)}


# ---------------------------------------------------------------- many sources

# A source: (query(limit, start_key) -> (items, last_key), keep(item) -> bool)


def chained_page(sources: list, limit: int, next_token: str | None) -> tuple[list, str | None]:
    """One page over several Queries read one after the other.

    Used where what a caller may see is the union of a few key ranges (its own
    devices, then the devices of each of its hotels, then of each of its
    cities). The token records which source to continue and where; `keep`
    drops items an earlier source already returned. A page may hold fewer
    than `limit` items while `next_token` is not null: keep paging.
    """
    state = decode_token(next_token) or {"s": 0, "k": None}
    if not isinstance(state.get("s"), int) or not 0 <= state["s"] <= len(sources):
        raise BadRequest("next_token is not valid", code="invalid_next_token",
                         fields=[field_error("next_token", "not a token of this list")])
    index, start = state["s"], state.get("k")
    items: list = []
    while index < len(sources) and len(items) < limit:
        query, keep = sources[index]
        batch, last_key = query(limit - len(items), start)
        items += [item for item in batch if keep(item)]
        if last_key:
            start = last_key
            if len(items) >= limit:
                break
        else:
            index, start = index + 1, None
    done = index >= len(sources)
    return items, None if done else encode_token({"s": index, "k": start})

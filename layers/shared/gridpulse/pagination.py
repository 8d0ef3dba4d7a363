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

"""Tuya OpenAPI request signing, the "new" HMAC-SHA256 algorithm.

    stringToSign = METHOD \\n sha256(body) \\n Headers \\n Url
    sign = HMAC-SHA256(secret, client_id [+ access_token] + t + nonce + stringToSign), upper-case hex

Headers is one `name:value\\n` line per name of the `Signature-Headers` header
(empty without one); Url is the path and the query with its keys sorted and
values not URL-encoded. Token calls (`/v1.0/token...`) are signed without an
access token. The client and the local stand-in (infrastructure/local/tuya)
both sign with these functions, so a test of one checks the other.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def canonical_url(path: str, query: Mapping[str, object] | Iterable[tuple[str, object]] | None = None) -> str:
    """The path with its query as Tuya signs it: keys sorted, decoded values, `k=v` joined by `&`."""
    items = list(query.items()) if isinstance(query, Mapping) else list(query or [])
    if not items:
        return path
    pairs = sorted((str(k), "" if v is None else str(v)) for k, v in items)
    return path + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def string_to_sign(
    method: str,
    path: str,
    query: Mapping[str, object] | Iterable[tuple[str, object]] | None = None,
    body: bytes = b"",
    signed_headers: Mapping[str, str] | None = None,
) -> str:
    """METHOD, the body's lower-case SHA-256, the signed headers (each `name:value\\n`) and the URL, one per line."""
    headers = "".join(f"{name}:{value}\n" for name, value in (signed_headers or {}).items())
    return "\n".join([method.upper(), hashlib.sha256(body or b"").hexdigest(), headers, canonical_url(path, query)])


def sign(client_id: str, secret: str, t: str, string_to_sign_: str, *, access_token: str = "", nonce: str = "") -> str:
    """The `sign` header: upper-case hex HMAC-SHA256 of client_id + access_token + t + nonce + stringToSign."""
    message = f"{client_id}{access_token}{t}{nonce}{string_to_sign_}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def is_token_path(path: str) -> bool:
    """Token calls are signed without an access token."""
    return path.startswith("/v1.0/token")

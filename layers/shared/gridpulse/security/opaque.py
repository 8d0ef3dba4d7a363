"""Random secrets handed out once (API keys, reset tokens) and stored as hashes.

These secrets carry 256 bits of entropy, so a single SHA-256 is the right
hash: it cannot be brute-forced and it lets us look the secret up by its hash
with one GetItem. (Passwords are low-entropy and use Argon2id instead.)
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()

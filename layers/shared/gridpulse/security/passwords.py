"""Password hashing with Argon2id at OWASP's recommended minimum.

OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1. The encoded
hash carries its own parameters, so raising them later only needs
`needs_rehash` on the next successful login.

Argon2 is imported, and the timing equaliser computed, only when a password is
first hashed or checked in a container: most functions only authenticate
bearer tokens and never pay for either at cold start.
"""

from __future__ import annotations

import functools

MIN_LENGTH = 8
MAX_LENGTH = 128


@functools.cache
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that a login for an
    unknown email costs the same time as one for a known email."""
    return _hasher().hash("gridpulse-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    # Computed on the first check whether or not the account exists, so that
    # even the first login in a container does not tell the two apart.
    dummy = _dummy_hash()
    try:
        return _hasher().verify(password_hash or dummy, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)

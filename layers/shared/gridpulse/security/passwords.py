"""Password hashing with Argon2id at OWASP's recommended minimum.

OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1. The encoded
hash carries its own parameters, so raising them later only needs
`needs_rehash` on the next successful login.
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)

# Verified against when the account does not exist, so that a login for an
# unknown email costs the same time as one for a known email.
_DUMMY_HASH = _hasher.hash("gridpulse-timing-equaliser")

MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)

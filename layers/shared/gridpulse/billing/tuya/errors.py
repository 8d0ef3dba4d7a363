"""Tuya Cloud answers mapped to domain errors.

* `TuyaUnavailable`: no usable answer (network error, timeout, HTTP 5xx, Tuya's
  system-busy or rate-limit codes after the retries). The outcome of a write is
  UNKNOWN: Tuya may have applied it. Check the meter before sending it again.
* `TuyaRejected`: Tuya answered `success: false` with a code (2008 bad command
  or value, 2001 device offline, 1106 permission denied, ...). The write did
  NOT happen.
* `TuyaAuthError(TuyaRejected)`: the project's credentials or the signature are
  wrong (1001, 1003, 1004, 1005, ...), or a token error (1010-1013) persists
  after a fresh token. A token refresh does not fix it; an operator must.

`describe(code)` says what a code means; `error_for(code, message, request_id)`
builds the matching exception. Every code of the Tuya facts of issue #13 is in `CODES`.
"""

from __future__ import annotations


class TuyaError(Exception):
    """A failed Tuya Cloud call: `code` (Tuya's, or None), `message`, `request_id` (Tuya's `tid`)."""

    def __init__(self, message: str, *, code: int | None = None, request_id: str | None = None):
        super().__init__(f"Tuya {code}: {message}" if code is not None else f"Tuya: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


class TuyaUnavailable(TuyaError):
    """No usable answer: the outcome of a write is unknown."""


class TuyaRejected(TuyaError):
    """Tuya refused the call: nothing was applied."""


class TuyaAuthError(TuyaRejected):
    """Credentials or signature problems that a token refresh does not fix."""


# code -> (meaning, kind); kind is "auth", "token" (refetch the token once), "transient" (retry), "rejected".
CODES: dict[int, tuple[str, str]] = {
    500: ("system error", "transient"),
    1000: ("data not exist", "rejected"),
    1001: ("secret invalid", "auth"),
    1002: ("access_token is null", "token"),
    1003: ("grant type invalid", "auth"),
    1004: ("sign invalid", "auth"),
    1005: ("clientId invalid", "auth"),
    1006: ("not support content type", "rejected"),
    1010: ("token is expired", "token"),
    1011: ("token invalid", "token"),
    1012: ("token status is invalid", "token"),
    1013: ("request time is invalid (clock skew)", "token"),
    1100: ("param is empty", "rejected"),
    1101: ("params range invalid", "rejected"),
    1103: ("commands issue error", "rejected"),
    1105: ("missing the header", "rejected"),
    1106: ("permission deny (app account not linked to the project, or wrong data center)", "rejected"),
    1107: ("code invalid", "rejected"),
    1108: ("uri path invalid", "rejected"),
    1109: ("param is illegal", "rejected"),
    1110: ("concurrent request over limit", "transient"),
    1111: ("system busy", "transient"),
    1199: ("requests too frequent", "transient"),
    2001: ("device is offline", "rejected"),
    2003: ("function not support", "rejected"),
    2008: ("command or value not support", "rejected"),
    2009: ("not support this device", "rejected"),
    2010: ("device not exist", "rejected"),
    28841105: ("no permissions: this project is not authorized to call this API", "auth"),
}

TOKEN_CODES = frozenset(c for c, (_, kind) in CODES.items() if kind == "token")
TRANSIENT_CODES = frozenset(c for c, (_, kind) in CODES.items() if kind == "transient")
AUTH_CODES = frozenset(c for c, (_, kind) in CODES.items() if kind == "auth")


def describe(code: int | None) -> str:
    """What a Tuya error code means ("unknown Tuya error code N" for one not in CODES)."""
    if code is None:
        return "no answer from Tuya"
    entry = CODES.get(int(code))
    return entry[0] if entry else f"unknown Tuya error code {code}"


def error_for(code: int | None, message: str | None = None, request_id: str | None = None) -> TuyaError:
    """The exception for a `success: false` answer with `code` (after retries and the token refetch)."""
    text = message or describe(code)
    if code in TRANSIENT_CODES:
        return TuyaUnavailable(text, code=code, request_id=request_id)
    if code in AUTH_CODES or code in TOKEN_CODES:
        return TuyaAuthError(text, code=code, request_id=request_id)
    return TuyaRejected(text, code=code, request_id=request_id)

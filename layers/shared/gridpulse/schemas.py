"""Pydantic building blocks shared by the API schemas.

Every request schema builds its fields from the types here, so that a rule
(what a name may contain, which numbers DynamoDB can store, how big a
free-form map may be, that a required field is never nulled by an update)
lives in one place:

* `label(...)`, `text(...)`: human-readable strings without control characters;
* `number(...)`, `integer(...)`: finite numbers inside what a DynamoDB number holds;
* `decimal(...)`: an exact decimal (money, energy, prices) from a JSON number
  or a plain decimal string (ASCII digits, no spaces, signs, separators or exponent);
* `bounded_map(...)`: free-form JSON objects with non-empty, bounded keys,
  bounded depth and size, and JSON scalar leaves;
* `NotNull[T]`: an update field that may be left out (unchanged) but not
  sent as null.

The checks behind them (control characters, DynamoDB numbers, free-form map
bounds) are plain functions in gridpulse.validation, shared with ingestion.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

# The rules themselves (plain Python, shared with the ingestion path).
from gridpulse.validation import (  # noqa: F401 - re-exported
    DYNAMO_MAX_DIGITS,
    DYNAMO_MAX_MAGNITUDE,
    DYNAMO_MIN_MAGNITUDE,
    dynamo_number_problem,
    free_map_problem,
)
from gridpulse.validation import (
    control_character as _control_character,
)


class Input(BaseModel):
    """Request bodies: unknown fields are rejected (400 naming them), which is
    what stops mass assignment of role, owner_id, api_key and friends."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class MessageOut(Output):
    message: str


T = TypeVar("T")


class Page(Output, Generic[T]):
    """What every list route answers: a page of `items` and the token of the
    next page (null on the last). A route's page is a named subclass, e.g.
    `class DevicesPage(Page[DeviceOut])`, so the OpenAPI component keeps its name."""

    items: list[T]
    count: int
    next_token: str | None = None


# ---------------------------------------------------------------- strings


def _single_line(value: str) -> str:
    found = _control_character(value)
    if found:
        raise PydanticCustomError(
            "control_character", "must not contain control characters (found {found})", {"found": found}
        )
    return value


def _multi_line(value: str) -> str:
    found = _control_character(value, allowed="\n\r\t")
    if found:
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters other than newline and tab (found {found})",
            {"found": found},
        )
    return value


def label(max_length: int, min_length: int = 1, **field: Any) -> Any:
    """A one-line human-readable string (a name, a city, a room number):
    `min_length`..`max_length` characters, no control characters."""
    return Annotated[
        str, Field(min_length=min_length or None, max_length=max_length, **field), AfterValidator(_single_line)
    ]


def text(max_length: int, **field: Any) -> Any:
    """Free text (a description, an address): newlines and tabs allowed, no other control characters."""
    return Annotated[str, Field(max_length=max_length, **field), AfterValidator(_multi_line)]


# ---------------------------------------------------------------- numbers


def _storable_number(value: Any) -> Any:
    problem = dynamo_number_problem(value)
    if problem:
        raise PydanticCustomError("number_out_of_range", problem)
    return value


def number(**constraints: Any) -> Any:
    """The type of every numeric request field that holds a real number:
    finite and inside what DynamoDB stores, then `constraints` (ge, gt, le, lt)."""
    return Annotated[float, Field(allow_inf_nan=False, **constraints), AfterValidator(_storable_number)]


def integer(**constraints: Any) -> Any:
    """The type of every integer request field: inside what DynamoDB stores, then `constraints`."""
    return Annotated[int, Field(**constraints), AfterValidator(_storable_number)]


Number = number()

# What a decimal string may look like: Decimal() itself also takes " 5",
# "+5", "1_000", "5e1" and non-ASCII digits ("\u0661\u0662", "\uff15").
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _plain_decimal(value: Any) -> Any:
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise PydanticCustomError(
            "decimal_format",
            "must be a plain decimal such as 500.00: ASCII digits and one '.', no spaces, '+', separators or exponent",
        )
    return value


def decimal(**constraints: Any) -> Any:
    """The type of every exact-decimal request field (money, energy, prices):
    a JSON number or a plain decimal string, finite, then `constraints`
    (gt, le, decimal_places, ...)."""
    return Annotated[Decimal, BeforeValidator(_plain_decimal), Field(allow_inf_nan=False, **constraints)]


# ---------------------------------------------------------------- free-form maps


def bounded_map(
    *,
    max_depth: int = 5,
    max_keys: int = 200,
    max_key_length: int = 64,
    max_string_length: int = 1024,
    max_bytes: int = 8 * 1024,
    **field: Any,
) -> Any:
    """A free-form JSON object that can be stored as a DynamoDB map and read
    back by every list that holds it: non-empty keys of at most
    `max_key_length` characters, at most `max_depth` levels and `max_keys`
    keys/items in all, scalar leaves, `max_bytes` of JSON."""
    limits = {
        "max_depth": max_depth,
        "max_keys": max_keys,
        "max_key_length": max_key_length,
        "max_string_length": max_string_length,
        "max_bytes": max_bytes,
    }

    def check(value: dict[str, Any]) -> dict[str, Any]:
        found = free_map_problem(value, **limits)
        if found:
            path, problem = found
            raise PydanticCustomError(
                "invalid_map", "{where}{problem}", {"where": f"at {path}: " if path else "", "problem": problem}
            )
        return value

    return Annotated[dict[str, Any], Field(**field), AfterValidator(check)]


# ---------------------------------------------------------------- updates


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "may not be null; leave the field out to keep its value")
    return value


class _NotNull:
    """`NotNull[T]`: a partial-update field that is stored as a required
    attribute. Left out, it keeps its value (the default None is never
    validated, and handlers dump with exclude_unset); sent as null, it is a
    400 naming the field, so an update can never remove it."""

    def __class_getitem__(cls, item: Any) -> Any:
        return Annotated[item, BeforeValidator(_refuse_null)]


NotNull = _NotNull

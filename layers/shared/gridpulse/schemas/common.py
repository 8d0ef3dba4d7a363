"""Pydantic building blocks shared by the API schemas.

Every request schema builds its fields from the types here, so that a rule
(what a name may contain, which numbers DynamoDB can store, how big a
free-form map may be, that a required field is never nulled by an update)
lives in one place:

* `label(...)`, `text(...)`: human-readable strings without control characters;
* `number(...)`, `integer(...)`: finite numbers inside what a DynamoDB number holds;
* `bounded_map(...)`: free-form JSON objects with non-empty, bounded keys,
  bounded depth and size, and JSON scalar leaves;
* `NotNull[T]`: an update field that may be left out (unchanged) but not
  sent as null.
"""
from __future__ import annotations

import json
import math
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


class Input(BaseModel):
    """Request bodies: unknown fields are rejected (400 naming them), which is
    what stops mass assignment of role, owner_id, api_key and friends."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    error: str
    message: str
    fields: list[dict] | None = None


class MessageOut(Output):
    message: str


# ---------------------------------------------------------------- strings

# Characters that change how text is laid out or read rather than what it says:
# line and paragraph separators and the bidirectional embeddings, overrides
# and isolates (which can make "abc.exe" display as "exe.cba").
_LAYOUT_CONTROLS = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control_character(value: str, allowed: str = "") -> str | None:
    for ch in value:
        if ch in allowed:
            continue
        if unicodedata.category(ch) == "Cc" or ch in _LAYOUT_CONTROLS:
            return f"U+{ord(ch):04X}"
    return None


def _single_line(value: str) -> str:
    found = _control_character(value)
    if found:
        raise PydanticCustomError("control_character", "must not contain control characters (found {found})",
                                  {"found": found})
    return value


def _multi_line(value: str) -> str:
    found = _control_character(value, allowed="\n\r\t")
    if found:
        raise PydanticCustomError("control_character",
                                  "must not contain control characters other than newline and tab (found {found})",
                                  {"found": found})
    return value


def label(max_length: int, min_length: int = 1, **field: Any) -> Any:
    """A one-line human-readable string (a name, a city, a room number):
    `min_length`..`max_length` characters, no control characters."""
    return Annotated[str, Field(min_length=min_length or None, max_length=max_length, **field),
                     AfterValidator(_single_line)]


def text(max_length: int, **field: Any) -> Any:
    """Free text (a description, an address): newlines and tabs allowed, no other control characters."""
    return Annotated[str, Field(max_length=max_length, **field), AfterValidator(_multi_line)]


# ---------------------------------------------------------------- numbers

# What a DynamoDB number holds: up to 38 significant digits, magnitude
# 1E-130 to 9.9999999999999999999999999999999999999E+125 (or zero).
DYNAMO_MIN_MAGNITUDE = 1e-130
DYNAMO_MAX_MAGNITUDE = 1e126  # exclusive
DYNAMO_MAX_DIGITS = 38


def dynamo_number_problem(value: Any) -> str | None:
    """Why `value` cannot be stored as a DynamoDB number (None when it can)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if value == 0:
        return None
    if not DYNAMO_MIN_MAGNITUDE <= abs(value) < DYNAMO_MAX_MAGNITUDE:
        return f"magnitude must be 0 or from {DYNAMO_MIN_MAGNITUDE:g} to below {DYNAMO_MAX_MAGNITUDE:g}"
    if isinstance(value, int) and len(str(abs(value)).rstrip("0")) > DYNAMO_MAX_DIGITS:
        return f"at most {DYNAMO_MAX_DIGITS} significant digits"
    return None


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
Integer = integer()


# ---------------------------------------------------------------- free-form maps


def free_map_problem(value: Any, *, max_depth: int, max_keys: int, max_key_length: int,
                     max_string_length: int, max_bytes: int) -> tuple[str, str] | None:
    """(path, problem) for the first part of `value` that breaks the bounds of a
    free-form map, or None. Depth counts maps and lists (`{"a": 1}` is 1 deep);
    leaves are JSON scalars: strings, storable numbers, booleans, null."""
    if not isinstance(value, dict):
        return "", "must be a JSON object"
    keys = 0
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > max_depth:
                return path, f"nested deeper than {max_depth} levels"
            if isinstance(node, dict):
                keys += len(node)
                if keys > max_keys:
                    return path, f"more than {max_keys} keys in all"
                for key, child in node.items():
                    if not isinstance(key, str) or not 1 <= len(key) <= max_key_length:
                        return path, f"keys must be 1 to {max_key_length} characters (got {key!r})"
                    if _control_character(key):
                        return path, f"key {key!r} contains control characters"
                    stack.append((child, f"{path}.{key}" if path else key, depth + 1))
            else:
                keys += len(node)
                if keys > max_keys:
                    return path, f"more than {max_keys} keys and items in all"
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(node))
        elif isinstance(node, str):
            if len(node) > max_string_length:
                return path, f"strings are at most {max_string_length} characters"
        elif node is None or isinstance(node, bool):
            continue
        elif isinstance(node, (int, float)):
            problem = dynamo_number_problem(node)
            if problem:
                return path, problem
        else:
            return path, "values must be JSON strings, numbers, booleans, null, objects or arrays"
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_bytes:
        return "", f"at most {max_bytes} bytes of JSON (got {size})"
    return None


def bounded_map(*, max_depth: int = 5, max_keys: int = 200, max_key_length: int = 64,
                max_string_length: int = 1024, max_bytes: int = 8 * 1024, **field: Any) -> Any:
    """A free-form JSON object that can be stored as a DynamoDB map and read
    back by every list that holds it: non-empty keys of at most
    `max_key_length` characters, at most `max_depth` levels and `max_keys`
    keys/items in all, scalar leaves, `max_bytes` of JSON."""
    limits = {"max_depth": max_depth, "max_keys": max_keys, "max_key_length": max_key_length,
              "max_string_length": max_string_length, "max_bytes": max_bytes}

    def check(value: dict[str, Any]) -> dict[str, Any]:
        found = free_map_problem(value, **limits)
        if found:
            path, problem = found
            raise PydanticCustomError("invalid_map", "{where}{problem}",
                                      {"where": f"at {path}: " if path else "", "problem": problem})
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

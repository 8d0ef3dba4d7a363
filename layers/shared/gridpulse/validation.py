"""The input rules in plain Python: which characters text may hold, which numbers
DynamoDB stores, how big a free-form map may be.

gridpulse.schemas builds the API's pydantic field types on these; the
ingestion path (gridpulse.telemetry.readings) checks device readings with the
same functions without importing pydantic, which the ingestion and event
functions would otherwise load at cold start for nothing.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

# Characters that change how text is laid out or read rather than what it says:
# line and paragraph separators and the bidirectional embeddings, overrides
# and isolates (which can make "abc.exe" display as "exe.cba").
_LAYOUT_CONTROLS = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_character(value: str, allowed: str = "") -> str | None:
    for ch in value:
        if ch in allowed:
            continue
        if unicodedata.category(ch) == "Cc" or ch in _LAYOUT_CONTROLS:
            return f"U+{ord(ch):04X}"
    return None


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


def free_map_problem(
    value: Any, *, max_depth: int, max_keys: int, max_key_length: int, max_string_length: int, max_bytes: int
) -> tuple[str, str] | None:
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
                    if control_character(key):
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

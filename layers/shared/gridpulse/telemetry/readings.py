"""Readings as devices send them, and the checks they must pass.

A message is one reading or `{"readings": [...]}`. Each reading may carry
`timestamp` (ISO 8601 or epoch seconds/milliseconds), `seq`, `voltage` (V),
`current` (A), `power_w`, `energy_kwh` (a cumulative counter),
`temperature` (deg C), `power_factor`, `frequency` (Hz), `data` and
`metadata` (small free-form objects: the bounds of
gridpulse.schemas.bounded_map, checked by gridpulse.validation, at most 2 KiB).

A reading that fails a check is not dropped: it becomes a `Rejection` with a
reason and the offending field, and ingestion keeps it in quarantine.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gridpulse.validation import free_map_problem

MAX_BATCH = 500
# A device clock may run this far ahead of the broker before a reading counts as "in the future".
FUTURE_SKEW_MS = 5 * 60 * 1000
# Older than this is refused: it could only land in rollups long since closed and archived.
MAX_AGE_MS = 400 * 24 * 3600 * 1000

# Plausible ranges; outside them a value is a sensor or firmware fault, not a measurement.
RANGES: dict[str, tuple[float, float]] = {
    "voltage": (0.0, 500.0),
    "current": (0.0, 400.0),
    "power_w": (0.0, 250_000.0),
    "energy_kwh": (0.0, 1e9),
    "temperature": (-50.0, 150.0),
    "power_factor": (-1.0, 1.0),
    "frequency": (40.0, 70.0),
}
MEASUREMENTS = tuple(RANGES)
KNOWN_FIELDS = set(MEASUREMENTS) | {"timestamp", "ts", "seq", "data", "metadata"}
MAX_FREEFORM_BYTES = 2048
# Sequence numbers fit a signed 64-bit integer (what firmware counters and DynamoDB numbers hold).
MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class Reading:
    ts_ms: int
    received_ms: int
    identity: str  # what makes two deliveries "the same reading" (device time, else seq, else receive time + place)
    seq: int | None = None
    voltage: float | None = None
    current: float | None = None
    power_w: float | None = None
    energy_kwh: float | None = None
    temperature: float | None = None
    power_factor: float | None = None
    frequency: float | None = None
    power_derived: bool = False
    extra: dict = field(default_factory=dict)

    def compact(self) -> dict:
        """The stored form. Short keys, the receive time as a delay after the
        device time, and the identity only when it is not the device time:
        storage and write units are paid per byte."""
        out: dict[str, Any] = {"t": self.ts_ms}
        if self.received_ms != self.ts_ms:
            out["d"] = self.received_ms - self.ts_ms
        if self.identity != f"t{self.ts_ms}":
            out["k"] = self.identity
        for short, name in SHORT.items():
            value = getattr(self, name)
            if value is not None:
                out[short] = value
        if self.power_derived:
            out["pd"] = 1
        if self.extra:
            out["x"] = self.extra
        return out

    @classmethod
    def from_compact(cls, data: dict) -> "Reading":
        values = {name: data.get(short) for short, name in SHORT.items()}
        ts = int(data["t"])
        return cls(
            ts_ms=ts,
            received_ms=ts + int(data.get("d", 0)),
            identity=str(data.get("k", f"t{ts}")),
            power_derived=bool(data.get("pd")),
            extra=data.get("x") or {},
            **values,
        )

    def view(self) -> dict:
        """The API form."""
        out: dict[str, Any] = {
            "timestamp": iso_ms(self.ts_ms),
            "received_at": iso_ms(self.received_ms),
            "kwh_value": self.energy_kwh,
        }
        for name in SHORT.values():
            out[name] = getattr(self, name)
        if self.extra:
            out.update(self.extra)
        return out


SHORT = {
    "s": "seq",
    "v": "voltage",
    "i": "current",
    "p": "power_w",
    "e": "energy_kwh",
    "c": "temperature",
    "pf": "power_factor",
    "f": "frequency",
}


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    field: str | None
    message: str
    raw: Any

    def view(self) -> dict:
        return {
            "index": self.index,
            "status": "rejected",
            "reason": self.reason,
            "field": self.field,
            "message": self.message,
        }


def iso_ms(ms: int) -> str:
    ts = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def split_message(payload: Any) -> tuple[list[Any], Rejection | None]:
    """The readings of a message, or why the whole message is refused."""
    if isinstance(payload, dict) and "readings" in payload:
        readings = payload["readings"]
        if not isinstance(readings, list) or not readings:
            return [], Rejection(0, "invalid_batch", "readings", "readings must be a non-empty list", payload)
        if len(readings) > MAX_BATCH:
            return [], Rejection(
                0,
                "batch_too_large",
                "readings",
                f"at most {MAX_BATCH} readings per message, got {len(readings)}",
                payload,
            )
        return readings, None
    if isinstance(payload, dict):
        return [payload], None
    return [], Rejection(0, "invalid_payload", None, "a message is a JSON object", payload)


def as_number(value: Any) -> float | None:
    """A JSON number as a float, or None when it is not a number (booleans are
    not). An integer too large for a float becomes +/-inf instead of raising
    OverflowError, so every check after this one is plain float arithmetic."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _timestamp_ms(value: Any) -> int | None:
    number = as_number(value)
    if number is not None:
        if not math.isfinite(number):
            return None
        # Epoch seconds until the year 5138, then milliseconds. Far-off values
        # stay finite here and are refused as too old or in the future.
        return int(number * 1000) if number < 1e11 else int(number)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() * 1000)
    return None


def validate(raw: Any, index: int, received_ms: int) -> Reading | Rejection:
    """Check one reading; derive power from V x I (x PF) when only those are sent."""

    def reject(reason: str, field_name: str | None, message: str) -> Rejection:
        return Rejection(index, reason, field_name, message, raw)

    if not isinstance(raw, dict):
        return reject("invalid_reading", None, "a reading is a JSON object")
    unknown = sorted(set(raw) - KNOWN_FIELDS)
    if unknown:
        return reject("unknown_field", unknown[0], f"unknown field(s): {', '.join(unknown)}")

    stamp = raw.get("timestamp", raw.get("ts"))
    if stamp is None:
        ts_ms, device_time = received_ms, False
    else:
        ts_ms, device_time = _timestamp_ms(stamp), True
        if ts_ms is None:
            return reject("invalid_timestamp", "timestamp", "ISO 8601 or epoch seconds/milliseconds")
        if ts_ms > received_ms + FUTURE_SKEW_MS:
            return reject(
                "timestamp_in_future", "timestamp", "more than 5 minutes ahead of the time the platform received it"
            )
        if ts_ms < received_ms - MAX_AGE_MS:
            return reject("timestamp_too_old", "timestamp", "older than 400 days")

    seq = raw.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ):
        return reject("invalid_seq", "seq", f"an integer from 0 to {MAX_SEQ}")

    values: dict[str, float] = {}
    for name, (low, high) in RANGES.items():
        value = raw.get(name)
        if value is None:
            continue
        number = as_number(value)
        if number is None:
            return reject("not_a_number", name, f"{name} must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            return reject("not_finite", name, f"{name} is NaN or infinite")
        if name in ("power_w", "energy_kwh", "current") and number < 0:
            return reject("negative_value", name, f"{name} cannot be negative")
        if not low <= number <= high:  # an integer beyond a float's range is +/-inf: out of range
            return reject("out_of_range", name, f"{name} must be within {low:g}..{high:g}")
        values[name] = number
    if not values:
        return reject("no_measurement", None, f"send at least one of {', '.join(MEASUREMENTS)}")

    extra = {}
    for name in ("data", "metadata"):
        if name in raw:
            problem = free_map_problem(
                raw[name],
                max_depth=4,
                max_keys=100,
                max_key_length=64,
                max_string_length=512,
                max_bytes=MAX_FREEFORM_BYTES,
            )
            if problem:
                path, why = problem
                return reject("invalid_field", f"{name}.{path}" if path else name, f"{name}: {why}")
            extra[name] = raw[name]

    derived = False
    if "power_w" not in values and "voltage" in values and "current" in values:
        values["power_w"] = round(values["voltage"] * values["current"] * abs(values.get("power_factor", 1.0)), 3)
        derived = True

    if device_time:
        identity = f"t{ts_ms}"
    elif seq is not None:
        identity = f"s{seq}"
    else:
        # Neither a device time nor a seq: the receive time, the place in the
        # message and a digest of the reading. A redelivered message gets the
        # same identities (and is not stored twice); the readings of one batch,
        # all received in the same millisecond, get different ones.
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:6]
        identity = f"t{ts_ms}.{index:03d}.{digest}"
    return Reading(
        ts_ms=ts_ms, received_ms=received_ms, identity=identity, seq=seq, power_derived=derived, extra=extra, **values
    )

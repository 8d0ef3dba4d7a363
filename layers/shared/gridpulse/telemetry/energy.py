"""Interval energy: how many kWh each reading adds, from a counter or from power.

Pure functions (no I/O) so that they can be property-tested.

* With a cumulative counter (`energy_kwh`), a reading adds what the counter
  moved since the previous reading.
  - The counter going down is a meter reset (power cut, replacement), never
    negative consumption: the reading adds what was counted since the reset,
    i.e. its own value, if that is plausible for the time elapsed.
  - A rise implying more power than the device can draw (`max_power_w`) is a
    glitch: it is flagged `impossible_jump` and adds nothing.
* Without a counter, power is integrated (trapezoids) between consecutive
  readings, but not across a gap longer than `MAX_GAP_MS` (the device was
  off-line: we do not invent what it drew).
* The first reading of a device adds nothing; it is the baseline.

Energy is attributed to the bucket (hour, day) of the later reading of each
pair, so every reading's contribution lands in exactly one bucket and the
rollups always add up to the sum of the readings.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridpulse.telemetry.readings import Reading

MAX_GAP_MS = 15 * 60 * 1000
DEFAULT_MAX_POWER_W = 100_000.0


@dataclass(frozen=True)
class Interval:
    reading: Reading
    kwh: float
    flag: str | None = None  # reset, impossible_jump, gap, baseline


def plausible(kwh: float, dt_ms: int, max_power_w: float) -> bool:
    if dt_ms <= 0:
        return kwh <= 0
    return kwh * 1000 / (dt_ms / 3_600_000) <= max_power_w


def interval(previous: Reading | None, current: Reading, max_power_w: float = DEFAULT_MAX_POWER_W) -> Interval:
    if previous is None:
        return Interval(current, 0.0, "baseline")
    dt = current.ts_ms - previous.ts_ms
    if current.energy_kwh is not None and previous.energy_kwh is not None:
        delta = current.energy_kwh - previous.energy_kwh
        if delta < 0:
            since_reset = current.energy_kwh
            if plausible(since_reset, dt, max_power_w):
                return Interval(current, since_reset, "reset")
            return Interval(current, 0.0, "impossible_jump")
        if not plausible(delta, dt, max_power_w):
            return Interval(current, 0.0, "impossible_jump")
        return Interval(current, delta)
    if current.energy_kwh is not None:
        return Interval(current, 0.0, "baseline")  # first counter value after power-only readings
    if current.power_w is not None and previous.power_w is not None:
        if dt > MAX_GAP_MS:
            return Interval(current, 0.0, "gap")
        return Interval(current, (previous.power_w + current.power_w) / 2 * dt / 3_600_000 / 1000)
    return Interval(current, 0.0, "baseline")


def intervals(
    readings: list[Reading], previous: Reading | None, max_power_w: float = DEFAULT_MAX_POWER_W
) -> list[Interval]:
    """Intervals for readings in time order (duplicates by identity dropped)."""
    out: list[Interval] = []
    seen: set[str] = set()
    for reading in sorted(readings, key=lambda r: (r.ts_ms, r.identity)):
        if reading.identity in seen:
            continue
        seen.add(reading.identity)
        out.append(interval(previous, reading, max_power_w))
        previous = reading
    return out


def max_power_for(power_rating_w: float | None) -> float:
    """What a device can plausibly draw: 3x its rating, or a building-sized default."""
    return power_rating_w * 3 if power_rating_w else DEFAULT_MAX_POWER_W

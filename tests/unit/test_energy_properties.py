"""Property-based tests of the energy computation (hypothesis)."""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridpulse.telemetry.energy import MAX_GAP_MS, intervals
from gridpulse.telemetry.readings import Reading

MINUTE = 60_000
T0 = 1_790_000_000_000


def counter_readings(steps: list[tuple[int, float]]) -> list[Reading]:
    """(minutes since previous, kWh added) -> readings of a rising counter."""
    out, ts, counter = [], T0, 100.0
    for minutes, added in steps:
        ts += minutes * MINUTE
        counter += added
        out.append(Reading(ts_ms=ts, received_ms=ts, identity=f"t{ts}", energy_kwh=counter))
    return out


# at most 1 kWh per step of at least a minute: 60 kW, under the 100 kW default limit
steps = st.lists(st.tuples(st.integers(1, 30), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=60)


@given(steps)
def test_a_rising_counter_adds_up_to_last_minus_first(steps):
    readings = counter_readings(steps)
    total = math.fsum(iv.kwh for iv in intervals(readings, None))
    assert math.isclose(total, readings[-1].energy_kwh - readings[0].energy_kwh, abs_tol=1e-9)


@given(steps, st.randoms())
def test_arrival_order_does_not_matter(steps, rnd):
    readings = counter_readings(steps)
    shuffled = readings[:]
    rnd.shuffle(shuffled)
    assert [iv.kwh for iv in intervals(shuffled, None)] == [iv.kwh for iv in intervals(readings, None)]


@given(steps, st.integers(0, 59))
def test_duplicates_are_counted_once(steps, dup_index):
    readings = counter_readings(steps)
    duplicated = readings + [readings[dup_index % len(readings)]]
    assert math.fsum(iv.kwh for iv in intervals(duplicated, None)) == math.fsum(
        iv.kwh for iv in intervals(readings, None)
    )


@given(st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=2, max_size=50))
def test_energy_is_never_negative(values):
    readings = [
        Reading(ts_ms=T0 + i * MINUTE, received_ms=T0, identity=str(i), energy_kwh=abs(v)) for i, v in enumerate(values)
    ]
    assert all(iv.kwh >= 0 for iv in intervals(readings, None))


@given(steps, st.integers(1, 59), st.floats(0, 1, allow_nan=False))
def test_a_reset_counts_what_came_after_it(steps, split, restart):
    before = counter_readings(steps)
    cut = split % len(before)
    assume(cut > 0)
    after = [
        Reading(
            ts_ms=r.ts_ms,
            received_ms=r.received_ms,
            identity=r.identity,
            energy_kwh=restart + r.energy_kwh - before[cut].energy_kwh,
        )
        for r in before[cut:]
    ]
    readings = before[:cut] + after
    total = math.fsum(iv.kwh for iv in intervals(readings, None))
    # The counter restarts near 0 (far below ~100 kWh): a reset, never negative consumption.
    expected = (
        (before[cut - 1].energy_kwh - before[0].energy_kwh) + restart + (after[-1].energy_kwh - after[0].energy_kwh)
    )
    assert math.isclose(total, expected, abs_tol=1e-9)


@settings(max_examples=50)
@given(st.lists(st.floats(0, 5000, allow_nan=False), min_size=2, max_size=40), st.integers(1, 15))
def test_power_integration_is_trapezoidal_and_skips_gaps(powers, minutes):
    readings = [
        Reading(ts_ms=T0 + i * minutes * MINUTE, received_ms=T0, identity=str(i), power_w=p)
        for i, p in enumerate(powers)
    ]
    total = math.fsum(iv.kwh for iv in intervals(readings, None))
    expected = math.fsum((a + b) / 2 * minutes / 60 / 1000 for a, b in zip(powers, powers[1:]))
    assert math.isclose(total, expected, rel_tol=1e-9, abs_tol=1e-12)
    gap = [readings[0], Reading(ts_ms=T0 + MAX_GAP_MS + MINUTE, received_ms=T0, identity="late", power_w=100)]
    assert intervals(gap, None)[1].flag == "gap" and intervals(gap, None)[1].kwh == 0


@given(st.floats(1, 10_000), st.integers(1, 60))
def test_a_jump_beyond_the_power_limit_is_flagged_and_not_counted(jump_kwh, minutes):
    limit_w = 5000.0
    a = Reading(ts_ms=T0, received_ms=T0, identity="a", energy_kwh=10.0)
    b = Reading(ts_ms=T0 + minutes * MINUTE, received_ms=T0, identity="b", energy_kwh=10.0 + jump_kwh)
    iv = intervals([a, b], None, limit_w)[1]
    implied_w = jump_kwh * 1000 / (minutes / 60)
    if implied_w > limit_w:
        assert iv.flag == "impossible_jump" and iv.kwh == 0
    else:
        assert math.isclose(iv.kwh, jump_kwh, rel_tol=1e-9)

"""Alert conditions for a run of readings (pure: no I/O).

For each new reading (after the last one evaluated in (device time, identity)
order, so a redelivered message raises nothing, and readings that share a
time, such as a batch sent without timestamps, are each evaluated): thresholds (power, voltage, current, temperature),
a spike against the device's recent baseline (an exponentially weighted
mean of power), and an anomaly against the same local hour of past days (a
running mean and variance per hour of day, Welford's method). The state that
carries baseline and profile from message to message is returned updated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from gridpulse.alerts.rules import AlertRules
from gridpulse.telemetry.readings import Reading

BASELINE_ALPHA = 0.1
SPIKE_FLOOR_W = 100.0  # a "spike" from 5 W to 20 W is not worth a page
ANOMALY_MIN_DAYS = 3
ANOMALY_Z = 4.0


@dataclass
class Breach:
    alert_type: str
    severity: str
    message: str
    value: float
    threshold: float | None
    at_ms: int
    occurrences: int = 1


@dataclass
class State:
    last_ts: int = 0
    # Identity of the last reading evaluated at last_ts; None (state written
    # before identities were kept) means every reading at last_ts was seen.
    last_key: str | None = None
    baseline_w: float | None = None
    profile: dict = field(default_factory=dict)  # hour -> [n, mean, m2]
    hour_acc: list | None = None  # [hour key "YYYY-MM-DDTHH", hour of day, sum, n]
    breaches: dict = field(default_factory=dict)  # type -> last breach ms


def _threshold_breaches(r: Reading, rules: AlertRules) -> list[Breach]:
    out = []
    checks = [
        ("over_power", r.power_w, rules.max_power_w, lambda v, t: v > t, "Power {v:.0f} W above {t:.0f} W"),
        ("over_voltage", r.voltage, rules.max_voltage, lambda v, t: v > t, "Voltage {v:.1f} V above {t:.1f} V"),
        ("under_voltage", r.voltage, rules.min_voltage, lambda v, t: 0 < v < t, "Voltage {v:.1f} V below {t:.1f} V"),
        ("over_current", r.current, rules.max_current, lambda v, t: v > t, "Current {v:.2f} A above {t:.2f} A"),
        (
            "over_temperature",
            r.temperature,
            rules.max_temperature,
            lambda v, t: v > t,
            "Temperature {v:.1f} C above {t:.1f} C",
        ),
    ]
    for alert_type, value, limit, breached, text in checks:
        if value is not None and breached(value, limit):
            severe = alert_type in ("over_current", "over_temperature") or (
                alert_type == "over_power" and value > limit * 1.5
            )
            out.append(
                Breach(
                    alert_type,
                    "critical" if severe else "warning",
                    text.format(v=value, t=limit),
                    value,
                    limit,
                    r.ts_ms,
                )
            )
    return out


def _fold_hour(state: State) -> None:
    """Close the hour being accumulated into the hour-of-day profile."""
    if not state.hour_acc or state.hour_acc[3] == 0:
        return
    _, hour, total, n = state.hour_acc
    mean_of_hour = total / n
    count, mean, m2 = state.profile.get(str(hour), [0, 0.0, 0.0])
    count += 1
    delta = mean_of_hour - mean
    mean += delta / count
    m2 += delta * (mean_of_hour - mean)
    state.profile[str(hour)] = [count, mean, m2]


def evaluate(readings: list[Reading], rules: AlertRules, state: State, tz: ZoneInfo) -> tuple[list[Breach], int]:
    """Breaches found in the new readings, merged per type; and how many readings were new."""
    found: dict[str, Breach] = {}
    fresh = 0
    done = (state.last_ts, state.last_key if state.last_key is not None else "\U0010ffff")
    for r in sorted(readings, key=lambda x: (x.ts_ms, x.identity)):
        if (r.ts_ms, r.identity) <= done:
            continue  # already evaluated (duplicate delivery) or older than what we saw
        fresh += 1
        breaches = _threshold_breaches(r, rules)
        p = r.power_w
        if p is not None:
            if state.baseline_w and p > SPIKE_FLOOR_W and p > rules.spike_factor * state.baseline_w:
                # "info": a spike is worth seeing, not an email (an air conditioner starting is one).
                breaches.append(
                    Breach(
                        "spike",
                        "info",
                        f"Power {p:.0f} W is {p / state.baseline_w:.1f}x the recent baseline {state.baseline_w:.0f} W",
                        p,
                        rules.spike_factor * state.baseline_w,
                        r.ts_ms,
                    )
                )
            local = datetime.fromtimestamp(r.ts_ms / 1000, tz)
            key = local.strftime("%Y-%m-%dT%H")
            if rules.anomaly:
                count, mean, m2 = state.profile.get(str(local.hour), [0, 0.0, 0.0])
                if count >= ANOMALY_MIN_DAYS:
                    sd = math.sqrt(m2 / (count - 1)) if count > 1 else 0.0
                    margin = max(ANOMALY_Z * sd, 0.5 * mean, SPIKE_FLOOR_W)
                    if abs(p - mean) > margin:
                        breaches.append(
                            Breach(
                                "anomaly",
                                "info",
                                f"Power {p:.0f} W is unusual for {local.hour:02d}:00 (usually {mean:.0f} W)",
                                p,
                                mean,
                                r.ts_ms,
                            )
                        )
            if not state.hour_acc or state.hour_acc[0] != key:
                _fold_hour(state)
                state.hour_acc = [key, local.hour, 0.0, 0]
            state.hour_acc[2] += p
            state.hour_acc[3] += 1
            state.baseline_w = (
                p if state.baseline_w is None else (BASELINE_ALPHA * p + (1 - BASELINE_ALPHA) * state.baseline_w)
            )
        for breach in breaches:
            state.breaches[breach.alert_type] = r.ts_ms
            if breach.alert_type in found:
                found[breach.alert_type].occurrences += 1
                found[breach.alert_type].value = breach.value
                found[breach.alert_type].at_ms = breach.at_ms
            else:
                found[breach.alert_type] = breach
        state.last_ts, state.last_key = r.ts_ms, r.identity
        done = (r.ts_ms, r.identity)
    return list(found.values()), fresh


def cleared(state: State, rules: AlertRules, now_ms: int, still_breached: set[str]) -> list[str]:
    """Types whose condition has been clear for `clear_after_s` (to resolve)."""
    return [
        t
        for t, last in state.breaches.items()
        if t not in still_breached and t != "offline" and now_ms - int(last) >= rules.clear_after_s * 1000
    ]

"""Per-device alert rules, with defaults derived from the device.

Stored on the device's partition of the devices table (sk `alert-rules`);
a device without stored rules gets the defaults, so alerting works from the
first reading.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from pynamodb.exceptions import DoesNotExist

from gridpulse.alerts.data import AlertRulesItem
from gridpulse.devices.data import DeviceItem

NOMINAL_VOLTAGE = 230.0
CACHE_TTL_S = 60


@dataclass(frozen=True)
class AlertRules:
    max_power_w: float
    min_voltage: float
    max_voltage: float
    max_current: float
    max_temperature: float
    spike_factor: float
    offline_after_s: int
    notify: bool
    anomaly: bool = True
    clear_after_s: int = 300


def defaults(power_rating_w: float | None) -> AlertRules:
    rating = float(power_rating_w) if power_rating_w else None
    return AlertRules(
        max_power_w=round(rating * 1.1, 1) if rating else 10_000.0,
        min_voltage=round(NOMINAL_VOLTAGE * 0.9, 1),  # EN 50160: +-10 %
        max_voltage=round(NOMINAL_VOLTAGE * 1.1, 1),
        max_current=round(rating / NOMINAL_VOLTAGE * 1.25, 2) if rating else 63.0,
        max_temperature=70.0,
        spike_factor=3.0,
        offline_after_s=900,
        notify=True,
    )


_cache: dict[str, tuple[float, AlertRules]] = {}


def rules_for(device: DeviceItem, use_cache: bool = True) -> AlertRules:
    cached = _cache.get(device.device_id)
    if use_cache and cached and time.monotonic() - cached[0] < CACHE_TTL_S:
        return cached[1]
    base = asdict(defaults(device.power_rating_w))
    try:
        stored = json.loads(AlertRulesItem.get(DeviceItem.key(device.device_id), "alert-rules").rules)
    except DoesNotExist:
        stored = {}
    rules = AlertRules(**{**base, **{k: v for k, v in stored.items() if k in base}})
    _cache[device.device_id] = (time.monotonic(), rules)
    return rules


def save_rules(device: DeviceItem, changes: dict) -> AlertRules:
    current = asdict(rules_for(device, use_cache=False))
    merged = {**current, **changes}
    check_consistent(AlertRules(**merged))
    AlertRulesItem(DeviceItem.key(device.device_id), "alert-rules", rules=json.dumps(merged)).save()
    _cache.pop(device.device_id, None)
    return AlertRules(**merged)


def forget() -> None:
    _cache.clear()


def check_consistent(rules: AlertRules) -> None:
    """Cross-field checks after merging a change into the current rules."""
    from gridpulse.errors import BadRequest, field_error

    if rules.min_voltage >= rules.max_voltage:
        raise BadRequest(
            "min_voltage must be below max_voltage.",
            code="validation_error",
            fields=[
                field_error("min_voltage", f"must be below max_voltage ({rules.max_voltage})"),
                field_error("max_voltage", f"must be above min_voltage ({rules.min_voltage})"),
            ],
        )

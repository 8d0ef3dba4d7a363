"""A prepaid meter's specification: its data points and their scaling.

Codes, scales and ranges differ between meter products, so every conversion
goes through the device's own specification (`GET /v1.0/iot-03/devices/{id}/specification`,
whose `values` are JSON strings). An Integer data point carries `raw = value * 10**scale`;
`to_device` converts an exact Decimal to that integer and refuses anything it
would have to round, `from_device` converts back. Never binary floats.

Two kinds of meter:
* "money": tops up in money (`charge_money`, `charge_token`), has a unit price
  (`goods_price`), `clear_energy`, `prepayment_switch` and a money balance;
* "energy": tops up in kWh (`charge_energy`), reports `balance_energy` and has
  `switch_prepayment`; money is converted at the unit price (`money_to_kwh`).
"""

from __future__ import annotations

import dataclasses
import decimal
import json
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

MONEY_CODES = ("charge_money", "charge_token", "goods_price", "clear_energy", "prepayment_switch")
ENERGY_CODES = ("charge_energy", "balance_energy", "switch_prepayment")
# The data point each role is read from or written to, first match wins.
ROLES: dict[str, tuple[str, ...]] = {
    "charge_money": ("charge_money",),
    "charge_token": ("charge_token",),
    "charge_energy": ("charge_energy", "energy_charge"),
    "price": ("goods_price", "price"),
    "reset": ("clear_energy", "energy_reset"),
    "prepayment": ("prepayment_switch", "switch_prepayment"),
    "money_balance": ("balance_money", "money_balance", "balance"),
    "energy_balance": ("balance_energy", "energy_balance"),
    "energy_total": ("forward_energy_total", "total_forward_energy"),
    "relay": ("switch", "switch_1"),
}

_CONTEXT = decimal.Context(prec=50, traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


@dataclasses.dataclass(frozen=True)
class DataPoint:
    """One data point: `type` is Tuya's (Integer, Boolean, Enum, String, Bitmap, Raw, Json)."""

    code: str
    type: str
    scale: int = 0
    min: int | None = None
    max: int | None = None
    step: int = 1
    unit: str = ""
    writable: bool = False
    range: tuple[str, ...] = ()  # Enum values
    maxlen: int | None = None  # String
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_tuya(cls, entry: Mapping[str, Any], *, writable: bool) -> DataPoint:
        raw = entry.get("values") or "{}"
        values = json.loads(raw) if isinstance(raw, str) else dict(raw)
        if not isinstance(values, dict):
            values = {}

        def _int(key: str, default: int | None = None) -> int | None:
            v = values.get(key)
            return default if v is None or isinstance(v, bool) else int(v)

        return cls(
            code=str(entry["code"]),
            type=str(entry.get("type") or ""),
            scale=_int("scale", 0) or 0,
            min=_int("min"),
            max=_int("max"),
            step=max(_int("step", 1) or 1, 1),
            unit=str(values.get("unit") or ""),
            writable=writable,
            range=tuple(str(r) for r in values.get("range") or ()),
            maxlen=_int("maxlen"),
            values=values,
        )

    @property
    def is_integer(self) -> bool:
        return self.type.lower() in ("integer", "value")

    @property
    def quantum(self) -> Decimal:
        """The smallest step of the decimal value (10**-scale)."""
        return Decimal(1).scaleb(-self.scale)


@dataclasses.dataclass(frozen=True)
class MeterSpec:
    """Data points by code (`points`), the product `category` and the meter `kind` ("money" or "energy")."""

    points: Mapping[str, DataPoint]
    category: str = ""

    @classmethod
    def from_tuya(cls, result: Mapping[str, Any]) -> MeterSpec:
        """From the `result` of the specification call ({category, functions, status})."""
        points: dict[str, DataPoint] = {}
        for entry in result.get("status") or ():
            points[entry["code"]] = DataPoint.from_tuya(entry, writable=False)
        for entry in result.get("functions") or ():  # a function is writable; it wins over its status twin
            points[entry["code"]] = DataPoint.from_tuya(entry, writable=True)
        return cls(points=points, category=str(result.get("category") or ""))

    # ------------------------------------------------------------ what it is

    @property
    def kind(self) -> str | None:
        """ "money" if it tops up in money, "energy" if in kWh, None if it is not a prepaid meter."""
        if "charge_money" in self.points or "charge_token" in self.points:
            return "money"
        if any(code in self.points for code in ("charge_energy", "energy_charge")):
            return "energy"
        if any(code in self.points for code in MONEY_CODES):
            return "money"
        if any(code in self.points for code in ENERGY_CODES):
            return "energy"
        return None

    def code_for(self, role: str) -> str | None:
        """This meter's data point for a role of ROLES (e.g. "prepayment" -> prepayment_switch
        or switch_prepayment), or None when it has none."""
        return next((code for code in ROLES[role] if code in self.points), None)

    def point(self, code: str) -> DataPoint:
        try:
            return self.points[code]
        except KeyError:
            raise ValueError(f"the meter has no data point {code!r}") from None

    # ------------------------------------------------------------ scaling

    def to_device(self, code: str, value: Decimal) -> int:
        """The scaled integer for `value`; ValueError if it has more decimals than the
        scale, is off the step, or is outside min/max."""
        dp = self.point(code)
        if not dp.is_integer:
            raise ValueError(f"{code} is a {dp.type} data point, not a number")
        if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int)):
            raise ValueError(f"{code} needs an exact Decimal, not {type(value).__name__}")
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"{code}: {value} is not a finite number")
        scaled = _CONTEXT.multiply(value, Decimal(1).scaleb(dp.scale))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{code} takes at most {dp.scale} decimal places, not {value}")
        raw = int(scaled)
        if dp.min is not None and raw < dp.min:
            raise ValueError(f"{code} must be at least {self.from_device(code, dp.min)}, not {value}")
        if dp.max is not None and raw > dp.max:
            raise ValueError(f"{code} must be at most {self.from_device(code, dp.max)}, not {value}")
        if (raw - (dp.min or 0)) % dp.step:
            raise ValueError(f"{code} moves in steps of {self.from_device(code, dp.step)}, not {value}")
        return raw

    def from_device(self, code: str, raw: int) -> Decimal:
        """The exact decimal of a raw integer value (raw / 10**scale)."""
        dp = self.point(code)
        if isinstance(raw, bool) or not isinstance(raw, int):
            try:
                raw = int(str(raw))
            except ValueError:
                raise ValueError(f"{code}: {raw!r} is not a whole number") from None
        return Decimal(raw).scaleb(-dp.scale)

    def money_to_kwh(self, amount: Decimal, unit_price: Decimal) -> Decimal:
        """kWh that `amount` buys at `unit_price` (money per kWh), rounded down to the precision
        of the meter's energy top-up data point (the buyer is never given energy not paid for)."""
        code = self.code_for("charge_energy")
        if code is None:
            raise ValueError("the meter does not top up in energy")
        if isinstance(amount, float) or isinstance(unit_price, float):
            raise ValueError("money_to_kwh needs exact Decimals")
        amount, unit_price = Decimal(amount), Decimal(unit_price)
        if unit_price <= 0:
            raise ValueError(f"the unit price must be above zero, not {unit_price}")
        if amount < 0:
            raise ValueError(f"the amount must not be negative, not {amount}")
        return _CONTEXT.divide(amount, unit_price).quantize(self.points[code].quantum, rounding=ROUND_DOWN)

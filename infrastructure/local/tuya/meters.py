"""The stand-in's prepaid meters: two products and a simple consumption model.

* "money" product (PRODUCT_MONEY): tops up in money (`charge_money`, or a
  20-digit `charge_token` worth TOKEN_VALUE), has `goods_price`, `clear_energy`,
  `prepayment_switch` and reports `balance_money`;
* "energy" product (PRODUCT_ENERGY): tops up in kWh (`charge_energy`),
  reports `balance_energy`, has `switch_prepayment` and `clear_energy`.

Each meter draws a steady load (a few hundred watts, different per meter, times
`speed`). While prepayment is on, what it consumes comes off its balance (money
at its price, or kWh); at zero the relay (`switch`) opens and the fault bit
"remaining energy zero" is set; a top-up closes it again. State is exact
Decimals; the status reports scaled integers, rounded down.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import ROUND_DOWN, Decimal

PRODUCT_MONEY = "gpprepaidmoney01"
PRODUCT_ENERGY = "gpprepaidenergy1"
TOKEN_VALUE = Decimal("100.00")  # what a valid 20-digit token adds to a money meter
FAULT_ZERO_CREDIT = 4  # bit of `fault`: remaining energy/credit is zero


def _int(unit: str, scale: int, lo: int, hi: int) -> str:
    return json.dumps({"unit": unit, "min": lo, "max": hi, "scale": scale, "step": 1})


BOOL = "{}"
SPECS = {
    PRODUCT_MONEY: {
        "category": "zndb",
        "functions": [
            {"code": "charge_money", "type": "Integer", "values": _int("", 2, 1, 10_000_000)},
            {"code": "charge_token", "type": "String", "values": json.dumps({"maxlen": 20})},
            {"code": "goods_price", "type": "Integer", "values": _int("", 2, 1, 99_999)},
            {"code": "clear_energy", "type": "Boolean", "values": BOOL},
            {"code": "prepayment_switch", "type": "Boolean", "values": BOOL},
            {"code": "switch", "type": "Boolean", "values": BOOL},
        ],
        "status": [
            {"code": "balance_money", "type": "Integer", "values": _int("", 2, 0, 999_999_999)},
            {"code": "forward_energy_total", "type": "Integer", "values": _int("kW·h", 2, 0, 99_999_999)},
            {"code": "goods_price", "type": "Integer", "values": _int("", 2, 1, 99_999)},
            {"code": "prepayment_switch", "type": "Boolean", "values": BOOL},
            {"code": "switch", "type": "Boolean", "values": BOOL},
            {"code": "cur_power", "type": "Integer", "values": _int("W", 0, 0, 99_999)},
            {"code": "fault", "type": "Bitmap", "values": json.dumps({"label": ["ov_vol", "ov_cur", "zero_credit"]})},
        ],
    },
    PRODUCT_ENERGY: {
        "category": "zndb",
        "functions": [
            {"code": "charge_energy", "type": "Integer", "values": _int("kW·h", 2, 1, 999_999)},
            {"code": "clear_energy", "type": "Boolean", "values": BOOL},
            {"code": "switch_prepayment", "type": "Boolean", "values": BOOL},
            {"code": "switch", "type": "Boolean", "values": BOOL},
        ],
        "status": [
            {"code": "balance_energy", "type": "Integer", "values": _int("kW·h", 2, 0, 99_999_999)},
            {"code": "forward_energy_total", "type": "Integer", "values": _int("kW·h", 2, 0, 99_999_999)},
            {"code": "switch_prepayment", "type": "Boolean", "values": BOOL},
            {"code": "switch", "type": "Boolean", "values": BOOL},
            {"code": "cur_power", "type": "Integer", "values": _int("W", 0, 0, 99_999)},
            {"code": "fault", "type": "Bitmap", "values": json.dumps({"label": ["ov_vol", "ov_cur", "zero_credit"]})},
        ],
    },
}
PRODUCT_NAMES = {PRODUCT_MONEY: "GridPulse prepaid meter (money)", PRODUCT_ENERGY: "GridPulse prepaid meter (kWh)"}


class CommandError(ValueError):
    """A command the meter refuses (Tuya 2008)."""


class Meter:
    """One prepaid meter. Thread-safe; `advance()` runs the consumption model up to now."""

    def __init__(self, device_id: str, name: str, product_id: str, watts: int, *, speed: float = 1.0, clock=time.time):
        self.id = device_id
        self.name = name
        self.product_id = product_id
        self.online = True
        self.watts = watts
        self.speed = speed
        self._clock = clock
        self._lock = threading.RLock()
        self.created = int(clock())
        self.updated_ms = int(clock() * 1000)
        self._last = clock()
        self.prepayment = True
        self.relay = True
        self.price = Decimal("0.25")  # money per kWh (money meters)
        self.energy_total = Decimal("1200")  # kWh
        self.balance = Decimal("50.00") if product_id == PRODUCT_MONEY else Decimal("200.00")  # money or kWh
        self.charges: list[dict] = []  # every accepted charge, oldest first

    @property
    def kind(self) -> str:
        return "money" if self.product_id == PRODUCT_MONEY else "energy"

    @property
    def spec(self) -> dict:
        return SPECS[self.product_id]

    def advance(self) -> None:
        with self._lock:
            now = self._clock()
            hours = Decimal(str(max(0.0, now - self._last) * self.speed)) / 3600
            self._last = now
            if not self.relay:
                return
            kwh = (Decimal(self.watts) / 1000 * hours).quantize(Decimal("0.000001"))
            if self.prepayment:
                cost = kwh * self.price if self.kind == "money" else kwh
                if cost >= self.balance:  # runs out: only what the credit paid for is drawn
                    kwh = self.balance / self.price if self.kind == "money" else self.balance
                    self.balance = Decimal(0)
                    self.relay = False
                else:
                    self.balance -= cost
            self.energy_total += kwh

    def status(self) -> list[dict]:
        with self._lock:
            self.advance()
            balance_code = "balance_money" if self.kind == "money" else "balance_energy"
            values = {
                balance_code: _scaled(self.balance, 2),
                "forward_energy_total": _scaled(self.energy_total, 2),
                "switch": self.relay,
                "cur_power": self.watts if self.relay else 0,
                "fault": 0 if self.balance > 0 or not self.prepayment else FAULT_ZERO_CREDIT,
            }
            if self.kind == "money":
                values["goods_price"] = _scaled(self.price, 2)
                values["prepayment_switch"] = self.prepayment
            else:
                values["switch_prepayment"] = self.prepayment
            return [{"code": code, "value": value} for code, value in values.items()]

    def apply(self, commands: list) -> None:
        """Validate every command against the specification (CommandError), then apply them all."""
        functions = {f["code"]: f for f in self.spec["functions"]}
        checked = []
        for command in commands:
            if not isinstance(command, dict) or "code" not in command or "value" not in command:
                raise CommandError("each command needs code and value")
            function = functions.get(command["code"])
            if function is None:
                raise CommandError(f"command {command['code']!r} not supported")
            checked.append((command["code"], _check(function, command["value"])))
        with self._lock:
            self.advance()
            for code, value in checked:
                self._apply(code, value)
            self.updated_ms = int(self._clock() * 1000)

    def _apply(self, code: str, value) -> None:
        if code == "charge_money":
            self._charge(code, value, Decimal(value).scaleb(-2))
        elif code == "charge_energy":
            self._charge(code, value, Decimal(value).scaleb(-2))
        elif code == "charge_token":
            self._charge(code, value, TOKEN_VALUE)
        elif code == "goods_price":
            self.price = Decimal(value).scaleb(-2)
        elif code == "clear_energy":
            if value:
                self.balance = Decimal(0)
                self.relay = False if self.prepayment else self.relay
        elif code in ("prepayment_switch", "switch_prepayment"):
            self.prepayment = value
            if not value:
                self.relay = True
        elif code == "switch":
            self.relay = value and (self.balance > 0 or not self.prepayment)

    def _charge(self, code: str, raw, amount: Decimal) -> None:
        before = self.balance
        self.balance += amount
        if self.balance > 0:
            self.relay = True
        self.charges.append(
            {
                "record_id": f"{self.id}-{len(self.charges) + 1}",
                "code": code,
                "value": raw,
                "amount": str(amount),
                "balance_before": str(before),
                "balance_after": str(self.balance),
                "time": int(self._clock() * 1000),
            }
        )

    def info(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "product_id": self.product_id,
            "product_name": PRODUCT_NAMES[self.product_id],
            "category": self.spec["category"],
            "online": self.online,
            "active_time": self.created,
            "create_time": self.created,
            "update_time": self.updated_ms // 1000,
            "time_zone": "+00:00",
            "uid": "gp-local-user",
            "local_key": "0123456789abcdef",
            "ip": "",
            "sub": False,
        }


def _scaled(value: Decimal, scale: int) -> int:
    return int(value.scaleb(scale).to_integral_value(rounding=ROUND_DOWN))


def _check(function: dict, value):
    kind = function["type"]
    values = json.loads(function["values"] or "{}")
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise CommandError(f"{function['code']} takes true or false")
        return value
    if kind == "Integer":
        if isinstance(value, bool) or not isinstance(value, int):  # floats included: devices take scaled integers
            raise CommandError(f"{function['code']} takes a whole number")
        if not values["min"] <= value <= values["max"] or (value - values["min"]) % values.get("step", 1):
            raise CommandError(f"{function['code']} value {value} out of range")
        return value
    if kind == "String":
        if function["code"] == "charge_token":
            if not isinstance(value, str) or len(value) != 20 or not value.isdigit():
                raise CommandError("charge_token takes a 20-digit token")
        elif not isinstance(value, str) or len(value) > values.get("maxlen", 255):
            raise CommandError(f"{function['code']} takes a string")
        return value
    raise CommandError(f"{function['code']} cannot be set")


def make_meters(count: int, *, speed: float = 1.0, clock=time.time) -> list[Meter]:
    """`count` meters, alternating money and energy products, with stable Tuya-like ids."""
    meters = []
    for i in range(count):
        product = PRODUCT_MONEY if i % 2 == 0 else PRODUCT_ENERGY
        device_id = f"bfgp{i:04d}" + ("a1b2c3d4e5f6a7b8" if product == PRODUCT_MONEY else "c9d8e7f6a5b4c3d2")
        kind = "money" if product == PRODUCT_MONEY else "kWh"
        meters.append(
            Meter(
                device_id, f"Prepaid meter {i + 1} ({kind})", product, 300 + (i * 137) % 900, speed=speed, clock=clock
            )
        )
    return meters

"""An in-memory Tuya Cloud for the billing tests, with the interface of
the Tuya client package (client, errors, spec) as the tuya branch builds it.

`FakeTuya` runs prepaid meters (money or energy kind) whose charges are
additive and not idempotent, like Tuya's. Its `mode` makes it fail:
"down" (nothing reaches the meter, TuyaUnavailable), "lose_answer" (the
command is applied, then TuyaUnavailable: the caller cannot know), "reject"
(TuyaRejected 2008). Use it with `gridpulse.billing.service.use_tuya(lambda: fake)`.

The error classes are the real ones (gridpulse.billing.tuya.errors); its
MeterSpec answers `code_for(role)` like the real one.
"""

from __future__ import annotations

import threading
import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any

from gridpulse.billing.tuya.errors import TuyaRejected, TuyaUnavailable


def _error(cls, message: str, code: Any):
    return cls(message, code=code, request_id=uuid.uuid4().hex)


SCALES = {
    "money": {
        "charge_money": (2, 0, 99999999),
        "goods_price": (2, 1, 999999),
        "balance_money": (2, -99999999, 99999999),
        "forward_energy_total": (2, 0, 99999999),
        "charge_token": None,
        "clear_energy": None,
        "prepayment_switch": None,
    },
    "energy": {
        "charge_energy": (2, 0, 999999),
        "balance_energy": (2, -999999, 999999),
        "forward_energy_total": (2, 0, 99999999),
        "clear_energy": None,
        "switch_prepayment": None,
    },
}


class MeterSpec:
    def __init__(self, kind: str):
        self.kind = kind
        self.codes = set(SCALES[kind])

    def code_for(self, role: str) -> str | None:
        from gridpulse.billing.tuya.spec import ROLES

        return next((code for code in ROLES[role] if code in self.codes), None)

    def _scale(self, code: str) -> tuple[int, int, int]:
        found = SCALES[self.kind].get(code)
        if found is None:
            raise ValueError(f"{code} is not a numeric data point of this meter")
        return found

    def to_device(self, code: str, value: Decimal) -> int:
        scale, low, high = self._scale(code)
        raw = Decimal(value).scaleb(scale)
        if raw != raw.to_integral_value():
            raise ValueError(f"more than {scale} decimals")
        if not low <= raw <= high:
            raise ValueError(f"out of range {low}..{high} (scaled)")
        return int(raw)

    def from_device(self, code: str, raw: int) -> Decimal:
        scale, _, _ = self._scale(code)
        return Decimal(int(raw)).scaleb(-scale)

    def money_to_kwh(self, amount: Decimal, unit_price: Decimal) -> Decimal:
        return (Decimal(amount) / Decimal(unit_price)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


class FakeMeter:
    def __init__(self, kind: str, balance: str = "0", price: str = "20", total_kwh: str = "100"):
        self.kind = kind
        self.balance = Decimal(balance)  # money for money meters, kWh for energy meters
        self.price = Decimal(price)
        self.total_kwh = Decimal(total_kwh)
        self.prepayment = True
        self.tokens: set[str] = set()


class FakeTuya:
    def __init__(self):
        self.meters: dict[str, FakeMeter] = {}
        self.mode = "up"
        self.lock = threading.Lock()
        self.commands: list[tuple[str, list[dict]]] = []  # every command that reached a meter
        self.calls = 0

    def add_meter(self, device_id: str, kind: str = "money", **kw) -> FakeMeter:
        self.meters[device_id] = FakeMeter(kind, **kw)
        return self.meters[device_id]

    def _meter(self, device_id: str) -> FakeMeter:
        with self.lock:
            self.calls += 1
        if self.mode == "down":
            raise _error(TuyaUnavailable, "connection timed out", None)
        meter = self.meters.get(device_id)
        if meter is None:
            raise _error(TuyaRejected, "device not exist", 2010)
        return meter

    # ------------------------------------------------------------ the client's interface

    def device(self, device_id: str) -> dict:
        meter = self._meter(device_id)
        return {"id": device_id, "name": f"Meter {device_id}", "online": True, "product_id": meter.kind}

    def specification(self, device_id: str) -> MeterSpec:
        return MeterSpec(self._meter(device_id).kind)

    def device_status(self, device_id: str) -> dict[str, Any]:
        meter = self._meter(device_id)
        spec = MeterSpec(meter.kind)
        with self.lock:
            status: dict[str, Any] = {"forward_energy_total": spec.to_device("forward_energy_total", meter.total_kwh)}
            if meter.kind == "money":
                status["balance_money"] = int(meter.balance.scaleb(2))
                status["goods_price"] = spec.to_device("goods_price", meter.price)
                status["prepayment_switch"] = meter.prepayment
            else:
                status["balance_energy"] = int(meter.balance.scaleb(2))
                status["switch_prepayment"] = meter.prepayment
        return status

    def devices_status(self, device_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The batch status read (20 ids per Tuya call in the real client): one call here;
        unknown ids are left out, as Tuya does."""
        with self.lock:
            self.calls += 1
        if self.mode == "down":
            raise _error(TuyaUnavailable, "connection timed out", None)
        out = {}
        for device_id in device_ids:
            if device_id in self.meters:
                out[device_id] = self.device_status(device_id)
                with self.lock:
                    self.calls -= 1  # counted once for the batch
        return out

    def send_commands(self, device_id: str, commands: list[dict]) -> bool:
        meter = self._meter(device_id)
        if self.mode == "reject":
            raise _error(TuyaRejected, "command or value not support", 2008)
        spec = MeterSpec(meter.kind)
        with self.lock:
            for command in commands:
                code, value = command["code"], command["value"]
                if code not in spec.codes:
                    raise _error(TuyaRejected, "command or value not support", 2008)
                if code in ("charge_money", "charge_energy"):
                    meter.balance += spec.from_device(code, value)
                elif code == "charge_token":
                    if value in meter.tokens:
                        raise _error(TuyaRejected, "token already used", 2008)
                    meter.tokens.add(value)
                    meter.balance += Decimal("100")
                elif code == "goods_price":
                    meter.price = spec.from_device(code, value)
                elif code == "clear_energy":
                    meter.balance = Decimal(0)
                else:
                    meter.prepayment = bool(value)
            self.commands.append((device_id, commands))
        if self.mode == "lose_answer":
            raise _error(TuyaUnavailable, "read timed out", None)
        return True

    def list_devices(self, page_size: int = 100, last_row_key: str | None = None):
        ids = sorted(self.meters)
        start = ids.index(last_row_key) + 1 if last_row_key in ids else 0
        page = ids[start : start + page_size]
        more = start + page_size < len(ids)
        return [self.device(i) for i in page], (page[-1] if more else None)

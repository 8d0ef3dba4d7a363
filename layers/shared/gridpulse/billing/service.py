"""Prepaid billing of Tuya meters: commands, balances, usage, tariffs, assignments.

Every money or energy operation (top-up, token, price, reset, prepayment
mode) is a ledger entry written before Tuya is asked (gridpulse.billing.ledger),
then one of:

* Tuya accepted: the entry and the meter's books move together (applied, 200);
* Tuya refused (`TuyaRejected`): the entry fails, 502 `billing_error` with
  Tuya's code and message, the ledger id and `failed` (no money moved);
* Tuya unreachable (`TuyaUnavailable`, or no Tuya client configured): the
  entry stays pending, 202, and a message on the retry queue
  (BillingRetryQueue) has `retry_pending` try again with backoff (first retry
  after RETRY_DELAYS_S[0] seconds). A top-up that may have reached Tuya is
  never sent twice: before sending again the worker reads the meter and
  settles the entry as applied when its balance shows it. A token that may
  have reached Tuya is looked up in the meter's charge records first
  (`_token_recorded`) and settled as applied when they hold it.

The Tuya client is created lazily (not at import: cold start) by
`tuya_factory`, the Tuya client package's `client_from_environment` by
default; tests swap it with `use_tuya(factory)`. Tuya's errors are the
client package's classes (gridpulse.billing.tuya.errors: TuyaRejected,
TuyaUnavailable; see `tuya_outcome`), and each meter's data points are found
with its specification's `MeterSpec.code_for(role)`, never guessed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable

from gridpulse.accounts.roles import Caller, Role
from gridpulse.aws import client
from gridpulse.billing import data, ledger
from gridpulse.billing.tuya.errors import TuyaError, TuyaRejected, TuyaUnavailable
from gridpulse.devices.data import DeviceItem
from gridpulse.dynamodb import get_or_none
from gridpulse.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, field_error
from gridpulse.observability import count, each_record, logger, note_device_type
from gridpulse.pagination import decode_token, encode_token
from gridpulse.sites import scope
from gridpulse.timeutil import iso, utcnow

# Seconds before each retry of a pending entry (SQS DelaySeconds, at most 900);
# after the last one the entry fails with connection_error.
RETRY_DELAYS_S = (30, 60, 120, 300, 600, 900, 900, 900)
SPEC_TTL_S = 600
# Credit under this many kWh reads as "low" (money meters: at the unit price).
LOW_CREDIT_KWH = Decimal("10")
DEFAULT_CURRENCY = "KES"
KWH_QUANTUM = Decimal("0.01")  # energy a money top-up buys, rounded down

# The role (gridpulse.billing.tuya.spec.ROLES) each operation writes, per meter kind;
# the meter's own data point for it comes from MeterSpec.code_for(role).
ROLES = {
    "money": {
        "add_balance": "charge_money",
        "add_token": "charge_token",
        "set_price": "price",
        "reset_balance": "reset",
        "prepayment_mode": "prepayment",
    },
    "energy": {
        "add_balance": "charge_energy",
        "add_token": "charge_token",
        "set_price": None,  # no price on the device: kept in our tariff history for money -> kWh
        "reset_balance": "reset",
        "prepayment_mode": "prepayment",
    },
}
# What a pending entry shows as its command until the meter's specification is read.
PENDING_COMMANDS = {
    "add_balance": "charge_money",
    "add_token": "charge_token",
    "set_price": "goods_price",
    "reset_balance": "clear_energy",
    "prepayment_mode": "prepayment_switch",
}
TOP_UPS = ("add_balance",)


# ---------------------------------------------------------------- the Tuya client


def _default_tuya_factory():
    from gridpulse.billing.tuya.client import client_from_environment

    return client_from_environment()


tuya_factory: Callable[[], Any] = _default_tuya_factory
_tuya: Any = None
_specs: dict[str, tuple[float, Any]] = {}


def use_tuya(factory: Callable[[], Any] | None) -> None:
    """Use `factory` for the Tuya client from now on (None: the real one)."""
    global tuya_factory, _tuya
    tuya_factory = factory or _default_tuya_factory
    _tuya = None
    _specs.clear()


class TuyaNotConfigured(TuyaUnavailable):
    """No Tuya client can be made here (package or configuration missing): treated as unreachable."""


class TuyaRefusedSpec(ApiError):
    """Tuya refused to describe the meter before any ledger entry was written: 502, no money moved."""

    status = 502
    code = "billing_error"

    def __init__(self, exc: TuyaRejected):
        super().__init__(
            f"Tuya refused to describe this meter ({exc.code}: {exc.message}); nothing was sent.",
            fields=[field_error("device_id", f"Tuya {exc.code}: {exc.message}", "tuya_rejected")],
        )


def tuya():
    global _tuya
    if _tuya is None:
        try:
            _tuya = tuya_factory()
        except (ImportError, KeyError, ValueError, RuntimeError) as exc:
            raise TuyaNotConfigured(f"Tuya client unavailable: {type(exc).__name__}: {exc}") from exc
    return _tuya


def tuya_outcome(exc: BaseException) -> str | None:
    """'rejected' (Tuya said no, nothing happened), 'unavailable' (outcome
    unknown) or None (not a Tuya error) for an exception."""
    if isinstance(exc, TuyaUnavailable):
        return "unavailable"
    if isinstance(exc, TuyaError):  # TuyaRejected and the other refusals
        return "rejected"
    return None


def spec_of(external_id: str, product_id: str | None = None):
    """The meter's specification, cached in this container for SPEC_TTL_S. With the meter's
    Tuya `product_id` (the device listing has it) it is cached per product: Tuya's data points
    are a product's, so a sync reads one specification per product, not one per meter."""
    now = time.monotonic()
    for cache_key in (f"product:{product_id}" if product_id else None, external_id):
        cached = _specs.get(cache_key) if cache_key else None
        if cached and cached[0] > now:
            return cached[1]
    spec = tuya().specification(external_id)
    _specs[external_id] = (now + SPEC_TTL_S, spec)
    if product_id:
        _specs[f"product:{product_id}"] = (now + SPEC_TTL_S, spec)
    return spec


# ---------------------------------------------------------------- access


@dataclass
class Meter:
    device: DeviceItem
    assigned: bool

    @property
    def device_id(self) -> str:
        return self.device.device_id

    @property
    def external_id(self) -> str:
        return str(self.device.external_id)


def _assignment(device_id: str, user_id: str) -> dict | None:
    return data.get(data.meter_pk(device_id), f"{data.ASSIGN_PREFIX}{user_id}")


def is_prepaid(device: DeviceItem) -> bool:
    return device.device_type == "prepaid_meter" and bool(device.external_id)


def meter_for(caller: Caller, device_id: str, write: bool = False) -> Meter:
    """The prepaid meter `device_id` as `caller` may use it.

    Outside the caller's scope (and not assigned to it): 404. A write needs
    admin, an operator in scope, or a user assigned to the meter: others 403.
    A device that is not a prepaid Tuya meter: 409 `not_a_prepaid_meter`."""
    device = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta") if len(device_id) <= 128 else None
    if device is None:
        raise NotFound("No such device.", code="device_not_found")
    in_scope = scope.sees_device(caller, device)
    assigned = False
    if not caller.is_admin and (write or not in_scope):
        assigned = _assignment(device_id, caller.user_id) is not None
    if not in_scope and not assigned:
        raise NotFound("No such device.", code="device_not_found")
    if write and not (caller.is_admin or assigned or (caller.role is Role.operator and in_scope)):
        raise Forbidden("Only an admin, an operator or a user assigned to this meter may do this.", code="forbidden")
    if not is_prepaid(device):
        raise Conflict(
            "This device is not a prepaid meter (device_type prepaid_meter with a Tuya external_id).",
            code="not_a_prepaid_meter",
            fields=[field_error("device_id", "not a prepaid meter", "not_prepaid")],
        )
    return Meter(device, assigned)


def check_external_id(external_id: str) -> str:
    """The kind ("money" or "energy") of the Tuya prepaid meter `external_id`, asked of Tuya
    when an admin registers it (POST /devices). 400 `unknown_external_id` naming external_id
    when Tuya has no such device or it is not a prepaid meter; 502 `connection_error` when
    Tuya cannot be reached (nothing is registered)."""
    try:
        kind = spec_of(external_id).kind
    except TuyaUnavailable as exc:
        raise TuyaUnreachable(exc) from None
    except TuyaRejected as exc:
        raise BadRequest(
            f"Tuya does not know the device {external_id} ({exc.code}: {exc.message}).",
            code="unknown_external_id",
            fields=[field_error("external_id", "no such device in the Tuya project", "unknown")],
        ) from None
    if kind is None:
        raise BadRequest(
            f"The Tuya device {external_id} is not a prepaid meter (no charge data point).",
            code="unknown_external_id",
            fields=[field_error("external_id", "not a prepaid meter", "not_prepaid")],
        )
    return kind


class TuyaUnreachable(ApiError):
    status = 502
    code = "connection_error"

    def __init__(self, exc: TuyaUnavailable):
        super().__init__(f"Tuya could not be reached to check the meter ({exc.message}); try again later.")


def _meter_by_id(device_id: str) -> Meter | None:
    device = get_or_none(DeviceItem, DeviceItem.key(device_id), "meta")
    return Meter(device, False) if device is not None and is_prepaid(device) else None


# ---------------------------------------------------------------- books


def books(device_id: str) -> dict[str, Any]:
    return data.get(data.meter_pk(device_id), data.BOOKS, consistent=True) or {}


def books_many(device_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The books of these meters by device id (consistent BatchGetItem, 100 keys per request;
    meters without books are left out)."""
    out: dict[str, dict[str, Any]] = {}
    ids = list(dict.fromkeys(device_ids))
    for i in range(0, len(ids), 100):
        keys = [data.key(data.meter_pk(d), data.BOOKS) for d in ids[i : i + 100]]
        request = {data.table(): {"Keys": keys, "ConsistentRead": True}}
        for _ in range(8):
            got = client("dynamodb").batch_get_item(RequestItems=request)
            for raw in got.get("Responses", {}).get(data.table(), []):
                item = data.load(raw) or {}
                out[item["pk"].split("#", 1)[1]] = item
            request = got.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05)
        else:
            for key in request.get(data.table(), {}).get("Keys", []):  # still unprocessed: one by one
                device_id = key["pk"]["S"].split("#", 1)[1]
                item = books(device_id)
                if item:
                    out[device_id] = item
    return out


def _books_update(device_id: str, expression: str, **vals) -> dict:
    """A books UpdateItem for a transaction; every change adds 1 to `version`."""
    vals["one"] = 1
    return {
        "TableName": data.table(),
        "Key": data.key(data.meter_pk(device_id), data.BOOKS),
        "UpdateExpression": expression + " ADD version :one",
        "ExpressionAttributeValues": data.values(**vals),
    }


@dataclass
class Reading:
    money: Decimal | None = None
    energy: Decimal | None = None
    total_kwh: Decimal | None = None
    prepayment: bool | None = None
    unit_price: Decimal | None = None


def _number(spec, status: dict, role: str) -> Decimal | None:
    """The meter's value for `role` (its own data point, scaled back), None when it has none."""
    code = spec.code_for(role)
    value = status.get(code) if code else None
    if value is None or isinstance(value, bool):
        return None
    try:
        return spec.from_device(code, int(value))
    except (ValueError, KeyError, TypeError):
        return None


def read_meter(meter: Meter, product_id: str | None = None, status: dict | None = None) -> Reading:
    """The meter as Tuya reports it now (two Tuya calls at most: spec is cached). `status`: its
    data points as a batch status read already returned them (no status call then)."""
    spec = spec_of(meter.external_id, product_id)
    if status is None:
        status = tuya().device_status(meter.external_id)
    prepay = status.get(spec.code_for("prepayment") or "")
    return Reading(
        money=_number(spec, status, "money_balance"),
        energy=_number(spec, status, "energy_balance"),
        total_kwh=_number(spec, status, "energy_total"),
        prepayment=prepay if isinstance(prepay, bool) else None,
        unit_price=_number(spec, status, "price"),
    )


def _remember(meter: Meter, reading: Reading, known: dict, kind: str | None) -> dict:
    """Store a live reading in the books, unless they changed since `known` was
    read (a top-up applied meanwhile: the next read catches up)."""
    now = iso(utcnow())
    sets = {"as_of": now, "device_id": meter.device_id}
    if kind:
        sets["kind"] = kind
    for name, value in (
        ("money_balance", reading.money),
        ("energy_balance", reading.energy),
        ("total_consumption_kwh", reading.total_kwh),
        ("prepayment_enabled", reading.prepayment),
    ):
        if value is not None:
            sets[name] = value
    if reading.unit_price is not None and known.get("unit_price") is None:
        sets["unit_price"] = reading.unit_price
    names = {f"#{k}": k for k in sets}
    expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets) + " ADD version :one"
    condition = "attribute_not_exists(version) OR version = :v"
    try:
        client("dynamodb").update_item(
            TableName=data.table(),
            Key=data.key(data.meter_pk(meter.device_id), data.BOOKS),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=data.values(**sets, one=1, v=known.get("version", 0)),
        )
    except Exception as exc:
        if not data.is_conditional_failure(exc):
            raise
    merged = {**known, **sets}
    if reading.total_kwh is not None:
        _note_usage_day(meter.device_id, reading.total_kwh)
    return merged


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def credit_status(money: Decimal | None, energy: Decimal | None, price: Decimal | None) -> str:
    if energy is None and money is not None and price:
        energy = money / price
    if energy is None:
        if money is None:
            return "unknown"
        return "empty" if money <= 0 else "good"
    if energy <= 0:
        return "empty"
    return "low" if energy < LOW_CREDIT_KWH else "good"


def _currency(b: dict) -> str:
    return b.get("currency") or DEFAULT_CURRENCY


def balance_view(meter: Meter, b: dict, source: str) -> dict:
    money, energy, price = b.get("money_balance"), b.get("energy_balance"), b.get("unit_price")
    if money is None and energy is not None and price:
        money = (energy * price).quantize(Decimal("0.01"))
    return {
        "device_id": meter.device_id,
        "money_balance": _text(money),
        "energy_balance": _text(energy),
        "currency": _currency(b),
        "currency_symbol": b.get("currency_symbol"),
        "unit_price": _text(price),
        "credit_status": credit_status(money, energy, price),
        "prepayment_enabled": b.get("prepayment_enabled"),
        "as_of": b.get("as_of"),
        "source": source,
    }


def balance(caller: Caller, device_id: str) -> dict:
    """A live read when Tuya answers (source live), else the last one (source cache)."""
    meter = meter_for(caller, device_id)
    known = books(device_id)
    try:
        reading = read_meter(meter)
    except Exception as exc:
        if tuya_outcome(exc) is None:
            raise
        logger.warning("balance from cache", extra={"device_id": device_id, "error": type(exc).__name__})
        return balance_view(meter, known, "cache")
    return balance_view(meter, _remember(meter, reading, known, _kind_or_none(meter)), "live")


def _kind_or_none(meter: Meter) -> str | None:
    try:
        return spec_of(meter.external_id).kind
    except Exception:
        return None


# ---------------------------------------------------------------- usage


def _note_usage_day(device_id: str, total_kwh: Decimal) -> None:
    """The energy counter as first seen each UTC day (conditional put: one per day)."""
    day = utcnow().date().isoformat()
    try:
        client("dynamodb").put_item(
            TableName=data.table(),
            Item=data.dump({"pk": data.meter_pk(device_id), "sk": f"{data.USAGE_PREFIX}{day}", "total_kwh": total_kwh}),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except Exception as exc:
        if not data.is_conditional_failure(exc):
            raise


def _first_counter(device_id: str, prefix: str) -> Decimal | None:
    items, _ = data.query(data.meter_pk(device_id), prefix, 1, newest_first=False)
    return items[0]["total_kwh"] if items else None


def usage(caller: Caller, device_id: str) -> dict:
    meter = meter_for(caller, device_id)
    known = books(device_id)
    source = "live"
    try:
        known = _remember(meter, read_meter(meter), known, _kind_or_none(meter))
    except Exception as exc:
        if tuya_outcome(exc) is None:
            raise
        source = "cache"
    total = known.get("total_consumption_kwh")
    today = utcnow().date()
    daily = monthly = None
    if total is not None:
        day_start = _first_counter(device_id, f"{data.USAGE_PREFIX}{today.isoformat()}")
        month_start = _first_counter(device_id, f"{data.USAGE_PREFIX}{today.isoformat()[:7]}")
        daily = total - day_start if day_start is not None else None
        monthly = total - month_start if month_start is not None else None
    return {
        "device_id": device_id,
        "total_energy_used": _text(total),
        "total_energy_purchased": str(known.get("total_purchased_kwh") or Decimal("0")),
        "monthly_energy": _text(monthly),
        "daily_energy": _text(daily),
        "as_of": known.get("as_of"),
        "source": source,
    }


def summary_for(device: DeviceItem) -> dict | None:
    """Seed 004's `summary` of a prepaid meter for GET /devices/{id}: the books
    as last read (no Tuya call on that path); None for other devices."""
    from gridpulse.billing.low_balance import threshold_of

    if not is_prepaid(device):
        return None
    b = books(device.device_id)
    view = balance_view(Meter(device, False), b, "cache")
    return {
        "balance": view["money_balance"],
        "energy_balance": view["energy_balance"],
        "total_consumption": _text(b.get("total_consumption_kwh")),
        "total_energy_purchased": str(b.get("total_purchased_kwh") or Decimal("0")),
        "credit_status": view["credit_status"],
        "currency": view["currency"],
        "unit_price": view["unit_price"],
        "prepayment_enabled": view["prepayment_enabled"],
        "low_balance_threshold": str(threshold_of(b)),
        "as_of": view["as_of"],
    }


# ---------------------------------------------------------------- commands


def _wire(spec, code: str, value: Any, field: str) -> Any:
    """The value as the device takes it (a scaled integer for numbers)."""
    if isinstance(value, (bool, str)):
        return value
    try:
        return spec.to_device(code, value)
    except (ValueError, KeyError) as exc:
        raise BadRequest(
            f"{field} cannot be sent to this meter: {exc}",
            code="validation_error",
            fields=[field_error(field, f"not accepted by the meter's {code}: {exc}", "out_of_range")],
        ) from None


def _code_for(kind: str, operation: str, spec) -> str | None:
    """The meter's own data point for `operation` (None: nothing to send, e.g. an energy
    meter's price); 409 unsupported_operation when the meter has none for it."""
    role = ROLES.get(kind, ROLES["money"]).get(operation)
    if role is None:
        return None
    code = spec.code_for(role)
    if code is None:
        raise Conflict(
            f"This meter has no {role} data point; it does not support {operation}.",
            code="unsupported_operation",
            fields=[field_error("device_id", f"no {role} on this meter", "unsupported")],
        )
    return code


@dataclass
class Command:
    operation: str
    value: Any  # what the caller asked (Decimal, str or bool)
    field: str  # the request field named when the meter refuses the value
    amount: Decimal | None = None


def _prepare(meter: Meter, cmd: Command) -> dict:
    """What the ledger entry needs: the Tuya code, the value on the wire and the
    energy of a top-up. None of it when Tuya cannot be reached to read the meter's
    specification (the retry works it out)."""
    try:
        spec = spec_of(meter.external_id)
    except TuyaUnavailable:
        return {"command": PENDING_COMMANDS.get(cmd.operation) or cmd.operation}
    except TuyaRejected as exc:  # e.g. 2010 the device is gone, 1106 not linked: nothing was sent
        raise TuyaRefusedSpec(exc) from None
    kind = spec.kind
    code = _code_for(kind, cmd.operation, spec)
    energy = None
    wire_value = cmd.value
    if cmd.operation == "add_balance" and kind == "energy":
        price = books(meter.device_id).get("unit_price")
        if not price:
            raise Conflict(
                "This meter tops up in energy: set its unit price first (POST set-price).",
                code="no_unit_price",
                fields=[field_error("price", "no unit price set for this meter", "missing")],
            )
        energy = spec.money_to_kwh(cmd.amount, price)
        wire_value = energy
    elif cmd.operation == "add_balance":
        price = books(meter.device_id).get("unit_price")
        # What it buys at today's price, for the books (the meter itself takes money).
        energy = (cmd.amount / price).quantize(KWH_QUANTUM, rounding=ROUND_DOWN) if price else None
    if code is None:
        return {"command": "unit_price", "kind": kind, "energy_kwh": energy}
    return {"command": code, "kind": kind, "energy_kwh": energy, "wire": _wire(spec, code, wire_value, cmd.field)}


def run_command(
    caller: Caller, device_id: str, cmd: Command, idempotency_key: str | None, context=None, extra: dict | None = None
):
    """(status, body, replayed) of a billing command, at most once per Idempotency-Key and body."""
    from gridpulse import idempotency

    meter = meter_for(caller, device_id, write=True)
    key = idempotency.checked_key(idempotency_key)
    # The same amount written differently ("500", 500.0, "500.00") is the same request.
    value = format(cmd.value.normalize(), "f") if isinstance(cmd.value, Decimal) else cmd.value
    request = {"device_id": device_id, "operation": cmd.operation, "value": value, **(extra or {})}

    def run() -> tuple[int, dict]:
        prepared = _prepare(meter, cmd)
        entry = ledger.open_entry(
            device_id,
            cmd.operation,
            caller.user_id,
            command=prepared["command"],
            value=cmd.value,
            amount=cmd.amount,
            energy_kwh=prepared.get("energy_kwh"),
            idempotency_key=key,
            extra=extra,
        )
        entry.update({k: prepared[k] for k in ("wire", "kind") if k in prepared})
        if "wire" in prepared or "kind" in prepared:
            _store_wire(entry)
        return execute(meter, entry, attempt=0)

    return idempotency.run_once(f"billing.{cmd.operation}", caller.user_id, key, request, run, context)


def _store_wire(entry: dict) -> None:
    sets = {k: entry[k] for k in ("wire", "kind") if entry.get(k) is not None}
    if sets:
        client("dynamodb").update_item(
            TableName=data.table(),
            Key=data.key(entry["pk"], entry["sk"]),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in sets),
            ExpressionAttributeNames={f"#{k}": k for k in sets},
            ExpressionAttributeValues=data.values(**sets),
        )


def _apply_to_books(meter: Meter, entry: dict, reading: Reading | None, note: str | None = None) -> bool:
    op, device_id = entry["operation"], meter.device_id
    amount, energy = entry.get("amount"), entry.get("energy_kwh")
    now = iso(utcnow())
    after: dict[str, Decimal | None] = {}
    extra: list[dict] = []
    if op == "add_balance":
        if entry.get("kind") == "energy":
            update = _books_update(
                device_id,
                "SET device_id = :d",
                d=device_id,
            )
            update["UpdateExpression"] += ", energy_balance :e, total_purchased_kwh :e, total_purchased_money :m"
            update["ExpressionAttributeValues"].update(data.values(e=energy, m=amount))
        else:
            update = _books_update(device_id, "SET device_id = :d", d=device_id)
            update["UpdateExpression"] += ", money_balance :m, total_purchased_money :m"
            update["ExpressionAttributeValues"].update(data.values(m=amount))
            if energy is not None:
                update["UpdateExpression"] += ", total_purchased_kwh :e"
                update["ExpressionAttributeValues"].update(data.values(e=energy))
        if entry.get("money_before") is not None and amount is not None and entry.get("kind") != "energy":
            after["money_after"] = entry["money_before"] + amount
        if entry.get("energy_before") is not None and energy is not None:
            after["energy_after"] = entry["energy_before"] + energy
    elif op == "set_price":
        # A price sent without currency_symbol keeps the meter's symbol.
        symbol = entry.get("currency_symbol")
        update = _books_update(
            device_id,
            "SET unit_price = :p, device_id = :d" + (", currency_symbol = :c" if symbol else ""),
            p=entry["value"],
            d=device_id,
            **({"c": symbol} if symbol else {}),
        )
        extra.append(
            {
                "Put": {
                    "TableName": data.table(),
                    "Item": data.dump(
                        {
                            "pk": data.meter_pk(device_id),
                            "sk": f"{data.TARIFF_PREFIX}{now}#{entry['ledger_id']}",
                            "price": entry["value"],
                            "currency_symbol": entry.get("currency_symbol"),
                            "valid_from": now,
                            "set_by": entry["performed_by"],
                            "ledger_id": entry["ledger_id"],
                        }
                    ),
                }
            }
        )
    elif op == "reset_balance":
        dimension = "energy" if entry.get("kind") == "energy" else "money"
        update = _books_update(device_id, f"SET {dimension}_balance = :z, device_id = :d", z=Decimal(0), d=device_id)
        after = {f"{dimension}_after": Decimal(0)}
    elif op == "prepayment_mode":
        update = _books_update(
            device_id, "SET prepayment_enabled = :b, device_id = :d", b=bool(entry["value"]), d=device_id
        )
    else:  # add_token: the meter knows what the token is worth; the next read shows it
        update = _books_update(device_id, "SET device_id = :d, last_token_at = :t", d=device_id, t=now)
    applied = ledger.apply(entry, update, after, note=note, extra=extra)
    if applied and op == "add_balance":
        from gridpulse.billing.low_balance import after_top_up  # resolves low_balance once credit is back

        after_top_up(meter.device_id)
    return applied


def _answer(
    meter: Meter, entry: dict, status_code: int, error: str | None = None, exc: Any = None, message: str | None = None
) -> tuple[int, dict]:
    op = entry["operation"]
    shown = _shown_value(entry)
    messages = {
        "applied": f"{entry['command']} {shown} applied to {meter.device.name}.",
        "pending": f"Tuya could not be reached: {entry['command']} {shown} for {meter.device.name} is pending "
        "and will be retried (applied once).",
        "failed": f"Tuya refused {entry['command']} {shown} for {meter.device.name}: no money moved.",
    }
    body: dict[str, Any] = {
        "success": entry["status"] == "applied",
        "message": message or messages[entry["status"]],
        "device_id": meter.device_id,
        "command": entry["command"],
        "value": shown,
        "ledger_id": entry["ledger_id"],
        "status": entry["status"],
    }
    if op in ("add_balance", "reset_balance") and entry["status"] == "applied":
        b = books(meter.device_id)
        body["money_balance"] = _text(
            entry.get("money_after") if entry.get("money_after") is not None else b.get("money_balance")
        )
        body["energy_balance"] = _text(
            entry.get("energy_after") if entry.get("energy_after") is not None else b.get("energy_balance")
        )
    if error:
        body["error"] = error
        body["message"] = f"{body['message']} {getattr(exc, 'message', '') or ''}".strip()
    if exc is not None and tuya_outcome(exc) == "rejected":
        body["tuya_code"] = getattr(exc, "code", None)
        body["tuya_message"] = getattr(exc, "message", None) or str(exc)
    return status_code, body


def _shown_value(entry: dict) -> Any:
    value = entry.get("value")
    if entry["operation"] == "add_token" and isinstance(value, str):
        return "*" * 16 + value[-4:]
    return _text(value) if not isinstance(value, bool) else value


def execute(meter: Meter, entry: dict, attempt: int) -> tuple[int, dict]:
    """Send a pending entry's command to Tuya once and settle it; (status, body) of the answer."""
    try:
        if "wire" not in entry and entry.get("command") != "unit_price":
            _prepare_late(meter, entry)
        reading = None
        if entry["command"] != "unit_price":
            if entry["operation"] in TOP_UPS:
                reading = read_meter(meter)
            ledger.mark_sending(entry, reading.money if reading else None, reading.energy if reading else None)
            accepted = tuya().send_commands(meter.external_id, [{"code": entry["command"], "value": entry["wire"]}])
            if accepted is False:
                ledger.fail(entry, "billing_error: Tuya did not accept the command")
                return _answer(meter, entry, 502, "billing_error")
    except Exception as exc:
        outcome = tuya_outcome(exc)
        if outcome == "rejected":
            ledger.fail(
                entry,
                f"billing_error: {getattr(exc, 'code', '')} {getattr(exc, 'message', exc)}".strip(),
                getattr(exc, "code", None),
                getattr(exc, "request_id", None),
            )
            count("BillingRejected", operation=entry["operation"])
            return _answer(meter, entry, 502, "billing_error", exc)
        if outcome == "unavailable":
            return _postpone(meter, entry, attempt, exc)
        raise
    return _settle_accepted(meter, entry, reading, attempt)


# The answer's HTTP status for a ledger entry's status.
STATUS_CODES = {"applied": 200, "pending": 202, "failed": 502}


def _settle_accepted(meter: Meter, entry: dict, reading: Reading | None, attempt: int) -> tuple[int, dict]:
    """Tuya accepted the command: apply it to the books, and answer with the ledger
    entry's real status. When the books cannot be written (DynamoDB failing), the entry
    stays pending (marked sent) and the retry queue settles it: a top-up is confirmed by
    the meter's balance and a token by the meter's charge records (neither is sent
    twice), other commands are sent again (they set a value: the same result). When another worker settled the entry meanwhile, its status."""
    try:
        _apply_to_books(meter, entry, reading)
    except Exception as exc:
        logger.exception("books not updated after Tuya accepted", extra={"device_id": meter.device_id})
        count("BillingBooksFailed")
        stored = _stored_or(entry)
        if stored.get("status") == "pending":
            if attempt >= len(RETRY_DELAYS_S):
                raise  # the retry queue's own redelivery (then its DLQ) takes over
            enqueue_retry(meter.device_id, entry["sk"], attempt + 1)
            return _answer(meter, stored, 202, message=_booking_pending(meter, stored, exc))
        entry = stored
    else:
        entry = _stored_or(entry)
    if entry.get("status") == "applied":
        count("BillingApplied", operation=entry["operation"])
    status = entry.get("status", "pending")
    return _answer(meter, entry, STATUS_CODES.get(status, 202), "billing_error" if status == "failed" else None)


def _stored_or(entry: dict) -> dict:
    """The ledger entry as stored now (the in-memory one when it cannot be read)."""
    try:
        return ledger.get(entry["device_id"], entry["sk"]) or entry
    except Exception:
        logger.exception("ledger entry not read back", extra={"sk": entry.get("sk")})
        return entry


def _booking_pending(meter: Meter, entry: dict, exc: BaseException) -> str:
    return (
        f"Tuya accepted {entry['command']} {_shown_value(entry)} for {meter.device.name}, but our books could not "
        f"be updated ({type(exc).__name__}); it is pending and will be settled by a retry (applied once)."
    )


def _prepare_late(meter: Meter, entry: dict) -> None:
    cmd = Command(entry["operation"], entry.get("value"), "value", entry.get("amount"))
    prepared = _prepare(meter, cmd)
    if "kind" not in prepared:
        raise TuyaNotConfigured("the meter's specification could not be read")
    entry.update(
        {k: v for k, v in prepared.items() if k in ("wire", "kind", "command", "energy_kwh") and v is not None}
    )
    _store_wire(entry)


def _postpone(meter: Meter, entry: dict, attempt: int, exc: BaseException) -> tuple[int, dict]:
    error = f"connection_error: {getattr(exc, 'message', None) or exc}"
    if attempt >= len(RETRY_DELAYS_S):
        ledger.fail(entry, error)
        count("BillingGaveUp", operation=entry["operation"])
        return _answer(meter, entry, 502, "connection_error", exc)
    ledger.note_attempt(entry, error)
    enqueue_retry(meter.device_id, entry["sk"], attempt + 1)
    count("BillingPending", operation=entry["operation"])
    return _answer(meter, entry, 202)


def enqueue_retry(device_id: str, sk: str, attempt: int) -> None:
    url = os.environ.get("BILLING_RETRY_QUEUE_URL", "")
    if not url:
        logger.error("no BILLING_RETRY_QUEUE_URL: pending entry not queued", extra={"device_id": device_id, "sk": sk})
        return
    client("sqs").send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"device_id": device_id, "sk": sk, "attempt": attempt}),
        DelaySeconds=RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1],
    )


# ---------------------------------------------------------------- retries (BillingRetryFunction)


def _landed(meter: Meter, entry: dict, reading: Reading) -> bool | None:
    """Whether a top-up that may have reached Tuya shows in the meter's balance
    (True/False), or None when the meter gives nothing to tell by.

    Compares the balance now with the one read just before the last send,
    less the other top-ups applied since: at least half the top-up more means
    it landed (consumption in between is far smaller than a top-up)."""
    later = [e for e in ledger.newer_than(entry) if e.get("status") == "applied" and e["operation"] == "add_balance"]
    if entry.get("kind") != "energy" and reading.money is not None and entry.get("money_before") is not None:
        others = sum((e.get("amount") or Decimal(0) for e in later), Decimal(0))
        return reading.money - entry["money_before"] - others >= entry["amount"] / 2
    energy = entry.get("energy_kwh")
    if reading.energy is not None and entry.get("energy_before") is not None and energy:
        others = sum((e.get("energy_kwh") or Decimal(0) for e in later), Decimal(0))
        return reading.energy - entry["energy_before"] - others >= energy / 2
    return None


def retry_pending(device_id: str, sk: str, attempt: int) -> str:
    """One retry of a pending entry (a queue message); what became of it."""
    entry = ledger.get(device_id, sk)
    if entry is None or entry.get("status") != "pending":
        return "settled"
    meter = _meter_by_id(device_id)
    if meter is None:
        ledger.fail(entry, "billing_error: the device is no longer a prepaid meter")
        return "failed"
    if entry.get("sent") and entry["operation"] in TOP_UPS:
        try:
            reading = read_meter(meter)
        except Exception as exc:
            if tuya_outcome(exc) is None:
                raise
            return _postpone(meter, entry, attempt, exc)[1]["status"]
        landed = _landed(meter, entry, reading)
        if landed:
            if not _apply_to_books(meter, entry, reading, note="confirmed by the meter's balance after a lost answer"):
                return _stored_or(entry).get("status", "settled")  # settled by another worker meanwhile
            count("BillingConfirmedByBalance")
            return "applied"
        if landed is None:
            ledger.fail(entry, "billing_error: the meter's balance cannot tell whether the top-up arrived; not resent")
            return "failed"
    if entry.get("sent") and entry["operation"] == "add_token":
        try:
            recorded = _token_recorded(meter, entry)
        except Exception as exc:
            outcome = tuya_outcome(exc)
            if outcome == "unavailable":
                return _postpone(meter, entry, attempt, exc)[1]["status"]
            if outcome is None:
                raise
            ledger.fail(
                entry,
                f"billing_error: the meter's charge records cannot be read ({getattr(exc, 'code', '')}); "
                "the token is not resent (the next sync shows its credit if it was applied)",
            )
            return "failed"
        if recorded:
            if not _apply_to_books(meter, entry, None, note="confirmed by the meter's charge records; not sent again"):
                return _stored_or(entry).get("status", "settled")  # settled by another worker meanwhile
            count("BillingConfirmedByChargeRecords")
            return "applied"
    return _answer_status(execute(meter, entry, attempt))


TOKEN_RECORDS_LOOKBACK_MS = 10 * 60 * 1000  # charge records read from this long before the entry (clock skew)


def _token_recorded(meter: Meter, entry: dict) -> bool:
    """Whether the meter's charge records hold the entry's token (Tuya applied it already)."""
    from datetime import datetime

    since = None
    if entry.get("created_at"):
        created = datetime.fromisoformat(str(entry["created_at"]).replace("Z", "+00:00"))
        since = int(created.timestamp() * 1000) - TOKEN_RECORDS_LOOKBACK_MS
    token = str(entry.get("wire") or entry.get("value"))
    records = tuya().charge_records(meter.external_id, since_ms=since)
    return any(r.get("code") == entry.get("command", "charge_token") and str(r.get("value")) == token for r in records)


def _answer_status(answer: tuple[int, dict]) -> str:
    return answer[1]["status"]


def handle_retries(event: dict) -> dict:
    """SQS batch of BillingRetryQueue; a record that raises is retried by SQS (then its DLQ)."""
    failures = []
    for record in each_record(event):  # each logged with its message id as correlation id
        note_device_type("prepaid_meter")
        try:
            message = json.loads(record["body"])
            outcome = retry_pending(str(message["device_id"]), str(message["sk"]), int(message.get("attempt", 1)))
            logger.info("billing retry", extra={"device_id": message["device_id"], "outcome": outcome})
        except Exception:
            logger.exception("billing retry failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


# ---------------------------------------------------------------- ledger and assignments


def ledger_page(caller: Caller, device_id: str, limit: int, next_token: str | None) -> dict:
    meter_for(caller, device_id)
    purpose = f"billing:ledger:{device_id}"
    items, last = ledger.page(device_id, limit, decode_token(next_token, purpose))
    views = [ledger.view(i) for i in items]
    for v, raw in zip(views, items):
        if raw["operation"] == "add_token":
            v["value"] = _shown_value(raw)
    return {"items": views, "count": len(views), "next_token": encode_token(last, purpose)}


def set_threshold(caller: Caller, device_id: str, threshold: Decimal) -> dict:
    """POST /devices/{id}/low-balance-threshold (admin): the meter's `low_balance_threshold` in
    its books. The next sync raises `low_balance` under it; an open alert the new threshold
    clears is resolved now (gridpulse.billing.low_balance.after_top_up)."""
    from gridpulse.billing.low_balance import after_top_up

    meter_for(caller, device_id)
    if not caller.is_admin:
        raise Forbidden("Only an admin sets a meter's low-balance threshold.", code="forbidden")
    client("dynamodb").update_item(
        **_books_update(device_id, "SET low_balance_threshold = :t, device_id = :d", t=threshold, d=device_id)
    )
    after_top_up(device_id)
    b = books(device_id)
    unit = "kWh" if b.get("kind") == "energy" else _currency(b)
    return {
        "device_id": device_id,
        "low_balance_threshold": str(threshold),
        "unit": unit,
        "message": f"low_balance is raised when the credit is under {threshold} {unit} (checked by every sync).",
    }


def assign(caller: Caller, device_id: str, user_id: str) -> dict:
    from gridpulse.accounts.authentication import load_user

    meter_for(caller, device_id)
    if load_user(user_id) is None:
        raise NotFound(
            "No such user.", code="user_not_found", fields=[field_error("user_id", "no such user", "not_found")]
        )
    now = iso(utcnow())
    item = {
        "pk": data.meter_pk(device_id),
        "sk": f"{data.ASSIGN_PREFIX}{user_id}",
        "assigned_user_id": user_id,
        "device_id": device_id,
        "assigned_at": now,
        "assigned_by": caller.user_id,
    }
    try:
        client("dynamodb").put_item(
            TableName=data.table(), Item=data.dump(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except Exception as exc:
        if not data.is_conditional_failure(exc):
            raise
        item = _assignment(device_id, user_id) or item
    return {"user_id": user_id, "device_id": device_id, "assigned_at": item["assigned_at"]}


def unassign(caller: Caller, device_id: str, user_id: str) -> None:
    meter_for(caller, device_id)
    try:
        client("dynamodb").delete_item(
            TableName=data.table(),
            Key=data.key(data.meter_pk(device_id), f"{data.ASSIGN_PREFIX}{user_id}"),
            ConditionExpression="attribute_exists(pk)",
        )
    except Exception as exc:
        if data.is_conditional_failure(exc):
            raise NotFound("This user is not assigned to this meter.", code="assignment_not_found") from None
        raise


def assigned_users(caller: Caller, device_id: str, limit: int, next_token: str | None) -> dict:
    from gridpulse.accounts.authentication import load_user

    meter_for(caller, device_id)
    purpose = f"billing:assigned:{device_id}"
    items, last = data.query(
        data.meter_pk(device_id), data.ASSIGN_PREFIX, limit, decode_token(next_token, purpose), newest_first=False
    )
    out = []
    for item in items:
        user = load_user(item["assigned_user_id"])
        out.append(
            {
                "user_id": item["assigned_user_id"],
                "email": user.email if user else None,
                "name": user.name if user else None,
                "role": user.role if user else None,
                "assigned_at": item["assigned_at"],
            }
        )
    return {"items": out, "count": len(out), "next_token": encode_token(last, purpose)}

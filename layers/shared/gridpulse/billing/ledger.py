"""The ledger: one item per billing operation, written before Tuya is called.

An entry goes `pending` -> `applied` or `pending` -> `failed`, never back.
The move to `applied` and the change of the meter's books are one
DynamoDB transaction conditioned on the entry still being pending, so a
top-up reaches the books exactly once however many requests, retries or
queue deliveries race for it.

Fields (see gridpulse.billing.data for the key): ledger_id, device_id,
operation, amount (money), energy_kwh, value (what was written), command
(the Tuya code), money_before/after, energy_before/after (the meter as read
from Tuya around the write), status, error, tuya_code, tuya_request_id,
attempts, sent (whether a command may have reached Tuya), performed_by,
created_at, applied_at, idempotency_key.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

from gridpulse.aws import client
from gridpulse.billing import data
from gridpulse.timeutil import iso, utcnow

MONEY_FIELDS = ("amount", "energy_kwh", "money_before", "money_after", "energy_before", "energy_after")


def _now() -> str:
    return iso(utcnow())


def open_entry(
    device_id: str,
    operation: str,
    performed_by: str,
    *,
    command: str,
    value: Any,
    amount: Decimal | None = None,
    energy_kwh: Decimal | None = None,
    idempotency_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a new pending entry (with `extra` attributes) and return it."""
    ledger_id = uuid.uuid4().hex
    entry = {
        "pk": data.meter_pk(device_id),
        "sk": f"{data.LEDGER_PREFIX}{int(time.time() * 1000):013d}#{ledger_id}",
        "ledger_id": ledger_id,
        "device_id": device_id,
        "operation": operation,
        "command": command,
        "value": value,
        "amount": amount,
        "energy_kwh": energy_kwh,
        "status": "pending",
        "attempts": 0,
        "sent": False,
        "performed_by": performed_by,
        "created_at": _now(),
        "idempotency_key": idempotency_key,
        **(extra or {}),
    }
    client("dynamodb").put_item(
        TableName=data.table(), Item=data.dump(entry), ConditionExpression="attribute_not_exists(pk)"
    )
    return entry


def get(device_id: str, sk: str) -> dict[str, Any] | None:
    return data.get(data.meter_pk(device_id), sk, consistent=True)


def _update(entry: dict, expression: str, condition: str | None = None, names: dict | None = None, **vals) -> None:
    kwargs: dict[str, Any] = {
        "TableName": data.table(),
        "Key": data.key(entry["pk"], entry["sk"]),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": data.values(**vals),
    }
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = names
    client("dynamodb").update_item(**kwargs)


def mark_sending(entry: dict, money_before: Decimal | None, energy_before: Decimal | None) -> None:
    """Record the meter as read just before the command goes out, and that it may
    now have reached Tuya (a retry must check the meter before sending again)."""
    sets = ["sent = :t", "attempts = attempts + :one", "sent_at = :at"]
    vals: dict[str, Any] = {"t": True, "one": 1, "at": _now(), "p": "pending"}
    if money_before is not None:
        sets.append("money_before = :mb")
        vals["mb"] = money_before
    if energy_before is not None:
        sets.append("energy_before = :eb")
        vals["eb"] = energy_before
    _update(entry, "SET " + ", ".join(sets), "#s = :p", names={"#s": "status"}, **vals)
    entry.update(sent=True, attempts=int(entry.get("attempts", 0)) + 1, money_before=money_before)
    entry["energy_before"] = energy_before


def note_attempt(entry: dict, error: str) -> None:
    """A try that did not settle the entry (it stays pending)."""
    _update(entry, "SET #e = :e", "#s = :p", names={"#e": "error", "#s": "status"}, e=error, p="pending")
    entry["error"] = error


def fail(entry: dict, error: str, tuya_code: Any = None, tuya_request_id: str | None = None) -> bool:
    """pending -> failed; False when the entry had already settled."""
    sets = ["#s = :f", "#e = :e", "settled_at = :at"]
    vals: dict[str, Any] = {"f": "failed", "e": error, "at": _now(), "p": "pending"}
    if tuya_code is not None:
        sets.append("tuya_code = :c")
        vals["c"] = str(tuya_code)
    if tuya_request_id:
        sets.append("tuya_request_id = :r")
        vals["r"] = tuya_request_id
    try:
        _update(entry, "SET " + ", ".join(sets), "#s = :p", names={"#s": "status", "#e": "error"}, **vals)
    except Exception as exc:
        if data.is_conditional_failure(exc):
            return False
        raise
    entry.update(status="failed", error=error, tuya_code=tuya_code, tuya_request_id=tuya_request_id)
    return True


def apply(
    entry: dict,
    books_update: dict,
    after: dict[str, Decimal | None],
    note: str | None = None,
    extra: list[dict] | None = None,
) -> bool:
    """pending -> applied together with `books_update` (an UpdateItem on the
    meter's books), in one transaction; False when the entry had already settled
    (then the books are left alone)."""
    now = _now()
    sets = ["#s = :a", "applied_at = :at", "settled_at = :at"]
    vals: dict[str, Any] = {"a": "applied", "at": now, "p": "pending"}
    for name, value in after.items():
        if value is not None:
            sets.append(f"{name} = :{name}")
            vals[name] = value
    names = {"#s": "status"}
    if note:
        sets.append("#e = :note")
        vals["note"] = note
        names["#e"] = "error"
    else:
        sets.append("#e = :none")
        vals["none"] = None
        names["#e"] = "error"
    try:
        client("dynamodb").transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": data.table(),
                        "Key": data.key(entry["pk"], entry["sk"]),
                        "UpdateExpression": "SET " + ", ".join(sets),
                        "ConditionExpression": "#s = :p",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": data.values(**vals),
                    }
                },
                {"Update": books_update},
                *(extra or []),
            ]
        )
    except Exception as exc:
        if data.is_conditional_failure(exc):
            return False
        raise
    entry.update(status="applied", applied_at=now, error=note, **{k: v for k, v in after.items() if v is not None})
    return True


def page(device_id: str, limit: int, start: dict | None) -> tuple[list[dict], dict | None]:
    return data.query(data.meter_pk(device_id), data.LEDGER_PREFIX, limit, start)


def newer_than(entry: dict, limit: int = 200) -> list[dict]:
    """Entries of the same meter written after `entry` (oldest first)."""
    items, _ = data.query(entry["pk"], data.LEDGER_PREFIX, limit, newest_first=False, after_sk=entry["sk"] + "~")
    return [i for i in items if i["sk"] != entry["sk"]]


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def view(entry: dict) -> dict:
    out = {
        k: entry.get(k)
        for k in (
            "ledger_id",
            "device_id",
            "operation",
            "command",
            "status",
            "error",
            "tuya_request_id",
            "performed_by",
            "created_at",
            "applied_at",
            "idempotency_key",
        )
    }
    for name in MONEY_FIELDS:
        out[name] = _text(entry.get(name))
    value = entry.get("value")
    out["value"] = _text(value)
    out["attempts"] = int(entry.get("attempts") or 0)
    return out

"""The billing table (BillingTable in template.yaml): prepaid meters' books,
ledger, tariff history and user assignments.

Key (`pk`, `sk`); every item of a meter shares its partition, so a meter's
balance, ledger and tariffs are Queries on one key, never scans.

| item        | pk                 | sk                                  | notes |
|-------------|--------------------|-------------------------------------|-------|
| books       | `METER#<device id>` | `BOOKS`                            | money/energy balance (exact Decimal numbers), unit price, currency, totals, `version` (every change adds 1) |
| ledger      | `METER#<device id>` | `LEDGER#<epoch ms, 13 digits>#<ledger id>` | one billing operation; Query ScanIndexForward=False lists newest first |
| tariff      | `METER#<device id>` | `TARIFF#<valid_from ISO 8601>`     | a unit price and from when it applies |
| usage day   | `METER#<device id>` | `USAGE#<YYYY-MM-DD>`               | the meter's energy counter as first seen that day (daily and monthly usage) |
| assignment  | `METER#<device id>` | `ASSIGN#<user id>`                 | `assigned_user_id`, `device_id`: index `by-user` lists a user's meters |
| Tuya token  | `TUYA#TOKEN`        | (the Tuya client's own)            | written by the Tuya client |

Numbers go through the low-level client with boto3's TypeSerializer, so they
are read back as `Decimal` (never binary floats).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from gridpulse.aws import client

BOOKS = "BOOKS"
LEDGER_PREFIX = "LEDGER#"
TARIFF_PREFIX = "TARIFF#"
USAGE_PREFIX = "USAGE#"
ASSIGN_PREFIX = "ASSIGN#"
BY_USER_INDEX = "by-user"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def table() -> str:
    return os.environ.get("BILLING_TABLE", "gridpulse-billing")


def meter_pk(device_id: str) -> str:
    return f"METER#{device_id}"


def dump(item: dict[str, Any]) -> dict:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def load(raw: dict | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    return {k: _deserializer.deserialize(v) for k, v in raw.items()}


def values(**named: Any) -> dict:
    """ExpressionAttributeValues from keyword arguments (`:name` -> value)."""
    return {f":{k}": _serializer.serialize(v) for k, v in named.items()}


def key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def get(pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
    out = client("dynamodb").get_item(TableName=table(), Key=key(pk, sk), ConsistentRead=consistent)
    return load(out.get("Item"))


def query(
    pk: str,
    prefix: str,
    limit: int,
    start: dict | None = None,
    newest_first: bool = True,
    after_sk: str | None = None,
) -> tuple[list[dict[str, Any]], dict | None]:
    """Items of a partition whose sort key starts with `prefix` (or is above
    `after_sk`, with the prefix as upper bound), and the LastEvaluatedKey."""
    if after_sk is not None:
        condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
        expr = values(pk=pk, lo=after_sk, hi=prefix + "\uffff")
    else:
        condition = "pk = :pk AND begins_with(sk, :prefix)"
        expr = values(pk=pk, prefix=prefix)
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": expr,
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    out = client("dynamodb").query(**kwargs)
    return [load(i) for i in out.get("Items", [])], out.get("LastEvaluatedKey")


def query_index(index: str, name: str, value: str, limit: int, start: dict | None = None):
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "IndexName": index,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": name},
        "ExpressionAttributeValues": values(v=value),
        "Limit": limit,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    out = client("dynamodb").query(**kwargs)
    return [load(i) for i in out.get("Items", [])], out.get("LastEvaluatedKey")


def is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def as_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def delete_assignments_of(user_id: str) -> int:
    """Delete every meter assignment of a user (DELETE /users/{id}): the `by-user` index, page by
    page, then BatchWriteItem deletes (25 per request); how many were deleted."""
    deleted, start = 0, None
    while True:
        items, start = query_index(BY_USER_INDEX, "assigned_user_id", user_id, 100, start)
        keys = [key(i["pk"], i["sk"]) for i in items]
        for i in range(0, len(keys), 25):
            request = {table(): [{"DeleteRequest": {"Key": k}} for k in keys[i : i + 25]]}
            for _ in range(8):
                out = client("dynamodb").batch_write_item(RequestItems=request)
                request = out.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError(f"meter assignments of {user_id} not all deleted")
        deleted += len(keys)
        if not start:
            return deleted

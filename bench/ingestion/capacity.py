"""Capacity accounting: DynamoDB capacity units ESTIMATED from recorded calls.

Every DynamoDB request is recorded by bench.calls.CallRecorder (the tests'
recorder too), with its parameters and response. Capacity units are
ESTIMATED from those payloads with DynamoDB's item-size rules (`item_size`): WRU = ceil(size / 1 KB) per item
written (for a PutItem or UpdateItem the larger of the item before and after;
a failed conditional write costs the existing item's size, at least 1 WRU;
transactions 2x); RRU = ceil(size / 4 KB) per item for GetItem/BatchGetItem,
ceil(total returned size / 4 KB) per Query request, halved for eventually
consistent reads, at least 0.5/1 per request. DynamoDB itself is not
consulted: moto does not report consumed capacity.

`Ledger` does the bookkeeping for bench/ingestion and bench/alerts: requests
made inside `measuring(usage)` are charged to that Usage, by operation and
table; every request (setup too) updates a shadow copy of the items seen.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from bench.calls import Call, CallRecorder
from bench.stack import STACK_NAME

# ---------------------------------------------------------------- item sizes and capacity units


def number_size(text: str) -> int:
    """DynamoDB: about 1 byte per 2 significant digits, plus 1 byte."""
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict) -> int:
    """Size of one AttributeValue ({"S": ...}, {"N": ...}, ...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":  # 3 bytes for the list, 1 per element (AWS docs, "Item sizes and formats")
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"not an AttributeValue: {value!r}")


def item_size(item: dict) -> int:
    """Item size as DynamoDB bills it: attribute name lengths plus value sizes."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def wru(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def rru(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


@dataclass
class Usage:
    """What a set of DynamoDB requests cost (estimated capacity units)."""

    requests: int = 0
    operations: Counter = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0
    items_read: int = 0
    bytes_read: int = 0
    conditional_failures: int = 0
    other_services: Counter = field(default_factory=Counter)
    wru_by: Counter = field(default_factory=Counter)  # "PutItem telemetry" -> WRU
    rru_by: Counter = field(default_factory=Counter)  # "Query telemetry (consistent)" -> RRU


class Ledger:
    """Every DynamoDB request while installed (recorded by a CallRecorder).
    Requests made inside `measuring()` are charged to its Usage; all requests
    (setup too) keep a shadow copy of the items seen, so that overwrites are
    charged the larger of old and new. Costing happens in `settle()`, outside
    the timed code."""

    def __init__(self):
        self.recorder = CallRecorder()
        self.items: dict[tuple, dict] = {}  # (table, key) -> item as last seen
        self.key_names: dict[str, list[str]] = {}
        self.operation = ""  # the request being costed

    @property
    def usage(self) -> Usage | None:
        """What the calls made now are charged to (None: setup or read-back,
        recorded only to know item sizes)."""
        return self.recorder.tag

    @property
    def aws_cpu_s(self) -> float:
        """Process CPU spent inside AWS calls (botocore + moto) so far."""
        return self.recorder.aws_cpu_s

    @contextlib.contextmanager
    def installed(self):
        with self.recorder.installed():
            yield self

    @contextlib.contextmanager
    def measuring(self, usage: Usage):
        self.settle()
        self.recorder.tag = usage
        try:
            yield usage
        finally:
            self.recorder.tag = None
            self.settle()

    # ---------------------------------------------------------- costing

    def settle(self) -> None:
        for call in self.recorder.take():
            if call.service == "dynamodb":
                self._cost(call)
            elif call.tag is not None:
                call.tag.other_services[f"{call.service}:{call.operation}"] += 1

    def _keys(self, table: str) -> list[str]:
        if table not in self.key_names:
            import boto3

            client = boto3.client("dynamodb")
            described = self.recorder.unrecorded(client, "DescribeTable", {"TableName": table})
            self.key_names[table] = [k["AttributeName"] for k in described["Table"]["KeySchema"]]
        return self.key_names[table]

    def _key(self, table: str, item: dict) -> tuple:
        return table, tuple((name, json.dumps(item[name], sort_keys=True, default=str)) for name in self._keys(table))

    def _size_of(self, table: str, key_item: dict) -> int:
        known = self.items.get(self._key(table, key_item))
        return item_size(known) if known else 0

    def _seen(self, table: str, item: dict) -> None:
        self.items[self._key(table, item)] = item

    def _wrote(self, usage: Usage | None, table: str, item: dict, factor: int = 1) -> None:
        before = self._size_of(table, item)
        after = item_size(item)
        self._seen(table, item)
        if usage is not None:
            self._charge(usage, table, wru(max(before, after)) * factor)

    def _deleted(self, usage: Usage | None, table: str, key: dict, factor: int = 1) -> None:
        before = self._size_of(table, key)
        self.items.pop(self._key(table, key), None)
        if usage is not None:
            self._charge(usage, table, wru(before) * factor)

    def _read(
        self, usage: Usage | None, table: str, items: list[dict], consistent: bool, per_item: bool, factor: int = 1
    ) -> None:
        for item in items:
            self._seen(table, item)
        if usage is None:
            return
        sizes = [item_size(i) for i in items]
        usage.items_read += len(items)
        usage.bytes_read += sum(sizes)
        if per_item:
            units = sum(rru(s, consistent) for s in sizes) if sizes else rru(0, consistent)
        else:
            units = rru(sum(sizes), consistent)
        self._charge(usage, table, units * factor, read=True, consistent=consistent)

    def _charge(self, usage: Usage, table: str, units: float, read: bool = False, consistent: bool = False) -> None:
        """Add units to the usage, by operation and table ("GetItem devices", "Query telemetry (consistent)")."""
        label = f"{self.operation} {table.removeprefix(STACK_NAME + '-')}"
        if read:
            usage.rru += units
            usage.rru_by[label + (" (consistent)" if consistent else "")] += units
        else:
            usage.wru += units
            usage.wru_by[label] += units

    def _updated(self, usage: Usage | None, table: str, params: dict, factor: int = 1) -> None:
        """UpdateItem: the item after the update, from the shadow copy and the request."""
        key = params["Key"]
        current = dict(self.items.get(self._key(table, key)) or key)
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        expression = params.get("UpdateExpression") or ""
        parts = re.split(r"\b(SET|ADD|REMOVE|DELETE)\b", expression, flags=re.IGNORECASE)
        for clause, body in zip(parts[1::2], parts[2::2]):
            for action in _split_top_level(body):
                tokens = action.replace("=", " ").split()
                if not tokens:
                    continue
                name = names.get(tokens[0], tokens[0])
                placeholders = [t.strip("(),") for t in tokens[1:] if t.strip("(),").startswith(":")]
                value = values.get(placeholders[-1]) if placeholders else None
                clause = clause.upper()
                if clause == "REMOVE":
                    current.pop(name, None)
                elif clause == "ADD" and value and "N" in value and "N" in current.get(name, {}):
                    current[name] = {"N": str(Decimal(current[name]["N"]) + Decimal(value["N"]))}
                elif clause in ("SET", "ADD") and value is not None:
                    current[name] = value
        self._wrote(usage, table, current, factor)

    def _cost(self, call: Call) -> None:
        op, params, response, usage = call.operation, call.params, call.response or {}, call.tag
        self.operation = op
        if usage is not None:
            usage.requests += 1
            usage.operations[op] += 1
        table = params.get("TableName")
        failed = call.error == "ConditionalCheckFailedException"
        if failed and usage is not None:
            usage.conditional_failures += 1
            key_item = params.get("Item") or params.get("Key") or {}
            self._charge(usage, table, wru(self._size_of(table, key_item)))  # the existing item's size, at least 1
            return
        if call.error:
            return
        consistent = bool(params.get("ConsistentRead"))
        if op == "PutItem":
            self._wrote(usage, table, params["Item"])
        elif op == "UpdateItem":
            self._updated(usage, table, params)
        elif op == "DeleteItem":
            self._deleted(usage, table, params["Key"])
        elif op == "GetItem":
            self._read(usage, table, [response["Item"]] if "Item" in response else [], consistent, per_item=True)
        elif op in ("Query", "Scan"):
            self._read(usage, table, response.get("Items", []), consistent, per_item=False)
        elif op == "BatchGetItem":
            for name, items in response.get("Responses", {}).items():
                strongly = bool(params["RequestItems"].get(name, {}).get("ConsistentRead"))
                self._read(usage, name, items, strongly, per_item=True)
        elif op == "BatchWriteItem":
            unprocessed = response.get("UnprocessedItems") or {}
            for name, requests in params["RequestItems"].items():
                for request in requests:
                    if request in unprocessed.get(name, []):
                        continue
                    if "PutRequest" in request:
                        self._wrote(usage, name, request["PutRequest"]["Item"])
                    else:
                        self._deleted(usage, name, request["DeleteRequest"]["Key"])
        elif op == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                if kind == "Put":
                    self._wrote(usage, body["TableName"], body["Item"], factor=2)
                elif kind == "Update":
                    self._updated(usage, body["TableName"], body, factor=2)
                elif kind == "Delete":
                    self._deleted(usage, body["TableName"], body["Key"], factor=2)
                elif usage is not None:  # ConditionCheck
                    self._charge(usage, body["TableName"], 2 * wru(self._size_of(body["TableName"], body["Key"])))
        elif op == "TransactGetItems":
            for entry, got in zip(params["TransactItems"], response.get("Responses", [])):
                name = entry["Get"]["TableName"]
                self._read(usage, name, [got["Item"]] if "Item" in got else [], True, per_item=True, factor=2)


def _split_top_level(text: str) -> list[str]:
    """`a = :x, b = if_not_exists(b, :y)` -> the two actions (commas inside () kept)."""
    out, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += char
    return [a.strip() for a in out + [current] if a.strip()]

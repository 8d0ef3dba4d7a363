"""Telemetry ingestion and energy queries: DynamoDB requests and capacity units,
beside a naive design measured in the same run.

What is measured. AWS is moto's `mock_aws` with the tables and queues of
template.yaml (bench.stack.mocked_stack, as the tests' `aws` fixture). A hotel
(Europe/Lisbon) with meters is created through the API (the in-process
gateway, as bench/dynamodb.py does). Each meter sends a message every 5
minutes holding 10 readings 30 s apart (cumulative `energy_kwh` counter,
`power_w`, `voltage`, `current`); each message is wrapped as the IoT rule
(iot_rules/telemetry.sql) outputs it (payload + thing_name, client_id,
received_at) into an SQS record, and the records go through
gridpulse.telemetry.pipeline.handle_sqs_batch, the IngestFunction's code. The
measured window is 11:00 onwards, local time, of one day; the readings of that
day before 11:00 are loaded first (one backlog ingest per meter, not measured)
so that the day rollup items have their day-average size.

Every DynamoDB request is recorded by wrapping botocore's
BaseClient._make_api_call (as bench/dynamodb.py does), with its parameters
and response. Capacity units are ESTIMATED from those payloads with
DynamoDB's item-size rules (`item_size`): WRU = ceil(size / 1 KB) per item
written (for a PutItem or UpdateItem the larger of the item before and after;
a failed conditional write costs the existing item's size, at least 1 WRU;
transactions 2x); RRU = ceil(size / 4 KB) per item for GetItem/BatchGetItem,
ceil(total returned size / 4 KB) per Query request, halved for eventually
consistent reads, at least 0.5/1 per request. DynamoDB itself is not
consulted: moto does not report consumed capacity.

Rows of the ingestion table:

* ours, steady: each SQS batch holds one message per meter, which is what a
  fleet looks like at one message per meter per 5 minutes (the batch window is
  5 s): a batch of 100 records from 100 meters costs 100x one of these. The
  device-context cache (60 s) is emptied before each batch, as 5 minutes pass
  between a meter's messages. This row is what bench/cost.py prices.
* ours, backlog: the same kind of stream for other meters, in batches of 100
  records (many consecutive messages per meter, e.g. after an outage), to
  show what grouping by device saves.
* ours, duplicate delivery: the steady stream delivered again, whole (SQS and
  MQTT are at-least-once).
* naive: what most tutorials do, implemented here against a scratch table in
  the same mock: one IoT rule -> Lambda invocation per reading (the device
  sends each reading on its own, with the energy since its previous reading
  so that no read is needed), one PutItem per reading keyed by device +
  timestamp and three UpdateItem ADDs for the hour, day and month totals.
  Fed the same readings as the steady row, then the same readings again.

How to read it: `wall s` and `readings/s` time the handler calls only; moto
runs in-process, so absolute speed is for comparing the rows, not a
prediction for AWS. `rollup / true kWh` compares what the rollups hold for
the window with the energy actually metered (last counter value minus the
one before the window): 1.000 is right, 2.000 is double counting.
`handler CPU ms/msg` is process CPU time in the handler minus CPU time inside
AWS calls (botocore and moto): the code's own work, used by bench/cost.py.
The line under the capacity table splits the steady row's units by operation
and table, so it shows which requests make a message expensive.

The energy-query table: a separate meter gets 365 day rollup items written
directly (not through ingestion, which would take too long under moto) in the
shape rollups._write_day writes; then gridpulse.telemetry.service.energy
asks for 1 day by hour, 30 days by day and 365 days by month, and the items
DynamoDB returned are counted from the recorded Query responses. The naive
columns are computed, not measured: the raw readings a query over raw data
reads at 30 s sampling, and the items the naive design's counters need.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench.stack import STACK_NAME, mocked_stack, predicted_stack
from bench.table import render

# ---------------------------------------------------------------- the stream

SITE_TZ = "Europe/Lisbon"
STREAM_DATE = date(2025, 6, 11)  # a Wednesday, well away from a DST change
WINDOW_START_HOUR = 11  # local; the day's earlier readings are loaded before measuring
READINGS_PER_MESSAGE = 10
INTERVAL_S = 30
MESSAGE_SPAN_S = READINGS_PER_MESSAGE * INTERVAL_S  # a meter sends a message every 5 minutes
POWER_RATING_W = 5000
NAIVE_TABLE = "gridpulse-bench-naive-telemetry"
YEAR_DAYS = 365


@dataclass(frozen=True)
class Size:
    devices: int  # meters per ingestion row
    messages: int  # messages per meter in the measured window


SIZES = {"small": Size(devices=2, messages=6), "full": Size(devices=3, messages=24)}


@dataclass
class Meter:
    """One meter's day: every message it sends, in order."""

    thing: str
    device_id: str
    messages: list[dict]  # device payloads: {"readings": [...]}
    sent_at: list[int]  # broker receive time of each message, epoch ms
    counters: list[float]  # the counter value of the last reading of each message
    first_window: int  # index of the first message of the measured window

    def window(self, count: int) -> range:
        return range(self.first_window, self.first_window + count)

    def true_kwh(self, count: int) -> float:
        """Energy metered in the window: last counter minus the one just before it."""
        return self.counters[self.first_window + count - 1] - self.counters[self.first_window - 1]


def day_stream(seed: int, thing: str, device_id: str, messages_after_window: int) -> Meter:
    """A hotel-room load (base load plus an air conditioner cycling) from local
    midnight, at a random phase, up to the end of the measured window."""
    rng = random.Random(seed)
    tz = ZoneInfo(SITE_TZ)
    midnight = int(datetime(STREAM_DATE.year, STREAM_DATE.month, STREAM_DATE.day, tzinfo=tz).timestamp())
    phase = rng.randrange(MESSAGE_SPAN_S)
    first_window = math.ceil((WINDOW_START_HOUR * 3600 - phase) / MESSAGE_SPAN_S)
    base_w = rng.uniform(90, 220)
    counter, shown = rng.uniform(800, 9000), None
    hvac = False
    messages, sent_at, counters = [], [], []
    for m in range(first_window + messages_after_window):
        readings = []
        for k in range(READINGS_PER_MESSAGE):
            ts = midnight + phase + (m * READINGS_PER_MESSAGE + k) * INTERVAL_S
            if rng.random() < 0.04:
                hvac = not hvac
            power = base_w + (rng.uniform(1200, 1700) if hvac else 0) + rng.uniform(-15, 15)
            voltage = rng.uniform(226, 234)
            counter += power * INTERVAL_S / 3_600_000
            shown = round(counter, 3)  # the meter's register: 1 Wh resolution
            readings.append(
                {
                    "timestamp": ts,
                    "energy_kwh": shown,
                    "power_w": round(power, 1),
                    "voltage": round(voltage, 1),
                    "current": round(power / voltage, 3),
                }
            )
        messages.append({"readings": readings})
        sent_at.append((readings[-1]["timestamp"] * 1000) + rng.randrange(150, 1500))
        counters.append(shown)
    return Meter(thing, device_id, messages, sent_at, counters, first_window)


def rule_output(meter: Meter, index: int) -> dict:
    """What iot_rules/telemetry.sql selects: the payload plus the rule's fields."""
    return {
        **meter.messages[index],
        "thing_name": meter.thing,
        "client_id": meter.thing,
        "received_at": meter.sent_at[index],
    }


def sqs_record(meter: Meter, index: int, queue_arn: str) -> dict:
    body = json.dumps(rule_output(meter, index), separators=(",", ":"))
    return {
        "messageId": f"{meter.device_id}-{index:04d}",
        "receiptHandle": f"handle-{meter.device_id}-{index}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(meter.sent_at[index]),
            "SenderId": "AIDAIOTRULES",
            "ApproximateFirstReceiveTimestamp": str(meter.sent_at[index]),
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


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


@dataclass
class _Call:
    operation: str
    params: dict
    response: dict | None
    error: str | None
    usage: Usage | None  # None: setup or read-back, kept only to know item sizes


class Ledger:
    """Every DynamoDB request while installed. Requests made inside `measuring()`
    are charged to its Usage; all requests (setup too) keep a shadow copy of
    the items seen, so that overwrites are charged the larger of old and new.
    Costing happens in `settle()`, outside the timed code."""

    def __init__(self):
        self.pending: list[_Call] = []
        self.items: dict[tuple, dict] = {}  # (table, key) -> item as last seen
        self.key_names: dict[str, list[str]] = {}
        self.usage: Usage | None = None
        self.aws_cpu_s = 0.0  # process CPU spent inside AWS calls (botocore + moto)
        self.operation = ""  # the request being costed
        self._original = None

    @contextlib.contextmanager
    def installed(self):
        import botocore.client
        from botocore.exceptions import ClientError

        original = self._original = botocore.client.BaseClient._make_api_call
        ledger = self

        def recording(client, operation_name, api_params):
            service = client.meta.service_model.service_name
            usage = ledger.usage
            started = time.process_time()
            try:
                response = original(client, operation_name, api_params)
            except ClientError as exc:
                if service == "dynamodb":
                    ledger.pending.append(
                        _Call(operation_name, api_params, None, exc.response.get("Error", {}).get("Code"), usage)
                    )
                raise
            finally:
                ledger.aws_cpu_s += time.process_time() - started
            if service == "dynamodb":
                ledger.pending.append(_Call(operation_name, api_params, response, None, usage))
            elif usage is not None:
                usage.other_services[f"{service}:{operation_name}"] += 1
            return response

        botocore.client.BaseClient._make_api_call = recording
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    @contextlib.contextmanager
    def measuring(self, usage: Usage):
        self.settle()
        self.usage = usage
        try:
            yield usage
        finally:
            self.usage = None
            self.settle()

    # ---------------------------------------------------------- costing

    def settle(self) -> None:
        calls, self.pending = self.pending, []
        for call in calls:
            self._cost(call)

    def _keys(self, table: str) -> list[str]:
        if table not in self.key_names:
            import boto3

            client = boto3.client("dynamodb")
            described = self._original(client, "DescribeTable", {"TableName": table})  # not recorded
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

    def _cost(self, call: _Call) -> None:
        op, params, response, usage = call.operation, call.params, call.response or {}, call.usage
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


# ---------------------------------------------------------------- results


@dataclass
class Phase:
    """One row of the ingestion table."""

    label: str
    batches: int = 0
    messages: int = 0
    readings: int = 0
    wall_s: float = 0.0
    handler_cpu_s: float = 0.0
    aws_cpu_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    rollup_kwh: float = 0.0  # what the rollups hold for the window after this delivery
    true_kwh: float = 0.0  # the energy metered in the window
    failures: int = 0  # SQS records reported as failed
    checked: bool = True  # a row of our design: rollups must equal the metered energy

    def per_message(self, value: float) -> float:
        return value / self.messages if self.messages else 0.0

    def per_reading(self, value: float) -> float:
        return value / self.readings if self.readings else 0.0

    @property
    def own_cpu_ms_per_message(self) -> float:
        return self.per_message(max(0.0, self.handler_cpu_s - self.aws_cpu_s) * 1000)

    @property
    def ratio(self) -> float:
        return self.rollup_kwh / self.true_kwh if self.true_kwh else float("nan")

    @property
    def wrong(self) -> bool:
        return (
            bool(self.failures)
            or self.checked
            and not math.isclose(self.rollup_kwh, self.true_kwh, abs_tol=1e-6 * max(1, self.readings))
        )


@dataclass
class QueryRow:
    label: str
    period: str
    days: int
    requests: int
    items: int
    rru: float
    bytes_read: int
    answer_periods: int
    naive_raw_readings: int


@dataclass
class Measurement:
    """Everything bench/cost.py needs, measured in this run."""

    size: str
    size_spec: Size
    phases: dict[str, Phase]
    queries: list[QueryRow]
    message_payload_bytes: float  # the MQTT payload a meter publishes (10 readings)
    rule_output_bytes: float  # the SQS message body (payload + rule fields)
    raw_bytes_per_reading: float  # stored raw item bytes per reading (ours), without per-item overhead
    raw_readings_per_item: float
    day_item_bytes: float  # a full day's rollup item
    naive_message_bytes: float
    naive_raw_item_bytes: float
    naive_rollup_item_bytes: float
    naive_rollup_items_checked: int  # naive rollup items read back after the run
    naive_rollup_estimate_ok: bool  # their real size gives the WRU the request-based estimate gave
    ingest_memory_mb: int
    batch_size: int
    elapsed_s: float = 0.0


# ---------------------------------------------------------------- our design


class OurDesign:
    """Meters registered through the API, messages through handle_sqs_batch."""

    def __init__(self, stack, ledger: Ledger):
        from werkzeug.test import Client

        from infrastructure.local.gateway import Gateway, load_functions

        self.stack = stack
        self.ledger = ledger
        self.client = Client(Gateway(stack, load_functions(stack)))
        self.queue_arn = stack.attributes[("TelemetryQueue", "Arn")]
        self.token = self._admin_token()
        self.room = self._room()

    def _call(self, method: str, path: str, body: dict) -> dict:
        response = self.client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {self.token}"})
        try:
            data = response.get_json(silent=True) or {}
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {data}")
            return data
        finally:
            response.close()

    def _admin_token(self) -> str:
        from gridpulse.accounts.users import ensure_admin

        ensure_admin("root@gridpulse.example.com", "root-password-1")
        response = self.client.post(
            "/auth/login", json={"email": "root@gridpulse.example.com", "password": "root-password-1"}
        )
        try:
            return response.get_json()["token"]
        finally:
            response.close()

    def _room(self) -> str:
        hotel = self._call("POST", "/hotels", {"hotel_name": "Sea View", "timezone": SITE_TZ})["hotel_id"]
        section = self._call("POST", f"/hotels/{hotel}/sections", {"section_name": "Floor 1"})["section_id"]
        return self._call("POST", f"/sections/{section}/rooms", {"room_number": "101"})["room_id"]

    def meters(self, count: int, seed: int, size: Size) -> list[Meter]:
        out = []
        for n in range(count):
            created = self._call(
                "POST",
                f"/rooms/{self.room}/devices",
                {"device_name": f"meter {seed + n}", "power_rating_w": POWER_RATING_W},
            )
            out.append(day_stream(seed + n, created["credentials"]["thing_name"], created["device_id"], size.messages))
        return out

    def preload_morning(self, meters: list[Meter]) -> None:
        """The day's readings before the window: one backlog ingest per meter, not measured."""
        from gridpulse.devices.context import context_for
        from gridpulse.observability import metrics
        from gridpulse.telemetry.ingest import Message, ingest

        for meter in meters:
            messages = [Message(meter.messages[i], meter.sent_at[i], "mqtt") for i in range(meter.first_window)]
            ingest(context_for(meter.device_id), messages)
        metrics.clear_metrics()

    def day_kwh(self, meter: Meter) -> float:
        from gridpulse.telemetry.data import DayItem, day_sk, device_pk

        return float(DayItem.get(device_pk(meter.device_id), day_sk(STREAM_DATE.isoformat()), consistent_read=True).kwh)

    def deliver(self, phase: Phase, batches: list[list[tuple[Meter, int]]], fresh_context: bool) -> None:
        """Each batch through handle_sqs_batch, timed; costing afterwards."""
        from gridpulse.devices.context import forget_context
        from gridpulse.observability import metrics
        from gridpulse.telemetry.pipeline import handle_sqs_batch

        events = [{"Records": [sqs_record(m, i, self.queue_arn) for m, i in batch]} for batch in batches]
        with self.ledger.measuring(phase.usage):
            for event in events:
                if fresh_context:
                    forget_context()  # 5 minutes pass between a meter's messages; the cache lasts 60 s
                aws_before = self.ledger.aws_cpu_s
                cpu, wall = time.process_time(), time.perf_counter()
                result = handle_sqs_batch(event)
                phase.wall_s += time.perf_counter() - wall
                phase.handler_cpu_s += time.process_time() - cpu
                phase.aws_cpu_s += self.ledger.aws_cpu_s - aws_before
                phase.failures += len(result["batchItemFailures"])
                metrics.clear_metrics()  # the real handler flushes them per invocation (@metrics.log_metrics)
        phase.batches += len(events)
        phase.messages += sum(len(e["Records"]) for e in events)
        phase.readings += sum(len(m.messages[i]["readings"]) for batch in batches for m, i in batch)

    def raw_item_stats(self, meters: list[Meter]) -> tuple[float, float]:
        """(bytes per reading, readings per item) of the raw items written in the window (read back)."""
        import boto3

        from gridpulse.telemetry.data import TELEMETRY_TABLE, device_pk

        client = boto3.client("dynamodb")
        total, readings, items = 0, 0, 0
        for meter in meters:
            window_start = meter.messages[meter.first_window]["readings"][0]["timestamp"] * 1000
            pages = client.get_paginator("query").paginate(
                TableName=TELEMETRY_TABLE,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
                ExpressionAttributeValues={":pk": {"S": device_pk(meter.device_id)}, ":r": {"S": "r#"}},
            )
            for page in pages:
                for item in page["Items"]:
                    if int(item["first_ts"]["N"]) >= window_start:
                        total += item_size(item)
                        readings += int(item["n"]["N"])
                        items += 1
        return total / readings, readings / items


def steady_batches(meters: list[Meter], size: Size) -> list[list[tuple[Meter, int]]]:
    """One batch per 5-minute tick, holding that tick's message of every meter."""
    return [[(m, m.first_window + t) for m in meters] for t in range(size.messages)]


def backlog_batches(meters: list[Meter], size: Size, batch_size: int) -> list[list[tuple[Meter, int]]]:
    """The same kind of stream in arrival order, cut into full SQS batches."""
    arrivals = sorted(((m.sent_at[i], n, i) for n, m in enumerate(meters) for i in m.window(size.messages)))
    ordered = [(meters[n], i) for _, n, i in arrivals]
    return [ordered[k : k + batch_size] for k in range(0, len(ordered), batch_size)]


def window_rollups(design: OurDesign, meters: list[Meter], before: float) -> float:
    """kWh the day rollups of `meters` gained since `before` (their total before the window)."""
    return sum(design.day_kwh(m) for m in meters) - before


# ---------------------------------------------------------------- the naive design


class NaiveDesign:
    """What most tutorials do: per reading, one PutItem of the raw reading and
    three UpdateItem ADDs to hour/day/month totals (UTC), in a scratch table."""

    def __init__(self, ledger: Ledger):
        import boto3

        self.ledger = ledger
        self.client = boto3.client("dynamodb")
        self.client.create_table(
            TableName=NAIVE_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        self.client.update_time_to_live(
            TableName=NAIVE_TABLE, TimeToLiveSpecification={"AttributeName": "ttl", "Enabled": True}
        )

    @staticmethod
    def events(meters: list[Meter], size: Size) -> list[dict]:
        """One message per reading, as the IoT rule hands it to the Lambda function,
        in arrival order; the device adds the energy since its previous reading."""
        out = []
        for t in range(size.messages):
            for meter in meters:
                index = meter.first_window + t
                previous = meter.counters[index - 1]
                for reading in meter.messages[index]["readings"]:
                    delta = round(reading["energy_kwh"] - previous, 3)
                    previous = reading["energy_kwh"]
                    out.append(
                        {
                            **reading,
                            "energy_delta_kwh": delta,
                            "thing_name": meter.thing,
                            "client_id": meter.thing,
                            "received_at": reading["timestamp"] * 1000 + 400,
                        }
                    )
        return out

    def handle(self, event: dict) -> None:
        """The naive Lambda handler (one invocation per reading)."""
        ts = datetime.fromtimestamp(event["timestamp"], tz=timezone.utc)
        pk = {"S": f"device#{event['thing_name']}"}
        self.client.put_item(
            TableName=NAIVE_TABLE,
            Item={
                "pk": pk,
                "sk": {"S": ts.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "timestamp": {"N": str(event["timestamp"])},
                "energy_kwh": {"N": str(event["energy_kwh"])},
                "power_w": {"N": str(event["power_w"])},
                "voltage": {"N": str(event["voltage"])},
                "current": {"N": str(event["current"])},
                "received_at": {"N": str(event["received_at"])},
                "ttl": {"N": str(int(time.time()) + 400 * 86400)},
            },
        )
        for sk in (ts.strftime("hour#%Y-%m-%dT%H"), ts.strftime("day#%Y-%m-%d"), ts.strftime("month#%Y-%m")):
            self.client.update_item(
                TableName=NAIVE_TABLE,
                Key={"pk": pk, "sk": {"S": sk}},
                UpdateExpression="ADD energy_kwh :e, readings :one",
                ExpressionAttributeValues={":e": {"N": str(event["energy_delta_kwh"])}, ":one": {"N": "1"}},
            )

    def deliver(self, phase: Phase, events: list[dict]) -> None:
        with self.ledger.measuring(phase.usage):
            aws_before = self.ledger.aws_cpu_s
            cpu, wall = time.process_time(), time.perf_counter()
            for event in events:
                self.handle(json.loads(json.dumps(event)))  # the rule hands the function a JSON document
            phase.wall_s += time.perf_counter() - wall
            phase.handler_cpu_s += time.process_time() - cpu
            phase.aws_cpu_s += self.ledger.aws_cpu_s - aws_before
        phase.batches += len(events)
        phase.messages += len(events)
        phase.readings += len(events)
        phase.rollup_kwh = sum(
            float(i["energy_kwh"]["N"]) for i in self.items(events) if i["sk"]["S"].startswith("day#")
        )

    def items(self, events: list[dict]) -> list[dict]:
        """Every item of the devices in `events` (read back, outside any measurement)."""
        items = []
        for thing in sorted({e["thing_name"] for e in events}):
            pages = self.client.get_paginator("query").paginate(
                TableName=NAIVE_TABLE,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"device#{thing}"}},
            )
            items += [item for page in pages for item in page["Items"]]
        return items


# ---------------------------------------------------------------- energy queries over a year


def seed_year(device_id: str, tz_name: str) -> None:
    """365 day rollups and their month rollups written directly, in the shape
    rollups._write_day and rollups._record_day_in_month write."""
    from gridpulse.telemetry.data import DayItem, MonthItem, day_sk, device_pk, month_sk
    from gridpulse.telemetry.readings import Reading
    from gridpulse.telemetry.rollups import HOUR_MS, day_bounds_ms

    rng = random.Random(2024)
    tz = ZoneInfo(tz_name)
    today = datetime.now(tz).date()
    counter = 1000.0
    months: dict[str, dict] = {}
    with DayItem.batch_write() as batch:
        for back in range(YEAR_DAYS - 1, -1, -1):
            day = today - timedelta(days=back)
            start, end = day_bounds_ms(day, tz)
            buckets = {}
            for bucket in range(start, end, HOUR_MS):
                kwh = round(rng.uniform(0.08, 1.9), 3)  # counter deltas: 1 Wh resolution
                mean_w = kwh * 1000
                buckets[str(bucket)] = {
                    "e": kwh,
                    "n": 120,
                    "ps": round(mean_w * 120, 1),
                    "pn": 120,
                    "pmin": round(mean_w * rng.uniform(0.2, 0.9), 1),
                    "pmax": round(mean_w * rng.uniform(1.1, 2.5), 1),
                }
                counter += kwh
            last_ts = end - INTERVAL_S * 1000
            latest = Reading(
                ts_ms=last_ts,
                received_ms=last_ts + 800,
                identity=f"t{last_ts}",
                voltage=230.4,
                current=1.303,
                power_w=300.2,
                energy_kwh=round(counter, 3),
            )
            batch.save(
                DayItem(
                    device_pk(device_id),
                    day_sk(day.isoformat()),
                    date=day.isoformat(),
                    tz=tz_name,
                    buckets=json.dumps(buckets, separators=(",", ":"), sort_keys=True),
                    kwh=round(sum(b["e"] for b in buckets.values()), 6),
                    n=120 * len(buckets),
                    latest=json.dumps(latest.compact(), separators=(",", ":")),
                    version=len(buckets) * 12,
                    updated_at=datetime.fromtimestamp(end / 1000, tz=timezone.utc).isoformat(),
                )
            )
            months.setdefault(day.isoformat()[:7], {})[day.isoformat()] = {
                "k": round(sum(b["e"] for b in buckets.values()), 6),
                "v": len(buckets) * 12,
            }
    with MonthItem.batch_write() as batch:
        for month, days in months.items():
            batch.save(MonthItem(device_pk(device_id), month_sk(month), tz=tz_name, days=days))


def measure_queries(ledger: Ledger) -> list[QueryRow]:
    from gridpulse.devices.context import DeviceContext
    from gridpulse.telemetry.service import energy

    context = DeviceContext(device_id="bench-year-meter", owner_id="bench", tz=SITE_TZ, max_power_w=15_000.0)
    seed_year(context.device_id, context.tz)
    rows = []
    for label, period, days in (
        ("1 day by hour", "hour", 1),
        ("30 days by day", "day", 30),
        ("365 days by month", "month", 365),
    ):
        with ledger.measuring(Usage()) as usage:
            answer = energy(context, period, f"-{days}d", None, None)
        rows.append(
            QueryRow(
                label,
                period,
                days,
                usage.requests,
                usage.items_read,
                usage.rru,
                usage.bytes_read,
                answer["count"],
                days * 86400 // INTERVAL_S,
            )
        )
    return rows


# ---------------------------------------------------------------- the run


def ingest_function_settings() -> tuple[int, int]:
    """(memory MB, SQS batch size) of the IngestFunction in template.yaml."""
    stack = predicted_stack()
    props = stack.functions()["IngestFunction"]["Properties"]
    glob = (stack.template.get("Globals") or {}).get("Function") or {}
    return int(props.get("MemorySize", glob.get("MemorySize", 128))), int(
        props["Events"]["Telemetry"]["Properties"]["BatchSize"]
    )


def measure(size_name: str = "full") -> Measurement:
    size = SIZES[size_name]
    started = time.perf_counter()
    memory_mb, batch_size = ingest_function_settings()

    ledger = Ledger()
    with mocked_stack() as stack, ledger.installed():
        ours = OurDesign(stack, ledger)
        steady_meters = ours.meters(size.devices, seed=1, size=size)
        backlog_meters = ours.meters(size.devices, seed=1001, size=size)
        ours.preload_morning(steady_meters + backlog_meters)
        metered = sum(m.true_kwh(size.messages) for m in steady_meters)

        steady = Phase("ours: first delivery, steady (1 message per meter per batch)", true_kwh=metered)
        before = sum(ours.day_kwh(m) for m in steady_meters)
        ours.deliver(steady, steady_batches(steady_meters, size), fresh_context=True)
        steady.rollup_kwh = window_rollups(ours, steady_meters, before)

        backlog = Phase(
            f"ours: first delivery, backlog (batches of {batch_size} records)",
            true_kwh=sum(m.true_kwh(size.messages) for m in backlog_meters),
        )
        backlog_before = sum(ours.day_kwh(m) for m in backlog_meters)
        ours.deliver(backlog, backlog_batches(backlog_meters, size, batch_size), fresh_context=False)
        backlog.rollup_kwh = window_rollups(ours, backlog_meters, backlog_before)

        duplicate = Phase("ours: duplicate delivery of the whole steady stream", true_kwh=metered)
        ours.deliver(duplicate, steady_batches(steady_meters, size), fresh_context=True)
        duplicate.rollup_kwh = window_rollups(ours, steady_meters, before)
        raw_bytes, per_item = ours.raw_item_stats(steady_meters)

        naive = NaiveDesign(ledger)
        events = naive.events(steady_meters, size)
        naive_first = Phase("naive: first delivery (1 message per reading)", true_kwh=metered, checked=False)
        naive.deliver(naive_first, events)
        naive_dup = Phase("naive: duplicate delivery of the whole stream", true_kwh=metered, checked=False)
        naive.deliver(naive_dup, events)
        naive_items = naive.items(events)

        queries = measure_queries(ledger)
        ledger.settle()

    window = [(m, i) for m in steady_meters for i in m.window(size.messages)]
    payloads = [len(json.dumps(m.messages[i], separators=(",", ":"))) for m, i in window]
    outputs = [len(json.dumps(rule_output(m, i), separators=(",", ":"))) for m, i in window]
    rule_fields = ("thing_name", "client_id", "received_at")
    naive_payloads = [
        len(json.dumps({k: v for k, v in e.items() if k not in rule_fields}, separators=(",", ":"))) for e in events
    ]
    naive_raw = [item_size(i) for i in naive_items if "#" not in i["sk"]["S"]]
    naive_counters = [item_size(i) for i in naive_items if "#" in i["sk"]["S"]]
    year = next(q for q in queries if q.period == "month")
    return Measurement(
        size=size_name,
        size_spec=size,
        phases={
            "steady": steady,
            "backlog": backlog,
            "duplicate": duplicate,
            "naive": naive_first,
            "naive_duplicate": naive_dup,
        },
        queries=queries,
        message_payload_bytes=sum(payloads) / len(payloads),
        rule_output_bytes=sum(outputs) / len(outputs),
        raw_bytes_per_reading=raw_bytes,
        raw_readings_per_item=per_item,
        day_item_bytes=year.bytes_read / year.items if year.items else 0.0,
        naive_message_bytes=sum(naive_payloads) / len(naive_payloads),
        naive_raw_item_bytes=sum(naive_raw) / len(naive_raw),
        naive_rollup_item_bytes=max(naive_counters),
        naive_rollup_items_checked=len(naive_counters),
        # The request-based estimate charged 1 WRU per naive counter update: true if the real items agree.
        naive_rollup_estimate_ok=all(wru(size) == 1 for size in naive_counters),
        ingest_memory_mb=memory_mb,
        batch_size=batch_size,
        elapsed_s=time.perf_counter() - started,
    )


def _ops(usage: Usage, per: int) -> str:
    return ", ".join(f"{op} {n / per:.2f}" for op, n in sorted(usage.operations.items())) or "-"


ROWS = ("steady", "backlog", "duplicate", "naive", "naive_duplicate")


def report(m: Measurement) -> int:
    size = m.size_spec
    steady = m.phases["steady"]
    print(
        f"Telemetry ingestion: throughput and DynamoDB requests (moto in-process: speeds are for comparing rows; "
        f"--size {m.size})"
    )
    print(
        f"Stream per row: {size.devices} meters x {size.messages} messages x {READINGS_PER_MESSAGE} readings "
        f"{INTERVAL_S} s apart (counter energy_kwh, power_w, voltage, current) = {steady.readings:,} readings, "
        f"{STREAM_DATE} from {WINDOW_START_HOUR}:00 {SITE_TZ}"
    )
    rows = []
    for key in ROWS:
        p = m.phases[key]
        rows.append(
            [
                ("! " if p.wrong else "") + p.label,
                str(p.batches),
                str(p.messages),
                str(p.readings),
                f"{p.wall_s:.2f}",
                f"{p.readings / p.wall_s:,.0f}" if p.wall_s else "-",
                str(p.usage.requests),
                f"{p.per_message(p.usage.requests):.2f}",
                f"{p.per_reading(p.usage.requests):.3f}",
                f"{p.rollup_kwh:.3f} / {p.true_kwh:.3f}",
                f"{p.ratio:.3f}",
            ]
        )
    print(
        render(
            [
                "design / delivery",
                "invocations",
                "messages",
                "readings",
                "wall s",
                "readings/s",
                "DynamoDB requests",
                "req/msg",
                "req/reading",
                "rollup / metered kWh",
                "ratio",
            ],
            rows,
            right=set(range(1, 11)),
        )
    )

    print()
    print(
        "Write and read capacity units, ESTIMATED from the recorded requests and responses (DynamoDB item-size "
        "rules; see bench/ingestion.py)"
    )
    rows = []
    for key in ROWS:
        p = m.phases[key]
        rows.append(
            [
                p.label.split(" (")[0],
                f"{p.per_message(p.usage.wru):.2f}",
                f"{p.per_message(p.usage.rru):.2f}",
                f"{p.per_reading(p.usage.wru):.3f}",
                f"{p.per_reading(p.usage.rru):.3f}",
                f"{p.own_cpu_ms_per_message:.2f}",
                _ops(p.usage, p.messages),
            ]
        )
    print(
        render(
            [
                "design / delivery",
                "WRU/msg",
                "RRU/msg",
                "WRU/reading",
                "RRU/reading",
                "handler CPU ms/msg",
                "DynamoDB operations per message",
            ],
            rows,
            right={1, 2, 3, 4, 5},
        )
    )
    print(
        "Where the steady row's units go, per message: "
        + "; ".join(f"{k} {v / steady.messages:.2f} WRU" for k, v in steady.usage.wru_by.most_common())
        + "; "
        + "; ".join(f"{k} {v / steady.messages:.2f} RRU" for k, v in steady.usage.rru_by.most_common())
    )
    others = Counter()
    for key in ROWS:
        others.update(m.phases[key].usage.other_services)
    if others:
        print("Other AWS calls during delivery: " + ", ".join(f"{k} x{v}" for k, v in others.items()))
    dup, naive_dup = m.phases["duplicate"], m.phases["naive_duplicate"]
    print(
        f"Duplicate delivery: ours costs {dup.per_message(dup.usage.requests):.2f} requests per redelivered message "
        f"and counts nothing twice (ratio {dup.ratio:.3f}); naive costs the same as the first delivery and its "
        f"counters now hold {naive_dup.ratio:.3f}x the metered energy."
    )
    print(
        f"Stored per reading: ours {m.raw_bytes_per_reading:.1f} bytes (raw items of {m.raw_readings_per_item:.1f} "
        f"readings), naive {m.naive_raw_item_bytes:.1f} bytes (an item per reading) plus its counters. Naive "
        f"UpdateItem sizes are estimated from the requests; read back after the run, the largest of its "
        f"{m.naive_rollup_items_checked} counter items has {m.naive_rollup_item_bytes} bytes "
        f"({'1 WRU per update, as estimated' if m.naive_rollup_estimate_ok else 'over 1 KB: the estimate is low'})."
    )
    print(
        "handler CPU ms/msg: process CPU in the handler minus CPU inside AWS calls (botocore + moto), on this "
        "machine; the steady row feeds the Lambda duration estimate in the cost table."
    )

    print()
    print("Energy queries over a year of rollups: items DynamoDB returned, from the recorded Query responses")
    print(
        f"(365 day items and their month items written directly, in the shape rollups writes them; a day item: "
        f"23-25 hourly buckets with "
        f"e/n/ps/pn/pmin/pmax, kwh, n, latest, version; {m.day_item_bytes:,.0f} bytes each on average. Seeding a "
        f"year through ingestion is too slow under moto.)"
    )
    print(
        f"Naive columns are COMPUTED, not measured: a query over raw readings at {INTERVAL_S} s sampling, read "
        f"eventually consistent at {m.naive_raw_item_bytes:.0f} bytes per reading item (1 MB per Query page); "
        f"or the naive counters, one item per period."
    )
    rows = []
    for q in m.queries:
        naive_bytes = q.naive_raw_readings * m.naive_raw_item_bytes
        rows.append(
            [
                f"energy, {q.label} (period={q.period})",
                str(q.answer_periods),
                str(q.requests),
                str(q.items),
                f"{q.rru:g}",
                f"{q.naive_raw_readings:,}",
                f"{math.ceil(naive_bytes / 4096) / 2:,.0f}",
                f"{math.ceil(naive_bytes / 1_048_576):,}",
                str(q.answer_periods),
            ]
        )
    print(
        render(
            [
                "query",
                "periods",
                "ours: requests",
                "ours: items read",
                "ours: RRU",
                "naive raw: items read",
                "naive raw: RRU",
                "naive raw: requests",
                "naive counters: items",
            ],
            rows,
            right=set(range(1, 9)),
        )
    )
    print(
        "The naive counters read the fewest items, but are right only if every reading arrives exactly once "
        "(see the duplicate rows above)."
    )

    wrong = [p for p in m.phases.values() if p.wrong]
    for p in wrong:
        print(
            f"! {p.label}: rollups hold {p.rollup_kwh:.6f} kWh for {p.true_kwh:.6f} kWh metered; "
            f"{p.failures} records reported failed"
        )
    print(f"(ingestion benchmark took {m.elapsed_s:.1f} s)")
    return 1 if wrong else 0


def run(size_name: str = "full") -> tuple[int, Measurement]:
    measurement = measure(size_name)
    return report(measurement), measurement

"""Alert evaluation: readings evaluated per second, DynamoDB requests and
estimated capacity units per message and per evaluated reading, alerts raised
and notifications sent; beside the ingestion path fed the same messages, and
a naive evaluator measured in the same run.

What is measured. AWS is moto's `mock_aws` with the tables, queues and topic
of template.yaml (bench.stack.mocked_stack). Meters are registered through
the API exactly as bench/ingestion does (its OurDesign: a hotel in
Europe/Lisbon, power rating 5,000 W, so the default max_power_w is 5,500 W),
and they send bench/ingestion's stream (its `day_stream`, seed 1 for every
set of meters, so every row sees the same readings): a message every 5
minutes holding 10 readings 30 s apart of a hotel-room load (base load plus
an air conditioner cycling), from 11:00 local time. Each message is wrapped
by bench/ingestion's `sqs_record` as the telemetry IoT rule's second action
(iot_rules/telemetry.sql) puts it on the AlertsQueue,
and the records go through gridpulse.alerts.pipeline.handle_sqs_batch, the
AlertEvaluatorFunction's code, one batch per 5-minute tick holding that
tick's message of every meter (bench/ingestion's steady batches). The
rules cache (60 s) is emptied before each batch: 5 minutes pass between a
meter's messages.

Before the measured window each meter's evaluation state is brought to
steady state, not measured: the same day's stream replayed for the
HISTORY_DAYS previous days, then the day's readings before 11:00, so the
state item carries a full hour-of-day profile (its real size) and the anomaly
check has enough days to run.

Rows of the alert table:

* steady, no breach: the common case. The stream has no threshold breach,
  but under the default rules the air conditioner switching on (about 1.5 kW
  over a base load of 100-200 W) is a `spike` (over 3x the recent baseline)
  and can be an `anomaly` against the hour's profile; so these meters' rules
  are set through the API to spike_factor 100 and anomaly off. Must evaluate
  every reading and raise nothing.
* steady, default rules: the same stream for other meters with the default
  rules, to show what the spike and anomaly rules make of it (alerts raised,
  resolved and notifications sent are real, not a defect of the benchmark).
* breach episode: the steady stream (rules as in the first row) for other
  meters, with the readings of a run of consecutive messages raised over
  max_power_w (5,600-6,000 W: under 1.5x the limit, so `warning`, and under
  max_current): each meter's `over_power` alert is raised once (one SNS
  email and one MQTT message), bumped by every later breaching message, and
  resolved automatically once clear for clear_after_s (300 s).
* duplicate delivery: all the records of the three rows above delivered
  again, in the same batches (SQS and MQTT are at-least-once). Must evaluate
  0 readings, raise, resolve and notify nothing.

Columns. `evaluated` is the readings the evaluator found new (the code's
AlertEvaluations metric); `raised` and `resolved` are its AlertsRaised and
AlertsResolved metrics; `notifications` counts the SNS Publish calls recorded
during the row (each has an MQTT publish beside it, listed under the table).
DynamoDB requests are recorded and capacity units ESTIMATED exactly as
bench/ingestion does (its capacity.Ledger, `item_size` and DynamoDB's item-size
rules; transactions 2x); see its docstring. `wall s` and `evaluated/s` time
the handler calls only; moto runs in-process, so absolute speed is for
comparing rows, not a prediction for AWS. `handler CPU ms/msg` is process
CPU in the handler minus CPU inside AWS calls, as in bench/ingestion.

The side-by-side table: the first row's meters' messages also go through
gridpulse.telemetry.pipeline.handle_sqs_batch (ingestion), measured as
bench/ingestion measures its steady row (morning preloaded, device
context emptied before each batch), so a reader sees what one telemetry
message costs on each path (in AWS every message goes to both queues).

The baseline line: a naive evaluator, implemented below against a scratch
table in the same mock and fed the breach episode's records: per message one
GetItem of the device (for the limit), per reading over max_power_w one
PutItem of an alert item (keyed by device and reading time, so a redelivery
overwrites rather than adds) and one SNS publish; no one-open-alert guard.
It shows how many alert items and notifications each design leaves for the
same episode, and again after a redelivery.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.ingestion.capacity import Ledger, Usage, item_size
from bench.ingestion.workload import (
    INTERVAL_S,
    MESSAGE_SPAN_S,
    POWER_RATING_W,
    READINGS_PER_MESSAGE,
    SITE_TZ,
    SIZES,
    STREAM_DATE,
    WINDOW_START_HOUR,
    Meter,
    OurDesign,
    Phase,
    Size,
    day_stream,
    sqs_record,
    steady_batches,
)
from bench.stack import mocked_stack
from bench.table import render

SEED = 1  # bench/ingestion's steady meters: the same readings
HISTORY_DAYS = 3  # days replayed before the window (the anomaly check needs 3)
MESSAGES_PER_DAY = 86_400 // MESSAGE_SPAN_S
QUIET_RULES = {"spike_factor": 100, "anomaly": False}  # the air conditioner cycling is not a breach
BREACH_W = (5600.0, 6000.0)  # over max_power_w (5,500), under 1.5x it (critical) and under max_current
NAIVE_TABLE = "gridpulse-bench-naive-alerts"
EVALUATED, RAISED, RESOLVED = "AlertEvaluations", "AlertsRaised", "AlertsResolved"


# ---------------------------------------------------------------- the stream


def shifted(meter: Meter, seconds: int) -> Meter:
    """The meter's messages moved in time (a replay of the day on an earlier day)."""
    messages = [
        {"readings": [{**r, "timestamp": r["timestamp"] + seconds} for r in m["readings"]]} for m in meter.messages
    ]
    return Meter(
        meter.thing,
        meter.device_id,
        messages,
        [s + seconds * 1000 for s in meter.sent_at],
        meter.counters,
        meter.first_window,
    )


def breach_span(size: Size) -> range:
    """The window messages (0-based ticks) whose readings are over max_power_w."""
    start = size.messages // 3
    return range(start, start + max(2, size.messages // 4))


def with_breach(meter: Meter, size: Size, seed: int) -> tuple[Meter, int]:
    """The meter's stream with the breach span's power raised; and how many readings breach."""
    rng = random.Random(seed)
    messages = list(meter.messages)
    breaching = 0
    for tick in breach_span(size):
        index = meter.first_window + tick
        readings = []
        for r in messages[index]["readings"]:
            power = round(rng.uniform(*BREACH_W), 1)
            readings.append({**r, "power_w": power, "current": round(power / r["voltage"], 3)})
            breaching += 1
        messages[index] = {"readings": readings}
    return Meter(meter.thing, meter.device_id, messages, meter.sent_at, meter.counters, meter.first_window), breaching


# ---------------------------------------------------------------- results


@dataclass
class Row:
    """One row of the alert table."""

    label: str
    messages: int = 0
    readings: int = 0
    evaluated: int = 0
    raised: int = 0
    resolved: int = 0
    failures: int = 0
    wall_s: float = 0.0
    handler_cpu_s: float = 0.0
    aws_cpu_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    clients_created: int = 0  # botocore clients created inside the handler
    client_cpu_s: float = 0.0  # process CPU spent creating them
    expect: dict = field(default_factory=dict)  # column -> value it must have
    problems: list[str] = field(default_factory=list)

    @property
    def notifications(self) -> int:
        return self.usage.other_services["sns:Publish"]

    @property
    def mqtt(self) -> int:
        return self.usage.other_services["iot-data:Publish"]

    def per_message(self, value: float) -> float:
        return value / self.messages if self.messages else 0.0

    def per_evaluated(self, value: float) -> str:
        return f"{value / self.evaluated:.3f}" if self.evaluated else "-"

    @property
    def own_cpu_ms_per_message(self) -> float:
        return self.per_message(max(0.0, self.handler_cpu_s - self.aws_cpu_s) * 1000)

    def check(self) -> None:
        actual = {
            "evaluated": self.evaluated,
            "raised": self.raised,
            "resolved": self.resolved,
            "notifications": self.notifications,
            "failures": self.failures,
        }
        self.problems = [
            f"{name} {actual[name]}, expected {value}" for name, value in self.expect.items() if actual[name] != value
        ]


@dataclass
class Measurement:
    size: str
    size_spec: Size
    rows: dict[str, Row]
    ingestion: Phase  # the steady row's messages through the ingestion handler
    breaching_readings: int  # readings over max_power_w in the breach episode
    ours_items: Counter  # (alert_type, status, count) of the breach meters' alert items
    naive: Row
    naive_dup: Row
    naive_items: int
    naive_items_after_dup: int
    default_types: Counter  # alert types the default-rules meters raised in the window
    state_bytes: int  # the largest evaluation state item after the window
    elapsed_s: float = 0.0
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- our evaluator


class AlertPath:
    """Meters (bench/ingestion's OurDesign), their warm evaluation state,
    and records through the alert evaluator's handle_sqs_batch."""

    def __init__(self, stack, ledger: Ledger, ours: OurDesign):
        self.ledger = ledger
        self.ours = ours
        self.queue_arn = stack.attributes[("AlertsQueue", "Arn")]

    def meters(self, size: Size, rules: dict | None) -> list[Meter]:
        meters = self.ours.meters(size.devices, seed=SEED, size=size)
        for meter in meters:
            if rules:
                self.ours._call("PUT", f"/devices/{meter.device_id}/alert-rules", rules)
        return meters

    def warm_up(self, meters: list[Meter]) -> None:
        """HISTORY_DAYS replays of the whole day, then the morning: not measured."""
        from gridpulse.alerts.pipeline import handle_sqs_batch
        from gridpulse.observability import metrics

        for n, meter in enumerate(meters):
            whole = day_stream(SEED + n, meter.thing, meter.device_id, MESSAGES_PER_DAY - meter.first_window)
            history = []
            for back in range(HISTORY_DAYS, 0, -1):
                day = shifted(whole, -back * 86_400)
                history += [sqs_record(day, i, self.queue_arn) for i in range(len(day.messages))]
            morning = [sqs_record(meter, i, self.queue_arn) for i in range(meter.first_window)]
            for records in (history, morning):
                result = handle_sqs_batch({"Records": records})
                if result["batchItemFailures"]:
                    raise RuntimeError(f"warm-up of {meter.device_id} failed: {result}")
        metrics.clear_metrics()

    def records(self, batches: list[list[tuple[Meter, int]]]) -> list[dict]:
        return [{"Records": [sqs_record(m, i, self.queue_arn) for m, i in batch]} for batch in batches]

    def deliver(self, row: Row, events: list[dict], handler=None) -> None:
        """Each event through the handler, timed; metrics and calls counted."""
        from gridpulse.alerts.pipeline import handle_sqs_batch
        from gridpulse.alerts.rules import forget
        from gridpulse.observability import metrics, pending

        handler = handler or handle_sqs_batch
        metrics.clear_metrics()
        with self.ledger.measuring(row.usage), _counting_clients(row):
            for event in events:
                forget()  # 5 minutes pass between a meter's messages; the rules cache lasts 60 s
                aws_before = self.ledger.aws_cpu_s
                cpu, wall = time.process_time(), time.perf_counter()
                result = handler(event)
                row.wall_s += time.perf_counter() - wall
                row.handler_cpu_s += time.process_time() - cpu
                row.aws_cpu_s += self.ledger.aws_cpu_s - aws_before
                row.failures += len((result or {}).get("batchItemFailures", []))
                found = pending()
                row.evaluated += int(found.get(EVALUATED, 0))
                row.raised += int(found.get(RAISED, 0))
                row.resolved += int(found.get(RESOLVED, 0))
                metrics.clear_metrics()  # the real handler flushes them per invocation (@metrics.log_metrics)
        row.messages += sum(len(e["Records"]) for e in events)
        row.readings += sum(len(json.loads(r["body"])["readings"]) for e in events for r in e["Records"])

    @staticmethod
    def state_bytes(meters: list[Meter]) -> int:
        """The largest evaluation state item of these meters (read back)."""
        import boto3

        from gridpulse.alerts.data import ALERTS_TABLE, AlertStateItem

        client = boto3.client("dynamodb")
        return max(
            item_size(
                client.get_item(
                    TableName=ALERTS_TABLE, ConsistentRead=True, Key={"pk": {"S": AlertStateItem.key(m.device_id)}}
                )["Item"]
            )
            for m in meters
        )

    @staticmethod
    def alert_items(meters: list[Meter]) -> list:
        """Every alert item of these meters (read back, outside any measurement)."""
        from gridpulse.alerts.data import AlertItem

        return [a for m in meters for a in AlertItem.by_device.query(m.device_id)]


@contextlib.contextmanager
def _counting_clients(row: Row):
    """Count botocore clients created (and the CPU it takes) while installed."""
    import botocore.session

    original = botocore.session.Session.create_client

    def counting(session, *args, **kwargs):
        started = time.process_time()
        try:
            return original(session, *args, **kwargs)
        finally:
            row.clients_created += 1
            row.client_cpu_s += time.process_time() - started

    botocore.session.Session.create_client = counting
    try:
        yield
    finally:
        botocore.session.Session.create_client = original


# ---------------------------------------------------------------- the naive evaluator


class NaiveEvaluator:
    """Per message, GetItem of the device for its limit; per reading over
    max_power_w, PutItem of an alert item and an SNS publish. No guard, no state."""

    def __init__(self):
        import boto3

        from gridpulse.devices.data import DEVICES_TABLE
        from gridpulse.settings import get_settings

        self.client = boto3.client("dynamodb")
        self.sns = boto3.client("sns")
        self.devices_table = DEVICES_TABLE
        self.topic = get_settings().alerts_topic_arn
        self.client.create_table(
            TableName=NAIVE_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )

    def handle(self, event: dict) -> dict:
        from gridpulse.alerts.rules import defaults
        from gridpulse.devices.data import DeviceItem
        from gridpulse.devices.provisioning import device_id_for

        for record in event["Records"]:
            body = json.loads(record["body"])
            device_id = device_id_for(body["thing_name"])
            device = self.client.get_item(
                TableName=self.devices_table, Key={"pk": {"S": DeviceItem.key(device_id)}, "sk": {"S": "meta"}}
            )["Item"]
            limit = defaults(float(device["power_rating_w"]["N"])).max_power_w
            for reading in body["readings"]:
                if reading["power_w"] <= limit:
                    continue
                message = f"Power {reading['power_w']:.0f} W above {limit:.0f} W"
                self.client.put_item(
                    TableName=NAIVE_TABLE,
                    Item={
                        "pk": {"S": f"alert#{device_id}#over_power#{reading['timestamp']}"},
                        "device_id": {"S": device_id},
                        "owner_id": device["owner_id"],
                        "alert_type": {"S": "over_power"},
                        "severity": {"S": "warning"},
                        "status": {"S": "open"},
                        "message": {"S": message},
                        "value": {"N": str(reading["power_w"])},
                        "threshold": {"N": str(limit)},
                        "at": {"N": str(reading["timestamp"])},
                    },
                )
                self.sns.publish(
                    TopicArn=self.topic,
                    Subject="[GridPulse] warning: over power",
                    Message=message,
                    MessageAttributes={"owner_id": {"DataType": "String", "StringValue": device["owner_id"]["S"]}},
                )
        return {"batchItemFailures": []}

    def item_count(self) -> int:
        pages = self.client.get_paginator("scan").paginate(TableName=NAIVE_TABLE, Select="COUNT")
        return sum(page["Count"] for page in pages)


# ---------------------------------------------------------------- the run


def measure(size_name: str = "full") -> Measurement:
    size = SIZES[size_name]
    started = time.perf_counter()
    ledger = Ledger()
    with mocked_stack() as stack, ledger.installed():
        ours = OurDesign(stack, ledger)
        path = AlertPath(stack, ledger, ours)

        quiet = path.meters(size, QUIET_RULES)
        default = path.meters(size, None)
        breach = path.meters(size, QUIET_RULES)
        breaching = 0
        for n, meter in enumerate(breach):
            breach[n], count = with_breach(meter, size, seed=500 + n)
            breaching += count
        for meters in (quiet, default, breach):
            path.warm_up(meters)

        # Ingestion of the first row's messages: bench/ingestion's steady row.
        ours.preload_morning(quiet)
        ingestion = Phase("ingestion: steady (1 message per meter per batch)", checked=False)
        ours.deliver(ingestion, steady_batches(quiet, size), fresh_context=True)

        stream = {
            key: path.records(steady_batches(meters, size))
            for key, meters in (("quiet", quiet), ("default", default), ("breach", breach))
        }
        readings = size.devices * size.messages * READINGS_PER_MESSAGE
        rows = {
            "quiet": Row(
                "steady, no breach (spike 100x, anomaly off)",
                expect={"evaluated": readings, "raised": 0, "resolved": 0, "notifications": 0, "failures": 0},
            ),
            "default": Row(
                "steady, default rules (spike 3x, anomaly on)", expect={"evaluated": readings, "failures": 0}
            ),
            "breach": Row(
                "breach episode (over max_power_w, rules as row 1)",
                expect={
                    "evaluated": readings,
                    "raised": size.devices,
                    "resolved": size.devices,
                    "notifications": size.devices,
                    "failures": 0,
                },
            ),
            "duplicate": Row(
                "duplicate delivery of rows 1-3, whole",
                expect={"evaluated": 0, "raised": 0, "resolved": 0, "notifications": 0, "failures": 0},
            ),
        }
        for key in ("quiet", "default", "breach"):
            path.deliver(rows[key], stream[key])
        default_types = Counter(
            a.alert_type for a in path.alert_items(default) if a.created_sk >= _window_start_iso(default)
        )
        path.deliver(rows["duplicate"], stream["quiet"] + stream["default"] + stream["breach"])
        ours_items = Counter(
            (a.alert_type, a.status, int(a.count))
            for a in path.alert_items(breach)
            if a.created_sk >= _window_start_iso(breach)
        )

        naive = NaiveEvaluator()
        naive_row = Row("naive evaluator: breach episode")
        path.deliver(naive_row, stream["breach"], handler=naive.handle)
        naive_items = naive.item_count()
        naive_dup = Row("naive evaluator: duplicate delivery")
        path.deliver(naive_dup, stream["breach"], handler=naive.handle)
        naive_items_after = naive.item_count()
        state_bytes = path.state_bytes(quiet + default + breach)
        ledger.settle()

    for row in rows.values():
        row.check()
    m = Measurement(
        size=size_name,
        size_spec=size,
        rows=rows,
        ingestion=ingestion,
        breaching_readings=breaching,
        ours_items=ours_items,
        naive=naive_row,
        naive_dup=naive_dup,
        naive_items=naive_items,
        naive_items_after_dup=naive_items_after,
        default_types=default_types,
        state_bytes=state_bytes,
        elapsed_s=time.perf_counter() - started,
    )
    kinds = Counter(kind for (kind, _, _), n in ours_items.items() for _ in range(n))
    if kinds != Counter({"over_power": size.devices}):
        m.problems.append(f"breach episode left {dict(ours_items)}, expected one over_power alert per meter")
    counted = sum(c * n for (_, _, c), n in ours_items.items())
    if counted != breaching:
        m.problems.append(f"breach episode: the alerts count {counted} breaching readings, {breaching} were sent")
    if ingestion.failures:
        m.problems.append(f"ingestion reported {ingestion.failures} failed records")
    return m


def _window_start_iso(meters: list[Meter]) -> str:
    """The earliest reading time of the window, as alerts' created_sk begins (ISO, UTC)."""
    from gridpulse.telemetry.readings import iso_ms

    return iso_ms(min(m.messages[m.first_window]["readings"][0]["timestamp"] for m in meters) * 1000)


def _ops(usage: Usage, per: int) -> str:
    return ", ".join(f"{op} {n / per:.2f}" for op, n in sorted(usage.operations.items())) or "-"


def report(m: Measurement) -> int:
    size = m.size_spec
    rows = list(m.rows.values())
    print(
        f"Alert evaluation: throughput, DynamoDB requests, alerts and notifications (moto in-process: speeds are "
        f"for comparing rows; --size {m.size})"
    )
    readings = size.devices * size.messages * READINGS_PER_MESSAGE
    print(
        f"Stream per row: bench/ingestion's, {size.devices} meters x {size.messages} messages x "
        f"{READINGS_PER_MESSAGE} readings {INTERVAL_S} s apart = {readings:,} readings, {STREAM_DATE} from "
        f"{WINDOW_START_HOUR}:00 {SITE_TZ}; evaluation state warmed with {HISTORY_DAYS} days of history; "
        f"power rating {POWER_RATING_W:,} W (max_power_w {POWER_RATING_W * 1.1:,.0f} W)"
    )
    table = []
    for r in rows:
        table.append(
            [
                ("! " if r.problems else "") + r.label,
                str(r.messages),
                str(r.readings),
                str(r.evaluated),
                f"{r.wall_s:.2f}",
                f"{r.evaluated / r.wall_s:,.0f}" if r.evaluated and r.wall_s else "-",
                str(r.usage.requests),
                f"{r.per_message(r.usage.requests):.2f}",
                r.per_evaluated(r.usage.requests),
                str(r.raised),
                str(r.resolved),
                str(r.notifications),
            ]
        )
    print(
        render(
            [
                "evaluator / delivery",
                "messages",
                "readings",
                "evaluated",
                "wall s",
                "evaluated/s",
                "DynamoDB requests",
                "req/msg",
                "req/evaluated reading",
                "raised",
                "resolved",
                "notifications",
            ],
            table,
            right=set(range(1, 12)),
        )
    )

    print()
    print(
        "Write and read capacity units, ESTIMATED from the recorded requests and responses (bench/ingestion's "
        "Ledger and item-size rules)"
    )
    table = []
    for r in rows:
        table.append(
            [
                r.label.split(" (")[0],
                f"{r.per_message(r.usage.wru):.2f}",
                f"{r.per_message(r.usage.rru):.2f}",
                r.per_evaluated(r.usage.wru),
                r.per_evaluated(r.usage.rru),
                f"{r.own_cpu_ms_per_message:.2f}",
                _ops(r.usage, r.messages),
            ]
        )
    print(
        render(
            [
                "evaluator / delivery",
                "WRU/msg",
                "RRU/msg",
                "WRU/evaluated reading",
                "RRU/evaluated reading",
                "handler CPU ms/msg",
                "DynamoDB operations per message",
            ],
            table,
            right={1, 2, 3, 4, 5},
        )
    )
    quiet, default, breach = m.rows["quiet"], m.rows["default"], m.rows["breach"]
    print(
        "Where the no-breach row's units go, per message: "
        + "; ".join(f"{k} {v / quiet.messages:.2f} WRU" for k, v in quiet.usage.wru_by.most_common())
        + "; "
        + "; ".join(f"{k} {v / quiet.messages:.2f} RRU" for k, v in quiet.usage.rru_by.most_common())
    )
    print(
        f"The evaluation state item (GetItem consistent + PutItem per message and device) holds at most "
        f"{m.state_bytes:,} bytes after the window ({HISTORY_DAYS} days of profile): "
        f"{'under 1 KB, 1 WRU per write' if m.state_bytes <= 1024 else 'over 1 KB: 2+ WRU per write'}."
    )
    print(
        "Handler CPU includes creating botocore clients inside the handler: "
        + ", ".join(
            f"{r.label.split(' (')[0]} {r.clients_created} ({r.per_message(r.client_cpu_s * 1000):.1f} ms/msg)"
            for r in rows
        )
        + ". Transactions share one cached connection per container (gridpulse.dynamodb.connection), so a "
        "client is created once, not per alert raised or resolved."
    )
    print(
        "Notifications are SNS Publish calls (email, filtered to the owner); each comes with an MQTT publish "
        "for apps (IoT data plane): " + ", ".join(f"{r.label.split(' (')[0]} {r.mqtt}" for r in rows) + "."
    )
    hours = size.messages * MESSAGE_SPAN_S / 3600
    types = ", ".join(f"{k} {v}" for k, v in m.default_types.most_common()) or "none"
    print(
        f"Default rules on this stream: {default.raised} alerts raised ({types}), {default.notifications} emails, "
        f"in {hours:g} h of {size.devices} meters = {default.notifications / size.devices / hours:.1f} emails per "
        f"meter-hour; the air conditioner switching on is what trips them, not a fault."
    )
    items = ", ".join(f"{kind} x{n} ({status}, count {c})" for (kind, status, c), n in sorted(m.ours_items.items()))
    print(
        f"Breach episode: {m.breaching_readings} readings over max_power_w in {len(breach_span(size))} consecutive "
        f"messages per meter; our alert items: {items}."
    )

    print()
    ing = m.ingestion
    print(
        "Per telemetry message, both paths fed the same messages (in AWS every message goes to both queues; "
        "ingestion measured as bench/ingestion's steady row)"
    )
    side = [
        ["ingestion (IngestFunction)", ing.usage, ing.messages, ing.readings, ing.wall_s, ing.own_cpu_ms_per_message],
        [
            "alert evaluator, no breach",
            quiet.usage,
            quiet.messages,
            quiet.evaluated,
            quiet.wall_s,
            quiet.own_cpu_ms_per_message,
        ],
        [
            "alert evaluator, default rules",
            default.usage,
            default.messages,
            default.evaluated,
            default.wall_s,
            default.own_cpu_ms_per_message,
        ],
        [
            "alert evaluator, breach episode",
            breach.usage,
            breach.messages,
            breach.evaluated,
            breach.wall_s,
            breach.own_cpu_ms_per_message,
        ],
    ]
    table = []
    for label, usage, messages, count, wall, cpu in side:
        table.append(
            [
                label,
                f"{count / wall:,.0f}" if wall else "-",
                f"{usage.requests / messages:.2f}",
                f"{usage.wru / messages:.2f}",
                f"{usage.rru / messages:.2f}",
                f"{cpu:.2f}",
            ]
        )
    both_req = (ing.usage.requests / ing.messages) + (quiet.usage.requests / quiet.messages)
    both_wru = (ing.usage.wru / ing.messages) + (quiet.usage.wru / quiet.messages)
    both_rru = (ing.usage.rru / ing.messages) + (quiet.usage.rru / quiet.messages)
    table.append(
        [
            "both paths, no breach",
            "-",
            f"{both_req:.2f}",
            f"{both_wru:.2f}",
            f"{both_rru:.2f}",
            f"{ing.own_cpu_ms_per_message + quiet.own_cpu_ms_per_message:.2f}",
        ]
    )
    print(
        render(
            ["path", "readings/s", "req/msg", "WRU/msg", "RRU/msg", "handler CPU ms/msg"], table, right={1, 2, 3, 4, 5}
        )
    )
    print(
        f"The alert path's share of both, no breach: {quiet.per_message(quiet.usage.requests) / both_req:.0%} of "
        f"requests, {quiet.per_message(quiet.usage.wru) / both_wru:.0%} of WRU, "
        f"{quiet.per_message(quiet.usage.rru) / both_rru:.0%} of RRU."
    )

    print()
    nv, nd = m.naive, m.naive_dup
    print(
        f"Baseline, naive evaluator (in bench/alerts.py: per message GetItem device, per breaching reading PutItem "
        f"alert + SNS publish, no open-alert guard), fed the breach episode: {m.naive_items} alert items and "
        f"{nv.notifications} emails (ours: {sum(m.ours_items.values())} items, 1 per type per meter, and "
        f"{breach.notifications} emails); {nv.per_message(nv.usage.requests):.2f} req/msg, "
        f"{nv.per_message(nv.usage.wru):.2f} WRU/msg (ours {breach.per_message(breach.usage.requests):.2f}, "
        f"{breach.per_message(breach.usage.wru):.2f}). Redelivered: naive {m.naive_items_after_dup} items (keyed by "
        f"reading) and {nd.notifications} more emails; ours {m.rows['duplicate'].notifications}."
    )

    problems = [f"{r.label}: {'; '.join(r.problems)}" for r in rows if r.problems] + m.problems
    for problem in problems:
        print(f"! {problem}")
    print(f"(alert benchmark took {m.elapsed_s:.1f} s)")
    return 1 if problems else 0


def run(size_name: str = "full") -> int:
    return report(measure(size_name))

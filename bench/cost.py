"""What one meter costs per month on AWS: our ingestion design beside the naive one.

What is computed. The DynamoDB figures are MEASURED in this run by
bench/ingestion (requests, estimated write/read capacity units and stored
bytes per message and per reading, for our design's steady row and the naive
row); everything else is list prices times counts that follow from one
reading every 30 s: 86,400 readings in a 30-day month.

* Ours: the meter batches 10 readings per MQTT message (8,640 messages); the
  IoT rule sends each message to SQS; the IngestFunction (memory and batch
  size read from template.yaml) takes batches of up to 100. Its duration per
  message is an ASSUMPTION built from the measured handler CPU time (see
  LAMBDA_CPU_SCALE and DYNAMODB_ROUND_TRIP_MS). DynamoDB from the measured
  WRU/RRU per message; storage from the measured bytes per reading kept for
  the raw retention (gridpulse.settings.Settings.raw_retention_days, 90 days),
  plus the day rollups.
* Naive: one MQTT message per reading (86,400); the rule invokes a 128 MB
  Lambda function per message (~50 ms, an assumption); 4 writes per reading
  (measured WRU); the same retention.

How to read it: quantities and dollars per device per month at steady state
(once 400 days of readings are stored; storage is lower in the first
months). Each line says what it counts. `share` is the line's part of the
column's total. PITR is priced (for both designs alike) only when
template.yaml enables it on TelemetryTable; it does not, so its line shows
`off` and $0 and the total without PITR equals the total.
Free tiers are ignored. Prices are constants below with their source and
date: re-check them before quoting the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.table import render

# ---------------------------------------------------------------- prices
# AWS list prices, us-east-1, first paid tier, as published on the AWS pricing
# pages in 2025 (DynamoDB on-demand after the 1 November 2024 price cut).

# https://aws.amazon.com/iot-core/pricing/
IOT_MESSAGE_USD = 1.00 / 1_000_000  # per message, metered in 5 KB increments
IOT_MESSAGE_UNIT_BYTES = 5 * 1024
IOT_CONNECTION_MINUTE_USD = 0.08 / 1_000_000  # per connection-minute
IOT_RULE_TRIGGERED_USD = 0.15 / 1_000_000  # per rule triggered (per 5 KB of message)
IOT_ACTION_USD = 0.15 / 1_000_000  # per action executed

# https://aws.amazon.com/sqs/pricing/
SQS_REQUEST_USD = 0.40 / 1_000_000  # standard queue, per request, metered per 64 KB chunk
SQS_CHUNK_BYTES = 64 * 1024

# https://aws.amazon.com/lambda/pricing/
LAMBDA_GB_SECOND_ARM64_USD = 0.0000133334
LAMBDA_REQUEST_USD = 0.20 / 1_000_000

# https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_WRU_USD = 0.625 / 1_000_000  # per write request unit
DYNAMODB_RRU_USD = 0.125 / 1_000_000  # per read request unit
DYNAMODB_STORAGE_GB_MONTH_USD = 0.25
DYNAMODB_PITR_GB_MONTH_USD = 0.20  # continuous backups (point-in-time recovery), per GB-month of table size
DYNAMODB_ITEM_OVERHEAD_BYTES = 100  # storage: DynamoDB bills 100 bytes of indexing overhead per item
GB = 1024**3

# ---------------------------------------------------------------- the workload
DAYS_PER_MONTH = 30
READING_INTERVAL_S = 30
READINGS_PER_MONTH = DAYS_PER_MONTH * 86_400 // READING_INTERVAL_S  # 86,400
CONNECTION_MINUTES_PER_MONTH = DAYS_PER_MONTH * 24 * 60  # the meter stays connected

# ---------------------------------------------------------------- assumptions
# Lambda gives a function CPU in proportion to memory: one full vCPU at 1,769 MB.
# Assumed: one core of this machine does the handler's work as fast as one
# Graviton core, so at M MB the measured CPU time takes 1,769 / M times longer.
LAMBDA_FULL_VCPU_MB = 1769
# Assumed: a DynamoDB request from Lambda in the same region takes about this
# long end to end (network, service, botocore serialization and parsing).
DYNAMODB_ROUND_TRIP_MS = 6.0
# SQS -> Lambda: the event source mapping receives and deletes up to 10 messages
# per ReceiveMessage / DeleteMessageBatch request (its idle polling is per
# queue, not per device, and is left out).
SQS_MESSAGES_PER_RECEIVE = 10
SQS_MESSAGES_PER_DELETE = 10
# The naive design, as the issue describes it.
NAIVE_LAMBDA_MB = 128
NAIVE_LAMBDA_MS = 50.0


@dataclass
class Line:
    item: str
    ours_quantity: str
    ours_usd: float
    naive_quantity: str
    naive_usd: float


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def lines(m) -> tuple[list[Line], dict[str, float]]:
    """Cost lines per device-month from a bench.ingestion.Measurement."""
    from gridpulse.settings import Settings
    from infrastructure.cfn import load

    RAW_RETENTION_DAYS = Settings().raw_retention_days  # noqa: N806 - the deployed default
    table = load()["Resources"]["TelemetryTable"]["Properties"]
    pitr = bool((table.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"))

    steady, naive = m.phases["steady"], m.phases["naive"]
    readings_per_message = steady.readings / steady.messages  # 10
    messages = READINGS_PER_MONTH / readings_per_message
    naive_messages = READINGS_PER_MONTH  # one message per reading

    iot_units = math.ceil(m.message_payload_bytes / IOT_MESSAGE_UNIT_BYTES)
    naive_iot_units = math.ceil(m.naive_message_bytes / IOT_MESSAGE_UNIT_BYTES)
    sqs_per_message = (
        math.ceil(m.rule_output_bytes / SQS_CHUNK_BYTES) + 1 / SQS_MESSAGES_PER_RECEIVE + 1 / SQS_MESSAGES_PER_DELETE
    )
    invocations = messages / m.batch_size

    cpu_scale = LAMBDA_FULL_VCPU_MB / m.ingest_memory_mb
    requests_per_message = steady.per_message(steady.usage.requests)
    duration_ms = steady.own_cpu_ms_per_message * cpu_scale + requests_per_message * DYNAMODB_ROUND_TRIP_MS
    gb_seconds = messages * duration_ms / 1000 * m.ingest_memory_mb / 1024
    naive_gb_seconds = naive_messages * NAIVE_LAMBDA_MS / 1000 * NAIVE_LAMBDA_MB / 1024

    wru = messages * steady.per_message(steady.usage.wru)
    rru = messages * steady.per_message(steady.usage.rru)
    naive_wru = naive_messages * naive.per_message(naive.usage.wru)
    naive_rru = naive_messages * naive.per_message(naive.usage.rru)

    # Steady state: RAW_RETENTION_DAYS of readings stored; day rollups for as many days.
    readings_kept = RAW_RETENTION_DAYS * 86_400 / READING_INTERVAL_S
    raw_bytes = readings_kept * (m.raw_bytes_per_reading + DYNAMODB_ITEM_OVERHEAD_BYTES / m.raw_readings_per_item)
    day_bytes = RAW_RETENTION_DAYS * (m.day_item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES)
    stored_gb = (raw_bytes + day_bytes) / GB
    naive_counters_per_day = 24 + 1 + 1 / DAYS_PER_MONTH
    naive_bytes = readings_kept * (
        m.naive_raw_item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES
    ) + RAW_RETENTION_DAYS * naive_counters_per_day * (m.naive_rollup_item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES)
    naive_gb = naive_bytes / GB

    out = [
        Line(
            f"IoT Core messages ({iot_units} x 5 KB unit each)",
            _n(messages * iot_units),
            messages * iot_units * IOT_MESSAGE_USD,
            _n(naive_messages * naive_iot_units),
            naive_messages * naive_iot_units * IOT_MESSAGE_USD,
        ),
        Line(
            "IoT Core connectivity (connection-minutes)",
            _n(CONNECTION_MINUTES_PER_MONTH),
            CONNECTION_MINUTES_PER_MONTH * IOT_CONNECTION_MINUTE_USD,
            _n(CONNECTION_MINUTES_PER_MONTH),
            CONNECTION_MINUTES_PER_MONTH * IOT_CONNECTION_MINUTE_USD,
        ),
        Line(
            "IoT rules: triggered + actions (ours -> SQS, naive -> Lambda)",
            f"{_n(messages)} + {_n(messages)}",
            messages * (IOT_RULE_TRIGGERED_USD + IOT_ACTION_USD),
            f"{_n(naive_messages)} + {_n(naive_messages)}",
            naive_messages * (IOT_RULE_TRIGGERED_USD + IOT_ACTION_USD),
        ),
        Line(
            "SQS requests (send + receive/10 + delete/10)",
            _n(messages * sqs_per_message),
            messages * sqs_per_message * SQS_REQUEST_USD,
            "-",
            0.0,
        ),
        Line(
            f"Lambda requests (ours: batches of {m.batch_size})",
            _n(invocations),
            invocations * LAMBDA_REQUEST_USD,
            _n(naive_messages),
            naive_messages * LAMBDA_REQUEST_USD,
        ),
        Line(
            f"Lambda duration, GB-s (ours {m.ingest_memory_mb} MB x {duration_ms:.0f} ms/msg, "
            f"naive {NAIVE_LAMBDA_MB} MB x {NAIVE_LAMBDA_MS:.0f} ms)",
            _n(gb_seconds),
            gb_seconds * LAMBDA_GB_SECOND_ARM64_USD,
            _n(naive_gb_seconds),
            naive_gb_seconds * LAMBDA_GB_SECOND_ARM64_USD,
        ),
        Line(
            "DynamoDB writes (WRU, measured per message)",
            _n(wru),
            wru * DYNAMODB_WRU_USD,
            _n(naive_wru),
            naive_wru * DYNAMODB_WRU_USD,
        ),
        Line(
            "DynamoDB reads (RRU, measured per message)",
            _n(rru),
            rru * DYNAMODB_RRU_USD,
            _n(naive_rru),
            naive_rru * DYNAMODB_RRU_USD,
        ),
        Line(
            f"DynamoDB storage, GB ({RAW_RETENTION_DAYS} days of readings + rollups)",
            f"{stored_gb:.3f}",
            stored_gb * DYNAMODB_STORAGE_GB_MONTH_USD,
            f"{naive_gb:.3f}",
            naive_gb * DYNAMODB_STORAGE_GB_MONTH_USD,
        ),
        Line(
            f"DynamoDB PITR, GB (template.yaml: {'on' if pitr else 'off'} for TelemetryTable; same for both)",
            f"{stored_gb:.3f}" if pitr else "-",
            stored_gb * DYNAMODB_PITR_GB_MONTH_USD if pitr else 0.0,
            f"{naive_gb:.3f}" if pitr else "-",
            naive_gb * DYNAMODB_PITR_GB_MONTH_USD if pitr else 0.0,
        ),
    ]
    facts = {
        "messages": messages,
        "duration_ms": duration_ms,
        "cpu_scale": cpu_scale,
        "requests_per_message": requests_per_message,
        "stored_gb": stored_gb,
        "naive_gb": naive_gb,
        "retention_days": RAW_RETENTION_DAYS,
    }
    return out, facts


TARGET_USD = 0.10


def report(m) -> int:
    rows, facts = lines(m)
    ours_total = sum(r.ours_usd for r in rows)
    naive_total = sum(r.naive_usd for r in rows)

    def share(value: float, total: float) -> str:
        return f"{100 * value / total:.0f}%" if total else "-"

    print(
        f"Cost per device-month, AWS list prices us-east-1 (bench/cost.py), one reading every "
        f"{READING_INTERVAL_S} s = {READINGS_PER_MONTH:,} readings in {DAYS_PER_MONTH} days; DynamoDB figures "
        f"measured in this run (--size {m.size})"
    )
    table = [
        [
            r.item,
            r.ours_quantity,
            f"{r.ours_usd:.5f}",
            share(r.ours_usd, ours_total),
            r.naive_quantity,
            f"{r.naive_usd:.5f}",
            share(r.naive_usd, naive_total),
        ]
        for r in rows
    ]
    table.append(["total per device-month", "", f"{ours_total:.4f}", "", "", f"{naive_total:.4f}", ""])
    pitr = rows[-1]
    table.append(
        [
            "total without PITR",
            "",
            f"{ours_total - pitr.ours_usd:.4f}",
            "",
            "",
            f"{naive_total - pitr.naive_usd:.4f}",
            "",
        ]
    )
    print(
        render(
            ["line item", "ours: quantity", "ours: $", "share", "naive: quantity", "naive: $", "share"],
            table,
            right={1, 2, 3, 4, 5, 6},
        )
    )
    verdict = "well under" if ours_total < TARGET_USD * 0.8 else "under" if ours_total < TARGET_USD else "ABOVE"
    print(
        f"Target (the issue): well under ${TARGET_USD:.2f} per device-month. Ours: ${ours_total:.4f}, {verdict} "
        f"the target; naive: ${naive_total:.4f} ({naive_total / ours_total:.1f}x ours)."
    )
    top = sorted(rows, key=lambda r: r.ours_usd, reverse=True)[:3]
    print(
        "Largest lines of ours: "
        + "; ".join(
            f"{r.item.split(' (')[0].removesuffix(', GB')} ${r.ours_usd:.4f} ({share(r.ours_usd, ours_total)})"
            for r in top
        )
        + "."
    )
    steady = m.phases["steady"]
    print("Assumptions:")
    print(
        f"* Ours: {READINGS_PER_MONTH // int(facts['messages'])} readings per message, "
        f"{facts['messages']:,.0f} messages; the DynamoDB cost of a message is the steady row of the ingestion "
        f"table ({facts['requests_per_message']:.2f} requests, {steady.per_message(steady.usage.wru):.2f} WRU, "
        f"{steady.per_message(steady.usage.rru):.2f} RRU), i.e. every message is the only one of its meter in its "
        f"batch, as at a 5-minute cadence; backlog batches cost less."
    )
    print(
        f"* Lambda duration per message (an estimate, not a measurement): the measured handler CPU "
        f"{steady.own_cpu_ms_per_message:.2f} ms x {facts['cpu_scale']:.2f} (one vCPU at {LAMBDA_FULL_VCPU_MB} MB, "
        f"so {m.ingest_memory_mb} MB runs it {facts['cpu_scale']:.2f}x slower) + {facts['requests_per_message']:.2f} "
        f"requests x {DYNAMODB_ROUND_TRIP_MS:g} ms = {facts['duration_ms']:.0f} ms; the naive function is taken as "
        f"{NAIVE_LAMBDA_MB} MB x {NAIVE_LAMBDA_MS:g} ms per reading. Both on arm64 prices."
    )
    print(
        f"* Storage at steady state: {facts['retention_days']} days of raw readings ({m.raw_bytes_per_reading:.0f} "
        f"bytes per reading in items of {m.raw_readings_per_item:.1f}; naive {m.naive_raw_item_bytes:.0f} bytes in "
        f"an item each) + {DYNAMODB_ITEM_OVERHEAD_BYTES} bytes overhead per item + rollups "
        f"(ours: a day item of {m.day_item_bytes:,.0f} bytes per day, kept; naive: 24 hour + 1 day + 1/30 month "
        f"counters per day); GB = 2^30 bytes."
    )
    print(
        "* Not priced: free tiers; SQS idle polling and KMS requests (per queue/table, not per device); "
        "CloudWatch Logs and X-Ray traces of ~86 invocations a month (fractions of a cent); data transfer."
    )
    return 0


def run(size_name: str = "full", measurement=None) -> int:
    if measurement is None:
        from bench import ingestion

        measurement = ingestion.measure(size_name)
        print(
            f"(DynamoDB figures measured just now by bench/ingestion in {measurement.elapsed_s:.1f} s; "
            f"`--only ingestion` prints them)"
        )
    return report(measurement)

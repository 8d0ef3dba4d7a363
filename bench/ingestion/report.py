"""The ingestion benchmark's tables, printed from a workload.Measurement.

How to read it: `wall s` and `readings/s` time the handler calls only; moto
runs in-process, so absolute speed is for comparing the rows, not a
prediction for AWS. `rollup / true kWh` compares what the rollups hold for
the window with the energy actually metered (last counter value minus the
one before the window): 1.000 is right, 2.000 is double counting.
`handler CPU ms/msg` is process CPU time in the handler minus CPU time inside
AWS calls (botocore and moto): the code's own work, used by bench/cost.py.
The line under the capacity table splits the steady row's units by operation
and table, so it shows which requests make a message expensive. In the
energy-query table the naive columns are computed, not measured: the raw
readings a query over raw data reads at 30 s sampling, and the items the
naive design's counters need.
"""

from __future__ import annotations

import math
from collections import Counter

from bench.ingestion.capacity import Usage
from bench.ingestion.workload import (
    INTERVAL_S,
    READINGS_PER_MESSAGE,
    SITE_TZ,
    STREAM_DATE,
    WINDOW_START_HOUR,
    Measurement,
)
from bench.table import render


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
        "rules; see bench/ingestion/capacity.py)"
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

"""`python -m bench --only forecasts`: the forecast worker's time per device,
and what it implies for the schedule at 100,000 devices.

AWS is moto in-process (bench.stack.mocked_stack, the template's tables and
queues). DEVICES meters are registered in the devices table and given hourly
day rollups in the telemetry table (written directly: setup, not measured)
of a realistic shape (a daily profile, a weekend lift, noise), for two
histories: 8 weeks (the model is fitted twice: backtest, then the forecast;
the most a device costs) and 10 days (seasonal-naive only: no fit). Then
ForecastWorkerFunction's handler code (gridpulse.forecasts.schedule.handle_batch)
is given one SQS batch of those devices, and each device is timed through
it: GetItem of the device, GetItem of its hotel, the Query of its day
rollups, the forecast, the PutItem. Median and p90 per device.

The implied capacity uses the template's own figures: the schedule's rate
(ForecastScheduleFunction) is the window, and the worker's
ScalingConfig.MaximumConcurrency is how many batches run at once:
devices per window = concurrency x window / median time per device; and the
time 100,000 devices take at that concurrency. Measured on this machine
(x86, a shared core, single-threaded fits); a Lambda with 1,769 MB has one
vCPU (arm64), so treat the figures as an estimate to re-measure there.

Beside it, for scale: the backtest (`--only backtest`) is the forecaster's
accuracy on a real series; this table is its cost.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

os.environ.setdefault("OMP_NUM_THREADS", "1")

DEVICES = 8
FLEET = 100_000
HISTORIES = {"8 weeks (model, 2 fits)": 56, "10 days (seasonal-naive)": 10}


def _rollups(device_id: str, days: int, now: datetime, seed: int) -> None:
    """Day items of `days` UTC days before now, one bucket per hour."""
    import random

    from gridpulse.telemetry.data import DayItem, day_sk, device_pk

    rng = random.Random(seed)
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    by_day: dict[str, dict[str, dict]] = {}
    t = start
    while t < end:
        kwh = 0.3 + 0.6 * max(0.0, math.sin(math.pi * (t.hour - 6) / 16)) + 0.2 * (t.weekday() >= 5)
        kwh = round(max(0.0, kwh + rng.gauss(0, 0.05)), 6)
        by_day.setdefault(t.date().isoformat(), {})[str(int(t.timestamp() * 1000))] = {"e": kwh, "n": 60}
        t += timedelta(hours=1)
    with DayItem.batch_write() as batch:
        for day, buckets in by_day.items():
            batch.save(
                DayItem(
                    device_pk(device_id),
                    day_sk(day),
                    date=day,
                    tz="UTC",
                    buckets=json.dumps(buckets, separators=(",", ":")),
                    kwh=round(sum(b["e"] for b in buckets.values()), 6),
                    n=60 * len(buckets),
                    version=1,
                )
            )


def _device(device_id: str) -> None:
    from gridpulse.devices.data import DeviceItem

    now = datetime.now(timezone.utc).isoformat()
    DeviceItem(
        DeviceItem.key(device_id),
        "meta",
        device_id=device_id,
        owner_id="bench",
        owner_sk=f"device#{now}#{device_id}",
        name="bench meter",
        device_type="meter",
        list_sk=f"{now}#{device_id}",
        thing_name=f"gp-{device_id}",
        api_key_hash=uuid.uuid4().hex,
        created_at=now,
        updated_at=now,
    ).save()


def _template_figures(stack) -> tuple[int, int]:
    from infrastructure.local.scheduler import rate_seconds

    schedule = stack.functions()["ForecastScheduleFunction"]["Properties"]["Events"]
    window = next(rate_seconds(e["Properties"]["Schedule"]) for e in schedule.values() if e["Type"] == "Schedule")
    worker = stack.functions()["ForecastWorkerFunction"]["Properties"]["Events"]
    concurrency = next(
        int(e["Properties"]["ScalingConfig"]["MaximumConcurrency"]) for e in worker.values() if e["Type"] == "SQS"
    )
    return window, concurrency


def _p90(values: list[float]) -> float:
    return values[min(len(values) - 1, math.ceil(0.9 * len(values)) - 1)]


def _hms(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def run(devices: int = DEVICES) -> int:
    from bench.stack import mocked_stack
    from bench.table import render

    started = time.perf_counter()
    with mocked_stack() as stack:
        from gridpulse.forecasts import schedule, service

        window, concurrency = _template_figures(stack)
        now = datetime.now(timezone.utc)
        timings: dict[str, list[float]] = {}
        methods: dict[str, set[str]] = {}
        real = service.compute

        def timed(device, now=None):
            began, cpu = time.perf_counter(), time.thread_time()
            out = real(device, now)
            timings[current].append(time.perf_counter() - began)
            timings[current + " cpu"].append(time.thread_time() - cpu)
            methods[current].add(out["method"])
            return out

        service.compute = timed
        try:
            for n, (label, days) in enumerate(HISTORIES.items()):
                ids = [str(uuid.uuid4()) for _ in range(devices)]
                for i, device_id in enumerate(ids):
                    _device(device_id)
                    _rollups(device_id, days, now, seed=n * 1000 + i)
                current, timings[label], timings[label + " cpu"], methods[label] = label, [], [], set()
                # A first device outside the timing: imports numpy and scikit-learn (the cold start's share).
                warm = str(uuid.uuid4())
                _device(warm)
                _rollups(warm, days, now, seed=999)
                schedule.handle_batch({"Records": [{"messageId": "w", "body": json.dumps({"device_id": warm})}]})
                timings[label].clear()
                timings[label + " cpu"].clear()
                event = {"Records": [{"messageId": i, "body": json.dumps({"device_id": i})} for i in ids]}
                whole, whole_cpu = time.perf_counter(), time.thread_time()
                failures = schedule.handle_batch(event)["batchItemFailures"]
                batch_s, batch_cpu = time.perf_counter() - whole, time.thread_time() - whole_cpu
                assert not failures and len(timings[label]) == devices, (failures, len(timings[label]))
                timings[label + " batch"] = [batch_s / devices, batch_cpu / devices]
        finally:
            service.compute = real

    rows = []
    for label in HISTORIES:
        t, cpu = sorted(timings[label]), sorted(timings[label + " cpu"])
        per_device, per_device_cpu = timings[label + " batch"]
        # The batch's wall time per device, unless this shared machine kept the
        # process waiting: then its CPU time (what a dedicated vCPU would take).
        basis = min(per_device, per_device_cpu * 1.1)
        rows.append(
            [
                label,
                "/".join(sorted(methods[label])),
                f"{statistics.median(t) * 1000:.0f} / {statistics.median(cpu) * 1000:.0f} ms",
                f"{_p90(t) * 1000:.0f} / {_p90(cpu) * 1000:.0f} ms",
                f"{per_device * 1000:.0f} / {per_device_cpu * 1000:.0f} ms",
                f"{concurrency * window / basis:,.0f}",
                _hms(FLEET * basis / concurrency),
            ]
        )
    print(
        f"Forecast worker: time per device through ForecastWorkerFunction's code ({devices} devices per history, "
        f"one SQS batch; moto in-process)"
    )
    print(
        render(
            [
                "history",
                "method served",
                "compute median (wall / CPU)",
                "compute p90",
                "per device in the batch",
                f"devices per {_hms(window)} window",
                f"{FLEET:,} devices take",
            ],
            rows,
            right={2, 3, 4, 5, 6},
        )
    )
    print(
        f"  window = ForecastScheduleFunction's rate ({_hms(window)}); {concurrency} batches at once "
        "(ForecastWorkerFunction's ScalingConfig.MaximumConcurrency); one vCPU per batch (1,769 MB)."
    )
    print(
        "  Capacity from the batch's time per device: wall time, or CPU time + 10 % when this shared "
        "machine kept the process waiting (wall > CPU + 10 %)."
    )
    print("  Accuracy of the same code on a real series: python -m bench --only backtest.")
    print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0

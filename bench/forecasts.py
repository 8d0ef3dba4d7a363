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

Cold start and memory (`_cold`, a fresh interpreter, as a new Lambda
execution environment would be): after the stack's setup, one device through
handle_batch (the first forecast with the model imports numpy, pandas and
scikit-learn: the share of the cold start the handler's import, in
`--only imports`, does not show), then a batch of DEVICES; the process's RSS
after the setup (moto and its items: not the worker's), after the first
device, and its peak (ru_maxrss); the worker's share is peak minus setup. MemorySize is then chosen from these figures (the printed note).

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


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _cold() -> None:
    """In a fresh interpreter (`python -c`): the stack, DEVICES + 1 meters of 8
    weeks, then the first device and a batch; prints JSON."""
    import resource
    import sys

    from bench.stack import mocked_stack

    with mocked_stack():
        now = datetime.now(timezone.utc)
        ids = [str(uuid.uuid4()) for _ in range(DEVICES + 1)]
        for i, device_id in enumerate(ids):
            _device(device_id)
            _rollups(device_id, 56, now, seed=i)
        out = {"setup_rss": _rss_mb(), "ml_loaded": any(m in sys.modules for m in ("numpy", "sklearn", "pandas"))}
        from gridpulse.forecasts import schedule

        def batch(devices):
            event = {"Records": [{"messageId": d, "body": json.dumps({"device_id": d})} for d in devices]}
            began, cpu = time.perf_counter(), time.process_time()
            assert not schedule.handle_batch(event)["batchItemFailures"]
            return time.perf_counter() - began, time.process_time() - cpu

        out["first"] = batch(ids[:1])
        out["first_rss"] = _rss_mb()
        out["warm"] = [x / DEVICES for x in batch(ids[1:])]
        from gridpulse.forecasts.service import has_forecast

        assert all(has_forecast(d) for d in ids), "a device was not forecast"  # a failure of its own is only logged
        out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _cold_figures() -> dict | None:
    import subprocess
    import sys

    if not os.path.exists("/proc/self/status"):
        return None
    child = subprocess.run(
        [sys.executable, "-c", "from bench.forecasts import _cold; _cold()"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LAMBDA_TASK_ROOT": os.getcwd()},
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


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

        def timed(device, now=None, **options):
            began, cpu = time.perf_counter(), time.thread_time()
            out = real(device, now, **options)
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
    worker = _cold_figures()
    if worker is not None:
        (first_s, first_cpu), (warm_s, warm_cpu) = worker["first"], worker["warm"]
        grown = worker["peak_rss"] - worker["setup_rss"]
        print(
            f"Cold start and memory (a fresh interpreter; numpy, pandas, scikit-learn "
            f"{'already' if worker['ml_loaded'] else 'not yet'} loaded after the setup):"
        )
        print(
            render(
                ["", "wall", "CPU", "RSS"],
                [
                    ["after the setup (moto, tables, 9 meters of 8 weeks)", "", "", f"{worker['setup_rss']:.0f} MB"],
                    [
                        "the first device (imports the ML packages)",
                        f"{first_s:.2f} s",
                        f"{first_cpu:.2f} s",
                        f"{worker['first_rss']:.0f} MB after",
                    ],
                    [
                        f"a warm device (batch of {DEVICES})",
                        f"{warm_s:.2f} s",
                        f"{warm_cpu:.2f} s",
                        f"{worker['peak_rss']:.0f} MB peak",
                    ],
                    [
                        "the worker's share (first - warm; peak - setup)",
                        f"{first_s - warm_s:+.2f} s",
                        f"{first_cpu - warm_cpu:+.2f} s",
                        f"{grown:+.0f} MB",
                    ],
                ],
                right={1, 2, 3},
            )
        )
        print(
            f"  MemorySize 1,769 MB (template): the fits are single-threaded and CPU-bound, and Lambda gives CPU in "
            f"proportion to memory up to one vCPU at 1,769 MB; the worker needs about {grown:.0f} MB above "
            "Python, boto3 and the shared layer, so a smaller size would only slow each device (about the same "
            "GB-seconds per device, fewer devices per window) and a larger one adds a vCPU these fits do not use."
        )
    print("  Accuracy of the same code on a real series: python -m bench --only backtest.")
    print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0

"""`python -m bench [--runs N] [--size small|full] [--only imports|dynamodb|lights|billing|ingestion|alerts|cost|soak|backtest|forecasts|firstminute ...]`:
print the benchmark tables (all but soak unless --only is given; --only may be repeated).
`--only soak [--soak-readings N] [--soak-speed X]` (`make soak`) is the local stack's memory under a fleet;
`--only backtest` (`make backtest`) is the day-ahead forecaster against seasonal-naive on a real series;
`--only forecasts` is the forecast worker's time per device and the schedule's capacity at 100,000 devices;
`--only firstminute` is the local stack's time to every fleet meter's first forecast."""

from __future__ import annotations

import argparse
import sys
import time

BENCHMARKS = [
    "imports",
    "dynamodb",
    "lights",
    "billing",
    "ingestion",
    "alerts",
    "cost",
    "soak",
    "backtest",
    "forecasts",
    "firstminute",
]
DEFAULT = [
    name for name in BENCHMARKS if name not in ("soak", "backtest", "firstminute")
]  # those take minutes: their own targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--runs", type=int, default=7, metavar="N", help="fresh interpreters per row of the import table (default 7)"
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also time every function as it was at this git revision, in the same rounds (e.g. a release tag)",
    )
    parser.add_argument(
        "--size",
        choices=["small", "full"],
        default="full",
        help="telemetry stream of the ingestion, alerts and cost tables, city of the lights table (default full; small is a quick smoke run, and the lights table then skips the local stack)",
    )
    parser.add_argument(
        "--only", choices=BENCHMARKS, action="append", help="run this benchmark only (repeat for several)"
    )
    parser.add_argument(
        "--soak-readings",
        type=int,
        default=100_000,
        metavar="N",
        help="readings the soak's fleet publishes (default 100000, about 1.2 days of the default fleet)",
    )
    parser.add_argument(
        "--soak-speed", type=float, default=200.0, metavar="X", help="the soak fleet's time acceleration (default 200)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.soak_readings < 10_000 or args.soak_speed < 1:
        parser.error("--soak-readings must be at least 10000 and --soak-speed at least 1")
    selected = [name for name in BENCHMARKS if (name in DEFAULT if args.only is None else name in args.only)]

    # Handlers loaded in this process must not leave __pycache__ in the repo.
    sys.dont_write_bytecode = True
    started = time.perf_counter()
    status = 0
    measurement = None  # the ingestion run's figures, which the cost table prices
    for n, name in enumerate(selected):
        if n:
            print()
        if name == "imports":
            from bench import imports

            status |= imports.run(args.runs, args.against)
        elif name == "dynamodb":
            from bench import dynamodb

            status |= dynamodb.run()
        elif name == "lights":
            from bench import lights

            status |= lights.run(args.size)
        elif name == "billing":
            from bench import billing

            status |= billing.run()
        elif name == "ingestion":
            from bench import ingestion

            result, measurement = ingestion.run(args.size)
            status |= result
        elif name == "alerts":
            from bench import alerts

            status |= alerts.run(args.size)
        elif name == "cost":
            from bench import cost

            status |= cost.run(args.size, measurement)
        elif name == "soak":
            from bench import soak

            status |= soak.run(args.soak_readings, args.soak_speed)
        elif name == "backtest":
            from bench import backtest

            status |= backtest.run()
        elif name == "forecasts":
            from bench import forecasts

            status |= forecasts.run(2 if args.size == "small" else forecasts.DEVICES)
        elif name == "firstminute":
            from bench import first_minute

            status |= first_minute.run()
    print(f"\n(bench took {time.perf_counter() - started:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench [--runs N] [--size small|full] [--only imports|dynamodb|ingestion|alerts|cost ...]`:
print the benchmark tables (all of them unless --only is given; --only may be repeated)."""
from __future__ import annotations

import argparse
import sys
import time

BENCHMARKS = ["imports", "dynamodb", "ingestion", "alerts", "cost"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, metavar="N",
                        help="fresh interpreters per row of the import table (default 7)")
    parser.add_argument("--size", choices=["small", "full"], default="full",
                        help="telemetry stream of the ingestion, alerts and cost tables (default full; small is a "
                             "quick smoke run)")
    parser.add_argument("--only", choices=BENCHMARKS, action="append",
                        help="run this benchmark only (repeat for several)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    selected = [name for name in BENCHMARKS if args.only is None or name in args.only]

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

            status |= imports.run(args.runs)
        elif name == "dynamodb":
            from bench import dynamodb

            status |= dynamodb.run()
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
    print(f"\n(bench took {time.perf_counter() - started:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

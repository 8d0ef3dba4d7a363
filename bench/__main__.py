"""`python -m bench [--runs N] [--only imports|dynamodb]`: print the benchmark tables."""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, metavar="N",
                        help="fresh interpreters per row of the import table (default 7)")
    parser.add_argument("--only", choices=["imports", "dynamodb"], help="run one benchmark only")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    # Handlers loaded in this process must not leave __pycache__ in the repo.
    sys.dont_write_bytecode = True
    started = time.perf_counter()
    status = 0
    if args.only in (None, "imports"):
        from bench import imports

        status |= imports.run(args.runs)
    if args.only is None:
        print()
    if args.only in (None, "dynamodb"):
        from bench import dynamodb

        status |= dynamodb.run()
    print(f"\n(bench took {time.perf_counter() - started:.1f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

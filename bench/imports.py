"""Cold-start import time of every function handler, beside `import boto3`.

What is measured: for each AWS::Serverless::Function in template.yaml, a fresh
interpreter imports the handler module from CodeUri (spec_from_file_location
+ exec_module, as Lambda and infrastructure/local/gateway.py do) and reports,
with time.perf_counter inside the child, how long that import took. The floor
is the same measurement for a child that does only `import boto3`, which every
function pays whatever its own code does.

How to read it: `median ms` and `min ms` over --runs children per row;
`x floor` is the row's median divided by the floor's median, so 1.00x would
mean the handler costs no more than boto3 alone. Rows are interleaved run by
run, so a load change on the machine hits every row alike.

Conditions: each child runs isolated (`-I`) with the function's environment
from template.yaml (plus PROCESS_ENV), and with a bytecode cache private to
this run (`-X pycache_prefix`), filled by one discarded warm-up child per row.
So the numbers are imports from cached bytecode, the same whatever
PYTHONDONTWRITEBYTECODE says, and nothing is written into the repo. They are
relative figures for this machine and interpreter, not Lambda's (python3.14 on
arm64, whose layer is built without bytecode: see layers/shared/Makefile).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from bench.stack import PROCESS_ENV, predicted_stack
from bench.table import render
from infrastructure.cfn import ROOT

# Run in each child: `python -c CHILD boto3` or `python -c CHILD <path> <module> <attr>`.
# What the child itself needs (importlib.util, time) is imported before the clock starts, in every child alike.
CHILD = r"""
import importlib.util, sys, time

def import_handler(path, module_name, attr):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)

started = time.perf_counter()
if sys.argv[1:] == ["boto3"]:
    import boto3
else:
    import_handler(*sys.argv[1:])
print((time.perf_counter() - started) * 1000)
"""


@dataclass
class Target:
    label: str
    args: list[str]
    env: dict[str, str]


def targets() -> list[Target]:
    """The boto3 floor first, then one target per function in template.yaml."""
    stack = predicted_stack()
    base = {**os.environ, **PROCESS_ENV}
    found = [Target("import boto3 (floor)", ["boto3"], base)]
    for logical, resource in stack.functions().items():
        props = resource["Properties"]
        module_name, _, attr = props["Handler"].rpartition(".")
        path = ROOT / props["CodeUri"] / (module_name.replace(".", "/") + ".py")
        found.append(Target(
            label=f"{logical} ({path.relative_to(ROOT)})",
            args=[str(path), f"gridpulse_fn_{logical}", attr],
            env={**base, **stack.function_environment(logical), **PROCESS_ENV},
        ))
    return found


def time_once(target: Target, cache_dir: str) -> float:
    """Milliseconds one fresh interpreter took to import the target."""
    done = subprocess.run(
        [sys.executable, "-I", "-X", f"pycache_prefix={cache_dir}", "-c", CHILD, *target.args],
        cwd=ROOT, env=target.env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{target.label}: the child failed to import\n{done.stderr.strip()}")
    return float(done.stdout.strip().splitlines()[-1])


def run(runs: int) -> int:
    print(f"Cold-start import time: {runs} fresh interpreters per row ({sys.executable}, "
          f"Python {sys.version.split()[0]})")
    rows = targets()
    samples: dict[str, list[float]] = {t.label: [] for t in rows}
    with tempfile.TemporaryDirectory(prefix="gridpulse-bench-pycache-") as cache_dir:
        for target in rows:  # warm-up: compile bytecode into the private cache; not counted
            time_once(target, cache_dir)
        for _ in range(runs):
            for target in rows:
                samples[target.label].append(time_once(target, cache_dir))

    floor = statistics.median(samples[rows[0].label])
    table = []
    for target in rows:
        median = statistics.median(samples[target.label])
        table.append([target.label, f"{median:.1f}", f"{min(samples[target.label]):.1f}", f"{median / floor:.2f}x"])
    print(render(["function", "median ms", "min ms", "x floor"], table, right={1, 2, 3}))
    return 0

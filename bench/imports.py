"""Cold-start import time of every function handler, against what no function can avoid.

What is measured: for each AWS::Serverless::Function in template.yaml, a fresh
interpreter imports the handler module from CodeUri (spec_from_file_location
+ exec_module, as Lambda and infrastructure/local/gateway.py do) and reports
the CPU time (time.process_time) and the wall time (time.perf_counter) that
import took, measured inside the child. Reference rows are measured the same
way:
- `import boto3`;
- the floor: `import boto3` and create a DynamoDB client
  (boto3.session.Session().client("dynamodb"), as gridpulse.aws does), which
  every function needs at least, whatever its own code does;
- a Powertools REST resolver with request validation and one pydantic-typed
  route, after `import boto3`: what any API function pays before its own code;
- the Powertools Tracer on the first traced invocation: with tracing on, the
  Tracer (X-Ray SDK, botocore patched) is created on a function's first
  invocation, not at import (gridpulse/observability.py); this row is that
  cost, measured after importing HealthFunction. Setting
  POWERTOOLS_TRACE_DISABLED=true (Lambda's `Tracing: Active` alone) saves it.

Functions are imported as deployed: LAMBDA_TASK_ROOT set and tracing on
unless template.yaml sets POWERTOOLS_TRACE_DISABLED, so whatever the X-Ray SDK
would cost at import in Lambda shows here.

`full gc` is the median number of full garbage collections during the import:
one walks every object created so far (10-25 ms here), so a row that has one
where it had none jumps by about 0.08x (gridpulse/gc_pause.py).

How to read it: `x floor` is the median, over --runs rounds, of the row's CPU
time divided by the floor's CPU time in the same round. CPU time rather than
wall time because the machine may be shared: waiting for a core inflates wall
time, not CPU time, and a same-round ratio cancels slower or faster rounds.
`target` is the cold-start budget: 1.4x the floor for a function behind the
API, 1.2x for the ingestion and event functions.

The second table lists, per function, the five biggest contributors to the
import that the floor does not import as well (so not boto3, botocore,
urllib3 or the standard library the floor loads): `-X importtime` self times
summed per top-level package (per module for gridpulse's own), median of a
few children; `(handler)` is the handler module's own code (building the
resolver and its routes), i.e. the wall time not spent in any import;
`(gc)` is the garbage collector's wall time, also counted in the self time of
the module that was importing when it ran. A
regression (say argon2, aws_xray_sdk or pydantic where it was not) shows up
there by name.

Conditions: each child runs isolated (`-I`) with the function's environment
from template.yaml (plus PROCESS_ENV); packages of this virtualenv that the
shared layer does not ship (layers/shared/requirements.txt) cannot be imported
there, as in Lambda: botocore would otherwise load awscrt, and PyJWT
cryptography, which the deployed functions never do. Each child has a
bytecode cache private to this run (`-X pycache_prefix`), filled by one
discarded warm-up child per row. So the numbers are imports from cached
bytecode, the same whatever PYTHONDONTWRITEBYTECODE says, and nothing is
written into the repo. They are relative figures for this machine and
interpreter, not Lambda's (python3.14 on arm64, whose layer is built without
bytecode: see layers/shared/Makefile).
"""

from __future__ import annotations

import collections
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from bench.stack import PROCESS_ENV, predicted_stack
from bench.table import render
from infrastructure.cfn import ROOT, Stack, load

# Run in each child: `python -c CHILD <what> [<path> <module> <attr>]`, <what> one of boto3, floor, resolver,
# handler (import the handler at <path>) or first-trace (import the handler, then time loading the Tracer).
# What the child itself needs (importlib.util, time) is imported before the clock starts, in every child alike.
# It prints "<cpu ms> <wall ms> <full collections> <gc wall ms>" (the last two: the garbage collector's full
# collections during the measured import, and the wall time of all its collections then); the marker on stderr
# separates -X importtime lines of the measured imports from the interpreter's own start-up.
CHILD = r"""
import gc, importlib.util, os, sys, time

class NotInLayer:  # what Lambda would not find: packages of this virtualenv that the layer does not ship
    blocked = frozenset(os.environ.get("GRIDPULSE_BENCH_NOT_IN_LAYER", "").split(","))

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in cls.blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the layer)", name=name)
        return None

sys.meta_path.insert(0, NotInLayer)
sys.path.insert(0, os.environ["GRIDPULSE_BENCH_LAYER"])  # this checkout's layer, not the one a .pth file names

def import_handler(path, module_name, attr):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)

def resolver():
    import boto3
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from pydantic import BaseModel

    class Out(BaseModel):
        status: str

    app = APIGatewayRestResolver(enable_validation=True)

    @app.get("/ping")
    def ping() -> Out:
        return Out(status="ok")

what, args = sys.argv[1], sys.argv[2:]
if what == "first-trace":
    import_handler(*args)
collecting = [0.0, 0.0]  # wall time in collections, start of the current one

def timed_collection(phase, info):
    if phase == "start":
        collecting[1] = time.perf_counter()
    else:
        collecting[0] += time.perf_counter() - collecting[1]

sys.stderr.write("-- measured imports --\n")
sys.stderr.flush()
gc.callbacks.append(timed_collection)
full = gc.get_stats()[2]["collections"]
cpu, wall = time.process_time(), time.perf_counter()
if what == "boto3":
    import boto3
elif what == "floor":
    import boto3
    boto3.session.Session().client("dynamodb")
elif what == "resolver":
    resolver()
elif what == "first-trace":
    sys.modules["gridpulse.observability"].tracer.load()
else:
    import_handler(*args)
cpu, wall = (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
print(cpu, wall, gc.get_stats()[2]["collections"] - full, collecting[0] * 1000)
"""
MARKER = "-- measured imports --"

FLOOR = "import boto3 + DynamoDB client (floor)"
API_TARGET = 1.4  # x floor, a function behind the API
EVENT_TARGET = 1.2  # x floor, the ingestion and event functions
TOP = 5  # contributors listed per function
IMPORTTIME_RUNS = 3


@dataclass
class Target:
    label: str
    args: list[str]
    env: dict[str, str]
    budget: float | None = None  # x floor, for a function
    increment: bool = False  # a cost on top of a function's import, not a whole cold start
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    full_gc: list[int] = field(default_factory=list)  # full collections during the import, per round


def not_in_layer(own: pathlib.Path | None = None) -> str:
    """Top-level modules of this interpreter's installed distributions that the shared layer does not ship
    (nor `own`, a function's own requirements.txt, packaged with that function alone)."""
    from importlib.metadata import packages_distributions

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    requirements = (ROOT / "layers" / "shared" / "requirements.txt").read_text().splitlines()
    if own is not None and own.is_file():
        requirements += own.read_text().splitlines()
    layer = {
        canonical(re.split(r"[=<>~!; \[]", line.strip())[0])
        for line in requirements
        if line.strip() and not line.lstrip().startswith("#")
    }
    return ",".join(
        sorted(
            top
            for top, dists in packages_distributions().items()
            if top not in sys.stdlib_module_names and not any(canonical(d) in layer for d in dists)
        )
    )


def _base_env(layer: pathlib.Path) -> dict[str, str]:
    return {
        **os.environ,
        **PROCESS_ENV,
        "GRIDPULSE_BENCH_NOT_IN_LAYER": not_in_layer(),
        "GRIDPULSE_BENCH_LAYER": str(layer),
    }


def function_targets(lambda_root: str, root: pathlib.Path = ROOT, stack: Stack | None = None) -> list[Target]:
    """One target per function of the template at `root` (this checkout, or a baseline revision's tree)."""
    stack = stack or predicted_stack()
    base = _base_env(root / "layers" / "shared")
    functions = []
    for logical, resource in stack.functions().items():
        props = resource["Properties"]
        module_name, _, attr = props["Handler"].rpartition(".")
        path = root / props["CodeUri"] / (module_name.replace(".", "/") + ".py")
        # As deployed: in Lambda, and tracing on unless the template turns it off.
        template_env = stack.function_environment(logical)
        env = {**base, **template_env, "LAMBDA_TASK_ROOT": lambda_root}
        if (root / props["CodeUri"] / "requirements.txt").is_file():  # packaged with the function (its Makefile)
            env["GRIDPULSE_BENCH_NOT_IN_LAYER"] = not_in_layer(root / props["CodeUri"] / "requirements.txt")
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        env.update({k: v for k, v in template_env.items() if k == "POWERTOOLS_TRACE_DISABLED"})
        behind_api = any(e.get("Type") == "Api" for e in (props.get("Events") or {}).values())
        functions.append(
            Target(
                label=f"{logical} ({path.relative_to(root)})",
                args=["handler", str(path), f"gridpulse_fn_{logical}", attr],
                env=env,
                budget=API_TARGET if behind_api else EVENT_TARGET,
            )
        )
    return functions


def targets(lambda_root: str) -> list[Target]:
    """The reference rows (the floor second), then one target per function in template.yaml, then the Tracer's
    first-invocation cost."""
    base = _base_env(ROOT / "layers" / "shared")
    found = [
        Target("import boto3", ["boto3"], base),
        Target(FLOOR, ["floor"], base),
        Target("Powertools resolver + validation (reference)", ["resolver"], base),
    ]
    functions = function_targets(lambda_root)
    health = next(t for t in functions if t.label.startswith("HealthFunction"))
    first_trace = Target(
        "+ Tracer on the first traced invocation", ["first-trace", *health.args[1:]], health.env, increment=True
    )
    return found + functions + [first_trace]


def baseline_targets(rev: str, tree: pathlib.Path, lambda_root: str) -> list[Target] | None:
    """The functions of revision `rev` (exported into `tree` with git archive) that still exist, each labelled
    `<logical> @<rev>`; None when this clone does not have that revision."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=False)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    stack = predicted_stack(load(tree / "template.yaml"))
    found = function_targets(lambda_root, tree, stack)
    for target in found:
        target.label = f"{logical_name(target)} @{rev}"
    return found


def logical_name(target: Target) -> str:
    return target.label.split(" ")[0]


def _child(args: list[str], env: dict[str, str], cache_dir: str, importtime: bool = False):
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, "-I", "-X", f"pycache_prefix={cache_dir}", *flags, "-c", CHILD, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def time_once(target: Target, cache_dir: str) -> tuple[float, float, int]:
    """(CPU ms, wall ms, full garbage collections) of one fresh interpreter importing the target."""
    done = _child(target.args, target.env, cache_dir)
    if done.returncode != 0:
        raise RuntimeError(f"{target.label}: the child failed to import\n{done.stderr.strip()}")
    cpu, wall, full_gc, _gc_ms = done.stdout.strip().splitlines()[-1].split()
    return float(cpu), float(wall), int(full_gc)


def contributor(module: str) -> str:
    """What an imported module counts towards: its top-level package, or itself for gridpulse's own modules."""
    return module if module.startswith("gridpulse.") else module.split(".")[0]


def contributors(target: Target, cache_dir: str) -> dict[str, float]:
    """Milliseconds per contributor in one `-X importtime` child, plus `(handler)`: the wall time of the
    import not spent importing modules, and `(gc)`: the garbage collector's, which is also inside the self
    time of whatever module was importing when it ran."""
    done = _child(target.args, target.env, cache_dir, importtime=True)
    if done.returncode != 0:
        raise RuntimeError(f"{target.label}: the child failed to import\n{done.stderr.strip()}")
    lines = done.stderr.splitlines()
    start = lines.index(MARKER) + 1 if MARKER in lines else 0
    found: collections.Counter[str] = collections.Counter()
    for line in lines[start:]:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line[len("import time:") :].split("|")
        found[contributor(name.strip())] += int(self_us) / 1000
    _cpu, wall, _full, gc_ms = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
    found["(handler)"] = max(0.0, wall - sum(found.values()))
    found["(gc)"] = gc_ms
    return found


def top_contributors(
    target: Target, cache_dir: str, leave_out: set[str] = frozenset(), runs: int = IMPORTTIME_RUNS
) -> list[tuple[str, float]]:
    """The TOP biggest contributors not in `leave_out`, each its median over `runs` children (absent counts as 0)."""
    samples = [contributors(target, cache_dir) for _ in range(runs)]
    names = set().union(*samples) - leave_out
    medians = {name: statistics.median(s.get(name, 0.0) for s in samples) for name in names}
    return sorted(medians.items(), key=lambda kv: -kv[1])[:TOP]


def run(runs: int, against: str | None = None) -> int:
    print(
        f"Cold-start import time: {runs} rounds, one fresh interpreter per row each "
        f"({sys.executable}, Python {sys.version.split()[0]}); functions as deployed (in Lambda, tracing on)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="gridpulse-bench-pycache-") as cache_dir,
        tempfile.TemporaryDirectory(prefix="gridpulse-bench-task-root-") as lambda_root,
        tempfile.TemporaryDirectory(prefix="gridpulse-bench-baseline-") as tree,
    ):
        rows = targets(lambda_root)
        baseline = baseline_targets(against, pathlib.Path(tree), lambda_root) if against else None
        if against and baseline is None:
            print(f"(no comparison with {against}: this clone does not have that revision)")
        rows += baseline or []
        for target in rows:  # warm-up: compile bytecode into the private cache; not counted
            time_once(target, cache_dir)
        for _ in range(runs):  # interleaved: a load change on the machine hits every row alike
            for target in rows:
                cpu, wall, full_gc = time_once(target, cache_dir)
                target.cpu.append(cpu)
                target.wall.append(wall)
                target.full_gc.append(full_gc)
        functions = [t for t in rows if t.budget is not None and "@" not in t.label]
        # What the floor imports too (boto3, botocore, urllib3, the standard library) every function pays anyway.
        floor_imports = set(contributors(next(t for t in rows if t.label == FLOOR), cache_dir)) - {"(handler)", "(gc)"}
        tops = {t.label: top_contributors(t, cache_dir, floor_imports) for t in functions}

    floor = next(t for t in rows if t.label == FLOOR).cpu
    table, over = [], []
    for target in [t for t in rows if t not in (baseline or [])]:
        ratio = statistics.median(s / f for s, f in zip(target.cpu, floor))
        verdict = ""
        if target.budget is not None:
            verdict = f"<= {target.budget:.1f}x " + ("ok" if ratio <= target.budget else "OVER")
            if ratio > target.budget:
                over.append(target.label.split(" ")[0])
        table.append(
            [
                target.label,
                f"{statistics.median(target.cpu):.1f}",
                f"{statistics.median(target.wall):.1f}",
                f"{statistics.median(target.full_gc):g}",
                f"{'+' if target.increment else ''}{ratio:.2f}x",
                verdict,
            ]
        )
    print(render(["function", "cpu ms", "wall ms", "full gc", "x floor", "target"], table, right={1, 2, 3, 4}))
    print("over the cold-start target: " + (", ".join(over) if over else "none"))
    if baseline:
        compare(functions, baseline, against)
    print(
        f"\nBiggest imports per function beyond what the floor imports (-X importtime self ms, median of "
        f"{IMPORTTIME_RUNS}; wall time, so only roughly additive):"
    )
    print(
        render(
            ["function", f"top {TOP}"],
            [[t.label.split(" ")[0], ", ".join(f"{name} {ms:.0f}" for name, ms in tops[t.label])] for t in functions],
        )
    )
    return 0


# A function counts as "equal" to its baseline within this much: the spread of the now/before ratio between
# runs of this benchmark on an idle 2-core machine.
SAME_WITHIN = 0.05


def compare(functions: list[Target], baseline: list[Target], rev: str) -> None:
    """Each function beside the same function at `rev`, measured in the same rounds: the median per-round
    ratio of CPU times, so a load change on the machine hits both alike."""
    before = {logical_name(t): t for t in baseline}
    table, slower = [], []
    for target in functions:
        old = before.get(logical_name(target))
        if old is None:
            table.append([logical_name(target), "-", f"{statistics.median(target.cpu):.1f}", "-", "new"])
            continue
        ratio = statistics.median(n / b for n, b in zip(target.cpu, old.cpu))
        verdict = "faster" if ratio < 1 - SAME_WITHIN else "equal" if ratio <= 1 + SAME_WITHIN else "SLOWER"
        if verdict == "SLOWER":
            slower.append(logical_name(target))
        table.append(
            [
                logical_name(target),
                f"{statistics.median(old.cpu):.1f}",
                f"{statistics.median(target.cpu):.1f}",
                f"{ratio:.2f}x",
                verdict,
            ]
        )
    print(f"\nAgainst {rev} (the same functions at that revision, same rounds; equal = within {SAME_WITHIN:.0%}):")
    print(render(["function", f"cpu ms @{rev}", "cpu ms now", "now/before", ""], table, right={1, 2, 3}))
    print("slower than at " + rev + ": " + (", ".join(slower) if slower else "none"))

"""`make bench` keeps working: the DynamoDB table runs (quick) and every route
answers with its expected status (the bench exits non-zero otherwise); the
telemetry ingestion and cost tables run in their small size well within a
minute, our rollups match the metered energy (the bench exits non-zero
otherwise) and the naive baseline double counts a redelivery; the alert
table runs small in under 30 s; the lights table runs small (no local stack); the
forecast worker's table runs small with its cold-start and memory rows."""

import os
import subprocess
import sys

from infrastructure.cfn import ROOT


def test_bench_dynamodb_table_runs():
    out = _bench("--only", "dynamodb")
    assert "GET /auth/me" in out and "GetItem x1" in out


def _row(output: str, label: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(label))


def _bench(*args: str, timeout: int = 300, env: dict | None = None) -> str:
    """`python -m bench <args>` from the repo root: its output, once it has exited 0."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_bench_telemetry_tables_run_small():
    out = _bench("--only", "ingestion", "--only", "cost", "--size", "small")
    assert not any(line.startswith("! ") for line in out.splitlines()), out
    # ours: a redelivery leaves the rollups right; naive: its counters hold twice the energy
    assert _row(out, "ours: duplicate delivery").endswith("1.000")
    assert _row(out, "naive: duplicate delivery").endswith("2.000")
    assert "PutItem 1.00, UpdateItem 3.00" in _row(out, "naive: first delivery  ")
    assert "365 days by month" in out and "1,051,200" in out
    assert "total per device-month" in out and "DynamoDB writes" in out


def test_bench_alert_table_runs_small():
    """The alert table: a duplicate delivery evaluates and raises nothing, the
    breach episode leaves one alert per meter where the naive evaluator leaves
    one per breaching reading (the bench exits non-zero if our rows are off)."""
    out = _bench("--only", "alerts", "--size", "small")
    assert not any(line.startswith("! ") for line in out.splitlines()), out
    # messages, readings, evaluated ... raised, resolved, notifications
    assert _row(out, "steady, no breach (").split()[-3:] == ["0", "0", "0"]
    duplicate = _row(out, "duplicate delivery of rows 1-3").split()
    assert duplicate[-9] == "0" and duplicate[-3:] == ["0", "0", "0"]
    assert _row(out, "breach episode (").split()[-3:] == ["2", "2", "2"]
    assert "our alert items: over_power x2 (resolved, count 20)" in out
    assert "fed the breach episode: 40 alert items and 40 emails" in out
    assert _row(out, "ingestion (IngestFunction)") and _row(out, "both paths, no breach")


def test_item_sizes_follow_dynamodb_rules():
    from bench.ingestion.capacity import item_size, number_size, rru, wru

    assert number_size("1000") == 2 and number_size("123.45") == 4 and number_size("0.001") == 2
    item = {"pk": {"S": "device#1"}, "on": {"BOOL": True}, "l": {"L": [{"N": "7"}]}, "m": {"M": {"a": {"S": "xy"}}}}
    assert item_size(item) == (2 + 8) + (2 + 1) + (1 + 3 + 1 + 2) + (1 + 3 + 1 + 1 + 2)
    assert (wru(0), wru(1024), wru(1025)) == (1, 1, 2)
    assert (rru(0, True), rru(4096, True), rru(4097, True), rru(4097, False)) == (1, 1, 2, 1.0)


def test_bench_import_table_runs():
    """The cold-start table: the floor row is the 1.00x reference, every
    function has a row with its budget and its full garbage collections, and
    the contributors table lists no Argon2 or X-Ray SDK at import."""
    out = _bench("--only", "imports", "--runs", "1")
    assert _row(out, "import boto3 + DynamoDB client (floor)").split()[-1] == "1.00x"
    assert _row(out, "import boto3 ").split()[-1].endswith("x")
    assert _row(out, "HealthFunction (functions/health/app.py)").split()[-2:][0] == "1.4x"
    assert _row(out, "IngestFunction (functions/ingest/app.py)").split()[-2:][0] == "1.2x"
    # No full garbage collection in an API function's import in Lambda (gridpulse/gc_pause.py).
    assert _row(out, "HealthFunction (functions/health/app.py)").split()[-5] == "0"
    assert _row(out, "+ Tracer on the first traced invocation").split()[-1].startswith("+")
    tops = out[out.index("Biggest imports per function") :]
    assert _row(tops, "AuthFunction ") and _row(tops, "CleanupFunction ")
    assert "argon2" not in tops and "aws_xray_sdk" not in tops and "botocore" not in tops


def test_bench_lights_table_runs_small():
    """The lights table in its small size (a city of 20, no local stack): every
    route answers as expected (the bench exits non-zero otherwise) and the
    schedule reads only the automatic lights, beside its previous all-lights read."""
    out = _bench("--only", "lights", "--size", "small", timeout=120)
    assert "GET /lights/{id}/usage" in out and "GET /devices?city= (baseline" in out
    assert "items read" in out and "Query x1, BatchGetItem x2" in _row(out, "LightScheduleFunction, a run (2 of 20")


def test_bench_billing_table_runs_with_a_small_fleet():
    """The billing table (GRIDPULSE_BENCH_SYNC_METERS=40 instead of 100 and 1,000): every route
    answers as expected, every sync message is handled, and a steady-state sync reads the
    meters' status 20 per Tuya call (2 batch calls for 40 meters, plus the listing page)."""
    out = _bench("--only", "billing", env={"GRIDPULSE_BENCH_SYNC_METERS": "40"})
    assert not any(line.startswith("! ") for line in out.splitlines()), out
    again = _row(out, "again (all known)").split()
    assert again[3] == "40" and again[6] == "0.075", out  # (1 page + 2 batch reads) / 40 meters
    assert "TransactWriteItems 1" in _row(out, "again (all known)")


def test_bench_forecasts_table_runs_small():
    """The forecast worker's table (2 devices per history): both methods are served through the
    worker's code, and the cold-start row shows what loading the ML packages costs."""
    out = _bench("--only", "forecasts", "--size", "small")
    assert "model" in _row(out, "8 weeks (model, 2 fits)") and "seasonal_naive" in _row(out, "10 days")
    share = _row(out, "the worker's share").split()
    assert share[-2].startswith("+") and float(share[-2]) > 0, out  # MB of RSS the worker adds
    assert "not yet loaded after the setup" in out

"""Prepaid billing cost per call: Tuya calls and DynamoDB requests per top-up and per
live balance read, beside a plain `GET /devices/{id}` as the baseline, in the same run.

What is measured: moto's `mock_aws` with the template's resources (bench.stack), the
handlers in-process behind the API Gateway stand-in, the real Tuya client against the
Tuya Cloud stand-in (infrastructure/local/tuya) over HTTP with its credentials in
TuyaCredentialsSecret. Each row is the mean over ROUNDS calls after one warm-up call
(the container's token and the meter's specification are then cached, as in a warm
Lambda). DynamoDB requests are counted by bench.calls.CallRecorder; Tuya calls by the
stand-in (`calls`).

Sync: the scheduled path as deployed (BillingSyncFunction's scheduled event lists the
project and queues the meters; every queued message is then handed to
BillingSyncWorkerFunction as an SQS batch), twice per fleet size: the first run imports
the meters, the second finds them known (every 15 minutes from then on). Each size
(SYNC_METERS: 100 and 1,000; GRIDPULSE_BENCH_SYNC_METERS="100,1000" changes them) runs
against its own stand-in and a fresh moto, so the rows show how the time scales. Time is
wall-clock and the process's CPU time (moto, the stand-in and the functions all run in
this process; on a shared machine the CPU time is the steadier figure). moto's whole-table
copies per TransactWriteItems and whole-table sorts per Query (quadratic in the meters)
are replaced as in the local stack (infrastructure/local/moto_transactions.py, installed
by bench.stack.mocked_stack). Its baseline, in the same run, is the floor a sync cannot
go under: the listing pages, one batch status read per 20 meters and one write of each
meter's books.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket

from bench.calls import CallRecorder
from bench.stack import mocked_stack
from bench.table import render

ADMIN = ("root@gridpulse.example.com", "root-password-1")
ROUNDS = 5
CALL_METERS = 3  # stand-in meters for the per-call table
SYNC_METERS = [int(n) for n in os.environ.get("GRIDPULSE_BENCH_SYNC_METERS", "100,1000").split(",") if n.strip()]


@contextlib.contextmanager
def _environment(meters: int):
    """A stand-in of `meters` meters over HTTP, a fresh mocked stack whose functions use it
    (credentials in TuyaCredentialsSecret), and the admin: (stack, functions, cloud, call, token)."""
    import boto3
    from werkzeug.test import Client

    from infrastructure.local import tuya

    access_id, access_secret = tuya.new_credentials()
    cloud = tuya.TuyaStandIn(access_id, access_secret, meters=meters)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = tuya.start(sock, cloud)
    try:
        with mocked_stack() as stack:
            # Imported once the environment names the tables (models read them at import).
            from gridpulse.accounts.users import ensure_admin
            from gridpulse.billing import service
            from gridpulse.billing.tuya.client import forget_credentials
            from infrastructure.local.gateway import Gateway, load_functions

            secret = stack.physical["TuyaCredentialsSecret"]
            boto3.client("secretsmanager").put_secret_value(
                SecretId=secret, SecretString=json.dumps({"access_id": access_id, "access_secret": access_secret})
            )
            os.environ["TUYA_ENDPOINT"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            forget_credentials()
            service.use_tuya(None)
            functions = load_functions(stack)
            client = Client(Gateway(stack, functions, log=lambda *a: None))
            ensure_admin(*ADMIN)

            def call(method, path, body=None, token=None, key=None):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if key:
                    headers["Idempotency-Key"] = key
                response = client.open(path, method=method, json=body, headers=headers)
                try:
                    return response.status_code, response.get_json(silent=True)
                finally:
                    response.close()

            token = call("POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})[1]["token"]
            try:
                yield stack, functions, cloud, call, token
            finally:
                service.use_tuya(None)
                forget_credentials()
    finally:
        server.shutdown()
        sock.close()


def run() -> int:
    print(f"Prepaid billing: Tuya calls and DynamoDB requests per call (mean of {ROUNDS}, warm)")
    status = 0
    rows = []
    recorder = CallRecorder()
    with _environment(CALL_METERS) as (stack, functions, cloud, call, token):
        external = next(m.id for m in cloud.meters.values() if m.kind == "money")
        body = {"name": "bench meter", "device_type": "prepaid_meter", "provider": "tuya", "external_id": external}
        meter = call("POST", "/devices", body, token)[1]["device_id"]
        cases = [
            ("GET /devices/{id} (baseline)", "GET", f"/devices/{meter}", None, None, 200),
            ("GET /devices/{id}/balance (live)", "GET", f"/devices/{meter}/balance", None, None, 200),
            ("POST /devices/{id}/add-balance", "POST", f"/devices/{meter}/add-balance", {"amount": 1}, "k", 200),
        ]
        with recorder.installed():
            for label, method, path, payload, key, expected in cases:
                warm = call(method, path, payload, token, f"warm-{label}" if key else None)
                if warm[0] != expected:
                    print(label, warm)
                recorder.clear()
                tuya_before = len(cloud.calls)
                statuses = set()
                for n in range(ROUNDS):
                    statuses.add(call(method, path, payload, token, f"{key}-{n}" if key else None)[0])
                dynamo = [r.operation for r in recorder.records if r.service == "dynamodb"]
                ops = sorted(set(dynamo))
                ok = statuses == {expected}
                status |= 0 if ok else 1
                rows.append(
                    [
                        ("" if ok else "! ") + label,
                        ",".join(map(str, sorted(statuses))),
                        f"{(len(cloud.calls) - tuya_before) / ROUNDS:g}",
                        f"{len(dynamo) / ROUNDS:g}",
                        ", ".join(f"{op} x{dynamo.count(op) / ROUNDS:g}" for op in ops),
                    ]
                )
    print(render(["call", "status", "Tuya calls", "DynamoDB requests", "operations"], rows, right={2, 3}))
    print()
    sizes = ", ".join(f"{n:,}" for n in SYNC_METERS)
    print(f"Prepaid billing sync: time, Tuya calls and DynamoDB requests per meter synced ({sizes} stand-in meters)")
    print("(BillingSyncFunction scheduled -> BillingSyncQueue -> BillingSyncWorkerFunction, in-process)")
    sync_rows = []
    for meters in SYNC_METERS:
        with _environment(meters) as (stack, functions, cloud, call, token):
            with recorder.installed():
                got = _sync(stack, functions, cloud, recorder)
        status |= 1 if any(row[0].startswith("! ") for row in got) else 0
        sync_rows += got
    print(
        render(
            [
                "sync",
                "meters",
                "time (s)",
                "CPU (s)",
                "Tuya calls / meter",
                "DynamoDB requests / meter",
                "operations / meter",
            ],
            sync_rows,
            right={1, 2, 3, 4, 5},
        )
    )
    return status


def _sync(stack, functions, cloud, recorder) -> list[list[str]]:
    """Two scheduled syncs of every stand-in meter (import, then steady state) and the floor."""
    import time

    import boto3

    from gridpulse.billing import sync
    from gridpulse.billing.tuya.client import STATUS_BATCH

    queue = stack.physical["BillingSyncQueue"]
    sqs = boto3.client("sqs")
    scheduler, worker = functions["BillingSyncFunction"], functions["BillingSyncWorkerFunction"]
    meters = len(cloud.meters)
    rows = []
    for label in ("first (imports every meter)", "again (all known)"):
        recorder.clear()
        tuya_before = len(cloud.calls)
        started, cpu = time.perf_counter(), time.process_time()
        scheduler.invoke({"source": "aws.events", "detail-type": "Scheduled Event"}, "us-east-1", "123456789012")
        failures = 0
        while True:
            out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = out.get("Messages", [])
            if not messages:
                break
            records = [
                {"messageId": m["MessageId"], "body": m["Body"], "receiptHandle": m["ReceiptHandle"]} for m in messages
            ]
            failures += len(worker.invoke({"Records": records}, "us-east-1", "123456789012")["batchItemFailures"])
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        dynamo = [r.operation for r in recorder.records if r.service == "dynamodb"]
        tuya_calls = len(cloud.calls) - tuya_before
        rows.append(
            [
                ("! " if failures else "") + label + (f" ({failures} failed)" if failures else ""),
                f"{meters:,}",
                f"{elapsed:.1f}",
                f"{cpu:.1f}",
                f"{tuya_calls / meters:.3g}",
                f"{len(dynamo) / meters:.3g}",
                ", ".join(f"{op} {dynamo.count(op) / meters:.3g}" for op in sorted(set(dynamo))),
            ]
        )
    pages = -(-meters // sync.PAGE_SIZE)
    reads = -(-meters // STATUS_BATCH)
    rows.append(
        [
            "floor (baseline: listing + batch status, 1 books write per meter)",
            f"{meters:,}",
            "",
            "",
            f"{(pages + reads) / meters:.3g}",
            "1",
            "UpdateItem 1",
        ]
    )
    return rows

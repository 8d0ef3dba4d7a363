"""Prepaid billing cost per call: Tuya calls and DynamoDB requests per top-up and per
live balance read, beside a plain `GET /devices/{id}` as the baseline, in the same run.

What is measured: moto's `mock_aws` with the template's resources (bench.stack), the
handlers in-process behind the API Gateway stand-in, the real Tuya client against the
Tuya Cloud stand-in (infrastructure/local/tuya) over HTTP with its credentials in
TuyaCredentialsSecret. Each row is the mean over ROUNDS calls after one warm-up call
(the container's token and the meter's specification are then cached, as in a warm
Lambda). DynamoDB requests are counted by bench.calls.CallRecorder; Tuya calls by the
stand-in (`calls`). Sync of 1,000 meters is not measured: POST /devices/refresh is not
on this branch.
"""

from __future__ import annotations

import json
import socket

from bench.calls import CallRecorder
from bench.stack import mocked_stack
from bench.table import render

ADMIN = ("root@gridpulse.example.com", "root-password-1")
ROUNDS = 5


def run() -> int:
    import os

    import boto3
    from werkzeug.test import Client

    from infrastructure.local import tuya

    print(f"Prepaid billing: Tuya calls and DynamoDB requests per call (mean of {ROUNDS}, warm)")
    access_id, access_secret = tuya.new_credentials()
    cloud = tuya.TuyaStandIn(access_id, access_secret, meters=2)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = tuya.start(sock, cloud)
    status = 0
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
            client = Client(Gateway(stack, load_functions(stack), log=print))
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
            external = next(m.id for m in cloud.meters.values() if m.kind == "money")
            body = {"name": "bench meter", "device_type": "prepaid_meter", "provider": "tuya", "external_id": external}
            meter = call("POST", "/devices", body, token)[1]["device_id"]
            cases = [
                ("GET /devices/{id} (baseline)", "GET", f"/devices/{meter}", None, None, 200),
                ("GET /devices/{id}/balance (live)", "GET", f"/devices/{meter}/balance", None, None, 200),
                ("POST /devices/{id}/add-balance", "POST", f"/devices/{meter}/add-balance", {"amount": 1}, "k", 200),
            ]
            rows = []
            recorder = CallRecorder()
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
            service.use_tuya(None)
            forget_credentials()
    finally:
        server.shutdown()
        sock.close()
    print(render(["call", "status", "Tuya calls", "DynamoDB requests", "operations"], rows, right={2, 3}))
    print("Sync of 1,000 stand-in meters: not measured (POST /devices/refresh is on the billsync branch, not here).")
    return status

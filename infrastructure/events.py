"""Sample events for every function of template.yaml, in events/<function folder>/.

    python -m infrastructure.events --write   # regenerate events/
    python -m infrastructure.events           # exit 1 if events/ differs from what would be written

What `sam local invoke <Function> -e events/<folder>/<name>.json` takes, and
what tests/integration/test_sample_events.py hands each handler in-process:
API Gateway REST proxy events (the shape the local gateway builds,
infrastructure/local/gateway.py), SQS batches (the records of the local event
sources, infrastructure/local/event_sources.py), the output of the IoT rules
(iot_rules/*.sql) that invoke a function, and EventBridge scheduled events.
Bodies are the messages the code sends (the telemetry and status payloads of
contracts/, the queues' messages). Ids and times are fixed, so the files only
change when this module does.

Routes that need a signed-in caller carry `Authorization: Bearer <token>`:
replace `<token>` with one from POST /auth/login (the test signs in an admin);
the device routes carry `X-API-Key: <device api key>` likewise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib
import sys
from typing import Any

from infrastructure.cfn import ROOT, Stack, load

EVENTS = ROOT / "events"
CONTRACTS = ROOT / "contracts"
ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "gridpulse"
TIME_MS = 1_796_036_400_000  # 2026-11-29T12:20:00Z
TIME_ISO = "2026-11-29T12:20:00Z"
DEVICE = "0f8fad5b-d9cb-469f-a165-70867728950e"
THING = "gp-0f8fad5bd9cb469fa16570867728950e"
TOKEN = "Bearer <token>"
DEVICE_KEY = "<device api key>"

# (function logical id, file name, method, path with its values, resource, body, headers)
API_SAMPLES: list[tuple[str, str, str, str, str, Any, dict]] = [
    (
        "AuthFunction",
        "login",
        "POST",
        "/auth/login",
        "/auth/login",
        {"email": "admin@gridpulse.example.com", "password": "gridpulse-admin-123"},
        {},
    ),
    ("UsersFunction", "list-users", "GET", "/users?limit=20", "/users", None, {"Authorization": TOKEN}),
    (
        "SitesFunction",
        "create-hotel",
        "POST",
        "/hotels",
        "/hotels",
        {"hotel_name": "Harbour View", "timezone": "Australia/Melbourne"},
        {"Authorization": TOKEN},
    ),
    (
        "DevicesFunction",
        "list-devices",
        "GET",
        "/devices?device_type=meter",
        "/devices",
        None,
        {"Authorization": TOKEN},
    ),
    ("DeviceApiFunction", "device-config", "GET", "/device/config", "/device/config", None, {"X-API-Key": DEVICE_KEY}),
    ("GroupsFunction", "list-groups", "GET", "/groups", "/groups", None, {"Authorization": TOKEN}),
    ("LightsFunction", "lights-summary", "GET", "/lights/summary", "/lights/summary", None, {"Authorization": TOKEN}),
    (
        "ForecastsFunction",
        "prediction",
        "GET",
        f"/devices/{DEVICE}/prediction",
        "/devices/{device_id}/prediction",
        None,
        {"Authorization": TOKEN},
    ),
    (
        "TelemetryFunction",
        "latest-reading",
        "GET",
        f"/devices/{DEVICE}/readings/latest",
        "/devices/{device_id}/readings/latest",
        None,
        {"Authorization": TOKEN},
    ),
    ("AlertsFunction", "list-alerts", "GET", "/alerts?status=active", "/alerts", None, {"Authorization": TOKEN}),
    (
        "BillingFunction",
        "balance",
        "GET",
        f"/devices/{DEVICE}/balance",
        "/devices/{device_id}/balance",
        None,
        {"Authorization": TOKEN},
    ),
    ("BillingSyncFunction", "refresh", "POST", "/devices/refresh", "/devices/refresh", None, {"Authorization": TOKEN}),
    (
        "AssistantFunction",
        "question",
        "POST",
        "/chatbot/query",
        "/chatbot/query",
        {"question": "How much energy did room 101 use yesterday?"},
        {"Authorization": TOKEN},
    ),
    ("HealthFunction", "health", "GET", "/health", "/health", None, {}),
]


def api_event(method: str, path: str, resource: str, body: Any, headers: dict, n: int) -> dict:
    """An API Gateway REST proxy event (stage dev), as API Gateway sends it."""
    path, _, query_string = path.partition("?")
    query = dict(pair.split("=", 1) for pair in query_string.split("&")) if query_string else None
    names = [part[1:-1] for part in resource.split("/") if part.startswith("{")]
    values = [v for r, v in zip(resource.split("/"), path.split("/")) if r.startswith("{")]
    all_headers = {
        "Accept": "application/json",
        "Host": "abc123defg.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **({"Content-Type": "application/json"} if body is not None else {}),
        **headers,
    }
    request_id = f"c6af9ac6-7b61-11e6-9a41-93e8deadbe{n:02d}"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": dict(zip(names, values)) or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/dev{path}",
            "stage": "dev",
            "requestId": request_id,
            "extendedRequestId": f"LfRd3Fx{n:02d}AMEEdQ=",
            "requestTimeEpoch": TIME_MS,
            "requestTime": "29/Nov/2026:12:20:00 +0000",
            "accountId": ACCOUNT,
            "apiId": "abc123defg",
            "protocol": "HTTP/1.1",
            "domainName": "abc123defg.execute-api.us-east-1.amazonaws.com",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def sqs_event(queue_name: str, bodies: list[Any]) -> dict:
    """An SQS batch as Lambda's event source mapping delivers it."""
    records = []
    for n, body in enumerate(bodies):
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        message_id = f"059f36b4-87a3-44ab-83d2-661975830a{n:02d}"
        records.append(
            {
                "messageId": message_id,
                "receiptHandle": base64.b64encode(f"{message_id}:sample".encode()).decode(),
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(TIME_MS),
                    "SenderId": "AROAEXAMPLE:iot-rules",
                    "ApproximateFirstReceiveTimestamp": str(TIME_MS + 20),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{queue_name}",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def scheduled_event(rule: str) -> dict:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": TIME_ISO,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-{rule}"],
        "detail": {},
    }


def _contract(path: str) -> dict:
    return json.loads((CONTRACTS / path).read_text())


def _rule_output(payload: dict, topic_thing: str = THING) -> dict:
    """What the telemetry and status rules' `SELECT *, topic(2) AS thing_name, ...` add."""
    return {
        **payload,
        "thing_name": topic_thing,
        "client_id": topic_thing,
        "principal": "3f1e5e6b0c3f9d2a7e4b6c8d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f",
        "received_at": TIME_MS,
    }


def samples(stack: Stack) -> dict[str, dict]:
    """events/<folder>/<name>.json -> event, for every function of the template."""
    folders = {
        logical: pathlib.PurePosixPath(f["Properties"]["CodeUri"]).name for logical, f in stack.functions().items()
    }
    out: dict[str, dict] = {}
    for n, (logical, name, method, path, resource, body, headers) in enumerate(API_SAMPLES):
        out[f"{folders[logical]}/{name}.json"] = api_event(method, path, resource, body, headers, n)
    telemetry = _rule_output(_contract("telemetry/single_reading.json"))
    out["ingest/telemetry-batch.json"] = sqs_event(
        "telemetry", [telemetry, _rule_output(_contract("telemetry/batch.json"))]
    )
    out["alert_evaluator/readings.json"] = sqs_event("alerts", [telemetry])
    out["password_reset/reset-request.json"] = sqs_event("password-reset", [{"email": "ann@example.com"}])
    out["forecast_worker/devices.json"] = sqs_event("forecasts", [{"device_id": DEVICE, "scheduled_at": TIME_ISO}])
    out["billing_retry/pending-top-up.json"] = sqs_event(
        "billing-retry", [{"device_id": DEVICE, "sk": f"LEDGER#{TIME_MS:013d}#5b0c2f1e8a474d6b", "attempt": 1}]
    )
    out["billing_sync_worker/meters.json"] = sqs_event(
        "billing-sync", [{"meters": [{"id": "bf3a6e1c2d4f5a6b7c8d9e", "name": "Room 101 meter", "online": True}]}]
    )
    out["cleanup/deleted-device.json"] = sqs_event("device-cleanup", [{"device_id": DEVICE}])
    out["device_events/light-status.json"] = _rule_output(_contract("status/light_on.json"))
    out["device_events/presence-disconnected.json"] = {
        "event_type": "disconnected",
        "thing_name": THING,
        "event_time": TIME_MS - 1500,
        "disconnect_reason": "MQTT_KEEP_ALIVE_TIMEOUT",
        "received_at": TIME_MS,
    }
    for logical, function in stack.functions().items():
        for event_name, event in (function["Properties"].get("Events") or {}).items():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                out[f"{folders[logical]}/scheduled.json"] = scheduled_event(f"{logical}{event_name}")
    return dict(sorted(out.items()))


def render(event: dict) -> str:
    return json.dumps(event, indent=2) + "\n"


def main(argv: list[str]) -> int:
    wanted = {EVENTS / name: render(event) for name, event in samples(Stack(load())).items()}
    present = set(EVENTS.rglob("*.json")) if EVENTS.exists() else set()
    if "--write" in argv:
        for path in present - set(wanted):
            path.unlink()
        for path, text in wanted.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        print(f"{len(wanted)} events written to {EVENTS.relative_to(ROOT)}/")
        return 0
    stale = sorted(str(p.relative_to(ROOT)) for p, t in wanted.items() if not p.exists() or p.read_text() != t)
    stale += sorted(str(p.relative_to(ROOT)) for p in present - set(wanted))
    if stale:
        print("events/ is out of date (python -m infrastructure.events --write): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

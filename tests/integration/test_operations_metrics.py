"""What an operator reads in CloudWatch and X-Ray (#16), from the real handlers:
the business metrics they write as EMF at the end of an invocation, the X-Ray
annotations of a traced invocation, the correlation id of their log lines."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gridpulse import observability
from infrastructure.cfn import ROOT
from infrastructure.local.gateway import Gateway, LambdaContext, LocalFunction, load_handler
from infrastructure.local.metrics import LocalMetrics

SERVICE = {"service": "gridpulse"}


@pytest.fixture
def emitted(monkeypatch):
    """Every EMF document the handlers write (the local stack's sink)."""
    documents: list[dict] = []
    monkeypatch.setattr(observability, "metric_sink", documents.append)
    return documents


def _sum(documents: list[dict], name: str, **dimensions: str) -> float:
    """The sum of `name` over the documents whose dimensions are exactly `service` plus `dimensions`."""
    wanted = {**SERVICE, **dimensions}
    total = 0.0
    for doc in documents:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "GridPulse"
            for dims in directive["Dimensions"]:
                if {k: doc[k] for k in dims} == wanted and any(m["Name"] == name for m in directive["Metrics"]):
                    total += sum(doc[name])
    return total


def _values(documents: list[dict], name: str) -> list[float]:
    return [v for doc in documents if name in doc for v in doc[name]]


@pytest.fixture
def captured_logs(monkeypatch):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(observability.logger.registered_formatter)
    monkeypatch.setattr(observability.logger._logger, "handlers", [*observability.logger._logger.handlers, handler])
    level = observability.logger._logger.level
    observability.logger._logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    finally:
        observability.logger._logger.setLevel(level)


def _function(logical: str, folder: str, unique: str) -> LocalFunction:
    """The function's handler module imported afresh (decorated under the environment of now)."""
    handler = load_handler(ROOT / "functions" / folder, "app.handler", unique)
    return LocalFunction(logical_id=logical, name=logical, handler=handler, memory=256, timeout=30)


def _sqs(records: list[dict]) -> dict:
    return {"Records": [{"messageId": f"msg-{i}", "body": json.dumps(body)} for i, body in enumerate(records)]}


def _rule_output(thing: str, payload, received_ms: int) -> dict:
    if isinstance(payload, str):
        return {"_raw_payload": payload, "thing_name": thing, "received_at": received_ms}
    return {**payload, "thing_name": thing, "client_id": thing, "received_at": received_ms}


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def test_ingestion_writes_counts_rejects_by_reason_and_the_lag_from_the_broker(api, meter, emitted, captured_logs):
    ingest = _function("IngestFunction", "ingest", "test_ops_ingest")
    now = datetime.now(timezone.utc)
    received_ms = int(now.timestamp() * 1000) - 5000  # the broker received it 5 s ago
    event = _sqs(
        [
            _rule_output(
                meter["thing"],
                {
                    "readings": [
                        {"timestamp": _iso(now - timedelta(minutes=m)), "energy_kwh": 3 + m / 10} for m in (2, 1)
                    ]
                },
                received_ms,
            ),
            _rule_output(meter["thing"], {"timestamp": _iso(now), "power_w": -5}, received_ms),
            _rule_output(meter["thing"], "{not json", received_ms),
        ]
    )
    started = time.time()
    assert ingest.invoke(event, "us-east-1", "123456789012") == {"batchItemFailures": []}
    took_ms = (time.time() - started) * 1000

    assert _sum(emitted, "ReadingsIngested") == 2
    assert _sum(emitted, "ReadingsRejected") == 2
    assert _sum(emitted, "ReadingsRejected", reason="negative_value") == 1
    assert _sum(emitted, "ReadingsRejected", reason="malformed_json") == 1
    assert _sum(emitted, "ReadingsDuplicate") == 0
    # One value per MQTT message that stored a reading: broker receive time to stored.
    (lag,) = _values(emitted, "IngestionLag")
    assert 5000 <= lag <= 5000 + took_ms + 50
    lag_units = {
        m["Unit"]
        for d in emitted
        for c in d["_aws"]["CloudWatchMetrics"]
        for m in c["Metrics"]
        if m["Name"] == "IngestionLag"
    }
    assert lag_units == {"Milliseconds"}

    # Again: the same messages (an SQS redelivery) store nothing and count as duplicates; the
    # figures of the first invocation were flushed with it, not written twice.
    emitted.clear()
    ingest.invoke(event, "us-east-1", "123456789012")
    assert _sum(emitted, "ReadingsIngested") == 0 and _sum(emitted, "ReadingsDuplicate") == 2
    assert _values(emitted, "IngestionLag") == []

    # The log lines about a device's messages carry the SQS message id of the IoT rule's output.
    quarantined = [line for line in captured_logs() if line.get("message") == "readings quarantined"]
    assert quarantined and {line["correlation_id"] for line in quarantined} == {"msg-0"}


def test_an_api_call_writes_its_counts_and_logs_api_gateways_request_id(
    api, meter, emitted, captured_logs, monkeypatch
):
    events: list[dict] = []
    original = Gateway.proxy_event

    def recording(self, *args):
        events.append(original(self, *args))
        return events[-1]

    monkeypatch.setattr(Gateway, "proxy_event", recording)
    at = _iso(datetime.now(timezone.utc) - timedelta(minutes=1))
    status, body = api.post("/telemetry", {"readings": [{"timestamp": at, "power_w": "x"}]}, headers=meter["key"])
    assert status == 400, body
    assert _sum(emitted, "ReadingsRejected", reason="not_a_number") == 1
    request_id = events[-1]["requestContext"]["requestId"]
    lines = [line for line in captured_logs() if line.get("message") == "readings quarantined"]
    assert [line["correlation_id"] for line in lines] == [request_id]


def test_light_commands_sent_and_confirmed_are_counted(api, admin_token, emitted, monkeypatch):
    from gridpulse.devices import messaging

    monkeypatch.setattr(messaging, "publisher", lambda topic, payload, qos: None)
    body = {"name": "lamp", "device_type": "light", "city": "Lisbon", "latitude": 38.7, "longitude": -9.1}
    light = api.create("/devices", {**body, "address": "lamp street"}, admin_token)
    status, sent = api.post(f"/lights/{light['device_id']}/control", {"action": "on"}, token=admin_token)
    assert status == 200, sent
    assert _sum(emitted, "CommandsSent") == 1 and _sum(emitted, "CommandsSent", origin="api") == 1
    assert _sum(emitted, "CommandsConfirmed") == 0
    status, body = api.post(
        f"/lights/{light['device_id']}/status",
        {"status": "on", "command_id": sent["command_id"]},
        headers={"X-API-Key": light["credentials"]["api_key"]},
    )
    assert status == 200, body
    assert _sum(emitted, "CommandsConfirmed") == 1 and _sum(emitted, "CommandsFailed") == 0


# ------------------------------------------------------------------ X-Ray


class _Emitter:
    """Receives what the X-Ray SDK would send to the daemon."""

    def __init__(self):
        self.entities: list[dict] = []

    def send_entity(self, entity) -> None:
        self.entities.append(json.loads(entity.serialize()))

    def set_daemon_address(self, address) -> None:
        pass


@pytest.fixture
def xray(monkeypatch):
    """Tracing on as in Lambda (the real X-Ray SDK and Powertools Tracer; botocore left
    unpatched), every finished subsegment captured instead of sent to a daemon."""
    from aws_lambda_powertools import Tracer
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.lambda_launcher import LambdaContext as XRayLambdaContext

    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    emitter = _Emitter()
    saved = (xray_recorder.context, xray_recorder.emitter, xray_recorder.streaming_threshold)
    xray_recorder.configure(context=XRayLambdaContext(), emitter=emitter, sampling=False, streaming_threshold=0)
    Tracer._reset_config()
    observability.tracer._powertools = Tracer(auto_patch=False)
    try:
        yield lambda: [e.get("annotations", {}) for e in emitter.entities if e.get("name", "").startswith("## ")]
    finally:
        observability.tracer._powertools = None
        Tracer._reset_config()
        xray_recorder.context, xray_recorder.emitter, xray_recorder.streaming_threshold = saved


def test_api_traces_are_annotated_with_route_function_group_and_device_type(aws, api, meter, xray):
    traced = _function("DevicesFunction", "devices", "test_ops_devices_traced")
    gateway = Gateway(aws, {**api.client.application.functions, "DevicesFunction": traced})
    from werkzeug.test import Client

    response = Client(gateway).get(f"/devices/{meter['id']}", headers={"Authorization": f"Bearer {meter['token']}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    (annotations,) = xray()
    assert annotations["route"] == "GET /devices/{device_id}"
    assert annotations["function_group"] == "devices"
    assert annotations["device_type"] == "meter"


def test_ingestion_traces_are_annotated_with_the_batchs_device_type(api, meter, xray):
    traced = _function("IngestFunction", "ingest", "test_ops_ingest_traced")
    now = datetime.now(timezone.utc)
    event = _sqs([_rule_output(meter["thing"], {"timestamp": _iso(now), "power_w": 10}, int(now.timestamp() * 1000))])
    traced.invoke(event, "us-east-1", "123456789012")
    (annotations,) = xray()
    assert annotations["device_type"] == "meter"


def _high_voltage(meter: dict, at: datetime) -> dict:
    return _rule_output(meter["thing"], {"timestamp": _iso(at), "voltage": 262.0}, int(at.timestamp() * 1000))


def _scheduled(folder: str) -> dict:
    """The sample EventBridge event of a scheduled function (events/<folder>/scheduled.json)."""
    return json.loads((ROOT / "events" / folder / "scheduled.json").read_text())


def test_event_function_traces_are_annotated_with_function_group_and_device_type(api, meter, xray):
    evaluator = _function("AlertEvaluatorFunction", "alert_evaluator", "test_ops_evaluator_traced")
    assert evaluator.invoke(_sqs([_high_voltage(meter, datetime.now(timezone.utc))]), "us-east-1", "123456789012") == {
        "batchItemFailures": []
    }
    offline = _function("OfflineCheckFunction", "offline_check", "test_ops_offline_traced")
    offline.invoke(_scheduled("offline_check"), "us-east-1", "123456789012")
    evaluated, checked = xray()
    assert evaluated["function_group"] == "alert_evaluator" and evaluated["device_type"] == "meter"
    assert checked["function_group"] == "offline_check" and "device_type" not in checked


def test_event_function_log_lines_carry_the_id_of_the_record_or_event_that_triggered_them(api, captured_logs):
    from tests.integration.conftest import new_meter

    first, second = new_meter(api, "a", email="a@example.com"), new_meter(api, "b", email="b@example.com")
    now = datetime.now(timezone.utc)
    evaluator = _function("AlertEvaluatorFunction", "alert_evaluator", "test_ops_evaluator_logs")
    # One batch, two devices' records: each alert's line carries the message id of its own record.
    evaluator.invoke(_sqs([_high_voltage(first, now), _high_voltage(second, now)]), "us-east-1", "123456789012")
    raised = {line["device_id"]: line for line in captured_logs() if line.get("message") == "alert raised"}
    assert raised[first["id"]]["correlation_id"] == "msg-0"
    assert raised[second["id"]]["correlation_id"] == "msg-1"
    assert {raised[d]["function_name"] for d in raised} == {"AlertEvaluatorFunction"}

    # A scheduled run's lines carry the EventBridge event's id.
    event = _scheduled("offline_check")
    _function("OfflineCheckFunction", "offline_check", "test_ops_offline_logs").invoke(
        event, "us-east-1", "123456789012"
    )
    (line,) = [line for line in captured_logs() if line.get("message") == "offline check"]
    assert line["correlation_id"] == event["id"]


def test_device_events_log_lines_carry_the_id_the_iot_rule_gave_the_message(api, admin_token, captured_logs):
    """The light status and presence rules add `newuuid() AS message_id` (after `*`, so a device
    cannot choose it): DeviceEventsFunction's lines carry it as their correlation id."""
    from infrastructure.cfn import Stack, load
    from infrastructure.local.iot.sql import parse

    light = api.create("/devices", {"name": "pole", "device_type": "light", "city": "Lisbon"}, admin_token)
    thing = light["credentials"]["thing_name"]
    rules = Stack(load()).resources("AWS::IoT::TopicRule")
    status_rule = parse(rules["LightStatusRule"]["Properties"]["TopicRulePayload"]["Sql"])
    output = status_rule.apply(
        f"gridpulse/{thing}/status", json.dumps({"status": "blink", "message_id": "chosen"}), thing
    )
    assert output["message_id"] != "chosen" and len(output["message_id"]) == 36
    presence_rule = parse(rules["PresenceRule"]["Properties"]["TopicRulePayload"]["Sql"])
    presence = presence_rule.apply(
        f"$aws/events/presence/connected/{thing}", json.dumps({"eventType": "connected", "clientId": thing}), ""
    )
    assert len(presence["message_id"]) == 36 and presence["message_id"] != output["message_id"]

    events = _function("DeviceEventsFunction", "device_events", "test_ops_device_events_logs")
    assert events.invoke(output, "us-east-1", "123456789012")["applied"] is False  # not a status a light has
    (line,) = [line for line in captured_logs() if line.get("message") == "light status refused"]
    assert line["correlation_id"] == output["message_id"]


def test_every_function_not_behind_api_gateway_is_an_event_handler_of_its_group():
    """Every event-driven function of the template gets the annotations and correlation id
    above through gridpulse.observability.event_handler, named after its functions/<group>."""
    from infrastructure import cfn

    template = cfn.load()
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        events = {e["Type"] for e in (resource["Properties"].get("Events") or {}).values()}
        if events and events <= {"Api"}:
            continue
        group = resource["Properties"]["CodeUri"].strip("/").split("/")[-1]
        source = (ROOT / "functions" / group / "app.py").read_text()
        assert f'@event_handler("{group}")' in source, logical


def test_without_tracing_nothing_is_annotated_and_the_x_ray_sdk_is_not_needed(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setattr(observability.tracer, "load", lambda: pytest.fail("the Tracer was created"))
    observability.annotate("route", "GET /x")


# ------------------------------------------------------------------ the local stack's collector


def test_local_metrics_sum_per_dimension_and_forget_after_a_minute(emitted):
    clock = [1000.0]
    local = LocalMetrics(clock=lambda: clock[0])

    @observability.metrics.log_metrics
    def handler(event, context):
        observability.count("ReadingsIngested", 3)
        observability.count("ReadingsRejected", 1, reason="negative_value")
        for ms in (100, 200, 300, 4000):
            observability.milliseconds("IngestionLag", ms)

    handler({}, LambdaContext("f", 128, 3, "arn", "id", time.monotonic()))
    for document in emitted:
        local.record(document)
    local.function_error("IngestFunction")
    rows = {(r["name"], tuple(sorted(r["dimensions"].items()))): r for r in local.snapshot()["metrics"]}
    assert rows[("ReadingsIngested", (("service", "gridpulse"),))]["last_minute"] == 3
    rejected = rows[("ReadingsRejected", (("reason", "negative_value"), ("service", "gridpulse")))]
    assert rejected["total"] == 1
    lag = rows[("IngestionLag", (("service", "gridpulse"),))]
    assert (lag["total_values"], lag["last_minute_p50"], lag["last_minute_p95"]) == (4, 200, 4000)
    line = local.health_line(dead_letters=2)
    assert "readings 3 stored, 1 rejected" in line and "lag p50 0.2 s p95 4.0 s" in line
    assert "function errors 1" in line and "dead letters 2" in line
    clock[0] += 61
    after = local.snapshot()
    assert all(r["last_minute"] == 0 for r in after["metrics"]) and after["function_errors"]["total"] == 1
    assert "readings 0 stored" in local.health_line()

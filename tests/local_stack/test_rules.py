"""The local IoT rules engine (infrastructure/local/iot/rules.py), against a small
template with the shape template.yaml's topic rules have, and fake functions."""

import base64
import copy
import hashlib
import json
import threading
import time

import pytest

from infrastructure.cfn import ROOT, Stack, load
from infrastructure.local.iot.rules import RAW_PAYLOAD_KEY, RuleRunner, RulesConfigError

NOW = 1_767_225_600.0
NOW_MS = int(NOW * 1000)
STACK = "gridpulse-test"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{STACK}-telemetry"
TELEMETRY_SQL = (ROOT / "iot_rules" / "telemetry.sql").read_text().strip()
STATUS_SQL = (ROOT / "iot_rules" / "light_status.sql").read_text().strip()
PRESENCE_SQL = (ROOT / "iot_rules" / "presence.sql").read_text().strip()

TEMPLATE_YAML = f"""
Resources:
  TelemetryQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{AWS::StackName}}-telemetry"
      VisibilityTimeout: 180
  IotRulesDeadLetterQueue:
    Type: AWS::SQS::Queue
  IotRulesRole:
    Type: AWS::IAM::Role
  IngestFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/ingest
      Handler: app.handler
      Events:
        Telemetry:
          Type: SQS
          Properties:
            Queue: !GetAtt TelemetryQueue.Arn
            BatchSize: 100
            MaximumBatchingWindowInSeconds: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  DeviceEventsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/device_events
      Handler: app.handler
  TelemetryRule:
    Type: AWS::IoT::TopicRule
    Metadata:
      SqlFile: iot_rules/telemetry.sql
    Properties:
      RuleName: !Sub "${{AWS::StackName}}_telemetry"
      TopicRulePayload:
        AwsIotSqlVersion: "2016-03-23"
        RuleDisabled: false
        Sql: {json.dumps(TELEMETRY_SQL)}
        Actions:
          - Sqs:
              QueueUrl: !Ref TelemetryQueue
              RoleArn: !GetAtt IotRulesRole.Arn
              UseBase64: false
        ErrorAction:
          Sqs: {{QueueUrl: !Ref IotRulesDeadLetterQueue, RoleArn: !GetAtt IotRulesRole.Arn}}
  LightStatusRule:
    Type: AWS::IoT::TopicRule
    Metadata:
      SqlFile: iot_rules/light_status.sql
    Properties:
      RuleName: !Sub "${{AWS::StackName}}_light_status"
      TopicRulePayload:
        AwsIotSqlVersion: "2016-03-23"
        RuleDisabled: false
        Sql: {json.dumps(STATUS_SQL)}
        Actions:
          - Lambda: {{FunctionArn: !GetAtt DeviceEventsFunction.Arn}}
        ErrorAction:
          Sqs: {{QueueUrl: !Ref IotRulesDeadLetterQueue, RoleArn: !GetAtt IotRulesRole.Arn}}
  PresenceRule:
    Type: AWS::IoT::TopicRule
    Metadata:
      SqlFile: iot_rules/presence.sql
    Properties:
      RuleName: !Sub "${{AWS::StackName}}_presence"
      TopicRulePayload:
        AwsIotSqlVersion: "2016-03-23"
        RuleDisabled: false
        Sql: {json.dumps(PRESENCE_SQL)}
        Actions:
          - Lambda: {{FunctionArn: !GetAtt DeviceEventsFunction.Arn}}
        ErrorAction:
          Sqs: {{QueueUrl: !Ref IotRulesDeadLetterQueue, RoleArn: !GetAtt IotRulesRole.Arn}}
  EverythingRule:
    Type: AWS::IoT::TopicRule
    Properties:
      RuleName: !Sub "${{AWS::StackName}}_everything"
      TopicRulePayload:
        AwsIotSqlVersion: "2016-03-23"
        RuleDisabled: true
        Sql: "SELECT * FROM '#'"
        Actions:
          - Lambda: {{FunctionArn: !GetAtt DeviceEventsFunction.Arn}}
"""


@pytest.fixture(scope="module")
def base_template(tmp_path_factory) -> dict:
    """Loaded with infrastructure.cfn.load, so the short tags are in the same form as template.yaml's."""
    path = tmp_path_factory.mktemp("template") / "template.yaml"
    path.write_text(TEMPLATE_YAML)
    return load(path)


@pytest.fixture
def template(base_template) -> dict:
    return copy.deepcopy(base_template)


def resources(template: dict) -> dict:
    return template["Resources"]


def sqs_event(template: dict) -> dict:
    return resources(template)["IngestFunction"]["Properties"]["Events"]["Telemetry"]["Properties"]


class FakeFunction:
    """Records every event; `respond(event)` decides what the handler returns (or raises)."""

    def __init__(self, respond=None):
        self.respond = respond
        self.events: list[dict] = []
        self.threads: list[str] = []
        self._cond = threading.Condition()

    def invoke(self, event: dict, region: str, account: str):
        assert (region, account) == ("us-east-1", "123456789012")
        with self._cond:
            self.events.append(copy.deepcopy(event))
            self.threads.append(threading.current_thread().name)
            self._cond.notify_all()
        return self.respond(event) if self.respond else None

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.events) >= count, timeout), (
                f"{len(self.events)} events after {timeout} s, expected {count}"
            )

    @property
    def records(self) -> list[dict]:
        return [record for event in self.events for record in event["Records"]]

    def bodies(self) -> list[dict]:
        return [json.loads(record["body"]) for record in self.records]


@pytest.fixture
def make_runner(template):
    """make_runner(**RuleRunner kwargs) -> (runner, ingest, device_events); stopped after the test."""
    runners = []

    def make(tpl: dict | None = None, ingest=None, device_events=None, **kwargs):
        functions = {
            "IngestFunction": ingest or FakeFunction(),
            "DeviceEventsFunction": device_events or FakeFunction(),
        }
        kwargs.setdefault("clock", lambda: NOW)
        kwargs.setdefault("log", lambda text: None)
        runner = RuleRunner(Stack(tpl or template, name=STACK), functions, **kwargs)
        runners.append(runner)
        return runner, functions["IngestFunction"], functions["DeviceEventsFunction"]

    yield make
    for runner in runners:
        runner.stop()


def telemetry(runner: RuleRunner, thing: str = "meter-1", client_id: str | None = None, **payload) -> None:
    body = json.dumps({"energy_wh": 1.5, **payload}).encode()
    runner.on_publish(f"gridpulse/{thing}/telemetry", body, client_id or thing)


# ---------------------------------------------------------------- reading the template


def test_enabled_rules_are_read_from_the_template(make_runner):
    runner, _, _ = make_runner()
    assert [
        (r.logical_id, r.name, r.topic_filter, [str(a) for a in r.actions], r.error_target) for r in runner.rules
    ] == [
        (
            "TelemetryRule",
            f"{STACK}_telemetry",
            "gridpulse/+/telemetry",
            ["Sqs:TelemetryQueue"],
            "IotRulesDeadLetterQueue",
        ),
        (
            "LightStatusRule",
            f"{STACK}_light_status",
            "gridpulse/+/status",
            ["Lambda:DeviceEventsFunction"],
            "IotRulesDeadLetterQueue",
        ),
        (
            "PresenceRule",
            f"{STACK}_presence",
            "$aws/events/presence/+/+",
            ["Lambda:DeviceEventsFunction"],
            "IotRulesDeadLetterQueue",
        ),
    ]


def test_a_disabled_rule_is_ignored(make_runner):
    runner, ingest, device_events = make_runner()
    assert "EverythingRule" not in [r.logical_id for r in runner.rules]
    telemetry(runner)
    runner.on_publish("some/other/topic", b"{}", "meter-1")
    runner.flush()
    assert len(ingest.records) == 1
    assert device_events.events == []  # the disabled `SELECT * FROM '#'` would have sent both here


def test_the_real_template_rules_load():
    """Whatever topic rules template.yaml declares load: SQL in the subset,
    actions and queue consumers resolvable."""
    stack = Stack(load(), name=STACK)
    runner = RuleRunner(stack, {name: FakeFunction() for name in stack.functions()}, log=lambda text: None)
    try:
        enabled = [
            logical
            for logical, res in stack.resources("AWS::IoT::TopicRule").items()
            if not res["Properties"]["TopicRulePayload"].get("RuleDisabled")
        ]
        assert [rule.logical_id for rule in runner.rules] == enabled
    finally:
        runner.stop()


# ---------------------------------------------------------------- SQS action


def test_sqs_records_have_the_lambda_sqs_event_shape(make_runner):
    runner, ingest, _ = make_runner()
    telemetry(runner, power_w=230.0)
    runner.flush()
    (record,) = ingest.records
    body = record["body"]
    assert json.loads(body) == {
        "energy_wh": 1.5,
        "power_w": 230,
        "thing_name": "meter-1",
        "client_id": "meter-1",
        "received_at": NOW_MS,
    }
    assert record == {
        "messageId": record["messageId"],
        "receiptHandle": record["receiptHandle"],
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(NOW_MS),
            "SenderId": record["attributes"]["SenderId"],
            "ApproximateFirstReceiveTimestamp": str(NOW_MS),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }
    assert record["messageId"] and record["receiptHandle"]


def test_sqs_batches_are_delivered_when_full(make_runner, template):
    sqs_event(template)["BatchSize"] = 2
    runner, ingest, _ = make_runner(template, batch_window_s=60)  # window: min(60, 5 s of the template)
    for n in range(5):
        telemetry(runner, seq=n)
    ingest.wait_for(2)
    assert [len(e["Records"]) for e in ingest.events] == [2, 2]  # the fifth waits for the window
    assert len(runner.queued("TelemetryQueue")) == 1
    runner.flush()
    assert [len(e["Records"]) for e in ingest.events] == [2, 2, 1]
    # Full batches run concurrently, as Lambda runs them, so they may finish in either order.
    assert sorted(b["seq"] for b in ingest.bodies()) == [0, 1, 2, 3, 4]
    assert all(name.startswith("iot-rules-") for name in ingest.threads[:2])  # not the publishing thread


def test_sqs_batches_are_delivered_after_the_window(make_runner):
    runner, ingest, _ = make_runner(batch_window_s=0.2)
    started = time.monotonic()
    for n in range(3):
        telemetry(runner, seq=n)
    ingest.wait_for(1)
    assert time.monotonic() - started >= 0.2
    assert [len(e["Records"]) for e in ingest.events] == [3]


def test_a_zero_production_window_delivers_at_once(make_runner, template):
    sqs_event(template)["MaximumBatchingWindowInSeconds"] = 0
    runner, ingest, _ = make_runner(template, batch_window_s=30)
    telemetry(runner)
    ingest.wait_for(1, timeout=2)


def test_use_base64_encodes_the_body(make_runner, template):
    resources(template)["TelemetryRule"]["Properties"]["TopicRulePayload"]["Actions"][0]["Sqs"]["UseBase64"] = True
    runner, ingest, _ = make_runner(template)
    telemetry(runner)
    runner.flush()
    assert json.loads(base64.b64decode(ingest.records[0]["body"]))["thing_name"] == "meter-1"


def test_partial_batch_failures_are_redelivered_then_dead_lettered(make_runner):
    def respond(event):
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if "bad" in json.loads(r["body"])
            ]
        }

    runner, ingest, _ = make_runner(ingest=FakeFunction(respond))
    telemetry(runner, seq=1)
    telemetry(runner, seq=2, bad=True)
    telemetry(runner, seq=3)
    runner.flush()
    assert [len(e["Records"]) for e in ingest.events] == [3, 1, 1]
    first, second, third = ingest.records[1], ingest.records[3], ingest.records[4]
    assert first["messageId"] == second["messageId"] == third["messageId"]
    assert len({first["receiptHandle"], second["receiptHandle"], third["receiptHandle"]}) == 3
    assert [r["attributes"]["ApproximateReceiveCount"] for r in (first, second, third)] == ["1", "2", "3"]
    (letter,) = runner.dead_letters
    assert letter.rule == f"{STACK}_telemetry"
    assert letter.action == "Sqs:TelemetryQueue"
    assert letter.target == "IotRulesDeadLetterQueue"  # the rule's ErrorAction (the queue has no RedrivePolicy)
    assert letter.body == first["body"] and json.loads(letter.body)["seq"] == 2
    assert "batchItemFailures" in letter.reason and letter.attempts == 3
    assert (letter.topic, letter.client_id) == ("gridpulse/meter-1/telemetry", "meter-1")


def test_a_record_that_succeeds_on_redelivery_is_not_dead_lettered(make_runner):
    attempts = []

    def respond(event):
        attempts.append(1)
        if len(attempts) == 1:
            return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
        return {"batchItemFailures": []}

    runner, ingest, _ = make_runner(ingest=FakeFunction(respond))
    telemetry(runner)
    runner.flush()
    assert [r["attributes"]["ApproximateReceiveCount"] for r in ingest.records] == ["1", "2"]
    assert runner.dead_letters == []


def test_failed_records_come_back_after_the_window_without_flush(make_runner):
    def respond(event):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    runner, ingest, _ = make_runner(ingest=FakeFunction(respond), batch_window_s=0.05)
    telemetry(runner)
    ingest.wait_for(3)
    deadline = time.monotonic() + 5
    while not runner.dead_letters and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(runner.dead_letters) == 1 and len(ingest.events) == 3


def test_a_handler_exception_fails_the_whole_batch(make_runner):
    def respond(event):
        raise RuntimeError("DynamoDB is down")

    runner, ingest, _ = make_runner(ingest=FakeFunction(respond))
    telemetry(runner, seq=1)
    telemetry(runner, seq=2)
    runner.flush()
    assert [len(e["Records"]) for e in ingest.events] == [2, 2, 2]
    letters = runner.dead_letters
    assert sorted(json.loads(d.body)["seq"] for d in letters) == [1, 2]
    assert all("RuntimeError: DynamoDB is down" in d.reason and d.attempts == 3 for d in letters)


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"wrongKey": "x"}]},
        {"batchItemFailures": "all of them"},
        "not a batch response",
    ],
)
def test_an_invalid_batch_response_fails_the_whole_batch(make_runner, response):
    runner, ingest, _ = make_runner(ingest=FakeFunction(lambda event: response))
    telemetry(runner, seq=1)
    telemetry(runner, seq=2)
    runner.flush()
    assert [len(e["Records"]) for e in ingest.events] == [2, 2, 2]
    assert len(runner.dead_letters) == 2


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_batch_response_is_a_success(make_runner, response):
    runner, ingest, _ = make_runner(ingest=FakeFunction(lambda event: response))
    telemetry(runner)
    runner.flush()
    assert len(ingest.events) == 1 and runner.dead_letters == []


def test_without_report_batch_item_failures_a_returned_list_is_ignored(make_runner, template):
    del sqs_event(template)["FunctionResponseTypes"]
    fail_all = FakeFunction(lambda e: {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in e["Records"]]})
    runner, ingest, _ = make_runner(template, ingest=fail_all)
    telemetry(runner)
    runner.flush()
    assert len(ingest.events) == 1 and runner.dead_letters == []


def test_the_queue_redrive_policy_decides_receives_and_dead_letter_queue(make_runner, template):
    resources(template)["TelemetryDeadLetterQueue"] = {"Type": "AWS::SQS::Queue"}
    resources(template)["TelemetryQueue"]["Properties"]["RedrivePolicy"] = {
        "deadLetterTargetArn": {"Fn::GetAtt": ["TelemetryDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 2,
    }

    def respond(event):
        raise ValueError("bad batch")

    runner, ingest, _ = make_runner(template, ingest=FakeFunction(respond))
    telemetry(runner)
    runner.flush()
    assert len(ingest.events) == 2
    (letter,) = runner.dead_letters
    assert letter.target == "TelemetryDeadLetterQueue" and letter.attempts == 2


def test_a_malformed_payload_reaches_ingestion_with_its_raw_text(make_runner):
    runner, ingest, _ = make_runner()
    runner.on_publish("gridpulse/meter-1/telemetry", b'{"energy_wh": 1.5,', "meter-1")
    runner.on_publish("gridpulse/meter-1/telemetry", b"\x00\xffbinary", "meter-1")
    runner.flush()
    assert ingest.bodies() == [
        {RAW_PAYLOAD_KEY: '{"energy_wh": 1.5,', "thing_name": "meter-1", "client_id": "meter-1", "received_at": NOW_MS},
        {RAW_PAYLOAD_KEY: "\x00\\xffbinary", "thing_name": "meter-1", "client_id": "meter-1", "received_at": NOW_MS},
    ]


def test_a_message_whose_where_fails_goes_nowhere(make_runner):
    runner, ingest, device_events = make_runner()
    telemetry(runner, thing="meter-1", client_id="meter-2")  # publishing as another thing
    runner.on_publish("gridpulse/meter-1/status", b'{"on": true}', "meter-2")
    runner.flush()
    assert ingest.events == [] and device_events.events == []


def test_concurrent_publishers_lose_and_duplicate_nothing(make_runner):
    runner, ingest, _ = make_runner(batch_window_s=0.01)

    def publish(thread: int):
        for n in range(50):
            telemetry(runner, thing=f"meter-{thread}", seq=n)

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runner.flush()
    records = ingest.records
    assert len(records) == 400 == len({r["messageId"] for r in records})
    assert all(len(e["Records"]) <= 100 for e in ingest.events)
    # Batches run concurrently (as in Lambda) and may finish in any order; a batch keeps queue order.
    for event in ingest.events:
        for t in range(8):
            seqs = [
                json.loads(r["body"])["seq"]
                for r in event["Records"]
                if json.loads(r["body"])["thing_name"] == f"meter-{t}"
            ]
            assert seqs == sorted(seqs)


class Gate(FakeFunction):
    """A handler that blocks until released and records how many ran at once."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.running = self.most = 0

    def invoke(self, event, region, account):
        with self._cond:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            super().invoke(event, region, account)
            self.release.wait(10)
        finally:
            with self._cond:
                self.running -= 1
                self._cond.notify_all()

    def wait_running(self, count: int, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.running >= count, timeout), (
                f"{self.running} batches running after {timeout} s, expected {count}"
            )


@pytest.mark.parametrize(
    "reserved,scaling,default,expected",
    [
        (3, None, 1, 3),  # the function's ReservedConcurrentExecutions
        (3, 2, 1, 2),  # the event's ScalingConfig.MaximumConcurrency, below the reserved
        (None, None, 4, 4),  # neither: the configured default
    ],
)
def test_batches_of_one_queue_run_concurrently_up_to_the_function_concurrency(
    make_runner, template, reserved, scaling, default, expected
):
    from infrastructure.local.event_sources import EventSources

    sqs_event(template)["BatchSize"] = 2
    if reserved is not None:
        resources(template)["IngestFunction"]["Properties"]["ReservedConcurrentExecutions"] = reserved
    if scaling is not None:
        sqs_event(template)["ScalingConfig"] = {"MaximumConcurrency": scaling}
    ingest = Gate()
    functions = {"IngestFunction": ingest, "DeviceEventsFunction": FakeFunction()}
    events = EventSources(
        Stack(template, name=STACK), functions, clock=lambda: NOW, default_concurrency=default, log=lambda text: None
    )
    runner, _, _ = make_runner(template, ingest=ingest, events=events)
    try:
        for n in range(2 * (expected + 2)):  # more full batches than may run at once
            telemetry(runner, seq=n)
        ingest.wait_running(expected)
        assert len(runner.queued("TelemetryQueue")) == 4  # two batches wait for a free instance
        ingest.release.set()
        events.flush()
        assert ingest.most == expected
        assert sorted(b["seq"] for b in ingest.bodies()) == list(range(2 * (expected + 2)))
    finally:
        ingest.release.set()
        events.stop()


def test_stop_with_a_drain_time_drops_what_it_cannot_deliver(template):
    from infrastructure.local.event_sources import EventSources

    sqs_event(template)["BatchSize"] = 1
    slow = FakeFunction(lambda event: time.sleep(0.3))
    events = EventSources(
        Stack(template, name=STACK),
        {"IngestFunction": slow, "DeviceEventsFunction": FakeFunction()},
        default_concurrency=1,
        batch_window_s=60,
        log=lambda text: None,
    )
    runner = RuleRunner(
        Stack(template, name=STACK),
        {"IngestFunction": slow, "DeviceEventsFunction": FakeFunction()},
        events=events,
        log=lambda text: None,
    )
    for n in range(50):
        telemetry(runner, seq=n)
    runner.stop()
    started = time.monotonic()
    events.stop(drain_s=0.5)
    assert time.monotonic() - started < 2.0
    assert 0 < events.dropped and len(slow.events) + events.dropped == 50


# ---------------------------------------------------------------- Lambda action


def test_a_lambda_action_invokes_the_function_with_the_rule_output(make_runner):
    runner, ingest, device_events = make_runner()
    runner.on_publish("gridpulse/light-7/status", b'{"on": true, "level": 80}', "light-7")
    device_events.wait_for(1)
    assert len(device_events.events[0].pop("message_id")) == 36  # newuuid(): the log's correlation id
    assert device_events.events == [
        {"on": True, "level": 80, "thing_name": "light-7", "client_id": "light-7", "received_at": NOW_MS}
    ]
    assert device_events.threads[0].startswith("iot-rules-")
    assert ingest.events == []


def test_lifecycle_events_reach_the_presence_rule(make_runner):
    runner, _, device_events = make_runner()
    event = {
        "clientId": "meter-1",
        "timestamp": NOW_MS - 5,
        "eventType": "disconnected",
        "clientInitiatedDisconnect": False,
        "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT",
        "versionNumber": 2,
    }
    runner.on_publish("$aws/events/presence/disconnected/meter-1", json.dumps(event).encode(), "iot-broker")
    runner.flush()
    assert len(device_events.events[0].pop("message_id")) == 36
    assert device_events.events == [
        {
            "event_type": "disconnected",
            "thing_name": "meter-1",
            "event_time": NOW_MS - 5,
            "disconnect_reason": "MQTT_KEEP_ALIVE_TIMEOUT",
            "received_at": NOW_MS,
        }
    ]


def test_on_publish_never_waits_for_a_handler(make_runner):
    release = threading.Event()
    slow = FakeFunction(lambda event: release.wait(10))
    runner, ingest, _ = make_runner(device_events=slow)
    started = time.monotonic()
    for n in range(3):
        runner.on_publish("gridpulse/light-7/status", json.dumps({"seq": n}).encode(), "light-7")
    telemetry(runner)
    assert time.monotonic() - started < 1.0
    slow.wait_for(1)
    # The telemetry's batch is delivered after its window: by then the workers have looked
    # for work again, with the function's next events waiting (room to start one, wrongly).
    ingest.wait_for(1)
    assert len(slow.events) == 1  # one invocation of a function at a time, as with LocalFunction's lock
    release.set()
    runner.flush()
    assert [e["seq"] for e in slow.events] == [0, 1, 2]  # in publish order


def test_a_lambda_action_that_raises_is_dead_lettered(make_runner):
    def respond(event):
        raise KeyError("thing_name")

    runner, _, device_events = make_runner(device_events=FakeFunction(respond))
    runner.on_publish("gridpulse/light-7/status", b'{"on": false}', "light-7")
    runner.flush()
    assert len(device_events.events) == 1  # no retries
    (letter,) = runner.dead_letters
    assert (letter.rule, letter.action, letter.target) == (
        f"{STACK}_light_status",
        "Lambda:DeviceEventsFunction",
        "IotRulesDeadLetterQueue",
    )
    assert json.loads(letter.body)["on"] is False
    assert "KeyError" in letter.reason and letter.attempts == 1


# ---------------------------------------------------------------- lifecycle


def test_stop_delivers_what_is_buffered_and_stops_the_workers(make_runner):
    runner, ingest, device_events = make_runner(batch_window_s=60)
    telemetry(runner)
    runner.stop()
    assert len(ingest.records) == 1
    assert not any(t.name.startswith("iot-rules-") and t.is_alive() for t in runner._workers)
    telemetry(runner)  # after stop: dropped, without raising
    runner.flush()
    assert len(ingest.records) == 1


def test_runner_is_a_context_manager(template):
    ingest = FakeFunction()
    with RuleRunner(
        Stack(template, name=STACK),
        {"IngestFunction": ingest, "DeviceEventsFunction": FakeFunction()},
        batch_window_s=60,
        log=lambda text: None,
    ) as runner:
        telemetry(runner)
    assert len(ingest.records) == 1


# ---------------------------------------------------------------- what the runner refuses


def _payload(template: dict, rule: str = "TelemetryRule") -> dict:
    return resources(template)[rule]["Properties"]["TopicRulePayload"]


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda t: _payload(t)["Actions"].append({"Republish": {"Topic": "x"}}), "Republish"),
        (lambda t: _payload(t).pop("AwsIotSqlVersion"), "2015-10-08"),
        (lambda t: _payload(t).update(Sql="SELECT * FROM 'a' WHERE a IN (1)"), "TelemetryRule.*'IN'"),
        (lambda t: _payload(t).update(Actions=[]), "at least one action"),
        (
            lambda t: _payload(t, "LightStatusRule").update(Actions=[{"Lambda": {"FunctionArn": "arn:aws:lambda:x"}}]),
            "GetAtt",
        ),
        (
            lambda t: _payload(t, "LightStatusRule").update(
                Actions=[{"Lambda": {"FunctionArn": {"Fn::GetAtt": ["MissingFunction", "Arn"]}}}]
            ),
            "MissingFunction",
        ),
        (lambda t: _payload(t)["Actions"][0]["Sqs"].update(QueueUrl={"Ref": "NoSuchQueue"}), "NoSuchQueue"),
    ],
)
def test_rules_the_local_engine_cannot_run_are_refused(template, change, message):
    change(template)
    with pytest.raises(RulesConfigError, match=message):
        RuleRunner(
            Stack(template, name=STACK), {"IngestFunction": FakeFunction(), "DeviceEventsFunction": FakeFunction()}
        )


def test_a_queue_nobody_reads_keeps_its_messages(make_runner, template):
    del resources(template)["IngestFunction"]["Properties"]["Events"]
    logged = []
    runner, ingest, _ = make_runner(template, log=logged.append)
    telemetry(runner)
    runner.flush()
    assert ingest.events == []
    assert len(runner.queued("TelemetryQueue")) == 1
    assert any("TelemetryQueue" in line for line in logged)

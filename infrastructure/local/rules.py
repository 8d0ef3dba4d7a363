"""The local IoT Core rules engine: template.yaml's topic rules, run in-process.

`RuleRunner` reads every `AWS::IoT::TopicRule` of the template, evaluates its
`TopicRulePayload.Sql` (infrastructure/local/iot_sql.py) against each message
the local broker accepts (`on_publish`, the broker's callback, lifecycle events
included) and hands the result to the same handler code Lambda runs:

* Lambda action -> the function is invoked with the rule's output as its event,
  on a worker thread (IoT Core invokes asynchronously; the broker's thread
  never waits for a handler).
* Sqs action -> the message goes to an in-memory queue; the function whose SQS
  event reads that queue (`Queue: !GetAtt <queue>.Arn`) gets SQS-shaped events
  in batches of at most its BatchSize, when a batch is full or when the oldest
  message has waited `batch_window_s` (default 1 s; never longer than the
  event's MaximumBatchingWindowInSeconds, default 0). With
  FunctionResponseTypes [ReportBatchItemFailures] the handler's
  `{"batchItemFailures": [{"itemIdentifier": messageId}]}` fails just those
  records; an exception, or an invalid response as Lambda defines it (an
  itemIdentifier that is empty or not in the batch), fails the whole batch.
  Failed records come back (ApproximateReceiveCount + 1) after the window, up
  to the queue's RedrivePolicy maxReceiveCount (3 when the queue has none).

A message that exhausts its receives, or whose Lambda action raised, is
appended to `runner.dead_letters` (rule name, body, reason, and where AWS
would have put it: the queue's RedrivePolicy dead-letter queue, else the
rule's ErrorAction target) and logged.

Payloads that are not a JSON object still reach `SELECT *` rules: `*` yields
the payload text under the key "_raw_payload" (RAW_PAYLOAD_KEY), next to the
other projected fields, so ingestion code sees malformed messages and can
quarantine them with a reason. That key is a local convention; IoT Core would
pass the bytes through and cannot merge them with other fields.

Differences from AWS, on purpose or for lack of need:
* a redelivered SQS record comes back after the batching window, not after the
  queue's visibility timeout;
* a Lambda action whose handler raises goes straight to `dead_letters`. In AWS
  the asynchronous invocation is retried twice and then dropped or sent to the
  function's own on-failure destination; the rule's ErrorAction only sees
  failures to invoke at all. Here the failure is made visible instead;
* only Lambda and Sqs actions are supported (others raise RulesConfigError).

Wiring it into the local stack (infrastructure/local/__main__.py):

    rules = RuleRunner(stack, functions, log=_say)   # functions = load_functions(stack)
    # the broker calls rules.on_publish(topic, payload, client_id, principal) for every
    # message it accepts, its own $aws/events/presence/... included
    ...
    rules.stop()    # after the broker stops: delivers what is buffered, ends the workers
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from infrastructure.cfn import Stack
from infrastructure.local.iot_sql import IoTSqlError, Rule, parse

__all__ = ["DeadLetter", "LocalFunctionLike", "RAW_PAYLOAD_KEY", "RuleRunner", "RulesConfigError", "TopicRule"]

RAW_PAYLOAD_KEY = "_raw_payload"
SQL_VERSION = "2016-03-23"
DEFAULT_MAX_RECEIVE_COUNT = 3
SQS_DEFAULT_BATCH_SIZE = 10  # SAM's default for SQS events

_logger = logging.getLogger(__name__)


class LocalFunctionLike(Protocol):
    """What the runner needs of a function (infrastructure.local.gateway.LocalFunction)."""

    def invoke(self, event: dict, region: str, account: str) -> Any: ...


class RulesConfigError(ValueError):
    """A topic rule, queue or event source in the template that the local
    rules engine cannot run; the message names the resource."""


# ---------------------------------------------------------------- the template's rules


@dataclass(frozen=True)
class LambdaAction:
    function: str  # logical id

    def __str__(self) -> str:
        return f"Lambda:{self.function}"


@dataclass(frozen=True)
class SqsAction:
    queue: str  # logical id
    use_base64: bool = False

    def __str__(self) -> str:
        return f"Sqs:{self.queue}"


@dataclass(frozen=True)
class TopicRule:
    """One enabled AWS::IoT::TopicRule of the template."""

    logical_id: str
    name: str
    sql: Rule
    actions: tuple[LambdaAction | SqsAction, ...]
    error_target: str | None  # ErrorAction target, e.g. "IotRulesDeadLetterQueue"; None without ErrorAction

    @property
    def topic_filter(self) -> str:
        return self.sql.topic_filter


@dataclass(frozen=True)
class DeadLetter:
    """A message that did not get through.

    `target` is the logical id of where AWS would have kept it (the queue's
    RedrivePolicy dead-letter queue, else the rule's ErrorAction target), None
    when the template declares neither (AWS would have dropped it)."""

    rule: str
    action: str  # "Sqs:TelemetryQueue", "Lambda:DeviceEventsFunction"
    target: str | None
    body: str  # the SQS record body, or the Lambda event as JSON
    reason: str
    topic: str
    client_id: str
    attempts: int


@dataclass(frozen=True)
class _Consumer:
    """The SQS event source mapping of one queue."""

    function: str
    batch_size: int
    window_s: float
    report_item_failures: bool


@dataclass
class _Message:
    message_id: str
    body: str
    rule: TopicRule
    topic: str
    client_id: str
    sent_ms: int
    available_since: float  # time.monotonic() when it (re)entered the queue
    receive_count: int = 0
    first_receive_ms: int | None = None


@dataclass
class _Queue:
    logical_id: str
    arn: str
    consumer: _Consumer | None
    max_receive_count: int
    redrive_target: str | None
    messages: list[_Message] = field(default_factory=list)


def _logical_from_getatt(value: Any, attribute: str) -> str | None:
    """`!GetAtt X.<attribute>` (either form) -> X."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::GetAtt" in value:
        arg = value["Fn::GetAtt"]
        parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
        if len(parts) == 2 and parts[1] == attribute:
            return str(parts[0])
    return None


def _queue_logical(value: Any) -> str | None:
    """`!Ref Q` or `!GetAtt Q.QueueUrl` (a QueueUrl) -> Q."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return _logical_from_getatt(value, "QueueUrl")


def _function_logical(value: Any) -> str | None:
    """`!GetAtt F.Arn` or `!Sub "${F.Arn}"` -> F."""
    logical = _logical_from_getatt(value, "Arn")
    if logical is None and isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}", value["Fn::Sub"])
        logical = match.group(1) if match else None
    return logical


def _single(rule: str, action: Any) -> tuple[str, dict]:
    """An action is a one-key mapping: {"Sqs": {...}}."""
    if not isinstance(action, dict) or len(action) != 1:
        raise RulesConfigError(f"{rule}: an action must be a mapping with one key (Lambda, Sqs...), got {action!r}")
    (kind, spec), = action.items()
    return kind, spec or {}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


# ---------------------------------------------------------------- the runner


class RuleRunner:
    """Runs the template's topic rules against published messages.

    `functions` maps function logical ids to objects with
    `.invoke(event, region, account)`; `clock` returns epoch seconds (what
    timestamp() and SentTimestamp report). Thread-safe: `on_publish` may be
    called from any thread. Workers start at once; call `stop()` when done.
    """

    def __init__(self, stack: Stack, functions: Mapping[str, LocalFunctionLike], *,
                 clock: Callable[[], float] = time.time, batch_window_s: float = 1.0,
                 max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT, workers: int = 2,
                 log: Callable[[str], None] | None = None):
        self.stack = stack
        self.functions = functions
        self.clock = clock
        self.batch_window_s = batch_window_s
        self.default_max_receive_count = max_receive_count
        self._log = log or _logger.warning
        self._queues: dict[str, _Queue] = {}
        self.rules: list[TopicRule] = self._load_rules()

        self._cond = threading.Condition()
        self._lambda_jobs: dict[str, deque] = {}
        self._busy: set[tuple[str, str]] = set()  # lanes ("lambda", fn) / ("sqs", queue) with a job under way
        self._dead_letters: list[DeadLetter] = []
        self._stopping = False
        self._workers = [threading.Thread(target=self._work, name=f"iot-rules-{n}", daemon=True)
                         for n in range(max(1, workers))]
        for worker in self._workers:
            worker.start()

    # ------------------------------------------------------------ template

    def _load_rules(self) -> list[TopicRule]:
        rules = []
        for logical, resource in self.stack.resources("AWS::IoT::TopicRule").items():
            if "Condition" in resource and not self.stack.condition(resource["Condition"]):
                continue
            props = resource.get("Properties") or {}
            payload = props.get("TopicRulePayload") or {}
            if _truthy(self.stack.resolve(payload.get("RuleDisabled", False))):
                continue
            name = str(self.stack.resolve(props.get("RuleName", logical)))
            version = str(self.stack.resolve(payload.get("AwsIotSqlVersion", "2015-10-08")))
            if version != SQL_VERSION:
                raise RulesConfigError(f"{logical}: AwsIotSqlVersion {version!r} (the default when omitted is "
                                       f"2015-10-08); the local rules engine implements {SQL_VERSION!r}")
            try:
                sql = parse(str(self.stack.resolve(payload["Sql"])))
            except KeyError:
                raise RulesConfigError(f"{logical}: TopicRulePayload.Sql is missing") from None
            except IoTSqlError as exc:
                raise RulesConfigError(f"{logical}: {exc}") from exc
            actions = tuple(self._action(logical, a) for a in payload.get("Actions") or [])
            if not actions:
                raise RulesConfigError(f"{logical}: a topic rule needs at least one action")
            rules.append(TopicRule(logical_id=logical, name=name, sql=sql, actions=actions,
                                   error_target=self._error_target(logical, payload.get("ErrorAction"))))
        return rules

    def _action(self, rule: str, action: dict) -> LambdaAction | SqsAction:
        kind, spec = _single(rule, action)
        if kind == "Lambda":
            function = _function_logical(spec.get("FunctionArn"))
            if function is None:
                raise RulesConfigError(f"{rule}: Lambda FunctionArn must be !GetAtt <Function>.Arn")
            if function not in self.functions:
                raise RulesConfigError(f"{rule}: Lambda action targets {function}, which is not a loaded function")
            return LambdaAction(function)
        if kind == "Sqs":
            queue = _queue_logical(spec.get("QueueUrl"))
            if queue is None:
                raise RulesConfigError(f"{rule}: Sqs QueueUrl must be !Ref <Queue>")
            self._queue(queue)
            return SqsAction(queue, use_base64=_truthy(self.stack.resolve(spec.get("UseBase64", False))))
        raise RulesConfigError(f"{rule}: the {kind} action is not supported by the local rules engine "
                               f"(supported: Lambda, Sqs)")

    def _error_target(self, rule: str, error_action: dict | None) -> str | None:
        if not error_action:
            return None
        kind, spec = _single(rule, error_action)
        target = None
        if kind == "Sqs":
            target = _queue_logical(spec.get("QueueUrl"))
        elif kind == "Lambda":
            target = _function_logical(spec.get("FunctionArn"))
        return target or kind

    def _queue(self, logical: str) -> _Queue:
        """The queue with its consumer and redrive policy, read once."""
        if logical in self._queues:
            return self._queues[logical]
        resource = self.stack.resources("AWS::SQS::Queue").get(logical)
        if resource is None:
            raise RulesConfigError(f"{logical} is not an AWS::SQS::Queue of the template")
        props = resource.get("Properties") or {}
        try:
            name = str(self.stack.resolve(props["QueueName"]))
        except KeyError:  # no QueueName (CloudFormation generates one), or one built from unknown values
            name = f"{self.stack.name}-{logical}"
        redrive = props.get("RedrivePolicy") or {}
        max_receives = int(self.stack.resolve(redrive.get("maxReceiveCount", self.default_max_receive_count)))
        queue = _Queue(
            logical_id=logical,
            arn=f"arn:aws:sqs:{self.stack.region}:{self.stack.account}:{name}",
            consumer=self._consumer(logical),
            max_receive_count=max_receives,
            redrive_target=_logical_from_getatt(redrive.get("deadLetterTargetArn"), "Arn"),
        )
        if queue.consumer is None:
            self._log(f"IoT rules: no function reads {logical}; its messages stay queued")
        self._queues[logical] = queue
        return queue

    def _consumer(self, queue: str) -> _Consumer | None:
        found = []
        for function, resource in self.stack.functions().items():
            for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
                props = event.get("Properties") or {}
                if event.get("Type") != "SQS" or _logical_from_getatt(props.get("Queue"), "Arn") != queue:
                    continue
                if not _truthy(self.stack.resolve(props.get("Enabled", True))):
                    continue
                settings = ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes")
                found.append((function, {k: self.stack.resolve(props[k]) for k in settings if k in props}))
        if not found:
            return None
        if len(found) > 1:
            raise RulesConfigError(f"{queue} is read by {', '.join(f for f, _ in found)}; the local rules engine "
                                   f"supports one consumer per queue")
        function, props = found[0]
        if function not in self.functions:
            raise RulesConfigError(f"{queue} is read by {function}, which is not a loaded function")
        window = float(props.get("MaximumBatchingWindowInSeconds", 0))
        return _Consumer(
            function=function,
            batch_size=int(props.get("BatchSize", SQS_DEFAULT_BATCH_SIZE)),
            window_s=min(self.batch_window_s, window),
            report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        )

    # ------------------------------------------------------------ the broker's side

    def on_publish(self, topic: str, payload: bytes, client_id: str, principal: str = "") -> None:
        """Evaluate every rule for one accepted message and queue its actions
        (`principal`: the publisher's certificate id, what principal() returns).
        Never blocks on a handler; never raises (a broker callback must not)."""
        now_ms = int(self.clock() * 1000)
        outputs = []
        for rule in self.rules:
            if not rule.sql.matches(topic):
                continue
            try:
                output = rule.sql.apply(topic, payload, client_id, now_ms=now_ms, raw_payload_key=RAW_PAYLOAD_KEY,
                                        principal=principal)
            except Exception as exc:  # a bug here must not take the broker down
                self._log(f"IoT rule {rule.name}: evaluating {topic}: {type(exc).__name__}: {exc}")
                continue
            if output is not None:
                outputs.append((rule, json.dumps(output, separators=(",", ":"))))
        if not outputs:
            return
        with self._cond:
            if self._stopping:
                self._log(f"IoT rules: stopped; dropped a message on {topic}")
                return
            for rule, body in outputs:
                for action in rule.actions:
                    if isinstance(action, LambdaAction):
                        job = (rule, action, body, topic, client_id)
                        self._lambda_jobs.setdefault(action.function, deque()).append(job)
                    else:
                        text = base64.b64encode(body.encode()).decode() if action.use_base64 else body
                        self._queues[action.queue].messages.append(_Message(
                            message_id=str(uuid.uuid4()), body=text, rule=rule, topic=topic, client_id=client_id,
                            sent_ms=now_ms, available_since=time.monotonic()))
            self._cond.notify_all()

    # ------------------------------------------------------------ inspection and control

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Every message that did not get through, oldest first (a copy)."""
        with self._cond:
            return list(self._dead_letters)

    def queued(self, queue: str) -> list[str]:
        """Bodies waiting in a queue (e.g. one that no function reads)."""
        with self._cond:
            return [m.body for m in self._queues[queue].messages]

    def flush(self) -> None:
        """Deliver everything buffered now, in this thread, redeliveries
        included, and wait for deliveries under way on the workers."""
        while True:
            with self._cond:
                picked = self._next_job(force=True)
                while picked is None:
                    if not self._busy:
                        return
                    self._cond.wait()
                    picked = self._next_job(force=True)
            self._run(*picked)

    def stop(self) -> None:
        """Stop accepting messages, stop the workers, deliver what is left."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join()
        self.flush()

    def __enter__(self) -> RuleRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------ scheduling

    def _work(self) -> None:
        while True:
            with self._cond:
                picked = self._next_job(force=False)
                while picked is None and not self._stopping:
                    self._cond.wait(self._seconds_to_next_batch())
                    picked = self._next_job(force=False)
                if picked is None:
                    return
            self._run(*picked)
            with self._cond:
                if self._stopping:
                    return

    def _next_job(self, force: bool) -> tuple[tuple[str, str], Callable[[], None]] | None:
        """Under the lock: the next piece of work whose lane is free (one job
        per function or queue at a time keeps each target's order), or None."""
        for function, jobs in self._lambda_jobs.items():
            lane = ("lambda", function)
            if jobs and lane not in self._busy:
                job = jobs.popleft()
                self._busy.add(lane)
                return lane, functools.partial(self._invoke_lambda, *job)
        now = time.monotonic()
        for queue in self._queues.values():
            lane = ("sqs", queue.logical_id)
            consumer = queue.consumer
            if consumer is None or not queue.messages or lane in self._busy:
                continue
            if (force or len(queue.messages) >= consumer.batch_size
                    or now - queue.messages[0].available_since >= consumer.window_s):
                batch = queue.messages[:consumer.batch_size]
                del queue.messages[:consumer.batch_size]
                self._busy.add(lane)
                return lane, functools.partial(self._deliver, queue, consumer, batch)
        return None

    def _seconds_to_next_batch(self) -> float | None:
        deadlines = [q.messages[0].available_since + q.consumer.window_s for q in self._queues.values()
                     if q.consumer is not None and q.messages and ("sqs", q.logical_id) not in self._busy]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _run(self, lane: tuple[str, str], job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # the runner's own bug; keep the worker alive
            _logger.exception("IoT rules: %s: %s", lane, exc)
        finally:
            with self._cond:
                self._busy.discard(lane)
                self._cond.notify_all()

    # ------------------------------------------------------------ delivery

    def _invoke_lambda(self, rule: TopicRule, action: LambdaAction, body: str, topic: str, client_id: str) -> None:
        try:
            self.functions[action.function].invoke(json.loads(body), self.stack.region, self.stack.account)
        except Exception as exc:
            self._dead_letter(DeadLetter(rule=rule.name, action=str(action), target=rule.error_target, body=body,
                                         reason=f"{action.function} raised {type(exc).__name__}: {exc}",
                                         topic=topic, client_id=client_id, attempts=1))

    def _deliver(self, queue: _Queue, consumer: _Consumer, batch: list[_Message]) -> None:
        now_ms = int(self.clock() * 1000)
        for message in batch:
            message.receive_count += 1
            message.first_receive_ms = message.first_receive_ms or now_ms
        event = {"Records": [self._record(queue, m) for m in batch]}
        try:
            result = self.functions[consumer.function].invoke(event, self.stack.region, self.stack.account)
            failed, reason = self._failures(consumer, result, batch)
        except Exception as exc:
            failed, reason = {m.message_id for m in batch}, f"{consumer.function} raised {type(exc).__name__}: {exc}"
        retry, dead = [], []
        for message in batch:
            if message.message_id not in failed:
                continue
            (dead if message.receive_count >= queue.max_receive_count else retry).append(message)
        with self._cond:
            for message in retry:
                message.available_since = time.monotonic()
                queue.messages.append(message)
        for message in dead:
            self._dead_letter(DeadLetter(
                rule=message.rule.name, action=f"Sqs:{queue.logical_id}",
                target=queue.redrive_target or message.rule.error_target, body=message.body,
                reason=f"{reason} (received {message.receive_count} times)", topic=message.topic,
                client_id=message.client_id, attempts=message.receive_count))

    def _record(self, queue: _Queue, message: _Message) -> dict:
        return {
            "messageId": message.message_id,
            "receiptHandle": base64.b64encode(f"{message.message_id}:{uuid.uuid4()}".encode()).decode(),
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.receive_count),
                "SentTimestamp": str(message.sent_ms),
                "SenderId": "AROALOCALIOTRULES:iot-rules",
                "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum, not security
            "eventSource": "aws:sqs",
            "eventSourceARN": queue.arn,
            "awsRegion": self.stack.region,
        }

    @staticmethod
    def _failures(consumer: _Consumer, result: Any, batch: list[_Message]) -> tuple[set[str], str]:
        """The message ids that failed, as Lambda reads a handler's response."""
        if not consumer.report_item_failures or result is None:
            return set(), ""
        everything = {m.message_id for m in batch}
        if not isinstance(result, dict):
            return everything, f"{consumer.function} returned {type(result).__name__}, not a batch response"
        items = result.get("batchItemFailures")
        if not items:
            return set(), ""
        if not isinstance(items, list):
            return everything, f"{consumer.function} returned an invalid batchItemFailures"
        failed = set()
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in everything:
                return everything, (f"{consumer.function} reported itemIdentifier {identifier!r}, not a message of "
                                    f"the batch: the whole batch failed")
            failed.add(identifier)
        return failed, f"{consumer.function} reported it in batchItemFailures"

    def _dead_letter(self, letter: DeadLetter) -> None:
        with self._cond:
            self._dead_letters.append(letter)
        self._log(f"IoT rule {letter.rule}: {letter.action} gave up on a message from {letter.topic} "
                  f"-> {letter.target or 'dropped'}: {letter.reason}")

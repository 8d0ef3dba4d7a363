"""The local IoT Core rules engine: template.yaml's topic rules, run in-process.

`RuleRunner` reads every `AWS::IoT::TopicRule` of the template, evaluates its
`TopicRulePayload.Sql` (infrastructure/local/iot/sql.py) against each message
the local broker accepts (`on_publish`, the broker's callback, lifecycle events
included) and hands the result to the same handler code Lambda runs:

* Lambda action -> an asynchronous invocation of the function with the
  rule's output as its event (IoT Core invokes asynchronously; the broker's
  thread never waits for a handler).
* Sqs action -> the message goes to the queue, whose SQS event source mapping
  (the function whose SQS event reads it) delivers it in batches.

Both run in infrastructure/local/event_sources.py, the one emulator of SQS
event source mappings and asynchronous invocations (batching window, partial
batch failures, redrive, concurrency); see its docstring. A message that
exhausts its receives, or whose Lambda action raised, is appended to
`runner.dead_letters` (rule name, body, reason, and where AWS would have put
it: the queue's RedrivePolicy dead-letter queue, else the rule's ErrorAction
target) and logged.

Payloads that are not a JSON object still reach `SELECT *` rules: `*` yields
the payload text under the key "_raw_payload" (RAW_PAYLOAD_KEY), next to the
other projected fields, so ingestion code sees malformed messages and can
quarantine them with a reason. That key is a local convention; IoT Core would
pass the bytes through and cannot merge them with other fields.

Differences from AWS, on purpose or for lack of need:
* those of event_sources.py (redelivery after the batching window);
* a Lambda action whose handler raises goes straight to `dead_letters`. In AWS
  the asynchronous invocation is retried twice and then dropped or sent to the
  function's own on-failure destination; the rule's ErrorAction only sees
  failures to invoke at all. Here the failure is made visible instead;
* only Lambda and Sqs actions are supported (others raise RulesConfigError).

Wiring it into the local stack (infrastructure/local/__main__.py makes the
event sources, infrastructure/local/iot/core.py the runner):

    events = EventSources(stack, functions, default_concurrency=..., log=_say)   # functions = load_functions(stack)
    rules = RuleRunner(stack, functions, events=events, log=log)
    # the broker calls rules.on_publish(topic, payload, client_id, principal) for every
    # message it accepts, its own $aws/events/presence/... included
    ...
    rules.stop()    # after the broker stops: no more messages
    events.stop(drain_s=1.0)   # delivers what it can in 1 s, ends the workers

Without `events=`, the runner makes its own (workers named iot-rules-N) and
`stop()` delivers what is buffered and stops them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from infrastructure.cfn import Stack
from infrastructure.local.event_sources import (
    DEFAULT_MAX_RECEIVE_COUNT,
    DeadLetter,
    EventSourceConfigError,
    EventSources,
    LocalFunctionLike,
    Origin,
    logical_from_getatt,
    truthy,
)
from infrastructure.local.iot.sql import IoTSqlError, Rule, parse

__all__ = ["DeadLetter", "LocalFunctionLike", "RAW_PAYLOAD_KEY", "RuleRunner", "RulesConfigError", "TopicRule"]

RAW_PAYLOAD_KEY = "_raw_payload"
SQL_VERSION = "2016-03-23"

_logger = logging.getLogger(__name__)


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


def _queue_logical(value: Any) -> str | None:
    """`!Ref Q` or `!GetAtt Q.QueueUrl` (a QueueUrl) -> Q."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return logical_from_getatt(value, "QueueUrl")


def _function_logical(value: Any) -> str | None:
    """`!GetAtt F.Arn` or `!Sub "${F.Arn}"` -> F."""
    logical = logical_from_getatt(value, "Arn")
    if logical is None and isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}", value["Fn::Sub"])
        logical = match.group(1) if match else None
    return logical


def _single(rule: str, action: Any) -> tuple[str, dict]:
    """An action is a one-key mapping: {"Sqs": {...}}."""
    if not isinstance(action, dict) or len(action) != 1:
        raise RulesConfigError(f"{rule}: an action must be a mapping with one key (Lambda, Sqs...), got {action!r}")
    ((kind, spec),) = action.items()
    return kind, spec or {}


# ---------------------------------------------------------------- the runner


class RuleRunner:
    """Runs the template's topic rules against published messages.

    `functions` maps function logical ids to objects with
    `.invoke(event, region, account)`; `clock` returns epoch seconds (what
    timestamp() and SentTimestamp report). Thread-safe: `on_publish` may be
    called from any thread. Workers start at once; call `stop()` when done.
    """

    def __init__(
        self,
        stack: Stack,
        functions: Mapping[str, LocalFunctionLike],
        *,
        clock: Callable[[], float] = time.time,
        batch_window_s: float = 1.0,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        workers: int | None = None,
        events: EventSources | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.stack = stack
        self.functions = functions
        self.clock = clock
        self._log = log or _logger.warning
        self._own_events = events is None
        self.events = events or EventSources(
            stack,
            functions,
            clock=clock,
            batch_window_s=batch_window_s,
            max_receive_count=max_receive_count,
            workers=workers,
            thread_name="iot-rules",
            log=self._log,
        )
        self._lock = threading.Lock()
        self._stopping = False
        self.rules: list[TopicRule] = self._load_rules()

    # ------------------------------------------------------------ template

    def _load_rules(self) -> list[TopicRule]:
        rules = []
        for logical, resource in self.stack.resources("AWS::IoT::TopicRule").items():
            if "Condition" in resource and not self.stack.condition(resource["Condition"]):
                continue
            props = resource.get("Properties") or {}
            payload = props.get("TopicRulePayload") or {}
            if truthy(self.stack.resolve(payload.get("RuleDisabled", False))):
                continue
            name = str(self.stack.resolve(props.get("RuleName", logical)))
            version = str(self.stack.resolve(payload.get("AwsIotSqlVersion", "2015-10-08")))
            if version != SQL_VERSION:
                raise RulesConfigError(
                    f"{logical}: AwsIotSqlVersion {version!r} (the default when omitted is "
                    f"2015-10-08); the local rules engine implements {SQL_VERSION!r}"
                )
            try:
                sql = parse(str(self.stack.resolve(payload["Sql"])))
            except KeyError:
                raise RulesConfigError(f"{logical}: TopicRulePayload.Sql is missing") from None
            except IoTSqlError as exc:
                raise RulesConfigError(f"{logical}: {exc}") from exc
            actions = tuple(self._action(logical, a) for a in payload.get("Actions") or [])
            if not actions:
                raise RulesConfigError(f"{logical}: a topic rule needs at least one action")
            rules.append(
                TopicRule(
                    logical_id=logical,
                    name=name,
                    sql=sql,
                    actions=actions,
                    error_target=self._error_target(logical, payload.get("ErrorAction")),
                )
            )
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
            try:
                if self.events.queue(queue).consumer is None:
                    self._log(f"IoT rules: no function reads {queue}; its messages stay queued")
            except EventSourceConfigError as exc:
                raise RulesConfigError(f"{rule}: {exc}") from None
            return SqsAction(queue, use_base64=truthy(self.stack.resolve(spec.get("UseBase64", False))))
        raise RulesConfigError(
            f"{rule}: the {kind} action is not supported by the local rules engine (supported: Lambda, Sqs)"
        )

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
                output = rule.sql.apply(
                    topic, payload, client_id, now_ms=now_ms, raw_payload_key=RAW_PAYLOAD_KEY, principal=principal
                )
            except Exception as exc:  # a bug here must not take the broker down
                self._log(f"IoT rule {rule.name}: evaluating {topic}: {type(exc).__name__}: {exc}")
                continue
            if output is not None:
                outputs.append((rule, json.dumps(output, separators=(",", ":"))))
        if not outputs:
            return
        with self._lock:
            if self._stopping:
                self._log(f"IoT rules: stopped; dropped a message on {topic}")
                return
        for rule, body in outputs:
            origin = Origin(rule=rule.name, topic=topic, client_id=client_id, error_target=rule.error_target)
            for action in rule.actions:
                if isinstance(action, LambdaAction):
                    self.events.invoke_async(action.function, body, origin)
                else:
                    text = base64.b64encode(body.encode()).decode() if action.use_base64 else body
                    self.events.send(action.queue, text, origin)

    # ------------------------------------------------------------ inspection and control

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Every message that did not get through, oldest first (a copy)."""
        return self.events.dead_letters

    def queued(self, queue: str) -> list[str]:
        """Bodies waiting in a queue (e.g. one that no function reads)."""
        return self.events.queued(queue)

    def flush(self) -> None:
        """Deliver everything buffered now, in this thread, redeliveries
        included, and wait for deliveries under way on the workers."""
        self.events.flush()

    @property
    def _workers(self) -> list[threading.Thread]:
        return self.events._workers

    def stop(self, drain_s: float | None = None) -> None:
        """Stop accepting messages. A runner that made its own event sources
        also stops them: delivers what is left (within `drain_s` seconds when
        given, dropping the rest) and ends the workers."""
        with self._lock:
            self._stopping = True
        if self._own_events:
            self.events.stop(drain_s)

    def __enter__(self) -> RuleRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

"""How Lambda functions get invoked asynchronously on the laptop: the one
emulator of SQS event source mappings and of asynchronous invocations.

Every `SQS` event of a function in template.yaml becomes an in-memory queue
with its event source mapping. Messages reach a queue two ways: the local IoT
rules engine's Sqs actions (`send`, infrastructure/local/iot/rules.py), and the
SDK: application code that calls SendMessage on a queue of the template (the
device cleanup queue, say) sends to moto; `attach_sdk_queues` moves those
messages from moto into the same in-memory queue (receive, then delete from
moto), so one mapping runs every queue the same way.

A mapping delivers batches of at most its BatchSize, when a batch is full or
when the oldest message has waited `batch_window_s` (default 1 s; never longer
than the event's MaximumBatchingWindowInSeconds, default 0). Like Lambda, it
runs several batches of one queue at once, up to the mapping's concurrency:
the event's `ScalingConfig.MaximumConcurrency`, else the function's
`ReservedConcurrentExecutions`, else `default_concurrency` (the local stack
reads GRIDPULSE_EVENT_CONCURRENCY, default 4). As in Lambda, batches that run
at the same time finish in any order; a batch keeps its queue order.

With FunctionResponseTypes [ReportBatchItemFailures] the handler's
`{"batchItemFailures": [{"itemIdentifier": messageId}]}` fails just those
records; an exception, or an invalid response as Lambda defines it (an
itemIdentifier that is empty or not in the batch), fails the whole batch.
Failed records come back (ApproximateReceiveCount + 1) after the window, up
to the queue's RedrivePolicy maxReceiveCount (3 when the queue has none).

Asynchronous invocations (`invoke_async`, an IoT rule's Lambda action) run
one at a time per function, in the order they were made.

A message that exhausts its receives, or an asynchronous invocation that
raised, is appended to `dead_letters` (where AWS would have put it: the
queue's RedrivePolicy dead-letter queue; for an invocation, the function's
DeadLetterQueue; else the origin's error target) and logged. At most
`MAX_DEAD_LETTERS` are kept (the newest). Once `attach_sdk_queues` is called,
the body is also sent, unchanged, to that dead-letter queue in moto, where
`python -m infrastructure.redrive --local` finds it and moves it back.

Differences from AWS, on purpose or for lack of need:
* a redelivered SQS record comes back after the batching window, not after the
  queue's visibility timeout;
* messages live in memory: `stop(drain_s)` delivers what it can within
  `drain_s` and drops (and counts) the rest, as the local stack keeps no state
  between runs anyway.
"""

from __future__ import annotations

import base64
import collections
import functools
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from infrastructure.cfn import Stack

__all__ = ["DeadLetter", "EventSourceConfigError", "EventSources", "Origin"]

DEFAULT_MAX_RECEIVE_COUNT = 3
SQS_DEFAULT_BATCH_SIZE = 10  # SAM's default for SQS events
DEFAULT_CONCURRENCY = 4
MAX_WORKERS = 48
MAX_DEAD_LETTERS = 1000
SDK_POLL_S = 1.0

_logger = logging.getLogger(__name__)


class LocalFunctionLike(Protocol):
    """What the emulator needs of a function (infrastructure.local.gateway.LocalFunction)."""

    def invoke(self, event: dict, region: str, account: str) -> Any: ...


class EventSourceConfigError(ValueError):
    """A queue or event source of the template that the emulator cannot run;
    the message names the resource."""


@dataclass(frozen=True)
class Origin:
    """Where a message or invocation came from (for dead letters)."""

    rule: str = ""  # the IoT rule's name; "" for the SDK
    topic: str = ""
    client_id: str = ""
    error_target: str | None = None  # the rule's ErrorAction target


SDK = Origin()


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
class Consumer:
    """The SQS event source mapping of one queue."""

    function: str
    batch_size: int
    window_s: float
    report_item_failures: bool
    max_concurrency: int = 1


@dataclass
class _Message:
    message_id: str
    body: str
    origin: Origin
    sent_ms: int
    available_since: float  # time.monotonic() when it (re)entered the queue
    receive_count: int = 0
    first_receive_ms: int | None = None


@dataclass
class _Queue:
    logical_id: str
    name: str
    arn: str
    consumer: Consumer | None
    max_receive_count: int
    redrive_target: str | None
    messages: collections.deque = field(default_factory=collections.deque)
    running: int = 0  # batches under way


def logical_from_getatt(value: Any, attribute: str) -> str | None:
    """`!GetAtt X.<attribute>` (either form) -> X."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::GetAtt" in value:
        arg = value["Fn::GetAtt"]
        parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
        if len(parts) == 2 and parts[1] == attribute:
            return str(parts[0])
    return None


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class EventSources:
    """The SQS event source mappings and asynchronous invocations of a stack.

    `functions` maps function logical ids to objects with
    `.invoke(event, region, account)`; `clock` returns epoch seconds (what
    SentTimestamp reports). Thread-safe. Workers start at once (named
    `<thread_name>-N`); call `stop()` when done.
    """

    def __init__(
        self,
        stack: Stack,
        functions: Mapping[str, LocalFunctionLike],
        *,
        clock: Callable[[], float] = time.time,
        batch_window_s: float = 1.0,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        default_concurrency: int = DEFAULT_CONCURRENCY,
        workers: int | None = None,
        thread_name: str = "event-sources",
        log: Callable[[str], None] | None = None,
    ):
        self.stack = stack
        self.functions = functions
        self.clock = clock
        self.batch_window_s = batch_window_s
        self.default_max_receive_count = max_receive_count
        self.default_concurrency = max(1, int(default_concurrency))
        self._log = log or _logger.warning
        self._queues: dict[str, _Queue] = {}
        for logical, resource in stack.resources("AWS::SQS::Queue").items():
            if "Condition" not in resource or stack.condition(resource["Condition"]):
                self.queue(logical)

        self._cond = threading.Condition()
        self._async_jobs: dict[str, collections.deque] = {}
        self._async_busy: set[str] = set()
        self._dead_letters: collections.deque[DeadLetter] = collections.deque(maxlen=MAX_DEAD_LETTERS)
        self.dropped = 0  # messages left undelivered by stop(drain_s)
        self._stopping = False
        self._sdk_thread: threading.Thread | None = None
        self._sdk_stop = threading.Event()
        self._sqs = None  # moto's SQS once attach_sdk_queues is called: dead letters go there too
        if workers is None:
            workers = min(
                MAX_WORKERS,
                2 + sum(q.consumer.max_concurrency for q in self._queues.values() if q.consumer is not None),
            )
        self._workers = [
            threading.Thread(target=self._work, name=f"{thread_name}-{n}", daemon=True) for n in range(max(1, workers))
        ]
        for worker in self._workers:
            worker.start()

    # ------------------------------------------------------------ template

    def queue(self, logical: str) -> _Queue:
        """The queue with its consumer and redrive policy, read once."""
        if logical in self._queues:
            return self._queues[logical]
        resource = self.stack.resources("AWS::SQS::Queue").get(logical)
        if resource is None:
            raise EventSourceConfigError(f"{logical} is not an AWS::SQS::Queue of the template")
        props = resource.get("Properties") or {}
        try:
            name = str(self.stack.resolve(props["QueueName"]))
        except KeyError:  # no QueueName (CloudFormation generates one), or one built from unknown values
            name = f"{self.stack.name}-{logical}"
        redrive = props.get("RedrivePolicy") or {}
        max_receives = int(self.stack.resolve(redrive.get("maxReceiveCount", self.default_max_receive_count)))
        queue = _Queue(
            logical_id=logical,
            name=name,
            arn=f"arn:aws:sqs:{self.stack.region}:{self.stack.account}:{name}",
            consumer=self._consumer(logical),
            max_receive_count=max_receives,
            redrive_target=logical_from_getatt(redrive.get("deadLetterTargetArn"), "Arn"),
        )
        self._queues[logical] = queue
        return queue

    def _consumer(self, queue: str) -> Consumer | None:
        found = []
        for function, resource in self.stack.functions().items():
            for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
                props = event.get("Properties") or {}
                if event.get("Type") != "SQS" or logical_from_getatt(props.get("Queue"), "Arn") != queue:
                    continue
                if not truthy(self.stack.resolve(props.get("Enabled", True))):
                    continue
                settings = ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig")
                found.append((function, {k: self.stack.resolve(props[k]) for k in settings if k in props}))
        if not found:
            return None
        if len(found) > 1:
            raise EventSourceConfigError(
                f"{queue} is read by {', '.join(f for f, _ in found)}; the local event "
                f"sources support one consumer per queue"
            )
        function, props = found[0]
        if function not in self.functions:
            raise EventSourceConfigError(f"{queue} is read by {function}, which is not a loaded function")
        window = float(props.get("MaximumBatchingWindowInSeconds", 0))
        return Consumer(
            function=function,
            batch_size=int(props.get("BatchSize", SQS_DEFAULT_BATCH_SIZE)),
            window_s=min(self.batch_window_s, window),
            report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            max_concurrency=self.concurrency_of(function, props.get("ScalingConfig")),
        )

    def concurrency_of(self, function: str, scaling: dict | None = None) -> int:
        """Batches of one mapping at once: ScalingConfig.MaximumConcurrency, else the
        function's ReservedConcurrentExecutions, else the configured default."""
        if scaling and scaling.get("MaximumConcurrency") is not None:
            return max(1, int(scaling["MaximumConcurrency"]))
        props = (self.stack.functions().get(function) or {}).get("Properties") or {}
        reserved = props.get("ReservedConcurrentExecutions")
        if reserved is not None:
            return max(1, int(self.stack.resolve(reserved)))
        return self.default_concurrency

    # ------------------------------------------------------------ sending

    def send(self, queue: str, body: str, origin: Origin = SDK) -> str:
        """Put a message on a queue (SendMessage); its message id. Never blocks on a handler."""
        message = _Message(
            message_id=str(uuid.uuid4()),
            body=body,
            origin=origin,
            sent_ms=int(self.clock() * 1000),
            available_since=time.monotonic(),
        )
        with self._cond:
            if self._stopping:
                self._log(f"event sources: stopped; dropped a message for {queue}")
                return message.message_id
            self._queues[queue].messages.append(message)
            self._cond.notify_all()
        return message.message_id

    def function_dead_letter_queue(self, function: str) -> str | None:
        """The logical id of the function's DeadLetterQueue (an SQS queue of the template), if any."""
        props = (self.stack.functions().get(function) or {}).get("Properties") or {}
        return logical_from_getatt((props.get("DeadLetterQueue") or {}).get("TargetArn"), "Arn")

    def invocation_failed(self, function: str, body: str, reason: str, origin: Origin = SDK) -> None:
        """An asynchronous invocation of `function` (an EventBridge schedule's, say)
        that failed: kept where Lambda would keep it (the function's DeadLetterQueue)."""
        self._dead_letter(
            DeadLetter(
                rule=origin.rule,
                action=f"Lambda:{function}",
                target=self.function_dead_letter_queue(function) or origin.error_target,
                body=body,
                reason=reason,
                topic=origin.topic,
                client_id=origin.client_id,
                attempts=1,
            )
        )

    def invoke_async(self, function: str, body: str, origin: Origin = SDK) -> None:
        """An asynchronous invocation (InvocationType Event) with `body` (JSON) as the event."""
        with self._cond:
            if self._stopping:
                self._log(f"event sources: stopped; dropped an invocation of {function}")
                return
            self._async_jobs.setdefault(function, collections.deque()).append((function, body, origin))
            self._cond.notify_all()

    def attach_sdk_queues(self, session) -> None:
        """Also deliver what the SDK sends to moto's copy of each consumed queue
        (stack.physical holds the queue URLs): moved into the in-memory queue
        every SDK_POLL_S, then deleted from moto."""
        sqs = self._sqs = session.client("sqs")
        urls = {
            logical: self.stack.physical[logical]
            for logical, q in self._queues.items()
            if q.consumer is not None and logical in self.stack.physical
        }

        def poll() -> None:
            while not self._sdk_stop.wait(SDK_POLL_S):
                for logical, url in urls.items():
                    try:
                        while True:
                            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                                "Messages", []
                            )
                            for m in messages:
                                self.send(logical, m["Body"])
                            if messages:
                                sqs.delete_message_batch(
                                    QueueUrl=url,
                                    Entries=[
                                        {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                                        for n, m in enumerate(messages)
                                    ],
                                )
                            if len(messages) < 10 or self._sdk_stop.is_set():
                                break
                    except Exception as exc:  # moto stopping, say: try again next round
                        if not self._sdk_stop.is_set():
                            self._log(f"event sources: reading {logical} from the SDK: {type(exc).__name__}: {exc}")

        self._sdk_thread = threading.Thread(target=poll, name="event-sources-sdk", daemon=True)
        self._sdk_thread.start()

    # ------------------------------------------------------------ inspection and control

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """The messages that did not get through, oldest first (a copy)."""
        with self._cond:
            return list(self._dead_letters)

    def queued(self, queue: str) -> list[str]:
        """Bodies waiting in a queue (e.g. one that no function reads)."""
        with self._cond:
            return [m.body for m in self._queues[queue].messages]

    def pending(self, queue: str) -> int:
        """Messages of a queue waiting or being delivered (0: it is drained)."""
        with self._cond:
            q = self._queues[queue]
            return len(q.messages) + q.running

    def flush(self, deadline: float | None = None) -> bool:
        """Deliver everything buffered now, in this thread, redeliveries
        included, and wait for deliveries under way on the workers. With a
        `deadline` (time.monotonic()), give up then; True if all was delivered."""
        while True:
            with self._cond:
                picked = self._next_job(force=True)
                while picked is None:
                    if not self._busy():
                        return True
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
                    self._cond.wait(None if deadline is None else max(0.01, deadline - time.monotonic()))
                    picked = self._next_job(force=True)
            if deadline is not None and time.monotonic() >= deadline:
                self._requeue(picked)
                return False
            self._run(*picked)

    def stop(self, drain_s: float | None = None) -> None:
        """Stop accepting messages and deliver what is left: everything
        (`drain_s` None), or what can be within `drain_s` seconds, dropping the
        rest (counted in `dropped`, logged)."""
        deadline = None if drain_s is None else time.monotonic() + drain_s
        self._sdk_stop.set()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if not self.flush(deadline):
            with self._cond:
                left = sum(len(q.messages) for q in self._queues.values()) + sum(
                    len(jobs) for jobs in self._async_jobs.values()
                )
                for q in self._queues.values():
                    q.messages.clear()
                self._async_jobs.clear()
                self.dropped += left
            if left:
                self._log(f"event sources: stopped with {left} message(s) undelivered (dropped)")
        if self._sdk_thread is not None:
            self._sdk_thread.join(timeout=2)

    # ------------------------------------------------------------ scheduling

    def _busy(self) -> bool:
        return bool(self._async_busy) or any(q.running for q in self._queues.values())

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
        """Under the lock: the next piece of work whose lane has room (one
        asynchronous invocation per function at a time; up to the mapping's
        concurrency per queue), or None."""
        for function, jobs in self._async_jobs.items():
            if jobs and function not in self._async_busy:
                job = jobs.popleft()
                self._async_busy.add(function)
                return ("lambda", function), functools.partial(self._invoke_async, *job)
        now = time.monotonic()
        for queue in self._queues.values():
            consumer = queue.consumer
            if consumer is None or not queue.messages or queue.running >= consumer.max_concurrency:
                continue
            if (
                force
                or len(queue.messages) >= consumer.batch_size
                or now - queue.messages[0].available_since >= consumer.window_s
            ):
                batch = [queue.messages.popleft() for _ in range(min(consumer.batch_size, len(queue.messages)))]
                queue.running += 1
                return ("sqs", queue.logical_id), functools.partial(self._deliver, queue, consumer, batch)
        return None

    def _requeue(self, picked: tuple[tuple[str, str], Callable[[], None]]) -> None:
        """Put back a job taken but not run (a flush that ran out of time)."""
        (kind, name), job = picked
        with self._cond:
            if kind == "sqs":
                queue, _, batch = job.args
                queue.messages.extendleft(reversed(batch))
                queue.running -= 1
            else:
                self._async_jobs[name].appendleft(job.args)
                self._async_busy.discard(name)
            self._cond.notify_all()

    def _seconds_to_next_batch(self) -> float | None:
        deadlines = [
            q.messages[0].available_since + q.consumer.window_s
            for q in self._queues.values()
            if q.consumer is not None and q.messages and q.running < q.consumer.max_concurrency
        ]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _run(self, lane: tuple[str, str], job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # the emulator's own bug; keep the worker alive
            _logger.exception("event sources: %s: %s", lane, exc)
        finally:
            with self._cond:
                if lane[0] == "sqs":
                    self._queues[lane[1]].running -= 1
                else:
                    self._async_busy.discard(lane[1])
                self._cond.notify_all()

    # ------------------------------------------------------------ delivery

    def _invoke_async(self, function: str, body: str, origin: Origin) -> None:
        try:
            self.functions[function].invoke(json.loads(body), self.stack.region, self.stack.account)
        except Exception as exc:
            self.invocation_failed(function, body, f"{function} raised {type(exc).__name__}: {exc}", origin)

    def _deliver(self, queue: _Queue, consumer: Consumer, batch: list[_Message]) -> None:
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
            self._dead_letter(
                DeadLetter(
                    rule=message.origin.rule,
                    action=f"Sqs:{queue.logical_id}",
                    target=queue.redrive_target or message.origin.error_target,
                    body=message.body,
                    reason=f"{reason} (received {message.receive_count} times)",
                    topic=message.origin.topic,
                    client_id=message.origin.client_id,
                    attempts=message.receive_count,
                )
            )

    def _record(self, queue: _Queue, message: _Message) -> dict:
        return {
            "messageId": message.message_id,
            "receiptHandle": base64.b64encode(f"{message.message_id}:{uuid.uuid4()}".encode()).decode(),
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(message.receive_count),
                "SentTimestamp": str(message.sent_ms),
                "SenderId": "AROALOCALIOTRULES:iot-rules" if message.origin.rule else "AIDALOCALSDK",
                "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum, not security
            "eventSource": "aws:sqs",
            "eventSourceARN": queue.arn,
            "awsRegion": self.stack.region,
        }

    @staticmethod
    def _failures(consumer: Consumer, result: Any, batch: list[_Message]) -> tuple[set[str], str]:
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
                return everything, (
                    f"{consumer.function} reported itemIdentifier {identifier!r}, not a message of "
                    f"the batch: the whole batch failed"
                )
            failed.add(identifier)
        return failed, f"{consumer.function} reported it in batchItemFailures"

    def _dead_letter(self, letter: DeadLetter) -> None:
        with self._cond:
            self._dead_letters.append(letter)
        url = self.stack.physical.get(letter.target) if letter.target else None
        if self._sqs is not None and url:
            try:
                self._sqs.send_message(QueueUrl=url, MessageBody=letter.body)
            except Exception as exc:  # moto stopping, say: the letter stays in dead_letters
                self._log(f"event sources: keeping a dead letter in {letter.target}: {type(exc).__name__}: {exc}")
        where = f"rule {letter.rule}: " if letter.rule else ""
        self._log(
            f"event sources: {where}{letter.action} gave up on a message"
            f"{f' from {letter.topic}' if letter.topic else ''} -> {letter.target or 'dropped'}: {letter.reason}"
        )

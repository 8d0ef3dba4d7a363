"""Dead-letter queues: what they hold, and moving it back (`make redrive`).

    python -m infrastructure.redrive                  # every dead-letter queue, its depth, where it goes back to
    python -m infrastructure.redrive --move           # move every non-empty one back
    python -m infrastructure.redrive --move PasswordResetDeadLetterQueue   # one (logical id or queue name)
    python -m infrastructure.redrive --local ...      # the local stack (`make run`) instead of AWS

The queues come from template.yaml, as docs/operations.md lists them:

* an SQS queue's RedrivePolicy target goes back to that queue: in AWS with
  the SQS redrive API (StartMessageMoveTask, the console's "Start DLQ
  redrive"; it runs in the background, `aws sqs list-message-move-tasks`
  shows its progress), elsewhere (`--copy`, and always with `--local`: moto
  has no move task) by receiving each message, sending its body to the
  source queue and deleting it;
* a function's DeadLetterQueue (a scheduled run, or an IoT rule's invocation,
  that failed) holds the event itself: each is invoked again asynchronously
  (Lambda Invoke, InvocationType Event; locally POST /_local/invoke/<Function>
  on the local gateway) and deleted once the invoke is accepted;
* the IoT rules' error queue is listed but not moved: its messages are IoT
  Core's error records (the rule, the failure, the payload), to be read and
  republished by hand once the cause is fixed.

Fix the cause first: a message that fails again ends in the same queue after
its receives (or Lambda's retries). The stack is `gridpulse` (samconfig.toml)
unless --stack says otherwise; the AWS credentials and region are the usual
ones (AWS_PROFILE, AWS_REGION).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from dataclasses import dataclass
from typing import Callable

import boto3

from infrastructure.cfn import Stack, load

LOCAL_STACK = "gridpulse-local"  # the local stack's name (infrastructure.cfn.Stack's default)
DEPLOYED_STACK = "gridpulse"  # samconfig.toml's stack_name


@dataclass(frozen=True)
class DeadLetterQueue:
    logical: str
    name: str
    source_queue: str | None = None  # the queue whose RedrivePolicy targets it (logical id)
    source_function: str | None = None  # the function whose DeadLetterQueue it is (logical id)
    rules: tuple[str, ...] = ()  # IoT rules whose ErrorAction it is

    @property
    def redrivable(self) -> bool:
        return bool(self.source_queue or self.source_function)


def _getatt(value, attribute: str) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == attribute:
        return value["Fn::GetAtt"][0]
    return None


def dead_letter_queues(stack: Stack) -> list[DeadLetterQueue]:
    """Every dead-letter queue of the template, with where its messages came from."""
    queues = stack.resources("AWS::SQS::Queue")
    found: dict[str, dict] = {}
    for logical, resource in queues.items():
        target = _getatt((resource["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn"), "Arn")
        if target:
            found.setdefault(target, {})["source_queue"] = logical
    for logical, function in stack.functions().items():
        target = _getatt((function["Properties"].get("DeadLetterQueue") or {}).get("TargetArn"), "Arn")
        if target:
            found.setdefault(target, {})["source_function"] = logical
    for logical, rule in stack.resources("AWS::IoT::TopicRule").items():
        error = (rule["Properties"]["TopicRulePayload"].get("ErrorAction") or {}).get("Sqs") or {}
        target = (error.get("QueueUrl") or {}).get("Ref")
        if target:
            entry = found.setdefault(target, {})
            entry["rules"] = (*entry.get("rules", ()), logical)
    return [
        DeadLetterQueue(logical, str(stack.resolve(queues[logical]["Properties"]["QueueName"])), **sources)
        for logical, sources in sorted(found.items())
    ]


class Redrive:
    """The dead-letter queues of one stack, through `session` (boto3). `invoke`
    (function name or logical id, event JSON) invokes a function asynchronously:
    Lambda's Invoke by default; the local gateway's POST /_local/invoke with --local."""

    def __init__(
        self,
        stack: Stack,
        session: boto3.session.Session,
        *,
        invoke: Callable[[str, str], None] | None = None,
        copy: bool = False,
        endpoint_url: str | None = None,
    ):
        self.stack = stack
        self.sqs = session.client("sqs", endpoint_url=endpoint_url)
        self.session = session
        self.copy = copy
        self._invoke = invoke
        self.queues = dead_letter_queues(stack)

    def _url(self, logical: str) -> str:
        name = str(self.stack.resolve(self.stack.resources("AWS::SQS::Queue")[logical]["Properties"]["QueueName"]))
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def depth(self, queue: DeadLetterQueue) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self._url(queue.logical),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def find(self, name: str) -> DeadLetterQueue:
        for queue in self.queues:
            if name in (queue.logical, queue.name):
                return queue
        raise SystemExit(
            f"{name} is not a dead-letter queue of the template: {', '.join(q.logical for q in self.queues)}"
        )

    def destination(self, queue: DeadLetterQueue) -> str:
        if queue.source_queue:
            return f"queue {self.stack.resolve(self.stack.resources('AWS::SQS::Queue')[queue.source_queue]['Properties']['QueueName'])}"
        if queue.source_function:
            return f"function {queue.source_function} (asynchronous invoke)"
        return f"not moved: IoT rules' error records ({', '.join(queue.rules)}); read and republish by hand"

    def move(self, queue: DeadLetterQueue) -> str:
        """Move the queue's messages back to where they came from; what was done, in words."""
        if queue.source_queue and not self.copy:
            arn = self.sqs.get_queue_attributes(QueueUrl=self._url(queue.logical), AttributeNames=["QueueArn"])
            handle = self.sqs.start_message_move_task(SourceArn=arn["Attributes"]["QueueArn"])["TaskHandle"]
            return f"move task started ({handle}); progress: aws sqs list-message-move-tasks --source-arn {arn['Attributes']['QueueArn']}"
        if queue.source_queue:
            target = self._url(queue.source_queue)
            moved = self._drain(queue, lambda body: self.sqs.send_message(QueueUrl=target, MessageBody=body))
            return f"{moved} message(s) sent back to {self.destination(queue)}"
        if queue.source_function:
            moved = self._drain(queue, lambda body: self.invoke(queue.source_function, body))
            return f"{moved} event(s) invoked again on {queue.source_function}"
        return self.destination(queue)

    def invoke(self, function: str, body: str) -> None:
        if self._invoke is not None:
            self._invoke(function, body)
            return
        props = self.stack.functions()[function]["Properties"]
        self.session.client("lambda").invoke(
            FunctionName=str(self.stack.resolve(props["FunctionName"])), InvocationType="Event", Payload=body.encode()
        )

    def _drain(self, queue: DeadLetterQueue, deliver: Callable[[str], object]) -> int:
        """Receive every visible message, deliver its body, delete it once delivered."""
        url, moved = self._url(queue.logical), 0
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return moved
            for message in messages:
                deliver(message["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1


def _local_invoke(gateway: str) -> Callable[[str, str], None]:
    def invoke(function: str, body: str) -> None:
        request = urllib.request.Request(
            f"{gateway}/_local/invoke/{function}",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local gateway's URL
            if response.status != 202:
                raise RuntimeError(f"the local gateway answered {response.status} to invoking {function}")

    return invoke


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.redrive", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--move", nargs="*", metavar="QUEUE", help="move back these queues (logical id or name), or every non-empty one"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="the local stack: moto on GRIDPULSE_AWS_PORT, the gateway on GRIDPULSE_API_PORT",
    )
    parser.add_argument("--stack", help=f"stack name (default {DEPLOYED_STACK}, or {LOCAL_STACK} with --local)")
    parser.add_argument(
        "--copy", action="store_true", help="receive and send instead of SQS's move task (always so with --local)"
    )
    args = parser.parse_args(argv)

    invoke = endpoint = None
    if args.local:
        endpoint = f"http://127.0.0.1:{os.environ.get('GRIDPULSE_AWS_PORT', '4566')}"
        invoke = _local_invoke(f"http://127.0.0.1:{os.environ.get('GRIDPULSE_API_PORT', '3000')}")
        session = boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
        )
    else:
        session = boto3.session.Session()
    stack = Stack(
        load(),
        name=args.stack or (LOCAL_STACK if args.local else DEPLOYED_STACK),
        region=session.region_name or "us-east-1",
    )
    redrive = Redrive(stack, session, invoke=invoke, copy=args.copy or args.local, endpoint_url=endpoint)

    depths = {}
    print(f"{'dead-letter queue':<48} {'messages':>8}  back to")
    for queue in redrive.queues:
        visible, in_flight = depths[queue.logical] = redrive.depth(queue)
        count = f"{visible}" + (f" (+{in_flight} in flight)" if in_flight else "")
        print(f"{queue.name:<48} {count:>8}  {redrive.destination(queue)}")
    if args.move is None:
        return 0
    chosen = [redrive.find(name) for name in args.move] or [
        q for q in redrive.queues if q.redrivable and depths[q.logical][0]
    ]
    if not chosen:
        print("nothing to move")
    for queue in chosen:
        print(f"{queue.name}: {redrive.move(queue)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

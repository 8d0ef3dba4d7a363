"""Lambda's SQS event source mappings on the laptop.

For every function with an `SQS` event in template.yaml, poll its queue in
moto and invoke the function with SQS-shaped records, deleting the ones that
succeeded and leaving reported failures (batchItemFailures) to come back
after their visibility timeout, as Lambda does. The IoT rules' own messages
are fed straight to their functions by infrastructure/local/rules.py and never
reach moto; what application code sends to those queues (POST /telemetry sends
HTTP readings to the AlertsQueue) is delivered from moto by this poller.
"""
from __future__ import annotations

import threading

import boto3

from infrastructure.cfn import Stack


class SqsPoller:
    def __init__(self, stack: Stack, functions: dict, session: boto3.session.Session, log=None):
        self.stack, self.functions, self.log = stack, functions, log
        self.sqs = session.client("sqs")
        self.mappings: list[tuple[str, str, str, int]] = []  # (function, queue url, queue arn, batch size)
        for logical, res in stack.functions().items():
            for event in (res["Properties"].get("Events") or {}).values():
                if event.get("Type") == "SQS":
                    queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
                    self.mappings.append((logical, stack.physical[queue], stack.attributes[(queue, "Arn")],
                                          min(int(event["Properties"].get("BatchSize", 10)), 10)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sqs-poller", daemon=True)

    def poll_once(self, wait_s: int = 0) -> int:
        delivered = 0
        for logical, url, arn, batch in self.mappings:
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch, WaitTimeSeconds=wait_s,
                                                AttributeNames=["All"]).get("Messages", [])
            if not messages:
                continue
            records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": self.stack.region}
                       for m in messages]
            try:
                result = self.functions[logical].invoke({"Records": records}, self.stack.region, self.stack.account)
                failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            except Exception as exc:  # the whole batch failed: every message comes back
                failed = {r["messageId"] for r in records}
                if self.log:
                    self.log(f"  {logical} failed on an SQS batch: {type(exc).__name__}: {exc}")
            for record in records:
                if record["messageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
                    delivered += 1
        return delivered

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once(wait_s=0):
                    self._stop.wait(1.0)
            except Exception as exc:
                if self.log:
                    self.log(f"  SQS poller: {type(exc).__name__}: {exc}")
                self._stop.wait(2.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

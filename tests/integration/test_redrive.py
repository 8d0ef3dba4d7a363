"""Dead letters you can act on (#16): a message that keeps failing ends in its
dead-letter queue with its payload intact, and `infrastructure.redrive` brings
it back once the cause is fixed.

The consumer path is the local stack's: the SQS event source mappings of
template.yaml (infrastructure/local/event_sources.py: the queue's RedrivePolicy
maxReceiveCount, ReportBatchItemFailures) reading what the SDK sent to moto,
and the real PasswordResetFunction handler.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

from infrastructure.local import event_sources
from infrastructure.local.event_sources import EventSources
from infrastructure.local.gateway import load_functions
from infrastructure.local.outbox import sent_emails
from infrastructure.local.scheduler import Scheduler
from infrastructure.redrive import Redrive, dead_letter_queues


def _wait(condition, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def consumers(aws, monkeypatch):
    monkeypatch.setattr(event_sources, "SDK_POLL_S", 0.02)
    events = EventSources(aws, load_functions(aws), batch_window_s=0.02, log=lambda text: None)
    events.attach_sdk_queues(boto3.session.Session())
    yield events
    events.stop(drain_s=2)


def _depth(aws, logical: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws.physical[logical], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_poison_reset_request_is_dead_lettered_intact_and_redriven_after_the_fix(api, aws, consumers):
    api.register("ann@example.com")
    mail_from = aws.physical["MailIdentity"]
    ses = boto3.client("ses")
    ses.delete_identity(Identity=mail_from)  # the cause: the sender's identity is gone, SES refuses

    status, _ = api.post("/auth/forgot-password", {"email": "ann@example.com"})
    assert status == 202

    # PasswordResetQueue's maxReceiveCount (3) failures later, the request is in its DLQ, unchanged.
    _wait(lambda: _depth(aws, "PasswordResetDeadLetterQueue") == 1)
    (letter,) = consumers.dead_letters
    assert letter.target == "PasswordResetDeadLetterQueue" and letter.attempts == 3
    redrive = Redrive(aws, boto3.session.Session(), copy=True)
    (queue,) = [q for q in redrive.queues if q.logical == "PasswordResetDeadLetterQueue"]
    assert queue.source_queue == "PasswordResetQueue"
    assert redrive.depth(queue) == (1, 0)
    (message,) = boto3.client("sqs").receive_message(
        QueueUrl=aws.physical["PasswordResetDeadLetterQueue"], VisibilityTimeout=0
    )["Messages"]
    assert json.loads(message["Body"]) == {"email": "ann@example.com"}
    assert not [m for m in sent_emails(aws.account, aws.region) if "ann@example.com" in m["to"]]

    ses.verify_email_identity(EmailAddress=mail_from)  # the fix
    assert redrive.move(queue) == "1 message(s) sent back to queue gridpulse-test-password-reset"

    mails = _wait(lambda: [m for m in sent_emails(aws.account, aws.region) if "ann@example.com" in m["to"]])
    assert "Reset token:" in mails[0]["body"]
    assert redrive.depth(queue) == (0, 0)
    assert len(consumers.dead_letters) == 1  # it did not fail again


def test_a_failed_scheduled_run_is_kept_in_the_function_queue_and_invoked_again(aws, consumers):
    invoked = []

    class Flaky:
        """OfflineCheckFunction, failing until the fix."""

        broken = True

        def invoke(self, event, region, account):
            if self.broken:
                raise RuntimeError("DynamoDB is down")
            invoked.append(event)
            return {"ok": True}

    flaky = Flaky()
    scheduler = Scheduler(aws, {"OfflineCheckFunction": flaky}, on_failure=consumers.invocation_failed)
    scheduler.run_logged("OfflineCheckFunction")  # a timed run, as the schedule's loop makes it

    _wait(lambda: _depth(aws, "OfflineCheckAsyncDeadLetterQueue") == 1)
    redrive = Redrive(
        aws, boto3.session.Session(), invoke=lambda function, body: invoked.append((function, json.loads(body)))
    )
    (queue,) = [q for q in redrive.queues if q.logical == "OfflineCheckAsyncDeadLetterQueue"]
    assert queue.source_function == "OfflineCheckFunction"
    assert redrive.move(queue) == "1 event(s) invoked again on OfflineCheckFunction"
    ((function, event),) = invoked
    assert function == "OfflineCheckFunction" and event["detail-type"] == "Scheduled Event"
    assert redrive.depth(queue) == (0, 0)


def test_every_dead_letter_queue_of_the_template_is_listed_with_where_it_goes_back(aws):
    queues = {q.logical: q for q in dead_letter_queues(aws)}
    assert queues["TelemetryDeadLetterQueue"].source_queue == "TelemetryQueue"
    assert queues["LightScheduleAsyncDeadLetterQueue"].source_function == "LightScheduleFunction"
    assert queues["DeviceEventsAsyncDeadLetterQueue"].source_function == "DeviceEventsFunction"
    assert not queues["IotRulesDeadLetterQueue"].redrivable
    assert set(queues["IotRulesDeadLetterQueue"].rules) == set(aws.resources("AWS::IoT::TopicRule"))


def test_make_redrive_lists_the_depths_and_moves_every_non_empty_queue_back(aws, capsys):
    from infrastructure.redrive import main

    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=aws.physical["CleanupDeadLetterQueue"], MessageBody='{"device_id": "d-1"}')
    assert main(["--stack", aws.name, "--copy"]) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if line.startswith(f"{aws.name}-device-cleanup-dlq "))
    assert row.split()[1] == "1" and row.endswith(f"queue {aws.name}-device-cleanup")
    assert "read and republish by hand" in listing  # the IoT rules' error queue

    assert main(["--stack", aws.name, "--copy", "--move"]) == 0
    assert f"{aws.name}-device-cleanup-dlq: 1 message(s) sent back" in capsys.readouterr().out
    (message,) = sqs.receive_message(QueueUrl=aws.physical["CleanupQueue"])["Messages"]
    assert message["Body"] == '{"device_id": "d-1"}'
    assert _depth(aws, "CleanupDeadLetterQueue") == 0

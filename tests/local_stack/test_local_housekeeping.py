"""The local stack's housekeeping (infrastructure/local/housekeeping.py): DynamoDB
TTL honoured in moto, moto's object history and outbox kept bounded."""

from __future__ import annotations

import time

import boto3

from infrastructure.local.housekeeping import sweep_expired, trim_moto_history, ttl_tables, untrack_moto_models


def test_the_template_ttl_tables_are_swept(aws):
    tables = ttl_tables(aws)
    assert tables[aws.physical["TelemetryTable"]] == "ttl"
    assert aws.physical["SitesTable"] not in tables  # no TimeToLiveSpecification


def test_expired_raw_readings_disappear_as_in_dynamodb(aws):
    from gridpulse.telemetry.data import RawItem, device_pk, raw_prefix

    now = int(time.time())
    bucket = (now - 7200) // 3600 * 3600 * 1000

    def raw(n: int, ttl: int) -> RawItem:
        return RawItem(
            device_pk("d1"),
            f"{raw_prefix(bucket)}{bucket + n:013d}#x{n}",
            bucket=bucket,
            first_ts=bucket + n,
            last_ts=bucket + n,
            n=1,
            readings="[]",
            ttl=ttl,
        )

    raw(1, now - 60).save()  # expired a minute ago
    raw(2, now + 3600).save()  # expires in an hour
    raw(3, now - 6 * 365 * 86400).save()  # "expired" over five years ago: DynamoDB ignores it
    assert sweep_expired(aws, boto3.client("dynamodb"), now_s=now) == 1
    left = [item.sk for item in RawItem.query(device_pk("d1"), RawItem.sk.startswith("r#"))]
    assert [sk[-2:] for sk in left] == ["x2", "x3"]
    assert sweep_expired(aws, boto3.client("dynamodb"), now_s=now + 7200) == 1  # the second, once it expires


def test_moto_keeps_no_copy_of_every_item_it_ever_stored(aws):
    from moto.dynamodb.models.dynamo_type import Item

    from gridpulse.telemetry.data import RawItem, device_pk

    untrack_moto_models()
    before = len(Item.instances_tracked)
    for n in range(50):
        RawItem(device_pk("d2"), f"r#{n:013d}", bucket=0, first_ts=n, last_ts=n, n=1, readings="[]", ttl=0).save()
    assert len(Item.instances_tracked) == before == 0


def test_the_outbox_keeps_the_newest_emails(aws):
    ses = boto3.client("ses")
    sender = aws.physical["MailIdentity"]
    for n in range(12):
        ses.send_email(
            Source=sender,
            Destination={"ToAddresses": ["a@example.com"]},
            Message={"Subject": {"Data": f"mail {n}"}, "Body": {"Text": {"Data": "x"}}},
        )
    trim_moto_history(aws, keep=5)
    from infrastructure.local.outbox import sent_emails

    assert [m["subject"] for m in sent_emails(aws.account, aws.region)] == [f"mail {n}" for n in range(7, 12)]


def test_sqs_delays_scaled_by_gridpulse_sqs_delay_scale_keep_not_before(aws, monkeypatch):
    """GRIDPULSE_SQS_DELAY_SCALE=0.1 (what the end-to-end tests' stack runs with): a
    message sent with DelaySeconds 10 is held for 1 s, not 10, and not delivered before."""
    from moto.sqs.models import Message

    from infrastructure.local.moto_server import scale_sqs_delays

    monkeypatch.setattr(Message, "delay", Message.delay)  # undone after the test
    scale_sqs_delays(0.1)
    sqs = boto3.client("sqs")
    url = aws.physical["BillingRetryQueue"]
    sent = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="retry", DelaySeconds=10)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None
    while not (received := sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages")):
        assert time.monotonic() - sent < 5, "a 10 s delay scaled by 0.1 still held after 5 s"
        time.sleep(0.05)
    assert received[0]["Body"] == "retry" and time.monotonic() - sent >= 0.95

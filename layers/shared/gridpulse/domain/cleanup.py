"""What a deleted device leaves behind, removed off the request path.

Deleting a device (or its owner) revokes it at once; its readings, rollups,
quarantine, alerts, alert state and logs can be thousands of items, so the
delete only enqueues the device id and CleanupFunction removes them in the
background (SQS, retried on failure).
"""
from __future__ import annotations

import json

from gridpulse.aws import client
from gridpulse.data.alerts import AlertItem, AlertStateItem, OpenGuardItem
from gridpulse.data.devices import DeviceItem, MembershipItem
from gridpulse.data.telemetry import RawItem, device_pk
from gridpulse.observability import count, logger
from gridpulse.settings import get_settings


def enqueue_device_cleanup(device_id: str) -> None:
    client("sqs").send_message(QueueUrl=get_settings().cleanup_queue_url,
                               MessageBody=json.dumps({"device_id": device_id}))


def purge_device_data(device_id: str) -> dict:
    """Delete every item of a deleted device outside the registry. Idempotent."""
    pk = device_pk(device_id)
    removed = {"telemetry": 0, "alerts": 0, "device_items": 0}
    with RawItem.batch_write() as batch:  # raw readings, day rollups, quarantine: one partition
        for item in RawItem.query(pk, attributes_to_get=["pk", "sk"]):
            batch.delete(item)
            removed["telemetry"] += 1
    alerts = list(AlertItem.by_device.query(device_id))
    with AlertItem.batch_write() as batch:
        for alert in alerts:
            batch.delete(alert)
            batch.delete(OpenGuardItem(OpenGuardItem.key(device_id, alert.alert_type)))
        batch.delete(AlertStateItem(AlertStateItem.key(device_id)))
    removed["alerts"] = len(alerts)
    with MembershipItem.batch_write() as batch:  # alert rules, logs, anything left in the device partition
        for item in MembershipItem.query(DeviceItem.key(device_id), attributes_to_get=["pk", "sk"]):
            batch.delete(item)
            removed["device_items"] += 1
    count("DeviceDataPurged")
    logger.info("device data purged", extra={"device_id": device_id, **removed})
    return removed


def handle_sqs_batch(event: dict) -> dict:
    failures = []
    for record in event.get("Records", []):
        try:
            device_id = json.loads(record["body"])["device_id"]
        except (KeyError, TypeError, ValueError):
            logger.warning("cleanup record skipped: no device_id", extra={"message_id": record.get("messageId")})
            continue
        try:
            purge_device_data(str(device_id))
        except Exception:
            logger.exception("device cleanup failed; will be retried", extra={"device_id": device_id})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}

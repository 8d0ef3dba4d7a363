"""What a deleted device leaves behind, removed off the request path.

Deleting a device (or its owner) revokes it at once; its readings, rollups,
quarantine, alerts, alert state, forecasts and logs can be thousands of items, so the
delete only enqueues the device id (devices/service.py) and CleanupFunction removes them in the
background (SQS, retried on failure).
"""

from __future__ import annotations

import json

from gridpulse.alerts.data import AlertItem, AlertStateItem, OpenGuardItem
from gridpulse.batch import process_groups
from gridpulse.devices.data import DeviceItem
from gridpulse.forecasts.data import ForecastItem
from gridpulse.forecasts.data import device_pk as forecasts_pk
from gridpulse.groups.data import MembershipItem
from gridpulse.observability import count, logger
from gridpulse.telemetry.data import RawItem, device_pk


def purge_device_data(device_id: str) -> dict:
    """Delete every item of a deleted device outside the registry. Idempotent.

    Its open alerts are resolved first (which takes them off the platform's
    open-alerts count) and its readings are taken off the readings count."""
    # The alert and ingestion services pull in much of the layer: loaded on first use, not at cold start.
    from gridpulse.alerts.service import resolve_by_id
    from gridpulse.telemetry.ingest import record_readings_stored

    pk = device_pk(device_id)
    removed = {"telemetry": 0, "readings": 0, "alerts": 0, "forecasts": 0, "device_items": 0}
    alerts = list(AlertItem.by_device.query(device_id))
    for alert in alerts:
        if alert.status != "resolved":
            resolve_by_id(alert.alert_id, "device_deleted")
    with RawItem.batch_write() as batch:  # raw readings, day rollups, quarantine: one partition
        for item in RawItem.query(pk, attributes_to_get=["pk", "sk", "n"]):
            batch.delete(item)
            removed["telemetry"] += 1
            if item.sk.startswith("r#"):
                removed["readings"] += int(item.n or 0)
    record_readings_stored(-removed["readings"])
    with AlertItem.batch_write() as batch:
        for alert in alerts:
            batch.delete(alert)
            batch.delete(OpenGuardItem(OpenGuardItem.key(device_id, alert.alert_type)))
        batch.delete(AlertStateItem(AlertStateItem.key(device_id)))
    removed["alerts"] = len(alerts)
    with ForecastItem.batch_write() as batch:  # its forecasts: one partition (else they expire by TTL)
        for item in ForecastItem.query(forecasts_pk(device_id), attributes_to_get=["pk", "sk"]):
            batch.delete(item)
            removed["forecasts"] += 1
    with MembershipItem.batch_write() as batch:  # alert rules, logs, anything left in the device partition
        for item in MembershipItem.query(DeviceItem.key(device_id), attributes_to_get=["pk", "sk"]):
            batch.delete(item)
            removed["device_items"] += 1
    count("DeviceDataPurged")
    logger.info("device data purged", extra={"device_id": device_id, **removed})
    return removed


def handle_sqs_batch(event: dict) -> dict:
    """One record per device; a record is retried only for a failure worth
    retrying (gridpulse.batch), so a record that cannot be purged costs no other."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for record in event.get("Records", []):
        message_id = str(record.get("messageId"))
        try:
            device_id = json.loads(record["body"])["device_id"]
        except (KeyError, TypeError, ValueError, RecursionError):
            logger.warning("cleanup record skipped: no device_id", extra={"message_id": message_id})
            continue
        if not isinstance(device_id, str) or not device_id:
            logger.warning("cleanup record skipped: device_id is not a string", extra={"message_id": message_id})
            continue
        groups.append((message_id, [(message_id, device_id)]))

    def purge(_: str, device_ids: list[str]) -> None:
        for device_id in device_ids:
            purge_device_data(device_id)

    def leave(_: str, device_id: str, exc: Exception) -> None:
        logger.error("device data left in place", extra={"device_id": device_id})

    return {"batchItemFailures": process_groups(groups, purge, leave, "device cleanup")}

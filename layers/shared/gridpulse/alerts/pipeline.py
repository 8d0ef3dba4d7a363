"""The alert evaluator's SQS side: telemetry messages (from MQTT through the
telemetry IoT rule's AlertsQueue action, and from POST /telemetry, in the same shape), checked reading
by reading, per device. Messages published with a certificate that is no
longer the device's are not evaluated (ingestion quarantines them).

Records are grouped by device (gridpulse.batch.process_groups): a failure
worth retrying reports that device's records; any other failure is narrowed
down to the record that caused it, which is logged and skipped (its readings
are kept by ingestion; only their evaluation is lost), and the other records
and devices are evaluated.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pynamodb.exceptions import DoesNotExist

from gridpulse.alerts.service import evaluate_readings
from gridpulse.batch import process_groups
from gridpulse.devices.data import DeviceItem
from gridpulse.observability import count, logger, note_device_type
from gridpulse.sites.service import hotel_timezone
from gridpulse.telemetry.ingest import Message
from gridpulse.telemetry.pipeline import parse_record
from gridpulse.telemetry.readings import Reading, split_message, validate


def readings_of(message: Message) -> list[Reading]:
    """The readings of a message that pass the checks (ingestion quarantines the others)."""
    if message.malformed:
        return []
    raw_readings, refused = split_message(message.payload)
    if refused is not None:
        return []
    return [r for i, raw in enumerate(raw_readings) if isinstance(r := validate(raw, i, message.received_ms), Reading)]


def _evaluate(device_id: str, messages: list[Message]) -> None:
    try:
        device = DeviceItem.get(DeviceItem.key(device_id), "meta", consistent_read=True)
    except DoesNotExist:
        return
    messages = [m for m in messages if not m.principal or m.principal == device.certificate_id]
    if not messages:
        return
    note_device_type(device.device_type)
    readings = [r for message in messages for r in readings_of(message)]
    evaluate_readings(
        device, readings, ZoneInfo(hotel_timezone(device.hotel_id)), heard_ms=max(m.received_ms for m in messages)
    )


def _skip(device_id: str, message: Message, exc: Exception) -> None:
    count("AlertEvaluationsSkipped")
    logger.error(
        "a message could not be evaluated for alerts; skipped",
        extra={"device_id": device_id, "origin": message.origin, "received_ms": message.received_ms},
    )


def handle_sqs_batch(event: dict) -> dict:
    groups: dict[str, list[tuple[str, Message]]] = {}
    for record in event.get("Records", []):
        device_id, message, _ = parse_record(record)
        if device_id is None or message is None:
            continue  # unreadable or not a device's: nothing to evaluate
        groups.setdefault(device_id, []).append((str(record.get("messageId")), message))
    return {"batchItemFailures": process_groups(groups.items(), _evaluate, _skip, "alert evaluation")}

"""The alert evaluator's SQS side: the same telemetry messages as ingestion
(its own IoT rule and queue), checked reading by reading, per device.
Messages published with a certificate that is no longer the device's are
not evaluated (ingestion quarantines them)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from pynamodb.exceptions import DoesNotExist

from gridpulse.alerts.service import evaluate_readings
from gridpulse.data.devices import DeviceItem
from gridpulse.domain.sites import hotel_timezone
from gridpulse.observability import logger
from gridpulse.telemetry.pipeline import parse_record
from gridpulse.telemetry.readings import Reading, split_message, validate


def handle_sqs_batch(event: dict) -> dict:
    groups: dict[str, list[tuple[str, list[Reading], str | None]]] = {}
    for record in event.get("Records", []):
        device_id, message, problem = parse_record(record)
        if problem or device_id is None or message is None:
            continue  # ingestion quarantines it; nothing to evaluate
        raw_readings, refused = split_message(message.payload)
        if refused is not None:
            continue
        readings = [r for i, raw in enumerate(raw_readings)
                    if isinstance(r := validate(raw, i, message.received_ms), Reading)]
        groups.setdefault(device_id, []).append((record["messageId"], readings, message.principal))
    failures = []
    for device_id, items in groups.items():
        try:
            device = DeviceItem.get(DeviceItem.key(device_id), "meta", consistent_read=True)
        except DoesNotExist:
            continue
        items = [i for i in items if not i[2] or i[2] == device.certificate_id]
        if not items:
            continue
        try:
            evaluate_readings(device, [r for _, readings, _ in items for r in readings],
                              ZoneInfo(hotel_timezone(device.hotel_id)))
        except Exception:
            logger.exception("alert evaluation failed; will be retried", extra={"device_id": device_id})
            failures += [{"itemIdentifier": message_id} for message_id, _, _ in items]
    return {"batchItemFailures": failures}

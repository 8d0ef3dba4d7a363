"""The SQS side of ingestion: a batch of IoT rule outputs in, partial failures out.

Each SQS record's body is what iot_rules/telemetry.sql selected: the device's
payload plus `thing_name`, `client_id`, `principal` (the id of the
certificate it was published with) and `received_at` (the broker's receive
time, epoch ms). Records are grouped by device so that a backlog of many
messages from one device is stored and rolled up once
(gridpulse.batch.process_groups). A message published with a certificate
that is no longer the device's (rotated or revoked while its session was
still up) is quarantined (`revoked_certificate`), not stored; the device's
current certificate is read once per device and batch (strongly
consistent), never from a cache. A device whose group fails for a reason
worth retrying (DynamoDB throttled, say) reports its records as failed; SQS
retries only those, and the recompute-based rollups make the retry safe. Any
other failure is narrowed down to the record that caused it, which is
quarantined with reason `ingest_error`; the device's other records are stored.
"""

from __future__ import annotations

import json
import math

from pynamodb.exceptions import DoesNotExist

from gridpulse.batch import process_groups
from gridpulse.devices.context import context_for
from gridpulse.devices.data import DeviceItem
from gridpulse.devices.provisioning import device_id_for
from gridpulse.observability import count, logger, note_device_type
from gridpulse.telemetry.ingest import (
    Message,
    ingest,
    now_ms,
    quarantine_unknown_message,
    record_readings_stored,
)
from gridpulse.telemetry.readings import as_number

RULE_FIELDS = ("thing_name", "client_id", "principal", "received_at")
RAW_PAYLOAD = "_raw_payload"  # set by the rules engine when the payload was not JSON


def _received_ms(value) -> int:
    number = as_number(value)
    if number is None or not math.isfinite(number) or not 0 < number < 1e14:
        return now_ms()
    return int(number)


def parse_record(record: dict) -> tuple[str | None, Message | None, str | None]:
    """(device id, message, reason it cannot be ingested). Never raises."""
    try:
        body = json.loads(record["body"])
    except (KeyError, TypeError, ValueError, RecursionError):
        return None, None, "unreadable_record"
    if not isinstance(body, dict):
        return None, None, "unreadable_record"
    device_id = device_id_for(str(body.get("thing_name") or ""))
    if device_id is None:
        return None, None, "unknown_thing"
    origin = str(record.get("messageId") or "")
    received_ms = _received_ms(body.get("received_at"))
    principal = body.get("principal")
    principal = str(principal) if principal is not None else None
    if RAW_PAYLOAD in body:
        return (
            device_id,
            Message(body[RAW_PAYLOAD], received_ms, "mqtt", origin, principal=principal, malformed=True),
            "malformed_json",
        )
    payload = {k: v for k, v in body.items() if k not in RULE_FIELDS}
    return device_id, Message(payload, received_ms, "mqtt", origin, principal=principal), None


def current_certificate(device_id: str) -> str | None:
    """The id of the device's certificate now (None for a deleted device)."""
    try:
        item = DeviceItem.get(
            DeviceItem.key(device_id), "meta", consistent_read=True, attributes_to_get=["certificate_id"]
        )
    except DoesNotExist:
        return None
    return item.certificate_id


def sent_by_current_certificate(device_id: str, messages: list[Message]) -> tuple[list[int], list[int]]:
    """Indexes of the messages sent with the device's current certificate, and
    of those sent with another one (a rotated or revoked certificate whose
    session outlived it; for a deleted device, every message that has a
    principal). Messages without a principal (not from the IoT rule) are not
    judged here. One GetItem, only when a principal is present."""
    if not any(m.principal for m in messages):
        return list(range(len(messages))), []
    current = current_certificate(device_id)
    kept = [i for i, m in enumerate(messages) if not m.principal or (current and m.principal == current)]
    refused = [i for i, m in enumerate(messages) if i not in set(kept)]
    return kept, refused


def _quarantine_foreign(device_id: str, messages: list[Message]) -> None:
    if current_certificate(device_id) is None:  # deleted meanwhile: nothing would ever read its quarantine
        count("MessagesDropped", len(messages))
        logger.warning("telemetry for a deleted device", extra={"device_id": device_id, "count": len(messages)})
        return
    for message in messages:
        quarantine_unknown_message(
            device_id,
            message.payload,
            message.received_ms,
            "revoked_certificate",
            "sent with a certificate that is no longer the device's; not stored",
            "mqtt",
            message.origin,
        )
    count("MessagesFromRevokedCertificates", len(messages))
    logger.warning(
        "messages from a revoked certificate quarantined", extra={"device_id": device_id, "count": len(messages)}
    )


def handle_sqs_batch(event: dict) -> dict:
    groups: dict[str, list[tuple[str, Message]]] = {}
    for record in event.get("Records", []):
        device_id, message, problem = parse_record(record)
        if device_id is None or message is None:
            count("MessagesDropped")
            logger.warning("telemetry record skipped", extra={"reason": problem, "message_id": record.get("messageId")})
            continue
        groups.setdefault(device_id, []).append((str(record.get("messageId")), message))

    stored = 0
    device_types: set[str] = set()

    def store(device_id: str, messages: list[Message]) -> None:
        nonlocal stored
        # What this device's messages log carries: the SQS message id of the IoT rule's
        # output (one per MQTT message), the first when a batch holds several of them.
        logger.set_correlation_id(messages[0].origin or None)
        context = context_for(device_id)
        if context is None:
            count("MessagesDropped", len(messages))
            logger.warning("telemetry for an unknown or deleted device", extra={"device_id": device_id})
            return
        device_types.add(context.device_type)
        kept, refused = sent_by_current_certificate(device_id, messages)
        if refused:
            _quarantine_foreign(device_id, [messages[i] for i in refused])
        if kept:
            stored += sum(outcome.accepted for outcome in ingest(context, [messages[i] for i in kept]))

    def keep(device_id: str, message: Message, exc: Exception) -> None:
        if context_for(device_id) is not None:
            quarantine_unknown_message(
                device_id,
                message.payload,
                message.received_ms,
                "ingest_error",
                f"the message could not be ingested ({type(exc).__name__}); kept here instead of being retried",
                message.source,
                message.origin,
            )

    failures = process_groups(groups.items(), store, keep, "telemetry ingestion")
    record_readings_stored(stored)
    # The batch's device types ("meter"; "light,meter" when a batch mixes them): X-Ray filters on it.
    for device_type in device_types:
        note_device_type(device_type)
    return {"batchItemFailures": failures}

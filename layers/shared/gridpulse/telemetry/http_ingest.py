"""POST /telemetry: the same ingestion as MQTT, with per-reading results.

201 when every reading was stored; 207 with a result per reading when some
were duplicates or refused (nothing is lost: refused readings are in
quarantine); 400 when a single reading or the message itself is refused, with
the reason and the field.

A message with readings that passed the checks then goes to the alerts queue,
in the shape the telemetry IoT rule gives MQTT messages, so HTTP devices are
evaluated by the same AlertEvaluatorFunction with the same de-duplication.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from gridpulse.aws import client
from gridpulse.devices.context import require_context
from gridpulse.devices.provisioning import thing_name_for
from gridpulse.errors import BadRequest, field_error
from gridpulse.observability import count, logger
from gridpulse.settings import get_settings
from gridpulse.telemetry.ingest import Message, ingest, now_ms, record_readings_stored

# Free-form fields play no part in alerts; leaving them out keeps a message of
# 500 readings far below SQS's 256 KiB.
NOT_EVALUATED = ("data", "metadata")


def ingest_http(device_id: str, body: Any, request_id: str | None = None) -> tuple[int, dict]:
    context = require_context(device_id)
    message = Message(body, now_ms(), "http", origin=request_id or str(uuid.uuid4()))
    outcome = ingest(context, [message])[0]
    record_readings_stored(outcome.accepted)
    if outcome.accepted + outcome.duplicates:
        forward_to_alerts(device_id, body, message.received_ms)
    out = {
        "device_id": device_id,
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "rejected": outcome.rejected,
        "results": outcome.results,
    }
    is_batch = isinstance(body, dict) and "readings" in body
    refused = [r for r in outcome.results if r["status"] == "rejected"]
    if refused and (not is_batch or outcome.accepted + outcome.duplicates == 0 and len(outcome.results) == 1):
        first = refused[0]
        raise BadRequest(
            first["message"],
            code=first["reason"],
            fields=[field_error(first["field"] or "body", first["message"], first["reason"])],
        )
    if outcome.duplicates == 0 and outcome.rejected == 0:
        return 201, out
    return 207, out


def _for_evaluation(reading: Any) -> Any:
    return {k: v for k, v in reading.items() if k not in NOT_EVALUATED} if isinstance(reading, dict) else reading


def forward_to_alerts(device_id: str, body: Any, received_ms: int) -> None:
    """Queue the message for alert evaluation. The readings are stored by now,
    so a failure here is logged and counted, not turned into an error."""
    if isinstance(body, dict) and isinstance(body.get("readings"), list):
        payload = {"readings": [_for_evaluation(r) for r in body["readings"]]}
    else:
        payload = _for_evaluation(body)
    thing = thing_name_for(device_id)
    try:
        client("sqs").send_message(
            QueueUrl=get_settings().alerts_queue_url,
            MessageBody=json.dumps(
                {**payload, "thing_name": thing, "client_id": thing, "received_at": received_ms}, separators=(",", ":")
            ),
        )
    except Exception:
        count("AlertForwardFailed")
        logger.exception("HTTP readings not queued for alert evaluation", extra={"device_id": device_id})

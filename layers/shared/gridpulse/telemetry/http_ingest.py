"""POST /telemetry: the same ingestion as MQTT, with per-reading results.

201 when every reading was stored; 207 with a result per reading when some
were duplicates or refused (nothing is lost: refused readings are in
quarantine); 400 when a single reading or the message itself is refused, with
the reason and the field.
"""
from __future__ import annotations

from typing import Any

from gridpulse.errors import BadRequest, field_error
from gridpulse.telemetry.ingest import Message, ingest, now_ms, require_context


def ingest_http(device_id: str, body: Any) -> tuple[int, dict]:
    context = require_context(device_id)
    outcome = ingest(context, [Message(body, now_ms(), "http")])[0]
    out = {"device_id": device_id, "accepted": outcome.accepted, "duplicates": outcome.duplicates,
           "rejected": outcome.rejected, "results": outcome.results}
    is_batch = isinstance(body, dict) and "readings" in body
    refused = [r for r in outcome.results if r["status"] == "rejected"]
    if refused and (not is_batch or outcome.accepted + outcome.duplicates == 0 and len(outcome.results) == 1):
        first = refused[0]
        raise BadRequest(first["message"], code=first["reason"],
                         fields=[field_error(first["field"] or "body", first["message"], first["reason"])])
    if outcome.duplicates == 0 and outcome.rejected == 0:
        return 201, out
    return 207, out

"""Ingestion: the one code path for readings from MQTT (IoT rule -> SQS ->
IngestFunction) and from HTTP (POST /telemetry).

For each device, a group of messages is:
1. split into readings and checked (gridpulse.telemetry.readings); refused
   readings go to quarantine with their reason, never silently dropped;
2. grouped by bucket; readings whose identity the bucket already holds are
   duplicates (an MQTT redelivery, a retried upload) and are not stored again;
3. stored, one raw item per bucket per message group (conditional put, so a
   replay of the same group is a no-op);
4. rolled up: the touched buckets are recomputed into their day items, and
   each day's total into its month item.
A failure in 3 or 4 raises; the SQS consumer retries it when it is worth
retrying (gridpulse.batch), and because of 2 and the recompute, a retry never
double-counts. Nothing in 1 raises for anything a device can send.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import PutError

from gridpulse.devices.context import DeviceContext
from gridpulse.observability import count, logger, milliseconds
from gridpulse.settings import get_settings
from gridpulse.telemetry import rollups
from gridpulse.telemetry.data import QuarantineItem, RawItem, ReadingsCounterItem, device_pk, raw_prefix
from gridpulse.telemetry.readings import Reading, Rejection, iso_ms, split_message, validate

QUARANTINE_DAYS = 30


@dataclass
class Message:
    payload: Any
    received_ms: int
    source: str  # "mqtt" or "http"
    # What tells two deliveries of one message from two messages alike: the SQS
    # message id (the same on a redelivery), or an id per HTTP request.
    origin: str = ""
    malformed: bool = False  # the payload is the text of a message that was not JSON
    principal: str | None = None  # MQTT: the certificate id it was published with (the rule's principal())


@dataclass
class Outcome:
    """What happened to each reading of a message, in message order."""

    results: list[dict] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(r["status"] == "accepted" for r in self.results)

    @property
    def duplicates(self) -> int:
        return sum(r["status"] == "duplicate" for r in self.results)

    @property
    def rejected(self) -> int:
        return sum(r["status"] == "rejected" for r in self.results)


def ingest(context: DeviceContext, messages: list[Message]) -> list[Outcome]:
    """Store and roll up a group of messages of one device."""
    tz = ZoneInfo(context.tz)
    outcomes: list[Outcome] = []
    rejections: list[tuple[Message, Rejection]] = []
    fresh: dict[int, dict[str, Reading]] = {}  # bucket -> identity -> reading
    pending: list[tuple[dict, int, str]] = []  # (result dict, bucket, identity) to settle below

    for message in messages:
        outcome = Outcome()
        outcomes.append(outcome)
        if message.malformed:
            refused = Rejection(0, "malformed_json", None, "the message is not valid JSON", message.payload)
            rejections.append((message, refused))
            outcome.results.append(refused.view())
            continue
        raw_readings, refused = split_message(message.payload)
        if refused is not None:
            rejections.append((message, refused))
            outcome.results.append(refused.view())
            continue
        for index, raw in enumerate(raw_readings):
            checked = validate(raw, index, message.received_ms)
            if isinstance(checked, Rejection):
                rejections.append((message, checked))
                outcome.results.append(checked.view())
                continue
            bucket = rollups.bucket_of(checked.ts_ms, tz)
            result = {"index": index, "status": "accepted", "timestamp": iso_ms(checked.ts_ms)}
            outcome.results.append(result)
            pending.append((result, bucket, checked.identity))
            fresh.setdefault(bucket, {}).setdefault(checked.identity, checked)

    # The day rollups are read before the raw buckets (see rollups.recompute),
    # then what the buckets already hold is dropped, and what is new is stored.
    days = rollups.preload_days(context.device_id, set(fresh), tz, context.tz) if fresh else {}
    cache = rollups.BucketCache(context.device_id)
    cache.preload(set(fresh))
    stored_new: dict[int, set[str]] = {}
    for bucket, readings in fresh.items():
        known = {r.identity for r in cache.get(bucket)}
        new = [r for identity, r in readings.items() if identity not in known]
        if new and _put_raw(context.device_id, bucket, new):
            stored_new[bucket] = {r.identity for r in new}
            cache.add(bucket, new)
    claimed: set[tuple[int, str]] = set()
    for result, bucket, identity in pending:
        if identity in stored_new.get(bucket, set()) and (bucket, identity) not in claimed:
            claimed.add((bucket, identity))
        else:
            result["status"] = "duplicate"

    _quarantine(context.device_id, rejections)
    if stored_new:
        jumps = rollups.recompute(
            context.device_id, set(stored_new), context.tz, context.max_power_w, cache=cache, days=days
        )
        new_ids = set().union(*stored_new.values())
        flagged = [r for r in jumps if r.identity in new_ids]
        if flagged:
            _quarantine_jumps(context.device_id, flagged)

    accepted = sum(o.accepted for o in outcomes)
    count("ReadingsIngested", accepted)
    count("ReadingsDuplicate", sum(o.duplicates for o in outcomes))
    if rejections:
        for reason, n in Counter(r.reason for _, r in rejections).items():
            count("ReadingsRejected", n, reason=reason)
    else:
        count("ReadingsRejected", 0)
    # Broker receive time to stored, once per MQTT message that stored a reading.
    stored_at = now_ms()
    for message, outcome in zip(messages, outcomes):
        if message.source == "mqtt" and outcome.accepted:
            milliseconds("IngestionLag", max(0, stored_at - message.received_ms))
    return outcomes


def _digest(readings: list[Reading]) -> str:
    return hashlib.sha256("|".join(sorted(r.identity for r in readings)).encode()).hexdigest()[:12]


def _put_raw(device_id: str, bucket: int, readings: list[Reading]) -> bool:
    readings = sorted(readings, key=lambda r: (r.ts_ms, r.identity))
    item = RawItem(
        device_pk(device_id),
        f"{raw_prefix(bucket)}{readings[0].ts_ms:013d}#{_digest(readings)}",
        bucket=bucket,
        first_ts=readings[0].ts_ms,
        last_ts=readings[-1].ts_ms,
        n=len(readings),
        readings=json.dumps([r.compact() for r in readings], separators=(",", ":")),
        ttl=int(time.time()) + get_settings().raw_retention_days * 86400,
    )
    try:
        item.save(condition=RawItem.sk.does_not_exist())
        return True
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False  # exactly this group was stored before: a replay
        raise


def _quarantine(device_id: str, rejections: list[tuple[Message, Rejection]]) -> None:
    """One row per refused reading or message. The key is the receive time and
    a digest of the message's origin and the refused text: a redelivery of a
    message rewrites its own rows, two messages alike each keep theirs."""
    if not rejections:
        return
    expires = int(time.time()) + QUARANTINE_DAYS * 86400
    with QuarantineItem.batch_write() as batch:
        for message, rejection in rejections:
            raw = json.dumps(rejection.raw, default=str, allow_nan=True)[:4000]
            digest = hashlib.sha256(f"{message.origin}|{raw}".encode()).hexdigest()[:12]
            batch.save(
                QuarantineItem(
                    device_pk(device_id),
                    f"q#{message.received_ms:013d}#{digest}#{rejection.index}",
                    reason=rejection.reason,
                    field=rejection.field,
                    message=rejection.message,
                    raw=raw,
                    received_at=iso_ms(message.received_ms),
                    source=message.source,
                    ttl=expires,
                )
            )
    # One line per reason: the saved query "rejected readings by reason" (template.yaml) sums `count` by `reason`.
    for reason, n in sorted(Counter(r.reason for _, r in rejections).items()):
        logger.info("readings quarantined", extra={"device_id": device_id, "reason": reason, "count": n})


def _quarantine_jumps(device_id: str, readings: list[Reading]) -> None:
    message = "the counter rose faster than the device can draw power; not counted"
    _quarantine(
        device_id,
        [
            (
                Message(payload=None, received_ms=r.received_ms, source="rollup", origin=r.identity),
                Rejection(0, "impossible_jump", "energy_kwh", message, r.view()),
            )
            for r in readings
        ],
    )


def quarantine_unknown_message(
    device_id: str, payload: Any, received_ms: int, reason: str, message: str, source: str, origin: str = ""
) -> None:
    """Keep a message that could not be ingested (one that made ingestion fail, say)."""
    _quarantine(
        device_id, [(Message(payload, received_ms, source, origin), Rejection(0, reason, None, message, payload))]
    )


def record_readings_stored(n: int) -> None:
    """Add newly stored (or, negative, deleted) readings to the platform
    counter (/admin/stats): one atomic ADD per SQS batch or HTTP request. Only
    readings that were new are counted (a redelivery stores nothing new). Best
    effort: the readings are stored whether or not the figure could be
    updated, so a failure is logged and counted, not retried."""
    if n == 0:
        return
    try:
        ReadingsCounterItem(ReadingsCounterItem.KEY, "counter").update(actions=[ReadingsCounterItem.n.add(n)])
    except Exception:
        count("ReadingsCounterMissed", n)
        logger.exception("readings counter not updated", extra={"readings": n})


def now_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)

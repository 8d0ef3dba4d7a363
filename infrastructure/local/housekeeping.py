"""Keeping the local stack's memory bounded over days: moto's object tracking
off, the outbox and queue bookkeeping trimmed, DynamoDB TTL honoured.

Where the memory went (found with tracemalloc and gc object counts over a run
of the default fleet; see docs/local-stack.md):

* moto records every model object it ever creates (each DynamoDB item
  version, each transaction's copy of a whole table, each SQS message, each
  SNS notification) in a class-level list for its dashboard, and never lets
  go: about 4 KB per reading stored, and more per update. `untrack_moto_models()`
  turns that bookkeeping off; what moto still holds is the live state.
* moto keeps every email SES "sent" and every SNS notification (the local
  outbox), and every receipt handle of every deleted SQS message:
  `trim_moto_history()` keeps the newest OUTBOX_KEEP emails/notifications
  per topic and forgets old receipt handles.
* DynamoDB deletes items whose TTL attribute has passed; moto never does.
  `sweep_expired()` does it for the tables whose template declares a
  TimeToLiveSpecification: it scans moto's tables in memory (this is local
  infrastructure, not a request path) and deletes each expired item through
  the DynamoDB API with a condition that it is still expired, as DynamoDB's
  background process would. As in DynamoDB, a TTL more than five years in
  the past is ignored.

`Housekeeper` runs both every `every_s` seconds on a daemon thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from infrastructure.cfn import Stack

OUTBOX_KEEP = 1000  # emails (SES) and notifications per SNS topic kept for GET /_local/outbox
RECEIPTS_KEEP = 10_000  # receipt handles of deleted SQS messages kept per queue
TTL_IGNORED_AFTER_S = 5 * 365 * 86400  # DynamoDB ignores TTL values more than five years old

_logger = logging.getLogger(__name__)


def untrack_moto_models() -> None:
    """Stop moto from keeping every model instance it creates (for its
    dashboard, which the local stack does not use). Idempotent; call before
    moto serves requests."""
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import model_data

    if getattr(BaseModel, "_gridpulse_untracked", False):
        return

    def __new__(cls, *args, **kwargs):  # noqa: N807 - replaces BaseModel.__new__
        return object.__new__(cls)

    BaseModel.__new__ = __new__
    BaseModel._gridpulse_untracked = True
    for models in model_data.values():
        for model in models.values():
            model.instances_tracked = []


def ttl_tables(stack: Stack) -> dict[str, str]:
    """{table name: TTL attribute} of the template's tables with TTL enabled."""
    out = {}
    for logical, resource in stack.resources("AWS::DynamoDB::Table").items():
        ttl = (resource.get("Properties") or {}).get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled") and logical in stack.physical:
            out[stack.physical[logical]] = ttl["AttributeName"]
    return out


def _backend(stack: Stack, service: str):
    import importlib

    module = importlib.import_module(f"moto.{service}.models")
    return getattr(module, f"{service}_backends")[stack.account][stack.region]


def expired_keys(table, attribute: str, now_s: float) -> list[dict]:
    """Keys (DynamoDB JSON) of a moto table's items whose TTL has passed. Reads
    moto's table under the lock its server takes for DynamoDB requests."""
    from infrastructure.local.moto_server import DYNAMODB_LOCK

    keys = []
    with DYNAMODB_LOCK:
        if table.has_range_key:
            items = [item for part in table.items.values() for item in part.values()]
        else:
            items = list(table.items.values())
    for item in items:
        value = item.attrs.get(attribute)
        if value is None or value.type != "N":
            continue
        try:
            expires = float(value.value)
        except (TypeError, ValueError):
            continue
        if now_s - TTL_IGNORED_AFTER_S <= expires < now_s:
            key = {table.hash_key_attr: item.hash_key.to_json()}
            if table.has_range_key:
                key[table.range_key_attr] = item.range_key.to_json()
            keys.append(key)
    return keys


def sweep_expired(stack: Stack, client, now_s: float | None = None) -> int:
    """Delete the expired items of every TTL table of the template; how many."""
    now_s = time.time() if now_s is None else now_s
    backend = _backend(stack, "dynamodb")
    deleted = 0
    for table_name, attribute in ttl_tables(stack).items():
        table = backend.tables.get(table_name)
        if table is None:
            continue
        for key in expired_keys(table, attribute, now_s):
            try:
                client.delete_item(
                    TableName=table_name,
                    Key=key,
                    ConditionExpression="#ttl < :now",
                    ExpressionAttributeNames={"#ttl": attribute},
                    ExpressionAttributeValues={":now": {"N": str(int(now_s))}},
                )
                deleted += 1
            except client.exceptions.ConditionalCheckFailedException:
                pass  # written again meanwhile with a later expiry
    return deleted


def trim_moto_history(stack: Stack, keep: int = OUTBOX_KEEP, receipts: int = RECEIPTS_KEEP) -> None:
    """Keep the newest `keep` SES emails and SNS notifications per topic, and
    forget receipt handles of deleted SQS messages beyond `receipts` per queue."""
    ses = _backend(stack, "ses")
    if len(ses.sent_messages) > keep:
        del ses.sent_messages[: len(ses.sent_messages) - keep]
    for topic in list(_backend(stack, "sns").topics.values()):
        if len(topic.sent_notifications) > keep:
            del topic.sent_notifications[: len(topic.sent_notifications) - keep]
    for queue in list(_backend(stack, "sqs").queues.values()):
        if len(queue.deleted_messages) > receipts:
            queue.deleted_messages.clear()


class Housekeeper:
    """Runs `sweep_expired` and `trim_moto_history` every `every_s` seconds."""

    def __init__(self, stack: Stack, session, every_s: float = 60.0, log: Callable[[str], None] | None = None):
        self.stack, self.every_s = stack, every_s
        self.client = session.client("dynamodb")
        self.log = log or _logger.warning
        self.expired = 0  # items deleted by TTL so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)

    def run_once(self) -> int:
        trim_moto_history(self.stack)
        deleted = sweep_expired(self.stack, self.client)
        self.expired += deleted
        return deleted

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except Exception as exc:  # reported; the next round tries again
                if not self._stop.is_set():
                    self.log(f"housekeeping: {type(exc).__name__}: {exc}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

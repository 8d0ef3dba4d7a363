"""Sync of the Tuya project's prepaid meters (issue #13 item 5).

Two ways in, one piece of work per meter (`sync_meters`):

* BillingSyncFunction, every 15 minutes (`fan_out`): pages the project's
  devices (`list_devices`, `last_row_key`) and sends them in batches of
  SYNC_BATCH meters to BillingSyncQueue; BillingSyncWorkerFunction syncs each
  batch (`handle_batch`). A message that cannot be read is given up alone
  (gridpulse.batch), and inside a batch a meter that fails is logged and
  counted (`MetersSyncFailed`) without stopping the others; the next run
  tries it again.
* `POST /devices/refresh` (admin, `refresh`): lists the project inline and
  syncs up to REFRESH_INLINE_MAX meters inline (the answer's counts are
  theirs); the rest go to the queue like a scheduled run, and the answer's
  message says how many were queued. Tuya unreachable while listing: 502
  `connection_error`; Tuya refusing: 502 `billing_error`.

Per meter:

1. the registry: a meter not seen before is registered as a device
   (gridpulse.devices.external: `prepaid_meter`, provider `tuya`, external id
   = Tuya id, name from Tuya, no IoT provisioning) -> `new`; a known one gets
   Tuya's name and online state -> `updated` when either changed;
2. the books (gridpulse.billing.data): the status read from Tuya (20 meters per
   call, `batch_status`; a meter Tuya leaves out of the answer is read alone) (money and/or
   energy balance, consumption counter, prepayment, price) is written with
   `as_of`, conditional on the books' `version` (re-read and retried when a
   top-up moved them meanwhile). While one of our own operations on the
   meter may be in flight (a pending ledger entry that was sent), the
   balances are left alone (the operation settles them) and only `as_of`,
   the counter and online are written;
3. usage: the counter as first seen each day (USAGE#<day>, as the billing
   routes' reads do), written once a day (the books keep `usage_day`);
4. `sync_adjustment`: the balance Tuya shows is compared with the books'
   balance less what was consumed since (counter difference, at the unit
   price for money meters; at zero credit the balance stops at zero). A
   difference above DRIFT money or DRIFT kWh (the meter reports 2 decimals,
   rounded down) is a change we did not make (a top-up at a vending point, a
   reset on the meter) and becomes an applied ledger entry
   (`performed_by: sync`, amount or energy_kwh = the difference,
   before = what we expected, after = what Tuya shows), in one transaction
   with the books. Not counted: our own top-ups, resets and price changes
   (in the books already) and a token applied since the last sync (the books
   do not know a token's value: the reading is taken as it is);
5. `low_balance`: credit (money for money meters, kWh for energy meters)
   under the meter's `low_balance_threshold` (books; default
   BILLING_LOW_BALANCE_THRESHOLD, 10) raises the alert through
   gridpulse.alerts (one open alert per device and type; later syncs bump
   it); at or above it the open alert is resolved (`settle_low_balance`, also
   called after a top-up is applied).

Meters the sync imported that the project no longer lists (after a complete
listing) are marked (inactive, `provider_removed_at`), never deleted; listed
again, they are active again. Meters registered by hand (POST /devices) are
left alone.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any, Iterable, Iterator

from gridpulse.aws import client
from gridpulse.billing import data
from gridpulse.billing import service as billing
from gridpulse.billing.low_balance import LOW_BALANCE_ALERT, credit_of, threshold_of
from gridpulse.devices import external
from gridpulse.devices.data import DeviceItem
from gridpulse.errors import ApiError
from gridpulse.observability import count, logger, note_device_type
from gridpulse.timeutil import iso, utcnow

PROVIDER = external.TUYA
DEVICE_TYPE = "prepaid_meter"
SYNC_BATCH = 40  # meters per queue message (two batch status reads of 20)
PAGE_SIZE = 100  # Tuya devices per listing page (at most 200)
REFRESH_INLINE_MAX = 200  # POST /devices/refresh syncs this many meters itself, queues the rest
METER_CATEGORIES = frozenset({"zndb", "dlq"})  # Tuya's electricity meter and metering breaker categories
DRIFT = Decimal("0.05")  # money or kWh: a smaller difference is rounding, not an adjustment
BOOKS_RETRIES = 3
IN_FLIGHT_LOOKBACK = 20  # newest ledger entries looked at for an operation in flight


class TuyaGatewayError(ApiError):
    """Tuya could not be reached (connection_error) or refused (billing_error) during a refresh."""

    status = 502
    code = "connection_error"


# ---------------------------------------------------------------- listing


def _is_meter(info: dict) -> bool:
    category = info.get("category")
    return bool(info.get("id")) and (not category or category in METER_CATEGORIES)


def _slim(info: dict) -> dict:
    """What a sync needs of a listed device (queue messages stay small)."""
    slim = {"id": str(info["id"]), "name": info.get("name") or str(info["id"]), "online": info.get("online")}
    if isinstance(info.get("product_id"), str) and info["product_id"]:
        slim["product_id"] = info["product_id"]
    return slim


def project_meters(tuya=None) -> Iterator[dict]:
    """Every meter of the Tuya project, page by page (Tuya errors propagate)."""
    tuya = tuya or billing.tuya()
    key = None
    while True:
        page, key = tuya.list_devices(page_size=PAGE_SIZE, last_row_key=key)
        for info in page:
            if _is_meter(info):
                yield _slim(info)
        if key is None:
            return


def mark_missing(seen: set[str]) -> int:
    """Mark our Tuya meters that a complete listing did not show; how many were newly marked."""
    marked = 0
    for device in external.listed(PROVIDER, DEVICE_TYPE):
        if device.external_id and device.external_id not in seen and external.mark_removed(device):
            logger.info("meter no longer in the Tuya project", extra={"device_id": device.device_id})
            marked += 1
    if marked:
        count("MetersRemovedFromProject", marked)
    return marked


def _queue_url() -> str:
    url = os.environ.get("BILLING_SYNC_QUEUE_URL", "")
    if not url:
        raise RuntimeError("BILLING_SYNC_QUEUE_URL is not set")
    return url


def _chunks(items: list[dict], size: int) -> Iterator[list[dict]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def enqueue(meters: list[dict]) -> int:
    """Send `meters` to BillingSyncQueue, SYNC_BATCH per message (10 messages per request)."""
    url = _queue_url()
    batches = list(_chunks(meters, SYNC_BATCH))
    for group in _chunks(batches, 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps({"meters": b})} for i, b in enumerate(group)]
        out = client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
        if out.get("Failed"):
            raise RuntimeError(f"{len(out['Failed'])} sync messages not queued")
    return len(batches)


def fan_out() -> dict:
    """The scheduled run: list the project, queue every meter, mark the missing ones."""
    meters = list(project_meters())
    messages = enqueue(meters)
    removed = mark_missing({m["id"] for m in meters})
    count("MetersListed", len(meters))
    return {"total": len(meters), "messages": messages, "removed": removed}


# ---------------------------------------------------------------- per meter


def batch_status(ids: list[str]) -> tuple[dict[str, dict], dict[str, Exception]]:
    """The meters' data points read STATUS_BATCH per Tuya call (`devices_status`): (status by id,
    error by id for the ids of a call that failed). An id Tuya left out of a successful answer
    is in neither: its meter is read alone (which says why: unknown, offline, ...)."""
    from gridpulse.billing.tuya.client import STATUS_BATCH

    statuses: dict[str, dict] = {}
    errors: dict[str, Exception] = {}
    for chunk in _chunks(list(dict.fromkeys(ids)), STATUS_BATCH):
        try:
            statuses.update(billing.tuya().devices_status(chunk))
        except Exception as exc:
            if billing.tuya_outcome(exc) is None:
                raise
            errors.update(dict.fromkeys(chunk, exc))
    return statuses, errors


def sync_meters(meters: Iterable[dict]) -> Counter:
    """Sync each meter (dicts of id, name, online); counts of new, updated, unchanged, failed."""
    meters = list(meters)
    # What the batch needs of Tuya and DynamoDB, read in batches (not a call per meter): the
    # meters' status (20 per Tuya call), registry records, their state items and the books.
    try:
        statuses, status_errors = batch_status([m["id"] for m in meters])
    except Exception:
        logger.exception("batch status read failed; reading the meters one by one")
        statuses, status_errors = {}, {}
    known = external.find(PROVIDER, [m["id"] for m in meters], DEVICE_TYPE)
    states = external.states(list(known.values()))
    known_books = billing.books_many([d.device_id for d in known.values()])
    outcome: Counter = Counter()
    for info in meters:
        device = known.get(info["id"])
        try:
            if info["id"] in status_errors:
                raise status_errors[info["id"]]
            status = statuses.get(info["id"])
            if device is None:
                outcome[sync_one(info, None, status=status)] += 1
            else:
                prior = (states.get(device.device_id), known_books.get(device.device_id, {}))
                outcome[sync_one(info, device, prior, status)] += 1
        except Exception as exc:
            outcome["failed"] += 1
            count("MetersSyncFailed")
            logger.warning(
                "meter not synced",
                extra={"external_id": info.get("id"), "error": f"{type(exc).__name__}: {exc}"[:300]},
                exc_info=billing.tuya_outcome(exc) is None,
            )
    return outcome


def sync_one(info: dict, device: DeviceItem | None, prior: tuple | None = None, status: dict | None = None) -> str:
    """Sync one listed meter: 'new', 'updated' or 'unchanged'. The meter is read from Tuya
    first, so a meter Tuya cannot answer for is not imported. `prior`: (state item, books)
    of a known device as the batch read them; `status`: its data points as the batch status
    read returned them (None: read alone)."""
    online = info.get("online") if isinstance(info.get("online"), bool) else None
    probe = device or DeviceItem(external_id=info["id"], device_type=DEVICE_TYPE, name=info["name"])
    product = info.get("product_id")
    reading = billing.read_meter(billing.Meter(probe, False), product, status)
    kind = billing.spec_of(info["id"], product).kind
    known_books = None
    if device is None:
        device, created = external.register(PROVIDER, info["id"], info["name"], DEVICE_TYPE, online)
        outcome = "new" if created else "unchanged"
        if not created and external.update(device, info["name"], online):
            outcome = "updated"
    else:
        state, known_books = prior if prior is not None else (external.UNREAD, None)
        outcome = "updated" if external.update(device, info["name"], online, state) else "unchanged"
    if outcome == "updated" and device.name != info["name"]:
        device.name = info["name"]  # the alert text uses it; nothing else of the record changed
    record(device, reading, kind, known_books)
    return outcome


def _in_flight(device_id: str) -> bool:
    items, _ = data.query(data.meter_pk(device_id), data.LEDGER_PREFIX, IN_FLIGHT_LOOKBACK)
    return any(i.get("status") == "pending" and i.get("sent") for i in items)


def _expected(before: Decimal | None, consumed: Decimal | None, price: Decimal | None, kind: str) -> Decimal | None:
    if before is None:
        return None
    used = Decimal(0)
    if consumed:
        if kind == "money":
            if price is None:
                return None
            used = consumed * price
        else:
            used = consumed
    return max(Decimal(0), before - used)


def drift_of(books: dict, reading: billing.Reading, kind: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """(difference, expected, seen) when the balance moved by more than consumption explains, else None."""
    if books.get("last_token_at") and (not books.get("as_of") or books["last_token_at"] >= books["as_of"]):
        return None  # a token since the last read: its value is only known from this reading
    consumed = None
    if reading.total_kwh is not None and books.get("total_consumption_kwh") is not None:
        consumed = max(Decimal(0), reading.total_kwh - books["total_consumption_kwh"])
    if kind == "money":
        price = reading.unit_price or books.get("unit_price")
        expected, seen = _expected(books.get("money_balance"), consumed, price, kind), reading.money
    else:
        expected, seen = _expected(books.get("energy_balance"), consumed, None, kind), reading.energy
    if expected is None or seen is None or abs(seen - expected) <= DRIFT:
        return None
    return seen - expected, expected, seen


def record(device: DeviceItem, reading: billing.Reading, kind: str | None, known_books: dict | None = None) -> dict:
    """Write a reading into the meter's books (and a sync_adjustment when due); the books after.
    `known_books`: the books as the batch read them (tried first; re-read when they moved)."""
    device_id = device.device_id
    in_flight = _in_flight(device_id)
    today = utcnow().date().isoformat()
    for attempt in range(BOOKS_RETRIES):
        books = known_books if attempt == 0 and known_books is not None else billing.books(device_id)
        now = iso(utcnow())
        sets: dict[str, Any] = {"as_of": now, "device_id": device_id, "synced_at": now}
        if reading.total_kwh is not None and books.get("usage_day") != today:
            # The day's first counter (USAGE#<day>), once a day: the books remember the day.
            billing._note_usage_day(device_id, reading.total_kwh)
            sets["usage_day"] = today
        if kind:
            sets["kind"] = kind
        if reading.total_kwh is not None:
            sets["total_consumption_kwh"] = reading.total_kwh
        if reading.prepayment is not None:
            sets["prepayment_enabled"] = reading.prepayment
        if reading.unit_price is not None and books.get("unit_price") is None:
            sets["unit_price"] = reading.unit_price
        drift = None
        if not in_flight:
            if reading.money is not None:
                sets["money_balance"] = reading.money
            if reading.energy is not None:
                sets["energy_balance"] = reading.energy
            drift = drift_of(books, reading, kind or books.get("kind") or "money") if books else None
        items = [
            {
                "Update": {
                    "TableName": data.table(),
                    "Key": data.key(data.meter_pk(device_id), data.BOOKS),
                    "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in sets) + " ADD version :one",
                    "ConditionExpression": "attribute_not_exists(version) OR version = :v",
                    "ExpressionAttributeNames": {f"#{k}": k for k in sets},
                    "ExpressionAttributeValues": data.values(**sets, one=1, v=books.get("version", 0)),
                }
            }
        ]
        if drift is not None:
            items.append({"Put": {"TableName": data.table(), "Item": data.dump(_adjustment(device_id, kind, drift))}})
        try:
            client("dynamodb").transact_write_items(TransactItems=items)
        except Exception as exc:
            if not data.is_conditional_failure(exc):
                raise
            continue  # the books moved (a top-up applied): read them again
        if drift is not None:
            count("SyncAdjustments")
        after = {**books, **sets}
        settle_low_balance(device, after)
        return after
    raise RuntimeError(f"books of {device_id} kept changing during the sync")


def _adjustment(device_id: str, kind: str | None, drift: tuple[Decimal, Decimal, Decimal]) -> dict:
    difference, expected, seen = drift
    now = iso(utcnow())
    ledger_id = uuid.uuid4().hex
    energy = kind == "energy"
    return {
        "pk": data.meter_pk(device_id),
        "sk": f"{data.LEDGER_PREFIX}{int(time.time() * 1000):013d}#{ledger_id}",
        "ledger_id": ledger_id,
        "device_id": device_id,
        "operation": "sync_adjustment",
        "command": "sync",
        "value": difference,
        "amount": None if energy else difference,
        "energy_kwh": difference if energy else None,
        "money_before": None if energy else expected,
        "money_after": None if energy else seen,
        "energy_before": expected if energy else None,
        "energy_after": seen if energy else None,
        "status": "applied",
        "attempts": 0,
        "sent": False,
        "performed_by": "sync",
        "created_at": now,
        "applied_at": now,
        "error": "the meter's balance changed by more than its consumption explains",
    }


# ---------------------------------------------------------------- low balance


def settle_low_balance(device: DeviceItem, books: dict) -> str | None:
    """Raise `low_balance` when credit is under the meter's threshold, resolve it otherwise:
    'raised', 'resolved' or None (nothing to do, or the credit is unknown)."""
    from gridpulse.alerts import service as alerts
    from gridpulse.alerts.rules import rules_for

    credit = credit_of(books)
    if credit is None:
        return None
    threshold = threshold_of(books)
    unit = "kWh" if books.get("kind") == "energy" else (books.get("currency") or billing.DEFAULT_CURRENCY)
    if credit < threshold:
        alerts.raise_alert(
            device,
            rules_for(device),
            LOW_BALANCE_ALERT,
            "warning",
            f"{device.name}: credit {credit} {unit} is under {threshold} {unit}",
            float(credit),
            float(threshold),
            int(time.time() * 1000),
            source="sync",
        )
        return "raised"
    return "resolved" if alerts.resolve_type(device.device_id, LOW_BALANCE_ALERT, by="sync") else None


# ---------------------------------------------------------------- entry points


def refresh() -> dict:
    """POST /devices/refresh (the caller is an admin): {message, total, new, updated}."""
    try:
        meters = list(project_meters())
    except Exception as exc:
        outcome = billing.tuya_outcome(exc)
        if outcome is None:
            raise
        message = getattr(exc, "message", None) or str(exc)
        if outcome == "rejected":
            error = TuyaGatewayError(f"Tuya Cloud refused the device list: {message}", code="billing_error")
        else:
            error = TuyaGatewayError(f"Tuya Cloud could not be reached: {message}", code="connection_error")
        raise error from None
    inline, later = meters[:REFRESH_INLINE_MAX], meters[REFRESH_INLINE_MAX:]
    outcome = sync_meters(inline)
    queued = enqueue(later) if later else 0
    removed = mark_missing({m["id"] for m in meters})
    parts = [f"Synced {len(inline) - outcome['failed']} of {len(meters)} meters from Tuya Cloud"]
    if outcome["failed"]:
        parts.append(f"{outcome['failed']} could not be read (retried by the next sync)")
    if later:
        parts.append(f"{len(later)} more queued in {queued} batches")
    if removed:
        parts.append(f"{removed} no longer in the project (marked inactive)")
    return {
        "message": "; ".join(parts) + ".",
        "total": len(meters),
        "new": outcome["new"],
        "updated": outcome["updated"],
    }


def handle_batch(event: dict) -> dict:
    """BillingSyncQueue batch: each message's meters; an unreadable message is given up alone."""
    from gridpulse.batch import process_groups

    def handle(_key, bodies: list[str]) -> None:
        note_device_type("prepaid_meter")
        for body in bodies:
            message = json.loads(body)
            meters = [m for m in message["meters"] if isinstance(m, dict) and isinstance(m.get("id"), str)]
            if len(meters) != len(message["meters"]):
                raise ValueError("a sync message with a meter that has no id")
            outcome = sync_meters(
                {
                    "id": m["id"],
                    "name": str(m.get("name") or m["id"]),
                    "online": m.get("online"),
                    **({"product_id": m["product_id"]} if isinstance(m.get("product_id"), str) else {}),
                }
                for m in meters
            )
            logger.info("meters synced", extra=dict(outcome))

    def give_up(_key, body: str, exc: Exception) -> None:
        count("SyncMessagesGivenUp")

    groups = [(r["messageId"], [(r["messageId"], r["body"])]) for r in event.get("Records", [])]
    return {"batchItemFailures": process_groups(groups, handle, give_up, "billing sync")}

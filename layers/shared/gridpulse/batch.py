"""SQS batch consumers: one bad record costs only itself.

Every SQS consumer (ingestion, alert evaluation, device cleanup) hands its
records to `process_groups`, in groups that are worth handling together
(ingestion and evaluation group by device, so a backlog is stored and rolled
up once; cleanup has one record per group). A group that fails is handled
again record by record, so that:

* a failure worth retrying (throttling, a service error, a conflict that
  outlasted its own retries: `is_retryable`) is reported in
  `batchItemFailures` for just the records it hit, and SQS redelivers them;
* any other exception is a property of the record itself (a retry would fail
  the same way and end in the dead-letter queue, taking the records around it
  along): the record is handed to `give_up` (ingestion quarantines it with
  its reason), logged, counted, and not retried.

While a group is handled, the log's correlation id is the SQS message id of
its first record (of the record itself when records are handled one by one).
"""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, TypeVar

from botocore.exceptions import ConnectionError, HTTPClientError

from gridpulse.observability import correlate, count, logger

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# Error codes that mean "not now", not "never" (DynamoDB, SQS, SNS, IoT).
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "RequestThrottled",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
        "TransactionInProgressException",
        "KMSThrottlingException",
    }
)
RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class Retryable(RuntimeError):
    """Our own "not now": optimistic locking that kept losing, for instance."""


def _codes(exc: BaseException) -> set[str]:
    codes = set()
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        codes.add(str((response.get("Error") or {}).get("Code") or ""))
        codes |= {str(r.get("Code")) for r in response.get("CancellationReasons") or [] if isinstance(r, dict)}
    for reason in getattr(exc, "cancellation_reasons", None) or []:  # pynamodb's TransactWriteError
        codes.add(str(getattr(reason, "code", "") or ""))
    return codes


def is_retryable(exc: BaseException) -> bool:
    """Whether the failure could go away by itself (looks through the causes:
    PynamoDB wraps botocore's errors in its own)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (Retryable, ConnectionError, HTTPClientError, TimeoutError)):
            return True
        if _codes(current) & (RETRYABLE_CODES | RETRYABLE_CANCELLATIONS):
            return True
        pending += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return False


def process_groups(
    groups: Iterable[tuple[K, list[tuple[str, T]]]],
    handle: Callable[[K, list[T]], None],
    give_up: Callable[[K, T, Exception], None],
    what: str,
) -> list[dict]:
    """Handle each group of (SQS message id, item); the `batchItemFailures` to return.

    `handle(key, items)` does the work; `give_up(key, item, exc)` keeps a
    record that fails for a reason of its own (it may raise a retryable error
    itself, and then that record is retried)."""
    failures: list[dict] = []
    batch_id = logger.get_correlation_id()
    try:
        for key, records in groups:
            failures += _process_group(key, records, handle, give_up, what)
    finally:
        correlate(batch_id)
    return failures


def _process_group(key: K, records: list[tuple[str, T]], handle, give_up, what: str) -> list[dict]:
    """One group of `process_groups`: its `batchItemFailures`."""
    if records:
        correlate(records[0][0])
    try:
        handle(key, [item for _, item in records])
        return []
    except Exception as exc:
        if is_retryable(exc):
            logger.warning(
                f"{what}: will be retried",
                extra={"key": str(key), "records": len(records), "error": f"{type(exc).__name__}: {exc}"[:300]},
            )
            return [{"itemIdentifier": message_id} for message_id, _ in records]
        if len(records) == 1:
            return _give_up(key, records[0], exc, give_up, what)
    failures: list[dict] = []
    for message_id, item in records:  # the group failed: find the record(s) at fault
        correlate(message_id)
        try:
            handle(key, [item])
        except Exception as exc:
            if is_retryable(exc):
                failures.append({"itemIdentifier": message_id})
            else:
                failures += _give_up(key, (message_id, item), exc, give_up, what)
    return failures


def _give_up(key, record: tuple[str, T], exc: Exception, give_up, what: str) -> list[dict]:
    message_id, item = record
    logger.error(
        f"{what}: a record failed for a reason of its own; not retried",
        extra={"key": str(key), "message_id": message_id, "error": f"{type(exc).__name__}: {exc}"[:500]},
        exc_info=exc,
    )
    count("RecordsGivenUp")
    try:
        give_up(key, item, exc)
    except Exception as kept:
        if is_retryable(kept):
            return [{"itemIdentifier": message_id}]
        logger.exception(f"{what}: the failed record could not be kept either", extra={"message_id": message_id})
    return []

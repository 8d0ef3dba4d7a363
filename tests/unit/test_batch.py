"""Which failures an SQS consumer reports for retry (gridpulse.batch)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError

from gridpulse.batch import Retryable, is_retryable, process_groups


def client_error(code: str, **extra) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, **extra}, "PutItem")


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ProvisionedThroughputExceededException"),
        client_error("ThrottlingException"),
        client_error("InternalServerError"),
        PutError(cause=client_error("RequestLimitExceeded")),
        TransactWriteError(
            "x",
            cause=client_error(
                "TransactionCanceledException", CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}]
            ),
        ),
        EndpointConnectionError(endpoint_url="http://x"),
        Retryable("lost the optimistic lock five times"),
    ],
)
def test_worth_retrying(exc):
    assert is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        OverflowError("int too large to convert to float"),
        ValueError("bad"),
        KeyError("k"),
        UpdateError(cause=client_error("ConditionalCheckFailedException")),
        client_error("ValidationException"),
        TransactWriteError(
            "x",
            cause=client_error(
                "TransactionCanceledException", CancellationReasons=[{"Code": "ConditionalCheckFailed"}]
            ),
        ),
    ],
)
def test_not_worth_retrying(exc):
    assert not is_retryable(exc)


def test_a_failing_record_costs_only_itself():
    handled, given_up = [], []

    def handle(key, items):
        if "bad" in items or ("slow" in items and key == "b"):
            raise client_error("ThrottlingException") if "slow" in items else ValueError("bad")
        handled.extend(items)

    groups = [("a", [("1", "ok"), ("2", "bad"), ("3", "ok2")]), ("b", [("4", "slow"), ("5", "fine")])]
    failures = process_groups(groups, handle, lambda key, item, exc: given_up.append(item), "test")
    assert failures == [{"itemIdentifier": "4"}, {"itemIdentifier": "5"}]  # the throttled group, whole
    assert handled == ["ok", "ok2"] and given_up == ["bad"]

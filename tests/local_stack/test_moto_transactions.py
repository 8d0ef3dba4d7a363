"""infrastructure/local/moto_transactions.py: TransactWriteItems that snapshot only the
items they touch (a cancelled transaction must still leave every item as it was), and
Queries on a table's key that read only their partition (same answers as moto's)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infrastructure.local import moto_transactions


@pytest.fixture
def ddb(monkeypatch):
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", moto_transactions.transact_write_items)
    monkeypatch.setattr(Table, "query", moto_transactions._partition_query(Table.query))
    monkeypatch.setattr(Table, "all_items", moto_transactions._partition_all_items(Table.all_items))
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="books",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="flat",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(5):
            client.put_item(TableName="books", Item={"pk": {"S": "m"}, "sk": {"S": f"s{n}"}, "v": {"N": str(n)}})
            client.put_item(TableName="flat", Item={"id": {"S": f"f{n}"}, "v": {"N": str(n)}})
        yield client


def _everything(client) -> dict:
    """Every item of both tables (by key: the tests' recorder refuses Scans)."""
    books = client.query(
        TableName="books", KeyConditionExpression="pk = :m", ExpressionAttributeValues={":m": {"S": "m"}}
    )["Items"]
    ids = [f"f{n}" for n in range(5)] + ["brand-new"]
    flat = [client.get_item(TableName="flat", Key={"id": {"S": i}}).get("Item") for i in ids]
    return {"books": books, "flat": flat}


def _update(table: str, key: dict, value: str) -> dict:
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"N": value}},
        }
    }


def test_a_cancelled_transaction_puts_back_every_item_it_touched_and_nothing_else_moves(ddb):
    from moto.dynamodb.models import dynamodb_backends

    before = _everything(ddb)
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    untouched = backend.tables["books"].items[next(iter(backend.tables["books"].items))]
    untouched_item = {str(k.value): v for k, v in untouched.items()}["s4"]
    items = [
        _update("books", {"pk": {"S": "m"}, "sk": {"S": "s0"}}, "100"),  # changed in place, then put back
        _update("books", {"pk": {"S": "m"}, "sk": {"S": "new-by-update"}}, "7"),  # created, then removed
        {"Put": {"TableName": "books", "Item": {"pk": {"S": "m"}, "sk": {"S": "s1"}, "v": {"N": "-1"}}}},
        {"Put": {"TableName": "flat", "Item": {"id": {"S": "brand-new"}, "v": {"N": "1"}}}},
        {"Delete": {"TableName": "flat", "Key": {"id": {"S": "f2"}}}},
        _update("flat", {"id": {"S": "f3"}}, "33"),
        {
            "ConditionCheck": {
                "TableName": "flat",
                "Key": {"id": {"S": "f4"}},
                "ConditionExpression": "v = :no",
                "ExpressionAttributeValues": {":no": {"N": "999"}},
            }
        },
    ]
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=items)
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _everything(ddb) == before
    # The items it did not touch were not copied and swapped in (moto's whole-table copy did that).
    assert {
        str(k.value): v for k, v in backend.tables["books"].items[next(iter(backend.tables["books"].items))].items()
    }["s4"] is untouched_item


def test_a_transaction_that_passes_applies_all_its_writes(ddb):
    ddb.transact_write_items(
        TransactItems=[
            _update("books", {"pk": {"S": "m"}, "sk": {"S": "s0"}}, "100"),
            {"Delete": {"TableName": "flat", "Key": {"id": {"S": "f2"}}}},
            {"Put": {"TableName": "flat", "Item": {"id": {"S": "brand-new"}, "v": {"N": "1"}}}},
        ]
    )
    assert ddb.get_item(TableName="books", Key={"pk": {"S": "m"}, "sk": {"S": "s0"}})["Item"]["v"] == {"N": "100"}
    assert "Item" not in ddb.get_item(TableName="flat", Key={"id": {"S": "f2"}})
    assert ddb.get_item(TableName="flat", Key={"id": {"S": "brand-new"}})["Item"]["v"] == {"N": "1"}


def test_two_operations_on_one_item_are_refused_and_nothing_is_written(ddb):
    before = _everything(ddb)
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[
                _update("flat", {"id": {"S": "f0"}}, "50"),
                _update("flat", {"id": {"S": "f0"}}, "51"),
            ]
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert _everything(ddb) == before


def test_a_query_on_the_key_reads_its_partition_in_order_with_paging(ddb):
    for pk in ("a", "z"):
        for n in range(3):
            ddb.put_item(TableName="books", Item={"pk": {"S": pk}, "sk": {"S": f"s{n}"}, "v": {"N": "0"}})

    def page(**extra):
        out = ddb.query(
            TableName="books",
            KeyConditionExpression="pk = :m AND begins_with(sk, :s)",
            ExpressionAttributeValues={":m": {"S": "m"}, ":s": {"S": "s"}},
            ScanIndexForward=False,
            Limit=3,
            **extra,
        )
        return [i["sk"]["S"] for i in out["Items"]], out.get("LastEvaluatedKey")

    first, key = page()
    assert first == ["s4", "s3", "s2"]
    second, key = page(ExclusiveStartKey=key)
    assert second == ["s1", "s0"] and key is None
    flat = ddb.query(TableName="flat", KeyConditionExpression="id = :i", ExpressionAttributeValues={":i": {"S": "f1"}})[
        "Items"
    ]
    assert [i["v"]["N"] for i in flat] == ["1"]
    assert (
        ddb.query(
            TableName="books", KeyConditionExpression="pk = :m", ExpressionAttributeValues={":m": {"S": "nobody"}}
        )["Items"]
        == []
    )


def test_queries_on_several_threads_each_get_their_own_partition(ddb):
    """The local stack's moto serves requests on several threads (4 ingestion batches at once):
    a Query must never see another thread's partition, or fail while another finishes."""
    import threading

    for p in range(4):
        for n in range(30):
            ddb.put_item(TableName="books", Item={"pk": {"S": f"p{p}"}, "sk": {"S": f"s{n:02d}"}, "v": {"N": str(p)}})
    wrong: list = []

    def reader(p: int) -> None:
        try:
            for _ in range(60):
                items = ddb.query(
                    TableName="books",
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": f"p{p}"}},
                )["Items"]
                if len(items) != 30 or {i["pk"]["S"] for i in items} != {f"p{p}"}:
                    wrong.append((p, len(items)))
        except Exception as exc:  # noqa: BLE001 - the failure under test
            wrong.append((p, repr(exc)))

    threads = [threading.Thread(target=reader, args=(p,)) for p in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []

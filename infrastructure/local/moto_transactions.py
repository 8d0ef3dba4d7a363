"""moto's DynamoDB without whole-table work per request (the local stack and the bench).

moto 5.2.5 (`moto.dynamodb.models.DynamoDBBackend.transact_write_items`) keeps a
rollback copy of every table a transaction touches: `copy.deepcopy` of the whole
table, items and indexes, on every call. A workload that writes one item per
transaction into a table of N items then costs O(N) per write and O(N^2) in all:
the billing sync of 1,000 meters (one books transaction each, BillingTable
holding every meter's books and ledger) never finished in-process.

`install()` replaces that method with the same logic (the same checks, errors and
order of operations as moto's) that snapshots only the items the transaction
touches, each before its operation runs (a deep copy of the item, or "absent"), and on
cancellation puts back exactly those items (updates change items in place, so the
copy is what is restored; a Put or an Update that created an item is removed).
Every other item of the tables is left as it is. Stream records of a cancelled
transaction are not taken back (moto's whole-table copy dropped them; the
template has no DynamoDB streams).

The same holds for a Query on a table's own key: moto sorts every item of the
table (`Table.all_items`) to keep the one partition asked for, O(N log N) per
Query (the sync's in-flight ledger Query per meter). `install()` also wraps
`Table.query` so that a Query on the table's key (no index) looks at that
partition's items only; the results, their order and paging are moto's (it
still filters on the hash key and sorts by the range key). Queries on an index
are moto's as they are. The partition is handed to moto's query through a
thread-local, never set on the shared Table, because requests run on several
threads at once (the local stack's moto server, a test's threads).

Used by infrastructure/local/moto_server.py (`start`, the local stack) and
bench/stack.py (`mocked_stack`). Tested by
tests/local_stack/test_moto_transactions.py. `install()` is idempotent.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_ABSENT = object()


def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models.dynamo_type import DynamoType

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    # (table name, hash, range) -> the item before this transaction touched it (a copy), or _ABSENT.
    snapshots: dict[tuple, Any] = {}

    def snapshot(table_name: str, key: dict[str, Any]) -> None:
        table = self.tables.get(table_name)
        if table is None or table.hash_key_attr not in key:
            return
        if table.range_key_attr is not None and table.range_key_attr not in key:
            return
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        ident = (table_name, hash_value, range_value)
        if ident not in snapshots:
            item = table.get_item(hash_value, range_value)
            snapshots[ident] = _ABSENT if item is None else copy.deepcopy(item)

    def rollback() -> None:
        for (table_name, hash_value, range_value), before in snapshots.items():
            table = self.tables.get(table_name)
            if table is None:
                continue
            if range_value is not None:
                if before is _ABSENT:
                    table.items.get(hash_value, {}).pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = before
            elif before is _ABSENT:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list = []  # [(Code, Message, Item), ..]
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                snapshot(table_name, key)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto reports every other failure per item too
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


_query_partition = threading.local()  # .current: (table, its items of one partition) during a key Query


def _partition_items(items: dict, hash_key) -> list:
    """A copy of one partition's items; a write on another thread may change the dict while it is copied."""
    for _ in range(5):
        try:
            return list(items[hash_key].values()) if hash_key in items else []
        except RuntimeError:  # dictionary changed size during iteration
            continue
    return list(dict(items.get(hash_key, {})).values())


def _partition_query(original):
    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        if self.range_key_attr is not None:
            partition = _partition_items(self.items, hash_key)
        else:
            partition = [self.items[hash_key]] if hash_key in self.items else []
        outer = getattr(_query_partition, "current", None)
        _query_partition.current = (self, partition)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _query_partition.current = outer

    query.partition_query = True
    return query


def _partition_all_items(original):
    def all_items(self):
        current = getattr(_query_partition, "current", None)
        if current is not None and current[0] is self:
            return current[1]
        return original(self)

    all_items.partition_query = True
    return all_items


def install() -> None:
    """Replace moto's TransactWriteItems (whole-table rollback copies) with this module's, and
    let a Query on a table's key read its partition only."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    DynamoDBBackend.transact_write_items = transact_write_items
    if not getattr(Table.query, "partition_query", False):
        Table.query = _partition_query(Table.query)
        Table.all_items = _partition_all_items(Table.all_items)

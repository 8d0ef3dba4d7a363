"""PynamoDB plumbing shared by every model.

Table names come from the environment (set by template.yaml); the endpoint
comes from botocore's own configuration, so AWS_ENDPOINT_URL points every
model at the local stack's moto server without code changes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import AttributeDeserializationError, DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from gridpulse.observability import count, logger

M = TypeVar("M", bound=Model)


def table_name(env_var: str, default: str) -> str:
    return os.environ.get(env_var, default)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@functools.cache
def connection() -> Connection:
    """The connection transactions go through: one per container (creating it
    builds a botocore client, ~0.2 s of CPU)."""
    return Connection(region=region())


def reset_connection() -> None:
    connection.cache_clear()


def gsi(name: str, hash_attr: str, range_attr: str, range_type=UnicodeAttribute, projection=AllProjection):
    """A global secondary index for a model: `by_owner = gsi("by-owner", "owner_id", "owner_sk")`.

    The names must match the index declared on the table in template.yaml."""
    attrs = {
        "Meta": type("Meta", (), {"index_name": name, "projection": projection()}),
        hash_attr: UnicodeAttribute(hash_key=True),
        range_attr: range_type(range_key=True),
    }
    return type(f"Index_{name.replace('-', '_')}", (GlobalSecondaryIndex,), attrs)()


# ---------------------------------------------------------------- tolerant loads

# What a stored item that cannot be read back looks like: an attribute of the
# wrong type (PynamoDB), or a response the SDK cannot parse at all.
LOAD_ERRORS = (AttributeDeserializationError, AttributeError, KeyError, TypeError, ValueError)


def skip_unreadable(kind: str, key: Any, reason: str) -> None:
    """Log and count (metric UnreadableItemSkipped) a stored item left out because it cannot be read back."""
    logger.error("unreadable item skipped", extra={"kind": kind, "key": str(key), "reason": reason})
    count("UnreadableItemSkipped")


def _missing_required(item: Model) -> list[str]:
    return [name for name, attr in item.get_attributes().items() if not attr.null and getattr(item, name, None) is None]


def _key_of(item: Model) -> tuple:
    return tuple(
        getattr(item, name, None)
        for name, attr in item.get_attributes().items()
        if attr.is_hash_key or attr.is_range_key
    )


def intact(items: Iterable[M], kind: str) -> Iterator[M]:
    """The items of a Query (or any list of loaded items) that were read back
    whole. One that fails to deserialize, or lacks an attribute its model
    requires, is skipped, logged and counted (metric UnreadableItemSkipped),
    so that one bad item costs only itself, never the whole list.

    Safe on a PynamoDB result iterator: it has moved past an item before
    deserializing it, so iteration goes on after a failure (and the page's
    last_evaluated_key is unchanged)."""
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except AttributeDeserializationError as exc:
            skip_unreadable(kind, None, f"{type(exc).__name__}: {exc}")
            continue
        missing = _missing_required(item)
        if missing:
            skip_unreadable(kind, _key_of(item), f"missing {', '.join(missing)}")
            continue
        yield item


def batch_get_intact(model: type[M], keys: Iterable, kind: str, attributes_to_get: list[str] | None = None) -> list[M]:
    """Model.batch_get, tolerating items that cannot be read back: when the
    batch fails to load, its keys are read one by one and only the unreadable
    ones are skipped (logged and counted, as in `intact`)."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return []
    try:
        loaded = list(model.batch_get(keys, attributes_to_get=attributes_to_get))
    except LOAD_ERRORS as exc:
        logger.warning(
            "batch read failed to load; reading its items one by one", extra={"kind": kind, "error": type(exc).__name__}
        )
        loaded = []
        for key in keys:
            hash_key, range_key = key if isinstance(key, tuple) else (key, None)
            try:
                loaded.append(model.get(hash_key, range_key, attributes_to_get=attributes_to_get))
            except DoesNotExist:
                continue
            except LOAD_ERRORS as item_exc:
                skip_unreadable(kind, key, f"{type(item_exc).__name__}: {item_exc}")
    return list(intact(loaded, kind))


def get_or_none(model: type[M], hash_key: Any, range_key: Any = None, **kwargs: Any) -> M | None:
    """`model.get(...)`, or None when there is no such item (DoesNotExist);
    keyword arguments (consistent_read, attributes_to_get) are passed on."""
    try:
        return model.get(hash_key, range_key, **kwargs)
    except DoesNotExist:
        return None

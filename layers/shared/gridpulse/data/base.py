"""PynamoDB plumbing shared by every model.

Table names come from the environment (set by template.yaml); the endpoint
comes from botocore's own configuration, so AWS_ENDPOINT_URL points every
model at the local stack's moto server without code changes.
"""
from __future__ import annotations

import functools
import os

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex


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

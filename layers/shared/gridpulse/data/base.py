"""PynamoDB plumbing shared by every model.

Table names come from the environment (set by template.yaml); the endpoint
comes from botocore's own configuration, so AWS_ENDPOINT_URL points every
model at the local stack's moto server without code changes.
"""
from __future__ import annotations

import functools
import os

from pynamodb.connection import Connection


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

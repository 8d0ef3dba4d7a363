"""boto3 clients, created once per container and reused across invocations."""

from __future__ import annotations

import functools

import boto3


@functools.cache
def client(service: str):
    return boto3.session.Session().client(service)


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints between runs)."""
    from gridpulse.dynamodb import reset_connection

    client.cache_clear()
    reset_connection()

"""Where the Tuya access token lives, shared by every function container.

A Tuya refresh token works once, and a refresh invalidates the old access
token: two containers refreshing at once would break each other. So the token
is one record with a `version`, and a refresh happens under a lease: the
container that takes the lease (`try_lock`, a conditional write) fetches the
new token and writes it (`put`, conditional on still holding the lease); the
others wait for the version to change and re-read.

`DynamoTokenStore` keeps the record in the billing table (pk `TUYA#TOKEN`,
sk `TOKEN`); `MemoryTokenStore` is the same contract in memory (tests, tools).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Protocol

TOKEN_PK = "TUYA#TOKEN"
TOKEN_SK = "TOKEN"


@dataclasses.dataclass(frozen=True)
class Token:
    access_token: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False)
    expires_at_ms: int  # Tuya's clock
    version: int = 0

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Token(version={self.version}, expires_at_ms={self.expires_at_ms})"


class TokenStore(Protocol):
    def get(self) -> Token | None:
        """The stored token (None if there is none yet)."""

    def try_lock(self, owner: str, now_ms: int, lease_ms: int) -> bool:
        """Take the refresh lease if no one holds an unexpired one."""

    def put(self, token: Token, owner: str) -> bool:
        """Store `token` with version + 1 and release the lease, only while `owner` holds it."""

    def unlock(self, owner: str) -> None:
        """Release the lease if `owner` holds it (a refresh that failed)."""


class MemoryTokenStore:
    """A TokenStore in this process's memory, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._owner: str | None = None
        self._until = 0
        self.puts = 0  # how many tokens were stored (tests count refreshes)

    def get(self) -> Token | None:
        with self._lock:
            return self._token

    def try_lock(self, owner: str, now_ms: int, lease_ms: int) -> bool:
        with self._lock:
            if self._owner is not None and self._until > now_ms:
                return False
            self._owner, self._until = owner, now_ms + lease_ms
            return True

    def put(self, token: Token, owner: str) -> bool:
        with self._lock:
            if self._owner != owner:
                return False
            version = (self._token.version if self._token else 0) + 1
            self._token = dataclasses.replace(token, version=version)
            self._owner, self._until = None, 0
            self.puts += 1
            return True

    def unlock(self, owner: str) -> None:
        with self._lock:
            if self._owner == owner:
                self._owner, self._until = None, 0


class DynamoTokenStore:
    """The token record in a DynamoDB table with keys pk (S) / sk (S): one GetItem per read,
    conditional UpdateItems for the lease and the new token."""

    def __init__(self, table: str, client=None):
        self.table = table
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from gridpulse.aws import client

            self._client = client("dynamodb")
        return self._client

    _KEY = {"pk": {"S": TOKEN_PK}, "sk": {"S": TOKEN_SK}}

    def get(self) -> Token | None:
        item = self.client.get_item(TableName=self.table, Key=self._KEY, ConsistentRead=True).get("Item")
        if not item or "access_token" not in item:
            return None
        return Token(
            access_token=item["access_token"]["S"],
            refresh_token=item.get("refresh_token", {}).get("S", ""),
            expires_at_ms=int(item["expires_at_ms"]["N"]),
            version=int(item.get("version", {}).get("N", "0")),
        )

    def try_lock(self, owner: str, now_ms: int, lease_ms: int) -> bool:
        errors = self.client.exceptions
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._KEY,
                UpdateExpression="SET lock_owner = :o, lock_until = :u",
                ConditionExpression="attribute_not_exists(lock_until) OR lock_until < :now",
                ExpressionAttributeValues={
                    ":o": {"S": owner},
                    ":u": {"N": str(now_ms + lease_ms)},
                    ":now": {"N": str(now_ms)},
                },
            )
            return True
        except errors.ConditionalCheckFailedException:
            return False

    def put(self, token: Token, owner: str) -> bool:
        errors = self.client.exceptions
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._KEY,
                UpdateExpression=(
                    "SET access_token = :a, refresh_token = :r, expires_at_ms = :e, "
                    "version = if_not_exists(version, :zero) + :one REMOVE lock_owner, lock_until"
                ),
                ConditionExpression="lock_owner = :o",
                ExpressionAttributeValues={
                    ":a": {"S": token.access_token},
                    ":r": {"S": token.refresh_token},
                    ":e": {"N": str(token.expires_at_ms)},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":o": {"S": owner},
                },
            )
            return True
        except errors.ConditionalCheckFailedException:
            return False

    def unlock(self, owner: str) -> None:
        errors = self.client.exceptions
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._KEY,
                UpdateExpression="REMOVE lock_owner, lock_until",
                ConditionExpression="lock_owner = :o",
                ExpressionAttributeValues={":o": {"S": owner}},
            )
        except errors.ConditionalCheckFailedException:
            pass

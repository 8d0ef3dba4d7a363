"""The identity table: users, their login names, reset tokens and counters.

One table, key `pk` (string), item kinds told apart by the key prefix:

| item              | pk                         | why                                   |
|-------------------|----------------------------|---------------------------------------|
| user              | `user#<user_id>`           | GetItem on every authenticated call   |
| login name claim  | `email#<email>` / `username#<name>` | unique, strongly-consistent login lookup |
| reset token       | `reset#<sha256 of token>`  | single-use, expires through TTL       |
| login attempts    | `attempts-account#<user_id>` (`attempts#<login>` for a name that is no account) | lockout after repeated failures, TTL |
| counter           | `counter#users`            | /admin/stats without a Scan           |

Users are listed through the sparse GSI `users-by-created` (list_pk, list_sk).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from gridpulse.dynamodb import gsi, region, table_name

USERS_TABLE = table_name("USERS_TABLE", "gridpulse-users")


class _Meta:
    table_name = USERS_TABLE
    region = region()


class UserItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    email = UnicodeAttribute()
    username = UnicodeAttribute(null=True)
    name = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    role = UnicodeAttribute()
    hotel_ids = ListAttribute(of=UnicodeAttribute, default=list)
    cities = ListAttribute(of=UnicodeAttribute, default=list)
    city = UnicodeAttribute(null=True)
    active = BooleanAttribute(default=True)
    # Bumped on password change/reset and deactivation: older JWTs stop working.
    token_version = NumberAttribute(default=1)
    # jti -> exp of tokens revoked by logout; expired entries are pruned on write.
    revoked = MapAttribute(default=dict)
    # Only the newest reset token whose nonce matches is honoured.
    reset_nonce = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    list_pk = UnicodeAttribute(default="users")
    list_sk = UnicodeAttribute()

    by_created = gsi("users-by-created", "list_pk", "list_sk")

    @staticmethod
    def key(user_id: str) -> str:
        return f"user#{user_id}"


class LoginNameItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()

    @staticmethod
    def email_key(email: str) -> str:
        return f"email#{email.strip().lower()}"

    @staticmethod
    def username_key(username: str) -> str:
        return f"username#{username.strip().lower()}"


class ResetTokenItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    nonce = UnicodeAttribute()
    expires_at = NumberAttribute()
    # DynamoDB TTL, epoch seconds (not milliseconds).
    ttl = NumberAttribute()

    @staticmethod
    def key(token_hash: str) -> str:
        return f"reset#{token_hash}"


class LoginAttemptsItem(Model):
    """Login attempts in the current window of one account (`account_key`,
    whichever of its login names was used) or, for a login name that is no
    account, of that name (`key`), so that a lockout says nothing about
    whether an account exists; expires with its window."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    since = NumberAttribute()
    ttl = NumberAttribute()

    @staticmethod
    def key(login: str) -> str:
        return f"attempts#{login.strip().lower()}"

    @staticmethod
    def account_key(user_id: str) -> str:
        return f"attempts-account#{user_id}"


class CounterItem(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    total = NumberAttribute(default=0)
    active = NumberAttribute(default=0)

    USERS = "counter#users"

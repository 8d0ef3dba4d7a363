"""Password reset: POST /auth/forgot-password queues the address
(AuthFunction), PasswordResetFunction mails a single-use token, and
POST /auth/reset-password sets the new password with it.
"""

from __future__ import annotations

import json
import secrets
import time

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from gridpulse.accounts.authentication import load_user
from gridpulse.accounts.data import ResetTokenItem, UserItem
from gridpulse.accounts.users import user_id_for_login
from gridpulse.aws import client
from gridpulse.dynamodb import connection, get_or_none
from gridpulse.errors import BadRequest, field_error
from gridpulse.mailer import send_email
from gridpulse.observability import count, each_record, logger
from gridpulse.security import passwords
from gridpulse.security.opaque import new_secret, secret_hash
from gridpulse.settings import get_settings
from gridpulse.timeutil import iso, utcnow


def request_password_reset(email: str) -> None:
    """POST /auth/forgot-password: queue the address for PasswordResetFunction.

    The request path does exactly this for any address, known or not (no
    lookup, no mail, no sleep), so neither the answer nor its timing says
    whether an account exists, and no worker waits on a mail server.
    """
    client("sqs").send_message(
        QueueUrl=get_settings().password_reset_queue_url, MessageBody=json.dumps({"email": email})
    )


def handle_reset_requests(event: dict) -> dict:
    """PasswordResetFunction: one `forgot_password` per queued address; a
    failed one (SES or DynamoDB down) is retried by SQS."""
    failures = []
    for record in each_record(event):  # each logged with its message id as correlation id
        try:
            email = json.loads(record["body"])["email"]
        except (KeyError, TypeError, ValueError):
            logger.warning("reset request skipped: no email", extra={"message_id": record.get("messageId")})
            continue
        if not isinstance(email, str):
            logger.warning("reset request skipped: no email", extra={"message_id": record.get("messageId")})
            continue
        try:
            forgot_password(email)
        except Exception:
            logger.exception("reset email not sent; will be retried", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def forgot_password(email: str) -> None:
    """Email a single-use reset token if an active account has this email
    (run off the request path, from the reset queue)."""
    user_id = user_id_for_login(email) if "@" in email else None
    user = load_user(user_id) if user_id else None
    if user is None or not user.active:
        logger.info("password reset requested for an unknown or inactive account")
        return
    settings = get_settings()
    token = new_secret()
    nonce = secrets.token_hex(8)
    expires_at = int(time.time()) + settings.reset_token_ttl_seconds
    with TransactWrite(connection=connection()) as tx:
        tx.save(
            ResetTokenItem(
                ResetTokenItem.key(secret_hash(token)),
                user_id=user.user_id,
                nonce=nonce,
                expires_at=expires_at,
                ttl=expires_at,
            )
        )
        tx.update(
            UserItem(UserItem.key(user.user_id)),
            actions=[UserItem.reset_nonce.set(nonce)],
            condition=UserItem.pk.exists(),
        )
    minutes = settings.reset_token_ttl_seconds // 60
    send_email(
        user.email,
        "Reset your GridPulse password",
        f"Hello {user.name},\n\n"
        f"Someone asked to reset the password of your GridPulse account. If it was you, open this link "
        f"within {minutes} minutes to choose a new password. It works once.\n\n"
        f"{settings.web_origin.rstrip('/')}/#/reset?token={token}\n\n"
        f"Reset token: {token}\n\n"
        f"Or with the API:\n"
        f"curl -X POST {settings.public_url}/auth/reset-password -H 'Content-Type: application/json' "
        f'-d \'{{"token": "{token}", "password": "<new password>"}}\'\n\n'
        f"If it was not you, ignore this email: your password stays as it is.\n",
    )
    count("PasswordResetRequested")


def reset_password(token: str, new_password: str) -> None:
    """Set a new password with a reset token; the token works once.

    Success also revokes every access token and every other reset token of
    the user. Any failure is the same 400, whether the token never existed,
    expired, was used, or was superseded.
    """
    invalid = BadRequest(
        "The reset token is invalid or has expired.",
        code="invalid_reset_token",
        fields=[field_error("token", "invalid, used or expired")],
    )
    item = get_or_none(ResetTokenItem, ResetTokenItem.key(secret_hash(token)), consistent_read=True)
    if item is None:
        raise invalid
    if item.expires_at <= time.time():
        raise invalid
    user = load_user(item.user_id)
    if user is None or not user.active or user.reset_nonce != item.nonce:
        raise invalid
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(item, condition=ResetTokenItem.pk.exists())
            tx.update(
                UserItem(UserItem.key(user.user_id)),
                actions=[
                    UserItem.password_hash.set(passwords.hash_password(new_password)),
                    UserItem.token_version.add(1),
                    UserItem.revoked.set({}),
                    UserItem.reset_nonce.remove(),
                    UserItem.updated_at.set(iso(utcnow())),
                ],
                condition=UserItem.reset_nonce == item.nonce,
            )
    except TransactWriteError:
        raise invalid from None
    count("PasswordReset")

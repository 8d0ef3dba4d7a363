"""Emails sent through SES in the local stack, read back from moto's backend.

moto accepts SendEmail and keeps the message instead of delivering it; the
gateway shows these at GET /_local/outbox so that a person (or a test) can
read a password-reset email.
"""
from __future__ import annotations


def sent_emails(account: str, region: str) -> list[dict]:
    from moto.ses.models import ses_backends

    backend = ses_backends[account][region]
    out = []
    for message in list(backend.sent_messages):
        destinations = getattr(message, "destinations", {}) or {}
        out.append({
            "message_id": message.id,
            "from": message.source,
            "to": list(destinations.get("ToAddresses", [])),
            "subject": getattr(message, "subject", None),
            "body": getattr(message, "body", None),
        })
    return out

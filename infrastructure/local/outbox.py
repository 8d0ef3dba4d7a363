"""Emails "sent" in the local stack, read back from moto.

Two senders: SES (account emails such as password resets: moto keeps the
message) and SNS topics with email subscriptions (alert notifications: moto
keeps each published message; an email subscriber receives it when the
subscription's filter policy matches the message attributes, as SNS would).
The gateway shows both at GET /_local/outbox.
"""

from __future__ import annotations

import json


def _ses(account: str, region: str) -> list[dict]:
    from moto.ses.models import ses_backends

    out = []
    for message in list(ses_backends[account][region].sent_messages):
        destinations = getattr(message, "destinations", {}) or {}
        out.append(
            {
                "message_id": message.id,
                "from": message.source,
                "to": list(destinations.get("ToAddresses", [])),
                "subject": getattr(message, "subject", None),
                "body": getattr(message, "body", None),
            }
        )
    return out


def _filter_matches(policy: dict, attributes: dict) -> bool:
    for name, allowed in policy.items():
        value = (attributes or {}).get(name, {})
        text = value.get("Value", value.get("StringValue")) if isinstance(value, dict) else value
        if text not in allowed:
            return False
    return True


def _sns(account: str, region: str) -> list[dict]:
    from moto.sns.models import sns_backends

    backend = sns_backends[account][region]
    out = []
    for topic in list(backend.topics.values()):
        subscribers = [s for s in backend.subscriptions.values() if s.topic.arn == topic.arn and s.protocol == "email"]
        for message_id, message, subject, attributes, _ in list(topic.sent_notifications):
            for sub in subscribers:
                policy = json.loads(sub.attributes.get("FilterPolicy") or "{}")
                if _filter_matches(policy, attributes or {}):
                    out.append(
                        {
                            "message_id": message_id,
                            "from": f"sns:{topic.name}",
                            "to": [sub.endpoint],
                            "subject": subject,
                            "body": message,
                        }
                    )
    return out


def sent_emails(account: str, region: str) -> list[dict]:
    return _ses(account, region) + _sns(account, region)

"""Outgoing email through Amazon SES (in the local stack: moto's SES, whose
sent messages the gateway shows at /_local/outbox)."""

from __future__ import annotations

from gridpulse.aws import client
from gridpulse.settings import get_settings


def send_email(to: str, subject: str, text: str) -> str:
    response = client("ses").send_email(
        Source=get_settings().mail_from,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
    )
    return response["MessageId"]

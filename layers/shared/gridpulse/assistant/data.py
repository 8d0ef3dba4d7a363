"""Conversations of the assistant: what the last answer was about, so that a
follow-up ("and yesterday?", "which device?") can reuse it. One item per
conversation, read and written by its key only, expiring CONVERSATION_TTL_S
after the last question (DynamoDB TTL on `expires_at`, template.yaml)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from gridpulse.dynamodb import region, table_name

CONVERSATIONS_TABLE = table_name("CONVERSATIONS_TABLE", "gridpulse-conversations")
CONVERSATION_TTL_S = 15 * 60


class ConversationItem(Model):
    class Meta:
        table_name = CONVERSATIONS_TABLE
        region = region()

    conversation_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    intent = UnicodeAttribute()
    slots = UnicodeAttribute(default="{}")  # JSON: the period slots of the last answer
    target = UnicodeAttribute(null=True)
    city = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()  # epoch seconds (TTL)

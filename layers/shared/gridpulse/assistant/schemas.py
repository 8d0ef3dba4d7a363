"""Request and response bodies of the assistant (the REST contract's "Predictions and assistant")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gridpulse.schemas import Input, Output, label, text

Intent = Literal[
    "consumption",
    "top_consumers",
    "current_power",
    "alerts",
    "temperature",
    "compare",
    "cost",
    "light_status",
    "balance",
    "forecast",
    "help",
    "unknown",
]


class ChatQueryIn(Input):
    question: text(500, min_length=1, description="the question, 1 to 500 characters")
    conversation_id: label(64, 8, pattern=r"^[A-Za-z0-9-]+$") | None = Field(
        None, description="from an earlier answer: a follow-up ('and yesterday?') reuses its subject"
    )
    tz: label(64) | None = Field(
        None, description="IANA time zone the periods are read in; default the devices' site zone, else UTC"
    )


class ChatPeriodOut(Output):
    start: str
    end: str
    label: str


class ChatAnswerOut(Output):
    answer: str
    intent: Intent
    data: dict[str, Any]
    period: ChatPeriodOut | None = None
    suggestions: list[str]
    conversation_id: str

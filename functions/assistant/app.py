"""Assistant endpoint group: POST /chatbot/query, questions about the caller's
own energy answered from the caller's own data (gridpulse.assistant)."""

from __future__ import annotations

from gridpulse.api import BEARER, create_app, current_caller, lambda_handler
from gridpulse.assistant import service as assistant
from gridpulse.assistant.recognize import intents
from gridpulse.assistant.schemas import ChatAnswerOut, ChatQueryIn

app = create_app()
intents()  # the sentence templates are parsed once per container, at init


@app.post(
    "/chatbot/query",
    tags=["assistant"],
    summary="Ask about your own energy: consumption, top consumers, power, alerts, temperatures, cost, lights, balance",
    security=BEARER,
)
def chatbot_query(body: ChatQueryIn) -> ChatAnswerOut:
    return assistant.answer(current_caller(app), body.question, body.tz, body.conversation_id)


handler = lambda_handler(app, group="assistant")

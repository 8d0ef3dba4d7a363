"""The assistant end to end over HTTP: a user whose meter reported through
POST /telemetry asks "how much energy did I use today?" and gets the kWh that
GET /devices/{id}/energy gives for the same period; a follow-up in the same
conversation moves the period; another user asking the same sees none of it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

pytestmark = pytest.mark.e2e


def _user(stack, label: str) -> str:
    email = f"assistant.{label}.{uuid.uuid4().hex[:8]}.e2e@example.com"
    registered = stack.request(
        "POST", "/auth/register", json={"name": label, "email": email, "password": "correct-horse-1"}
    )
    assert registered.status_code == 201, registered.text
    return registered.json()["token"]


def _ask(stack, token, question, **extra) -> dict:
    response = stack.request("POST", "/chatbot/query", token, json={"question": question, "tz": "UTC", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_user_asks_about_their_own_consumption(stack):
    owner, other = _user(stack, "owner"), _user(stack, "other")
    created = stack.request("POST", "/devices", owner, json={"name": "Flat meter", "device_type": "meter"})
    assert created.status_code == 201, created.text
    meter = created.json()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    readings = [
        {"timestamp": (now - timedelta(minutes=10 - i)).isoformat(), "energy_kwh": 50 + i * 0.04, "power_w": 2400}
        for i in range(10)
    ]
    sent = stack.request(
        "POST", "/telemetry", headers={"X-API-Key": meter["credentials"]["api_key"]}, json={"readings": readings}
    )
    assert sent.status_code == 201, sent.text

    answer = _ask(stack, owner, "How much energy did I use today?")
    assert answer["intent"] == "consumption" and answer["period"]["label"] == "today"
    energy = stack.request(
        "GET",
        f"/devices/{meter['device_id']}/energy",
        owner,
        params={"period": "day", "start": answer["period"]["start"], "end": answer["period"]["end"], "tz": "UTC"},
    )
    assert energy.status_code == 200, energy.text
    kwh = Decimal(str(energy.json()["total_kwh"]))
    assert kwh > 0 and Decimal(answer["data"]["total_kwh"]) == kwh
    assert f"{kwh.quantize(Decimal('0.001'))} kWh" in answer["answer"]

    follow = _ask(stack, owner, "and yesterday?", conversation_id=answer["conversation_id"])
    assert follow["intent"] == "consumption" and follow["period"]["label"] == "yesterday"
    assert follow["data"]["devices"][0]["device_id"] == meter["device_id"]

    theirs = _ask(stack, other, "How much energy did I use today?")
    assert Decimal(theirs["data"]["total_kwh"]) == 0 and meter["device_id"] not in str(theirs)
    assert _ask(stack, other, "how much did the flat meter use today")["intent"] == "unknown"
    assert stack.request("POST", "/chatbot/query", json={"question": "hello"}).status_code == 401

"""Answers of the assistant (POST /chatbot/query).

Every figure comes from the caller's own data through the functions the API
routes use: kWh from gridpulse.telemetry.service.energy (GET
/devices/{id}/energy, period=day, in the answer's time zone), current power and
temperatures from gridpulse.telemetry.service.latest (GET
/devices/{id}/readings/latest), open alerts from
gridpulse.alerts.service.list_alerts (GET /alerts?status=open), lights from
gridpulse.lights.service.summary (GET /lights/summary), prepaid balances from
the billing books (what GET /devices/{id}/balance answers with source "cache"),
forecasts from the newest stored forecast of each device
(gridpulse.forecasts.service.newest, GET /devices/{id}/prediction; the reads
only: numpy and scikit-learn are never imported here).
The devices considered are those the caller sees (list_visible, as GET
/devices), at most MAX_DEVICES; a name in a question is looked up among those
only, so another user's device or hotel is as unknown as one that does not
exist (the answer does not say which).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import time
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from gridpulse.accounts.roles import Caller
from gridpulse.assistant import periods
from gridpulse.assistant.data import CONVERSATION_TTL_S, ConversationItem
from gridpulse.assistant.language import phrases, say, speaking
from gridpulse.assistant.recognize import DEFAULT_LANGUAGE, Recognized, recognize
from gridpulse.devices.context import require_context
from gridpulse.dynamodb import get_or_none
from gridpulse.errors import BadRequest, NotFound, field_error
from gridpulse.timeutil import utcnow, zone

MAX_DEVICES = 500
MAX_QUESTION = 500
TOP = 5
_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")

INTENTS = {
    "Consumption": "consumption",
    "TopConsumers": "top_consumers",
    "CurrentPower": "current_power",
    "Alerts": "alerts",
    "Temperature": "temperature",
    "Compare": "compare",
    "Cost": "cost",
    "LightStatus": "light_status",
    "Balance": "balance",
    "Forecast": "forecast",
    "Help": "help",
}
# What a follow-up may continue: the intents about energy over a period of some devices.
PERIOD_INTENTS = {"Consumption", "TopConsumers", "Cost", "Compare"}


# ---------------------------------------------------------------- input


def check_question(question: object) -> str:
    if not isinstance(question, str) or not question.strip():
        raise BadRequest(
            "question must not be empty",
            code="validation_error",
            fields=[field_error("question", "a non-empty question")],
        )
    if len(question) > MAX_QUESTION:
        raise BadRequest(
            f"question is longer than {MAX_QUESTION} characters",
            code="validation_error",
            fields=[field_error("question", f"at most {MAX_QUESTION} characters")],
        )
    return question.strip()


def _conversation_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not _CONVERSATION_ID.match(value):
        raise BadRequest(
            "conversation_id is not one this service gave",
            code="validation_error",
            fields=[field_error("conversation_id", "8 to 64 letters, digits or dashes")],
        )
    return value


# ---------------------------------------------------------------- numbers


def _kwh(value: float | Decimal) -> Decimal:
    """A kWh figure of the energy route (a float rounded to 6 places) as an exact Decimal."""
    return Decimal(str(value)).normalize() if value else Decimal("0")


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _say(value: Decimal, places: str = "0.01") -> str:
    return format(value.quantize(Decimal(places), rounding=ROUND_HALF_UP), "f")


# ---------------------------------------------------------------- what the caller sees


def visible_devices(caller: Caller) -> list[dict]:
    """The devices the caller sees (as GET /devices), at most MAX_DEVICES."""
    from gridpulse.devices import service as devices

    found: list[dict] = []
    token = None
    while len(found) < MAX_DEVICES:
        page = devices.list_visible(caller, {}, min(100, MAX_DEVICES - len(found)), token)
        found += page["items"]
        token = page["next_token"]
        if not token:
            break
    return found


def _site_names(devices: list[dict]) -> tuple[dict[str, str], dict[str, str]]:
    """Room numbers by room id and hotel names by hotel id of these devices (BatchGetItem)."""
    from gridpulse.sites.data import HotelItem, RoomItem, key

    room_ids = sorted({d["room_id"] for d in devices if d.get("room_id")})
    hotel_ids = sorted({d["hotel_id"] for d in devices if d.get("hotel_id")})
    rooms = {r.room_id: r.room_number for r in RoomItem.batch_get([key("room", r) for r in room_ids])}
    hotels = {h.hotel_id: h.hotel_name for h in HotelItem.batch_get([key("hotel", h) for h in hotel_ids])}
    return rooms, hotels


def _norm(text: str) -> str:
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    while words and words[0] in ("the", "my", "our"):
        words = words[1:]
    return " ".join(words)


def _close(wanted: str, names: list[str], cutoff: float) -> list[str]:
    """The closest name (difflib), never one whose numbers differ: "meter 2" is not "meter 1"."""
    numbers = set(re.findall(r"\d+", wanted))
    return difflib.get_close_matches(
        wanted, [n for n in names if numbers <= set(re.findall(r"\d+", n))], n=1, cutoff=cutoff
    )


def resolve_target(text: str, devices: list[dict]) -> tuple[list[dict], str] | None:
    """The devices a name in a question means, among `devices`, and how to call
    them: a device's id or name (exact, contained, or close), "room 101" (every visible
    room of that number), or a hotel's name (its devices). None when nothing fits."""
    wanted = _norm(text)
    if not wanted:
        return None
    by_id = {d["device_id"]: d for d in devices}
    if text.strip() in by_id:
        return [by_id[text.strip()]], by_id[text.strip()]["name"]
    by_name = {_norm(d["name"]): d for d in devices}
    if wanted in by_name:
        return [by_name[wanted]], by_name[wanted]["name"]
    rooms, hotels = _site_names(devices) if any(d.get("room_id") or d.get("hotel_id") for d in devices) else ({}, {})
    room = re.fullmatch(r"(?:room|rm)\s*(\w+)(?:\s+(?:meter|device))?", wanted)
    if room:
        found = [d for d in devices if d.get("room_id") and rooms.get(d["room_id"], "").lower() == room.group(1)]
        if found:
            return found, f"room {room.group(1)}"
    hotel_names = {_norm(name): hid for hid, name in hotels.items()}
    hotel = hotel_names.get(wanted) or next(
        iter(hotel_names[m] for m in _close(wanted, list(hotel_names), cutoff=0.85)), None
    )
    if hotel:
        return [d for d in devices if d.get("hotel_id") == hotel], hotels[hotel]
    contained = [d for n, d in by_name.items() if wanted in n.split() or (len(wanted) >= 4 and wanted in n)]
    if len(contained) == 1:
        return contained, contained[0]["name"]
    close = _close(wanted, list(by_name), cutoff=0.75)
    if close:
        return [by_name[close[0]]], by_name[close[0]]["name"]
    return (contained, text) if contained else None


def _zone_for(devices: list[dict], tz_name: str | None) -> str:
    """The time zone periods are read in: the one asked for, else the site zone the
    devices share, else UTC."""
    if tz_name:
        return tz_name
    zones = {c.tz for c in _contexts(devices)}
    return zones.pop() if len(zones) == 1 else "UTC"


# ---------------------------------------------------------------- figures (the API's own functions)


def _contexts(devices: list[dict]) -> list:
    """The telemetry contexts (site time zone) of these devices, read together (contexts_for)."""
    from gridpulse.devices.context import contexts_for

    found = contexts_for([d["device_id"] for d in devices])
    return [found[d["device_id"]] or require_context(d["device_id"]) for d in devices]


def energy_by_device(devices: list[dict], period: periods.Period, tz_name: str) -> list[dict]:
    """kWh of each device over the period: what GET /devices/{id}/energy?period=day&start&end&tz
    answers as total_kwh, read for all the devices at once (telemetry.service.day_totals)."""
    from gridpulse.telemetry import service as telemetry
    from gridpulse.timeutil import iso

    totals = {}
    if period.end > period.start and devices:
        totals = telemetry.day_totals(_contexts(devices), iso(period.start), iso(period.end), tz_name)
    rows = [
        {"device_id": d["device_id"], "name": d["name"], "kwh": _kwh(totals.get(d["device_id"], 0))} for d in devices
    ]
    rows.sort(key=lambda r: (-r["kwh"], r["name"]))
    return rows


def _energy_rows(rows: list[dict]) -> list[dict]:
    return [{**r, "kwh": _text(r["kwh"])} for r in rows]


def latest_readings(devices: list[dict]) -> list[dict]:
    """The newest reading of each device (GET /devices/{id}/readings/latest, read for all the
    devices at once: telemetry.service.latest_many), None-free."""
    from gridpulse.telemetry import service as telemetry

    found = telemetry.latest_many(_contexts(devices)) if devices else {}
    return [{"device": d, "reading": found[d["device_id"]]} for d in devices if found.get(d["device_id"]) is not None]


# ---------------------------------------------------------------- the intents


def _answer(text: str, intent: str, data: dict, suggestions: list[str], period: periods.Period | None = None) -> dict:
    out = {"answer": text, "intent": intent, "data": data, "suggestions": suggestions}
    if period is not None:
        out["period"] = period.as_dict()
    return out


def _unknown(text: str | None = None) -> dict:
    examples = phrases("examples")
    return _answer((text or say("not_understood")) + " " + say("help"), "unknown", {"examples": examples}, examples[:4])


def _scope_words(target: str | None, devices: list[dict]) -> str:
    if target:
        return say("for_target", target=target)
    return say("across_devices", count=len(devices))


def _whose(target: str | None) -> str:
    return say("of_target", target=target) if target else ""


def consumption(devices, period, tz_name, target) -> dict:
    rows = energy_by_device(devices, period, tz_name)
    total = sum((r["kwh"] for r in rows), Decimal("0"))
    text = say("consumption.total", kwh=_say(total, "0.001"), period=period.label, scope=_scope_words(target, devices))
    if len(rows) > 1 and rows[0]["kwh"] > 0:
        text += say("consumption.most", name=rows[0]["name"], kwh=_say(rows[0]["kwh"], "0.001"))
    data = {"total_kwh": _text(total), "unit": "kWh", "tz": tz_name, "devices": _energy_rows(rows)}
    return _answer(text + ".", "consumption", data, phrases("consumption.suggestions"), period)


def top_consumers(devices, period, tz_name, target) -> dict:
    rows = energy_by_device(devices, period, tz_name)
    total = sum((r["kwh"] for r in rows), Decimal("0"))
    used = [r for r in rows if r["kwh"] > 0][:TOP]
    if not used:
        text = say("top_consumers.none", whose=_whose(target), period=period.label)
    else:
        parts = [say("top_consumers.device", name=r["name"], kwh=_say(r["kwh"], "0.001")) for r in used]
        text = say("top_consumers.list", count=len(used), period=period.label, devices=", ".join(parts))
    data = {"total_kwh": _text(total), "unit": "kWh", "tz": tz_name, "devices": _energy_rows(rows[:TOP])}
    return _answer(text, "top_consumers", data, phrases("top_consumers.suggestions"), period)


def current_power(devices, target) -> dict:
    from gridpulse.telemetry.service import FRESH_MS

    now_ms = int(utcnow().timestamp() * 1000)
    rows, total = [], Decimal("0")
    for row in latest_readings(devices):
        reading, d = row["reading"], row["device"]
        ts = datetime.fromisoformat(reading["timestamp"].replace("Z", "+00:00"))
        fresh = now_ms - int(ts.timestamp() * 1000) <= FRESH_MS
        power = Decimal(str(reading.get("power_w") or 0)) if fresh else Decimal("0")
        total += power
        rows.append(
            {
                "device_id": d["device_id"],
                "name": d["name"],
                "power_w": _text(power),
                "timestamp": reading["timestamp"],
                "fresh": fresh,
            }
        )
    fresh_count = sum(1 for r in rows if r["fresh"])
    if not fresh_count:
        text = say("current_power.none", whose=_whose(target))
    else:
        text = say("current_power.total", whose=_whose(target), watts=_say(total, "0.1"), count=fresh_count)
    return _answer(
        text,
        "current_power",
        {"total_power_w": _text(total), "unit": "W", "devices": rows},
        phrases("current_power.suggestions"),
    )


def temperature(devices, target) -> dict:
    rows = [
        {
            "device_id": r["device"]["device_id"],
            "name": r["device"]["name"],
            "temperature": r["reading"]["temperature"],
            "timestamp": r["reading"]["timestamp"],
        }
        for r in latest_readings(devices)
        if r["reading"].get("temperature") is not None
    ]
    rows.sort(key=lambda r: r["name"])
    if not rows:
        text = say("temperature.none")
    else:
        shown = ", ".join(say("temperature.device", name=r["name"], temperature=r["temperature"]) for r in rows[:TOP])
        more = say("more", count=len(rows) - TOP) if len(rows) > TOP else ""
        text = say("temperature.list", devices=shown, more=more)
    return _answer(text, "temperature", {"unit": "°C", "devices": rows}, phrases("temperature.suggestions"))


def open_alerts(caller) -> dict:
    from gridpulse.alerts import service as alerts

    page = alerts.list_alerts(caller, {"status": "open"}, 50, None)
    items = page["items"]
    more = bool(page["next_token"])
    if not items:
        text = say("alerts.none")
    else:
        shown = "; ".join(
            f"{a.get('severity', '')} {a.get('alert_type', '')}: {a.get('message', '')}".strip() for a in items[:3]
        )
        text = say("alerts.list", count=len(items), plus="+" if more else "", alerts=shown)
    return _answer(
        text, "alerts", {"count": len(items), "more": more, "alerts": items[:10]}, phrases("alerts.suggestions")
    )


def compare(devices, first, second, tz_name, target) -> dict:
    a = sum((r["kwh"] for r in energy_by_device(devices, first, tz_name)), Decimal("0"))
    b = sum((r["kwh"] for r in energy_by_device(devices, second, tz_name)), Decimal("0"))
    diff = a - b
    if b:
        change = (diff / b * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        how = say("compare.more" if diff > 0 else "compare.less", percent=abs(change)) if diff else say("compare.same")
    else:
        change, how = None, say("compare.versus")
    text = say(
        "compare.text",
        first=first.label[:1].upper() + first.label[1:],
        kwh=_say(a, "0.001"),
        scope=_scope_words(target, devices),
        how=how,
        second=second.label,
        other_kwh=_say(b, "0.001"),
    )
    data = {
        "unit": "kWh",
        "tz": tz_name,
        "first": {**first.as_dict(), "total_kwh": _text(a)},
        "second": {**second.as_dict(), "total_kwh": _text(b)},
        "difference_kwh": _text(diff),
        "change_percent": str(change) if change is not None else None,
    }
    return _answer(text, "compare", data, phrases("compare.suggestions"), first)


def _tariff(devices: list[dict]) -> tuple[Decimal | None, str | None]:
    """The unit price of the caller's prepaid meters when they share one (billing books)."""
    from gridpulse.billing import service as billing

    prices = set()
    currency = None
    for d in devices:
        if d.get("device_type") != "prepaid_meter":
            continue
        books = billing.books(d["device_id"])
        if books.get("unit_price") is not None:
            prices.add(Decimal(str(books["unit_price"])))
            currency = books.get("currency_symbol") or books.get("currency") or currency
    return (prices.pop(), currency) if len(prices) == 1 else (None, None)


def cost(devices, period, tz_name, target, price: Decimal | None) -> dict:
    source = "stated"
    currency = None
    if price is None:
        price, currency = _tariff(devices)
        source = "prepaid_tariff"
    if price is None:
        example = say("cost.example", period=period.label)
        return _answer(say("cost.no_price", example=example), "cost", {"price_per_kwh": None}, [example], period)
    rows = energy_by_device(devices, period, tz_name)
    total = sum((r["kwh"] for r in rows), Decimal("0"))
    money = (total * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    symbol = currency or ""
    text = say(
        "cost.total",
        kwh=_say(total, "0.001"),
        period=period.label,
        scope=_scope_words(target, devices),
        symbol=symbol,
        price=_text(price),
        source=say(f"cost.{source}"),
        money=money,
    )
    data = {
        "total_kwh": _text(total),
        "price_per_kwh": _text(price),
        "price_source": source,
        "currency": currency,
        "cost": format(money, "f"),
        "tz": tz_name,
        "devices": _energy_rows(rows),
    }
    return _answer(text, "cost", data, phrases("cost.suggestions"), period)


def light_status(caller, city: str) -> dict:
    from gridpulse.lights import service as lights

    try:
        summary = lights.summary(caller, city)
    except NotFound:
        return _answer(
            say("light_status.none", city=city.title()),
            "light_status",
            {"city": city, "total_lights": 0},
            phrases("light_status.suggestions"),
        )
    text = say(
        "light_status.summary",
        city=(summary.get("city") or city).title(),
        on=summary["lights_on"],
        total=summary["total_lights"],
        off=summary["lights_off"],
        error=summary["lights_in_error"],
        offline=summary["lights_offline"],
    )
    return _answer(text, "light_status", summary, phrases("light_status.suggestions"))


def balance(caller, devices) -> dict:
    from gridpulse.billing import service as billing

    rows = []
    for d in devices:
        if d.get("device_type") != "prepaid_meter":
            continue
        meter = billing.meter_for(caller, d["device_id"])
        rows.append({"name": d["name"], **billing.balance_view(meter, billing.books(d["device_id"]), "cache")})
    if not rows:
        text = say("balance.none")
    else:
        parts = []
        for r in rows[:TOP]:
            figures = [
                f"{r.get('currency_symbol') or ''}{r['money_balance']}" if r["money_balance"] is not None else None,
                f"{r['energy_balance']} kWh" if r["energy_balance"] is not None else None,
            ]
            shown = " / ".join(f for f in figures if f) or say("balance.not_read")
            parts.append(say("balance.meter", name=r["name"], figures=shown, status=r["credit_status"]))
        text = say("balance.list", meters="; ".join(parts))
    return _answer(text, "balance", {"meters": rows}, phrases("balance.suggestions"))


def _when(timestamp: str) -> str:
    """An ISO timestamp of a forecast as the language's `time` ("2026-12-08 14:00 UTC")."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).strftime(say("time"))


def stored_forecasts(devices: list[dict]) -> tuple[list[dict], list[dict]]:
    """The newest stored forecast of each device (what GET /devices/{id}/prediction
    answers, one Query each), and the devices that have none."""
    from gridpulse.forecasts import service as forecasts  # the reads only: the model is imported by compute

    found, missing = [], []
    for d in devices:
        try:
            found.append({"device": d, "forecast": forecasts.newest(d["device_id"])})
        except NotFound:
            missing.append({"device_id": d["device_id"], "name": d["name"]})
    return found, missing


def forecast(devices, target) -> dict:
    """The newest stored forecasts of the devices summed: kWh over their hours
    with the lower and upper bounds, the window and when they were made."""
    found, missing = stored_forecasts(devices)
    if not found:
        return _answer(
            say("forecast.none", whose=_whose(target)),
            "forecast",
            {"available": False, "devices_without_forecast": missing},
            phrases("forecast.suggestions"),
        )
    rows = []
    for f in found:
        body, items = f["forecast"], f["forecast"]["items"]
        rows.append(
            {
                "device_id": f["device"]["device_id"],
                "name": f["device"]["name"],
                "forecast_id": body["forecast_id"],
                "generated_at": body["generated_at"],
                "method": body["method"],
                "start": items[0]["timestamp"] if items else None,
                "end": _hour_after(items[-1]["timestamp"]) if items else None,
                "hours": len(items),
                "kwh": sum((Decimal(i["kwh"]) for i in items), Decimal("0")),
                "kwh_lower": sum((Decimal(i["kwh_lower"]) for i in items), Decimal("0")),
                "kwh_upper": sum((Decimal(i["kwh_upper"]) for i in items), Decimal("0")),
            }
        )
    rows.sort(key=lambda r: (-r["kwh"], r["name"]))
    total, lower, upper = (sum((r[k] for r in rows), Decimal("0")) for k in ("kwh", "kwh_lower", "kwh_upper"))
    starts = sorted(r["start"] for r in rows if r["start"])
    ends = sorted(r["end"] for r in rows if r["end"])
    made = sorted(r["generated_at"] for r in rows)
    methods = sorted({r["method"] for r in rows})
    window = say("forecast.window", start=_when(starts[0]), end=_when(ends[-1])) if starts else ""
    made_at = (
        _when(made[0])
        if made[0] == made[-1]
        else say("forecast.made_between", first=_when(made[0]), last=_when(made[-1]))
    )
    text = say(
        "forecast.total",
        scope=say("forecast.scope", target=target) if target else "",
        kwh=_say(total, "0.001"),
        lower=_say(lower, "0.001"),
        upper=_say(upper, "0.001"),
        window=window,
        made=made_at,
        methods=say("forecast.methods", count=len(methods), methods=", ".join(methods)),
        devices="" if len(rows) == 1 else say("forecast.devices", count=len(rows)),
    )
    if missing:
        names = ", ".join(m["name"] for m in missing[:TOP]) + (
            say("more", count=len(missing) - TOP) if len(missing) > TOP else ""
        )
        text += say("forecast.missing", count=len(missing), names=names)
    data = {
        "available": True,
        "unit": "kWh",
        "total_kwh": _text(total),
        "total_kwh_lower": _text(lower),
        "total_kwh_upper": _text(upper),
        "start": starts[0] if starts else None,
        "end": ends[-1] if ends else None,
        "generated_at": made[-1],
        "methods": methods,
        "devices": [{**r, **{k: _text(r[k]) for k in ("kwh", "kwh_lower", "kwh_upper")}} for r in rows],
        "devices_without_forecast": missing,
    }
    return _answer(text, "forecast", data, phrases("forecast.suggestions"))


def _hour_after(timestamp: str) -> str:
    from gridpulse.timeutil import iso

    return iso(datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(hours=1))


def help_answer() -> dict:
    examples = phrases("examples")
    return _answer(say("help"), "help", {"examples": examples}, examples[:4])


# ---------------------------------------------------------------- conversations


def _load_conversation(caller: Caller, conversation_id: str | None) -> ConversationItem | None:
    if conversation_id is None:
        return None
    item = get_or_none(ConversationItem, conversation_id)
    if item is None or item.user_id != caller.user_id or item.expires_at < time.time():
        return None
    return item


def _save_conversation(caller: Caller, conversation_id: str, r: Recognized) -> None:
    ConversationItem(
        conversation_id,
        user_id=caller.user_id,
        intent=r.intent,
        slots=json.dumps(r.slots),
        target=r.target,
        city=r.city,
        expires_at=int(time.time()) + CONVERSATION_TTL_S,
    ).save()


def _follow_up(r: Recognized, previous: ConversationItem | None) -> Recognized | None:
    """A follow-up as the question it continues; None when there is nothing to continue."""
    if previous is None or previous.intent not in INTENTS or previous.intent == "Help":
        return None
    before = json.loads(previous.slots or "{}")
    if r.intent == "FollowUpPeriod":
        if previous.intent not in PERIOD_INTENTS:
            return None
        intent = "Consumption" if previous.intent == "Compare" else previous.intent
        return Recognized(intent, r.slots, previous.target, previous.city, r.price)
    # FollowUpDevice: "which device?" breaks the last period down; "what about the kitchen meter?" asks it again for that.
    period_slots = {k: v for k, v in before.items() if k != "period2"}
    if r.target:
        intent = (
            previous.intent if previous.intent not in ("LightStatus", "Alerts", "Balance", "Compare") else "Consumption"
        )
        return Recognized(intent, before if intent != "Consumption" else period_slots, r.target, None, r.price)
    return Recognized("TopConsumers", period_slots, previous.target, None, r.price)


# ---------------------------------------------------------------- the route


def answer(
    caller: Caller,
    question: object,
    tz_name: str | None = None,
    conversation_id: str | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> dict:
    """The answer to a question in `language` (its file sentences/<language>.yaml: the
    templates it is recognised with and the texts it is answered in)."""
    with speaking(language):
        return _answer_in_language(caller, question, tz_name, conversation_id, language)


def _answer_in_language(caller, question, tz_name, conversation_id, language) -> dict:
    text = check_question(question)
    if tz_name is not None:
        zone(tz_name)  # 400 invalid_timezone naming tz
    conversation_id = _conversation_id(conversation_id)
    previous = _load_conversation(caller, conversation_id)
    conversation_id = previous.conversation_id if previous is not None else str(uuid.uuid4())

    devices = visible_devices(caller)
    names = frozenset(w for d in devices for w in _norm(d["name"]).split())
    r = recognize(text, language, names=names)
    if r.intent in ("FollowUpPeriod", "FollowUpDevice"):
        continued = _follow_up(r, previous)
        r = continued if continued is not None else Recognized("unknown")
    if r.intent == "unknown" and language_model_on():
        from gridpulse.assistant import llm  # Bedrock's client: only on a question the templates could not place

        out, kept = llm.answer(caller, text, devices, tz_name, dispatch)
        out, r = (out, kept) if out is not None else (_unknown(), r)
    else:
        out = dispatch(caller, r, devices, tz_name)
    if out["intent"] not in ("unknown", "help"):
        _save_conversation(caller, conversation_id, r)
    out["conversation_id"] = conversation_id
    return out


def language_model_on() -> bool:
    """Whether questions the templates cannot place go to Bedrock (gridpulse.assistant.llm)."""
    return os.environ.get("ASSISTANT_LANGUAGE_MODEL", "off").strip().lower() == "on"


def dispatch(caller: Caller, r: Recognized, devices: list[dict], tz_name: str | None) -> dict:
    """The answer of a recognised intent (or a language model's tool call) over the caller's `devices`."""
    if r.intent == "unknown":
        return _unknown()
    if r.intent == "Help":
        return help_answer()
    if r.intent == "Alerts":
        return open_alerts(caller)
    if r.intent == "LightStatus":
        return light_status(caller, r.city or "")
    if r.intent == "Balance":
        return balance(caller, devices)

    chosen, named = devices, None
    if r.target:
        found = resolve_target(r.target, devices)
        if not found:
            return _unknown(say("not_found", target=r.target))
        chosen, named = found
    if r.intent == "CurrentPower":
        return current_power(chosen, named)
    if r.intent == "Temperature":
        return temperature(chosen, named)
    if r.intent == "Forecast":
        return forecast(chosen, named)

    tz = _zone_for(chosen, tz_name)
    now = utcnow()
    period = periods.resolve(r.slots, now, zone(tz)) or periods.resolve({"period": "today"}, now, zone(tz))
    if r.intent == "Compare":
        second = periods.resolve({"period": r.slots.get("period2")}, now, zone(tz)) or periods.previous(
            period, now, zone(tz)
        )
        if second is None:
            return _unknown()
        return compare(chosen, period, second, tz, named)
    if r.intent == "TopConsumers":
        return top_consumers(chosen, period, tz, named)
    if r.intent == "Cost":
        return cost(chosen, period, tz, named, r.price)
    return consumption(chosen, period, tz, named)

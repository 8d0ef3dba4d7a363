"""Another language is another file (gridpulse.assistant.language): a tiny German
file (tests/unit/assistant_languages/de.yaml) recognises its own sentences and the
answers come in German with the same figures; what it lacks is said in English,
and English answers are unchanged."""

from __future__ import annotations

import pathlib
from decimal import Decimal

import pytest

from gridpulse.accounts.roles import Caller, Role
from gridpulse.assistant import language, recognize, service

FIXTURE = pathlib.Path(__file__).parent / "assistant_languages"
DEVICES = [
    {"device_id": "d-boiler", "name": "Boiler", "device_type": "meter"},
    {"device_id": "d-kitchen", "name": "Kitchen meter", "device_type": "meter"},
]
KWH = {"d-boiler": Decimal("3.25"), "d-kitchen": Decimal("0.5")}


@pytest.fixture
def german(monkeypatch):
    """The German file beside the tests, and the caller's two devices without a database."""
    english = recognize.language_file
    monkeypatch.setattr(recognize, "language_file", lambda code: FIXTURE / "de.yaml" if code == "de" else english(code))
    for cached in (recognize.language_data, recognize.intents, recognize.vocabulary):
        cached.cache_clear()
    monkeypatch.setattr(service, "visible_devices", lambda caller: DEVICES)
    monkeypatch.setattr(service, "_zone_for", lambda devices, tz: "UTC")
    monkeypatch.setattr(service, "_save_conversation", lambda *a: None)
    monkeypatch.setattr(
        service,
        "energy_by_device",
        lambda devices, period, tz: sorted(
            ({"device_id": d["device_id"], "name": d["name"], "kwh": KWH[d["device_id"]]} for d in devices),
            key=lambda r: -r["kwh"],
        ),
    )
    yield Caller("u-1", Role.viewer)
    for cached in (recognize.language_data, recognize.intents, recognize.vocabulary):
        cached.cache_clear()


def test_a_second_language_file_gives_answers_in_that_language(german):
    out = service.answer(german, "Wie viel Strom habe ich gestern verbraucht?", "UTC", language="de")
    assert out["intent"] == "consumption" and out["period"]["label"] == "gestern"
    assert (
        out["answer"] == "Sie haben gestern auf Ihren 2 Geräten 3.750 kWh verbraucht; am meisten Boiler mit 3.250 kWh."
    )
    assert out["data"]["total_kwh"] == "3.75" and out["suggestions"] == ["Und gestern?"]

    named = service.answer(german, "wie viel strom hat der boiler heute verbraucht", "UTC", language="de")
    assert named["answer"] == "Sie haben heute für Boiler 3.250 kWh verbraucht."

    assert service.answer(german, "hilfe", language="de")["answer"] == "Ich beantworte Fragen zu Ihren eigenen Geräten."
    unknown = service.answer(german, "Wie spät ist es?", language="de")
    assert unknown["intent"] == "unknown"
    assert unknown["answer"] == "Das habe ich nicht verstanden. Ich beantworte Fragen zu Ihren eigenen Geräten."
    assert unknown["suggestions"] == ["Wie viel Strom habe ich heute verbraucht?", "Hilfe"]
    # An English sentence is not German: the German file's templates alone are used.
    assert service.answer(german, "How much energy did I use yesterday?", language="de")["intent"] == "unknown"

    with language.speaking("de"):
        assert language.say("alerts.none") == "You have no open alerts."  # not in the German file: English


def test_english_stays_the_default(german):
    out = service.answer(german, "How much energy did I use yesterday?", "UTC")
    assert out["answer"] == "You used 3.750 kWh yesterday across your 2 devices; the most was Boiler with 3.250 kWh."
    assert language.current() == "en"

"""Intent recognition with hassil over the sentence templates of a language.

Before matching, a question is lower-cased, a stated price ("at 0.25 per kWh",
"0.30/kWh") is taken out of it (hassil lists cannot hold decimals), and each
word that is not in the templates' vocabulary is replaced by its closest
vocabulary word when one is close enough (typos: "consumtion"). Several
parses may fit a question; hassil ranks them (fewer wildcards, more literal
text first) and a parse whose wildcard (`target`, `city`) captured only a
pronoun ("did I use") is passed over.
"""

from __future__ import annotations

import difflib
import functools
import pathlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml
from hassil import Intents, recognize_ranked

SENTENCES = pathlib.Path(__file__).parent / "sentences"
# libyaml's parser (PyYAML's wheels carry it) reads the templates in about a tenth of the
# pure-Python one's time (Intents.from_yaml uses the latter); the same data either way.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_LANGUAGE = "en"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_PRICE = re.compile(
    r"(?:\b(?:at|for|with|price(?:\s+of)?)\s+)?(?:[$€£]\s*)?(\d{1,6}(?:[.,]\d{1,6})?)\s*(?:[$€£]|eur|euros?|usd|dollars?|gbp|pounds?)?"
    r"\s*(?:/|per|a|an)\s*(?:kwh|kilowatt[\s-]?hour)\b",
    re.IGNORECASE,
)
_PRONOUNS = {"i", "we", "me", "my", "us", "our", "it", "you", "they", "he", "she"}


@dataclass
class Recognized:
    intent: str  # the template's intent name, or "unknown"
    slots: dict = field(default_factory=dict)  # language-neutral values (periods, days, weekday, month)
    target: str | None = None  # free text naming a device, room or hotel
    city: str | None = None
    price: Decimal | None = None  # a stated price per kWh


def language_file(language: str) -> pathlib.Path:
    """The file of a language: its sentence templates and its answers (`responses`)."""
    return SENTENCES / f"{language}.yaml"


@functools.cache
def language_data(language: str = DEFAULT_LANGUAGE) -> dict:
    """The language file as read (once per container)."""
    with open(language_file(language), encoding="utf-8") as f:
        return yaml.load(f, Loader=_LOADER)


@functools.cache
def intents(language: str = DEFAULT_LANGUAGE) -> Intents:
    """The parsed templates of `language`, once per container (the function parses them at init)."""
    return Intents.from_dict(language_data(language))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@functools.cache
def vocabulary(language: str = DEFAULT_LANGUAGE) -> frozenset[str]:
    """The words of the templates (not of the answers), what a typo is corrected to."""
    data = {
        k: v for k, v in language_data(language).items() if k in ("intents", "expansion_rules", "lists", "skip_words")
    }
    text = " ".join(_strings(data)).lower()
    return frozenset(w for w in _WORD.findall(text) if len(w) > 1)


def stated_price(text: str) -> tuple[str, Decimal | None]:
    """The question without its stated price, and the price per kWh (None when none is stated)."""
    match = _PRICE.search(text)
    if not match:
        return text, None
    try:
        price = Decimal(match.group(1).replace(",", "."))
    except InvalidOperation:
        return text, None
    return (text[: match.start()] + " " + text[match.end() :]).strip(), price


def correct_spelling(text: str, known: frozenset[str], extra: frozenset[str] = frozenset()) -> str:
    """Each unknown word of 4 letters or more replaced by the closest known word (ratio >= 0.8)."""
    words = known | extra

    def fix(match: re.Match) -> str:
        word = match.group(0)
        if len(word) < 4 or word in words:
            return word
        close = difflib.get_close_matches(word, words, n=1, cutoff=0.8)
        return close[0] if close else word

    return _WORD.sub(fix, text)


def recognize(question: str, language: str = DEFAULT_LANGUAGE, names: frozenset[str] = frozenset()) -> Recognized:
    """The intent and slots of `question`; `names` are words of what the caller can see
    (device, room and hotel names), kept as they are by the spelling correction."""
    text = " ".join(question.lower().split())
    text, price = stated_price(text)
    text = correct_spelling(text, vocabulary(language), names)
    for result in recognize_ranked(text, intents(language)):
        target = result.entities.get("target")
        city = result.entities.get("city")
        wild = [e for e in (target, city) if e is not None]
        if any(_stripped(e.text).lower() in _PRONOUNS or not _stripped(e.text) for e in wild):
            continue
        slots = {
            name: e.value
            for name, e in result.entities.items()
            if name in ("period", "period2", "days", "weekday", "month")
        }
        if "days" in slots:
            slots["days"] = int(slots["days"])
        return Recognized(
            intent=result.intent.name,
            slots=slots,
            target=_stripped(target.text) if target else None,
            city=_stripped(city.text) if city else None,
            price=price,
        )
    return Recognized(intent="unknown", price=price)


def _stripped(text: str | None) -> str:
    return (text or "").strip(" ?!.,;:'\"")

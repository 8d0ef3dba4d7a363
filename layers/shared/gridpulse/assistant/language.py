"""What the assistant says, in the language of the question: the `responses`
section of the language's file (sentences/<code>.yaml, beside its sentence
templates), so that another language is another file.

`say("consumption.total", kwh=..., period=...)` formats the text at that
dotted key with values the code has already formatted (numbers as strings); a
text written as `{one: ..., other: ...}` is chosen by `count`. The language is
the one `speaking` set for the current question (default English); a key the
language's file lacks is taken from English.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar

from gridpulse.assistant.recognize import DEFAULT_LANGUAGE, language_data

_current: ContextVar[str] = ContextVar("assistant_language", default=DEFAULT_LANGUAGE)


@contextlib.contextmanager
def speaking(language: str):
    """Answers within this block are in `language`."""
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def _lookup(language: str, key: str):
    value = language_data(language).get("responses") or {}
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def text(key: str):
    """The raw entry at `key` (a string, a list or a dict) in the current language, else in English."""
    value = _lookup(current(), key)
    if value is None and current() != DEFAULT_LANGUAGE:
        value = _lookup(DEFAULT_LANGUAGE, key)
    if value is None:
        raise KeyError(f"no response {key!r} in {current()!r} or {DEFAULT_LANGUAGE!r}")
    return value


def say(key: str, count: int | None = None, **values) -> str:
    """The text at `key` with `values` (and `count`) filled in."""
    value = text(key)
    if isinstance(value, dict):
        value = value["one" if count == 1 else "other"]
    return str(value).format(count=count, **values)


def phrases(key: str) -> list[str]:
    """A list of texts (examples, suggestions), as they are."""
    return [str(v) for v in text(key)]

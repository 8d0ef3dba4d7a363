"""MQTT topic names and topic filters, as the local broker and the local
rules engine both read them (the one implementation of filter matching).

* A topic name (what a PUBLISH carries) is not empty and holds no wildcard.
* A topic filter (what a SUBSCRIBE or a rule's FROM names) is not empty; `+`
  is a whole level and stands for exactly one level; `#` is a whole level,
  the last one, and stands for any number of levels, none included (`a/#`
  matches `a`).
* A filter whose first level is a wildcard never matches a topic that starts
  with `$` (`$aws/...` lifecycle events need a filter that starts with
  `$aws/`), as MQTT 3.1.1 section 4.7.2 and IoT Core have it.
"""

from __future__ import annotations

__all__ = ["filter_problem", "topic_matches", "valid_filter", "valid_topic"]


def valid_topic(topic: str) -> bool:
    """A topic name a client may publish to: not empty, no `+` or `#`."""
    return bool(topic) and "+" not in topic and "#" not in topic


def filter_problem(topic_filter: str) -> tuple[str, str] | None:
    """Why `topic_filter` is not a valid MQTT topic filter, as (reason, the
    offending level); None when it is valid."""
    if not topic_filter:
        return "is empty", ""
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one", level
        if "+" in level and level != "+":
            return "'+' must be a whole level", level
    return None


def valid_filter(topic_filter: str) -> bool:
    return filter_problem(topic_filter) is None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches the (valid) `topic_filter`."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)

"""What the API shows of a stored item: `view(item, fields, **computed)`.

A view is the dict a route answers for one item: the item's attributes of
the names in `fields`, in that order, except the names given in `computed`,
whose value is given instead (a conversion such as `int(count)`, or a value
the item does not hold, such as whether a device is online).

Each context names its fields once, as a tuple beside its view function;
tests/unit/test_views.py checks that each tuple holds exactly the fields of
the response schema it feeds. The tuples live outside the schema modules because the
ingestion and event functions build views too (an alert's notification) and
must not import pydantic; this module imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def view(item: Any, fields: Sequence[str], **computed: Any) -> dict[str, Any]:
    """`{name: getattr(item, name)}` for each name in `fields`, in order, with
    the names in `computed` taking the value given there. A computed name
    that is not in `fields` is a ValueError: it would be a key no schema lists."""
    unknown = computed.keys() - set(fields)
    if unknown:
        raise ValueError(f"computed keys not in the view's fields: {sorted(unknown)}")
    return {name: computed[name] if name in computed else getattr(item, name) for name in fields}

"""Every partial-update schema: a field that may not be missing from a stored
item (required, or with a non-null default, on create) refuses an explicit
null with an error naming it, while leaving it out still means "unchanged".

The schemas are discovered, not listed, so a new update schema is checked the
day it is written; it must have a create counterpart (XIn for XUpdateIn) or
an entry in CREATE_OF."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from pydantic import BaseModel, ValidationError

import gridpulse
import gridpulse.schemas
from gridpulse.schemas import Input

# Update schemas whose create counterpart does not follow the XUpdateIn -> XIn naming.
CREATE_OF = {"UpdateUserIn": "CreateUserIn"}
# Fields only an update has that must never be null either (the stored attribute is required).
UPDATE_ONLY_NOT_NULL = {"DeviceUpdateIn": {"status"}}


def _schemas() -> dict[str, type[BaseModel]]:
    found = {}
    for info in pkgutil.walk_packages(gridpulse.__path__, "gridpulse."):  # every context's schemas module
        if not info.name.endswith("schemas"):
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Input) and cls.__module__ == module.__name__:
                found[name] = cls
    return found


SCHEMAS = _schemas()
UPDATES = sorted(name for name in SCHEMAS if "Update" in name and name.endswith("In"))


def _create_of(update: str) -> type[BaseModel]:
    name = CREATE_OF.get(update, update.replace("UpdateIn", "In"))
    assert name in SCHEMAS, f"{update}: no create schema {name}; name it so or add it to CREATE_OF"
    return SCHEMAS[name]


def _never_null_on_create(create: type[BaseModel], field: str) -> bool:
    info = create.model_fields[field]
    if info.is_required():
        return True
    if info.default is None:
        return False
    # A non-null default (role="viewer", hotel_ids=[]): null is refused on create too.
    try:
        create.model_validate({**_minimal(create), field: None})
    except ValidationError as exc:
        return any(e["loc"][:1] == (field,) for e in exc.errors())
    return False


def _minimal(create: type[BaseModel]) -> dict:
    samples = {
        "name": "N",
        "email": "a@example.com",
        "password": "correct-horse-1",
        "device_type": "meter",
        "hotel_name": "H",
        "section_name": "S",
        "room_number": "1",
        "device_name": "D",
    }
    return {f: samples[f] for f, info in create.model_fields.items() if info.is_required()}


def _cases():
    for update in UPDATES:
        create = _create_of(update)
        fields = {
            f for f in SCHEMAS[update].model_fields if f in create.model_fields and _never_null_on_create(create, f)
        }
        fields |= UPDATE_ONLY_NOT_NULL.get(update, set())
        for field in sorted(fields):
            yield pytest.param(update, field, id=f"{update}.{field}")


def test_the_known_update_schemas_are_all_found():
    assert {
        "DeviceUpdateIn",
        "GroupUpdateIn",
        "HotelUpdateIn",
        "SectionUpdateIn",
        "RoomUpdateIn",
        "UpdateUserIn",
    } <= set(UPDATES)


@pytest.mark.parametrize("update,field", list(_cases()))
def test_a_required_field_refuses_null_and_may_be_left_out(update, field):
    schema = SCHEMAS[update]
    with pytest.raises(ValidationError) as refused:
        schema.model_validate({field: None})
    assert [e["loc"] for e in refused.value.errors()] == [(field,)]
    assert refused.value.errors()[0]["type"] == "null_not_allowed"

    left_out = schema.model_validate({})
    assert field not in left_out.model_dump(exclude_unset=True)


@pytest.mark.parametrize("update", UPDATES)
def test_every_update_schema_has_a_create_counterpart(update):
    assert _create_of(update)

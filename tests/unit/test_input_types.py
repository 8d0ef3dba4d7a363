"""Every request schema field is built from the shared types of
gridpulse.schemas, checked by walking the schemas (so a field added
tomorrow is checked too): human-readable strings refuse control characters,
numbers refuse what DynamoDB cannot store."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from pydantic import BaseModel, ValidationError

import gridpulse
import gridpulse.schemas
from gridpulse.schemas import Input, bounded_map, dynamo_number_problem

# Strings that are secrets or lookup keys, not text anyone reads back.
NOT_TEXT = {"password", "current_password", "token", "device_id", "room_id", "timezone"}
LOGIN_ONLY = {("LoginIn", "username")}  # looked up, never stored


def _inputs() -> list[type[BaseModel]]:
    found = []
    for info in pkgutil.walk_packages(gridpulse.__path__, "gridpulse."):  # every context's schemas module
        if not info.name.endswith("schemas"):
            continue
        module = importlib.import_module(info.name)
        found += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Input) and cls.__module__ == module.__name__
        ]
    return found


def _fields(kinds: set[str], exempt=lambda cls, name: False):
    for cls in _inputs():
        properties = cls.model_json_schema()["properties"]
        for name, schema in properties.items():
            types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
            if types & kinds and not exempt(cls, name):
                yield pytest.param(cls, name, id=f"{cls.__name__}.{name}")


def _refused(cls: type[BaseModel], field: str, value) -> bool:
    try:
        cls.model_validate({field: value})
    except ValidationError as exc:
        return any(error["loc"][:1] == (field,) for error in exc.errors())
    return False


def _not_text(cls, name) -> bool:
    return name in NOT_TEXT or (cls.__name__, name) in LOGIN_ONLY


@pytest.mark.parametrize("cls,field", list(_fields({"string"}, _not_text)))
@pytest.mark.parametrize("bad", ["ab\x00cdefghij", "ab\x1b[31mcdefgh", "ab\u202ecdefghij", "ab\x85cdefghij"])
def test_text_fields_refuse_control_characters(cls, field, bad):
    assert _refused(cls, field, bad)


@pytest.mark.parametrize("cls,field", list(_fields({"number", "integer"})))
@pytest.mark.parametrize("bad", [1e-200, 5e-324, -1e-131, float("inf"), float("nan"), 1e126])
def test_numeric_fields_refuse_what_dynamodb_cannot_store(cls, field, bad):
    assert _refused(cls, field, bad)


@pytest.mark.parametrize("cls,field", list(_fields({"integer"})))
def test_integer_fields_refuse_more_digits_than_dynamodb_keeps(cls, field):
    assert _refused(cls, field, 10**40 + 1)


@pytest.mark.parametrize(
    "value,problem",
    [
        (0, None),
        (1e-130, None),
        (-9.99e125, None),
        (10**40, None),
        (12345678901234567890123456789012345678, None),
        (1e-131, "magnitude"),
        (1e126, "magnitude"),
        (float("nan"), "finite"),
        (10**38 + 1, "significant digits"),
        (True, "number"),
    ],
)
def test_dynamodb_number_bounds(value, problem):
    found = dynamo_number_problem(value)
    assert (found is None) if problem is None else (problem in found)


def test_a_bounded_map_names_the_path_at_fault():
    from pydantic import TypeAdapter

    adapter = TypeAdapter(bounded_map(max_depth=3, max_keys=10, max_bytes=100))
    assert adapter.validate_python({"a": {"b": [1, "x", None, True]}}) == {"a": {"b": [1, "x", None, True]}}
    for value, message in (
        ({"a": {"": 1}}, "at a: keys"),
        ({"a": {"b": {"c": {"d": 1}}}}, "at a.b.c: nested"),
        ({"a": [1, float("inf")]}, "at a[1]: must be a finite"),
        ({str(i): i for i in range(11)}, "keys"),
        ({"a": "x" * 200}, "bytes"),
        ({"a": {1, 2}}, "at a: values must be"),
    ):
        with pytest.raises(ValidationError) as refused:
            adapter.validate_python(value)
        assert message in refused.value.errors()[0]["msg"], (value, refused.value.errors())

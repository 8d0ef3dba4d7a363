"""Every pydantic model of the shared layer's schemas has a name of its own:
the OpenAPI document names its components by class name, so two models with
one name (e.g. a health StatusOut and a lights StatusOut) would be documented
as one, and the fuzzer would check one route's answers against the other's
schema."""

import importlib
import inspect
import pathlib

from pydantic import BaseModel

import gridpulse

LAYER = pathlib.Path(gridpulse.__file__).parent


def test_schema_model_names_are_unique_across_the_layer():
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted(LAYER.rglob("*schemas.py")):
        module_name = ".".join(["gridpulse", *path.relative_to(LAYER).with_suffix("").parts])
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if not (inspect.isclass(value) and issubclass(value, BaseModel)) or value.__module__ != module_name:
                continue
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {module_name}")
            seen[name] = module_name
    assert "LightStatusOut" in seen
    assert clashes == []

"""Read template.yaml and evaluate the CloudFormation it contains.

The local stack and the tests build their tables, secrets, routes and function
environments from template.yaml through this module, so that what runs on a
laptop cannot drift from what `sam deploy` creates. It understands the short
intrinsic tags (!Ref, !Sub, !GetAtt, !If, !Equals, !Not, !Join, !Select, !Split) and
the parts of the SAM/CloudFormation resources that the stack uses.

`Stack.functions()` applies the template's `Globals.Function` the way SAM
does (`merge_globals`), so every reader sees a function's full properties
(Handler, Runtime, MemorySize, Timeout, Environment...) whether they are
declared on the function or once in Globals.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path: pathlib.Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass


def _is_intrinsic(value: Any) -> bool:
    """{"Ref": ...}, {"Fn::Sub": ...}...: a value, not a map to merge."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key == "Ref" or key.startswith("Fn::")


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """A resource property with its Globals value, as SAM merges them: maps
    merge key by key (recursively), lists are the global items then the
    local ones, and anything else (a string, a number, an intrinsic function)
    declared on the resource replaces the global value."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


@dataclass
class Stack:
    """A template evaluated for one stack name, region and parameter set.

    `physical` maps logical ids to what !Ref returns (table name, secret ARN...);
    `attributes` maps (logical id, attribute) to what !GetAtt returns. The code
    that creates the resources fills both in.
    """

    template: dict
    name: str = "gridpulse-local"
    region: str = "us-east-1"
    account: str = "123456789012"
    parameters: dict = field(default_factory=dict)
    physical: dict = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The template's local values (Metadata GridPulse::LocalParameters) come before its Defaults.
        local = (self.template.get("Metadata") or {}).get("GridPulse::LocalParameters") or {}
        for key, spec in (self.template.get("Parameters") or {}).items():
            self.parameters.setdefault(key, str(local.get(key, spec.get("Default", ""))))

    # ------------------------------------------------------------ lookups

    def resources(self, type_name: str | None = None) -> dict[str, dict]:
        res = self.template.get("Resources") or {}
        return {k: v for k, v in res.items() if type_name is None or v.get("Type") == type_name}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    # ------------------------------------------------------------ evaluation

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"!Ref {name}: not a parameter or a created resource")

    def get_att(self, logical: str, attribute: str) -> Any:
        if (logical, attribute) in self.attributes:
            return self.attributes[(logical, attribute)]
        raise KeyError(f"!GetAtt {logical}.{attribute}: unknown")

    def sub(self, text: str, variables: dict | None = None) -> str:
        variables = variables or {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(name))

        # ${!Literal} is CloudFormation's escape for a literal ${Literal}
        # (IoT policy variables such as ${iot:Connection.Thing.ThingName}).
        return re.sub(r"\$\{!([^}]+)\}", r"${\1}", re.sub(r"\$\{([^}!]+)\}", replace, text))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], {k: self.resolve(v) for k, v in arg[1].items()})
                return self.sub(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(str(arg[0]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        return {k: self.resolve(v) for k, v in value.items()}

    # ------------------------------------------------------------ functions

    def functions(self) -> dict[str, dict]:
        """Every AWS::Serverless::Function, its Properties merged with
        Globals.Function (`merge_globals`). The dicts are new on each call:
        change the template itself, not what this returns."""
        glob = (self.template.get("Globals") or {}).get("Function") or {}
        return {
            logical: {**res, "Properties": merge_globals(glob, res.get("Properties") or {})}
            for logical, res in self.resources("AWS::Serverless::Function").items()
        }

    def function_environment(self, logical: str) -> dict[str, str]:
        props = self.functions()[logical]["Properties"]
        env = ((props.get("Environment") or {}).get("Variables")) or {}
        return {k: str(self.resolve(v)) for k, v in env.items()}

    def api_routes(self) -> list[tuple[str, str, str]]:
        """(METHOD, path, function logical id) for every Api event in the template."""
        routes = []
        for logical, res in self.functions().items():
            for event in (res["Properties"].get("Events") or {}).values():
                if event.get("Type") == "Api":
                    p = event["Properties"]
                    routes.append((p["Method"].upper(), p["Path"], logical))
        return routes

"""docs/access-patterns.md maps every API route of template.yaml to its
function, logic module, data module, keys and resources; the modules it
names exist."""

import pathlib
import re

from infrastructure.cfn import ROOT, load

DOC = ROOT / "docs" / "access-patterns.md"
ROW = re.compile(r"^\| `(\w+) (\S+)` \| `([^`]+)` \| `([^`]+)` \|", re.M)


def _routes() -> set[tuple[str, str, str]]:
    routes = set()
    for resource in load()["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                routes.add((props["Method"].upper(), props["Path"], resource["Properties"]["CodeUri"].rstrip("/")))
    return routes


def test_every_route_is_in_the_route_map():
    mapped = {(m, p, f) for m, p, f, _ in ROW.findall(DOC.read_text())}
    assert _routes() - mapped == set()
    assert mapped - _routes() == set()


def test_the_route_maps_modules_exist():
    layer = pathlib.Path(ROOT / "layers" / "shared" / "gridpulse")
    for _, _, function, module in ROW.findall(DOC.read_text()):
        assert (ROOT / function / "app.py").is_file(), function
        assert (layer / module).is_file(), module

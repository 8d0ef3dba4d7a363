"""The checked-in OpenAPI document is what the code generates, and it covers
exactly the routes template.yaml deploys."""
import json

from infrastructure.cfn import Stack, load
from infrastructure.openapi import OUTPUT, render


def test_openapi_json_matches_the_code():
    assert OUTPUT.read_text() == render(), "openapi.json is stale: run `make openapi` and commit it"


def test_every_template_route_is_documented_and_nothing_else():
    doc = json.loads(OUTPUT.read_text())
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    deployed = {(method, path) for method, path, _ in Stack(load()).api_routes()}
    assert documented == deployed


def test_errors_are_documented_in_the_api_envelope():
    doc = json.loads(OUTPUT.read_text())
    login = doc["paths"]["/auth/login"]["post"]["responses"]
    assert "422" not in login and login["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")

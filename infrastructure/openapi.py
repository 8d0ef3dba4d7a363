"""Build the one OpenAPI document of the whole API from the code.

Every function's resolver describes its own routes (pydantic models,
parameters, security); this merges them into `openapi.json`. A test fails
when the checked-in document and the code drift; `make openapi` rewrites it.

    python -m infrastructure.openapi            # print
    python -m infrastructure.openapi --write    # update openapi.json
"""

from __future__ import annotations

import argparse
import json
import sys

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

from infrastructure.cfn import ROOT, Stack, load
from infrastructure.local.gateway import load_handler

OUTPUT = ROOT / "openapi.json"
DESCRIPTION = (
    "GridPulse REST API. People authenticate with `Authorization: Bearer <JWT>` from /auth/login; "
    'devices that speak HTTP with `X-API-Key`. Errors are `{"error": code, "message": text}` '
    "(400 adds `fields`, one entry per bad field; a body field or query parameter a route does not take "
    "is one, `extra_forbidden`). Lists are `{items, count, next_token}` with "
    "`?limit=` (1-1000, default 50) and `?next_token=`."
)


def resolvers(stack: Stack) -> dict[str, object]:
    """Each function's Powertools resolver (`app` in its handler module)."""
    out = {}
    api_functions = {logical for _, _, logical in stack.api_routes()}
    for logical, res in stack.functions().items():
        if logical not in api_functions:
            continue  # event-driven functions (SQS, IoT rules) have no routes
        props = res["Properties"]
        module = props["Handler"].rpartition(".")[0]
        out[logical] = load_handler(ROOT / props["CodeUri"], f"{module}.app", f"gridpulse_openapi_{logical}")
    return out


def build() -> dict:
    from gridpulse import __version__

    schemes = {
        "bearer": HTTPBearer(bearerFormat="JWT", description="JWT from POST /auth/login"),
        "apiKey": APIKey(**{"in": APIKeyIn.header}, name="X-API-Key", description="a device's API key"),
    }
    merger = OpenAPIMerge(
        title="GridPulse API",
        version=__version__,
        description=DESCRIPTION,
        security_schemes=schemes,
        on_conflict="error",
    )
    for app in resolvers(Stack(load())).values():
        merger.add_schema(app.get_openapi_schema(security_schemes=schemes))
    return with_error_responses(json.loads(merger.get_openapi_json_schema()))


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "snake_case error code"},
        "message": {"type": "string"},
        "fields": {
            "type": "array",
            "description": "one entry per bad field (400, 409, 413, 415)",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


# Statuses some operations answer beyond what their shape implies (see
# with_error_responses). Schemathesis' "status code documented" check in
# tests/e2e/test_fuzz.py fails when the code answers one missing here.
NOT_FOUND_BY_REFERENCE = {
    # a room_id, device_id or user_id in the body or query that is not there (or not in scope)
    ("get", "/devices"),
    ("post", "/devices"),
    ("post", "/alerts"),
    ("get", "/alerts"),
    # a city (?city or the caller's) with no light the caller may see: city_not_found
    ("get", "/lights/summary"),
}
CONFLICTS = {
    ("post", "/auth/register"): "email or username already taken",
    ("post", "/users"): "email or username already taken",
    ("put", "/users/{user_id}"): "email or username already taken",
    ("patch", "/users/{user_id}/deactivate"): "you cannot deactivate yourself",
    ("delete", "/users/{user_id}"): "you cannot delete yourself",
    ("delete", "/hotels/{hotel_id}"): "the hotel still has sections (pass ?cascade=true)",
    ("delete", "/sections/{section_id}"): "the section still has rooms (pass ?cascade=true)",
    ("delete", "/rooms/{room_id}"): "the room still has devices (pass ?cascade=true)",
    ("post", "/groups/{group_id}/devices"): "the device is already in the group",
    (
        "post",
        "/devices/{device_id}/rotate-credentials",
    ): "a device another cloud provides has no credentials (no_credentials)",
}
# Billing (functions/billing): a device that is not a prepaid meter (not_a_prepaid_meter),
# an operation its kind has no data point for, no unit price yet; and Idempotency-Key reuse.
BILLING_COMMANDS = ("add-balance", "add-token", "set-price", "reset-balance", "prepayment-mode")
BILLING_PATHS = (*BILLING_COMMANDS, "balance", "usage", "ledger", "assign", "users", "low-balance-threshold")
UNAUTHENTICATED = {
    ("post", "/auth/login"): "Wrong login or password",
}
UNPROCESSABLE = {
    ("post", "/devices/{device_id}/predict"): "insufficient_history: fewer than 48 hours of energy history "
    "(needed_hours, have_hours)",
}
TOO_MANY = {
    ("post", "/auth/login"): "Too many failed logins for this account (Retry-After)",
}


def with_error_responses(doc: dict) -> dict:
    """Describe the errors the API really returns.

    Powertools documents its own 422 envelope; GridPulse maps validation
    failures to 400 `{"error", "message", "fields"}` (gridpulse.api), so the
    document says that instead, plus 401/403 on secured routes, 404 where an
    id is looked up (outside the caller's scope an object does not exist),
    409, 422 and 429 where the tables above say, 409/422 on every route that takes
    an Idempotency-Key (in progress, reused with another body), and 413/415
    on routes with a body.
    """
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.pop("ResponseValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if (
                any(code in responses for code in ("201", "202"))
                and responses.get("200", {}).get("description") == "Successful Response"
            ):
                responses.pop("200", None)  # Powertools' default, not a status this route answers
            responses["400"] = {"description": "Bad input: every bad field is named", **ref}
            responses["500"] = {"description": "Internal error", **ref}
            security = {name for requirement in operation.get("security", []) for name in requirement}
            if security:
                responses["401"] = {"description": "Missing, invalid, expired or revoked credentials", **ref}
            if (method, path) in UNAUTHENTICATED:
                responses["401"] = {"description": UNAUTHENTICATED[method, path], **ref}
            if "bearer" in security:
                responses["403"] = {"description": "The caller's role does not allow this", **ref}
            if "{" in path or (method, path) in NOT_FOUND_BY_REFERENCE:
                responses["404"] = {"description": "No such object, or not in the caller's scope", **ref}
            if (method, path) in CONFLICTS:
                responses["409"] = {"description": f"Conflict: {CONFLICTS[method, path]}", **ref}
            tail = path.rsplit("/", 1)[-1]
            if path.startswith("/devices/{device_id}/") and (tail in BILLING_PATHS or "/assign/" in path):
                responses["409"] = {"description": "Conflict: not a prepaid meter, or not supported by it", **ref}
                if tail in BILLING_COMMANDS:
                    responses["409"]["description"] += "; or a request with this Idempotency-Key is in progress"
                    responses["422"] = {"description": "idempotency_key_reused: this key came with another body", **ref}
            if any(
                p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
                for p in operation.get("parameters", [])
            ):
                responses.setdefault("409", {"description": "Conflict", **ref})
                if "Idempotency-Key" not in responses["409"]["description"]:
                    responses["409"]["description"] += "; or a request with this Idempotency-Key is in progress"
                responses["422"] = {"description": "idempotency_key_reused: this key came with another body", **ref}
            if (method, path) in UNPROCESSABLE:
                responses["422"] = {"description": UNPROCESSABLE[method, path], **ref}
            if (method, path) in TOO_MANY:
                responses["429"] = {"description": TOO_MANY[method, path], **ref}
            if "requestBody" in operation:
                responses["413"] = {"description": "Body too large", **ref}
                responses["415"] = {"description": "Body is not JSON", **ref}
    return doc


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate openapi.json from the code.")
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT.name}")
    args = parser.parse_args()
    text = render()
    if args.write:
        OUTPUT.write_text(text)
        print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(build()['paths'])} paths)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTTP edge shared by every endpoint group.

`create_app()` gives a Powertools REST resolver with request validation and
the one place where errors become `{"error": ..., "message": ...}`;
`lambda_handler(app)` wraps it with logging (correlation id from the API
event), tracing, metrics and the body-size limit. A function module is then
just its routes:

    app = create_app()

    @app.get("/auth/me")
    def me() -> UserOut:
        caller, user = current_user(app)
        ...

    handler = lambda_handler(app)
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Callable

# From the submodules, not the package: see gridpulse/lazy_event_handler.py. Handlers take
# Response, Query and Body from here for the same reason.
from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError, ResponseValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query  # noqa: F401  (Body re-exported)
from aws_lambda_powertools.logging import correlation_paths

from gridpulse.accounts import authentication
from gridpulse.accounts.roles import Caller, Role
from gridpulse.errors import ApiError, BadRequest, Forbidden, field_error
from gridpulse.observability import annotate, logger, metrics, tracer
from gridpulse.settings import get_settings

# Security requirements for route decorators; the schemes themselves are
# declared once, in infrastructure/openapi.py. A route's requirement is also
# what `create_app()`'s resolver enforces before anything else runs (request
# validation included): bearer routes need a valid token, and the role names
# listed under "bearer" (OpenAPI 3.1 allows role names there) restrict the
# route to those roles; apiKey routes need a valid device API key.
BEARER = [{"bearer": []}]
ADMIN = [{"bearer": ["admin"]}]
STAFF = [{"bearer": ["operator", "admin"]}]  # routes a viewer may never use (scope still applies)
API_KEY = [{"apiKey": []}]

# Query parameters every list or time-range route shares.
Limit = Annotated[int | None, Query(ge=1, le=1000, description="page size, 1 to 1000 (default 50)")]
NextToken = Annotated[
    str | None, Query(min_length=1, max_length=2048, description="next_token of the previous page, unchanged")
]
Start = Annotated[str | None, Query(description="ISO 8601 or relative (-1h, -24h, -7d)")]
End = Annotated[str | None, Query(description="ISO 8601 or relative; default now")]


def status_doc(status: int, model: type, description: str, also: dict[int, str] | None = None) -> dict:
    """OpenAPI `responses` for a route that answers `status` (201, 202) with `model`,
    and `also` the other success statuses it may answer with the same model."""
    statuses = {status: description, **(also or {})}
    return {
        code: {"description": text, "content": {"application/json": {"model": model}}}
        for code, text in statuses.items()
    }


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[dict] | None = None,
    headers: dict | None = None,
    extra: dict | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code, "message": message, **(extra or {})}
    if fields:
        body["fields"] = fields
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers
    )


def json_response(status: int, body: Any, headers: dict | None = None) -> Response:
    """A response with a status other than 200; the body is still validated
    against the route's `Response[Model]` annotation and serialized once."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _field_name(loc: tuple) -> str:
    """('body', 'address', 'city') -> 'address.city'; ('query', 'limit') -> 'limit'."""
    parts = (
        [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


def validation_errors_to_response(errors: list[dict]) -> Response:
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            400,
            "invalid_json",
            "The request body is not valid JSON.",
            [field_error("body", "malformed JSON", "json_invalid")],
        )
    fields = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "missing" and loc == ("body",):
            fields.append(field_error("body", "a JSON object is required", "missing"))
            continue
        fields.append(field_error(_field_name(loc), err.get("msg", "invalid"), err.get("type", "invalid")))
    names = ", ".join(sorted({f["field"] for f in fields}))
    return error_response(400, "validation_error", f"Invalid request: {names}.", fields)


# How deeply a request body may nest objects and arrays. The deepest body an
# endpoint takes is a device's reported config (5 levels inside {"config": ...}).
MAX_JSON_DEPTH = 32


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json_body(text: str) -> dict:
    """How every request body is read (the resolver's JSON deserializer): a JSON
    object nested at most MAX_JSON_DEPTH deep, else a 400 naming `body`.

    Without this, a body nested thousands deep overflows the parser's
    recursion (a 5xx), an integer of thousands of digits is a ValueError
    (a 5xx), and a top-level array reaches the validation layer, which takes
    its first element for the body."""
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    except json.JSONDecodeError:
        raise  # the resolver answers it: 400 invalid_json
    except ValueError as exc:
        # Valid JSON Python will not read: an integer of more than 4300 digits.
        raise BadRequest(
            "The request body holds a number with too many digits.",
            code="validation_error",
            fields=[field_error("body", str(exc).split(";")[0], "number_too_long")],
        ) from None
    else:
        too_deep = isinstance(value, (dict, list)) and _too_deep(value, MAX_JSON_DEPTH)
    if too_deep:
        raise BadRequest(
            f"The request body nests objects or arrays more than {MAX_JSON_DEPTH} deep.",
            code="validation_error",
            fields=[field_error("body", f"at most {MAX_JSON_DEPTH} levels of nesting", "too_deep")],
        )
    if not isinstance(value, dict):
        raise BadRequest(
            "The request body must be a JSON object.",
            code="validation_error",
            fields=[field_error("body", "a JSON object is required", "object_required")],
        )
    return value


class Resolver(APIGatewayRestResolver):
    """Powertools' REST resolver that authenticates a route's caller before
    the route's middleware stack (where request validation runs): a request
    without valid credentials is 401, and a caller whose role the route does
    not list is 403, whatever its body, query or path parameters hold.

    It also keeps the request's event and Lambda context on the resolver
    itself: Powertools keeps them on its `BaseRouter` class, one slot shared
    by every resolver in the process. On Lambda a process serves one request
    at a time, but the local stack (infrastructure/local/gateway.py) runs
    every endpoint group in one process, one request per group at a time, so
    a request to one group (GET /devices/{id}/prediction) replaced the event
    of another group's request under way (POST /rooms/{id}/devices), whose
    validation then read the other request's body: 400 "body missing"."""

    @property
    def current_event(self):
        return self.__dict__.get("_gridpulse_event")

    @current_event.setter
    def current_event(self, value) -> None:
        self.__dict__["_gridpulse_event"] = value

    @property
    def lambda_context(self):
        return self.__dict__.get("_gridpulse_context")

    @lambda_context.setter
    def lambda_context(self, value) -> None:
        self.__dict__["_gridpulse_context"] = value

    def resolve(self, event, context) -> dict[str, Any]:
        raw = getattr(event, "raw_event", event)  # what Powertools' resolve does with an event object
        self.current_event = self._to_proxy_event(raw)
        self.lambda_context = context
        return super().resolve(event, context)

    def _call_route(self, route, route_arguments):
        try:
            _authenticate_route(self, route.security or [])
            _refuse_unknown_query(self.current_event, route)
        except ApiError as exc:
            handled = self._call_exception_handler(exc, route)
            if handled is not None:
                return handled
            raise
        return super()._call_route(route, route_arguments)


def _refuse_unknown_query(event, route) -> None:
    """A query parameter the route does not declare is a 400 naming it, as an
    unknown body field is: `?strat=-1h` must not quietly answer for the
    default range. Checked after authentication, like the rest of validation."""
    given = set(event.query_string_parameters or {}) | set(event.multi_value_query_string_parameters or {})
    if not given:
        return
    declared = {param.alias for param in route.dependant.query_params}
    unknown = sorted({name[:100] for name in given - declared})[:10]  # names as sent: bounded in the answer
    if unknown:
        raise BadRequest(
            f"Unknown query parameter: {', '.join(unknown)}.",
            code="validation_error",
            fields=[field_error(name, "not a parameter of this route", "extra_forbidden") for name in unknown],
        )


def _header(app: APIGatewayRestResolver, name: str) -> str | None:
    headers = app.current_event.headers or {}
    return headers.get(name) or next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _authenticate_route(app: APIGatewayRestResolver, security: list[dict]) -> None:
    """Check the credentials a route's security requirement names and keep
    what they resolve to for the handler (`current_user`, `current_device`)."""
    for requirement in security:
        if "bearer" in requirement:
            caller, user = authentication.authenticate(_header(app, "Authorization"))
            app.append_context(gridpulse_caller=(caller, user))
            roles = requirement["bearer"]
            if roles and caller.role.value not in roles:
                raise Forbidden("Your role does not allow this.", code="forbidden")
        elif "apiKey" in requirement:
            from gridpulse.devices import service as devices

            app.append_context(gridpulse_device=devices.authenticate_device(_header(app, "X-API-Key")))


def create_app() -> APIGatewayRestResolver:
    app = Resolver(
        enable_validation=True,
        json_body_deserializer=parse_json_body,
        response_validation_error_http_code=500,
        # API Gateway answers preflight requests (template.yaml's Cors); the origin
        # is the same parameter, and the headers are what a browser may send.
        cors=CORSConfig(
            allow_origin=get_settings().cors_allow_origin,
            allow_headers=["Authorization", "X-API-Key", "Idempotency-Key"],
        ),
    )

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers or None, exc.extra or None)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError):
        return validation_errors_to_response(list(exc.errors()))

    @app.exception_handler(ResponseValidationError)
    def _bad_response(exc: ResponseValidationError):
        # Our bug, not the caller's: log what failed, show nothing internal.
        logger.error(
            "response failed validation",
            extra={"errors": [{"loc": e.get("loc"), "type": e.get("type")} for e in exc.errors()]},
        )
        return error_response(500, "internal_error", "Internal server error.")

    @app.not_found
    def _not_found(_exc):
        return error_response(404, "route_not_found", "No such route.")

    return app


def lambda_handler(app: APIGatewayRestResolver, group: str) -> Callable:
    """The Lambda entry point for a resolver, with the shared cross-cutting concerns:
    the log's correlation id is API Gateway's request id; the X-Ray trace is annotated
    with `route` ("GET /devices/{device_id}", the resource path, never the real one),
    `function_group` (`group`, the functions/<group> directory) and, where a route
    loads a device, `device_type` (gridpulse.devices.lookup)."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict, context: Any) -> dict:
        annotate("function_group", group)
        annotate("route", f"{event.get('httpMethod') or ''} {event.get('resource') or ''}".strip())
        rejected = _check_body(event)
        return rejected if rejected is not None else app.resolve(event, context)

    return handler


def _check_body(event: dict) -> dict | None:
    """Refuse what the validation layer should never see: bodies over the
    limit (413) and bodies that are not JSON (415). A body sent without a
    Content-Type, or as curl's default form type, is read as JSON; media types
    are compared case-insensitively and any `+json` type is JSON. The header
    is then rewritten to `application/json`, the one spelling the resolver
    recognises."""
    body = event.get("body") or ""
    limit = get_settings().max_body_bytes
    if len(body.encode() if isinstance(body, str) else body) > limit:
        return _raw_error(
            413,
            "payload_too_large",
            f"The request body is larger than {limit} bytes.",
            [field_error("body", f"at most {limit} bytes", "too_large")],
        )
    if not body:
        # No body, whatever the header claims: the resolver must not try to
        # parse one as a form (a 5xx for a multipart type without a boundary).
        _as_json(event)
        return None
    if event.get("isBase64Encoded"):
        # JSON routes take text: a body API Gateway had to base64 is not UTF-8.
        try:
            event["body"] = base64.b64decode(body).decode("utf-8")
            event["isBase64Encoded"] = False
        except (ValueError, UnicodeDecodeError):
            return _raw_error(
                400,
                "invalid_json",
                "The request body is not UTF-8 JSON.",
                [field_error("body", "not UTF-8 text", "json_invalid")],
            )
    headers = event.get("headers") or {}
    name = next((k for k in headers if k.lower() == "content-type"), None)
    content_type = (headers.get(name) or "").split(";")[0].strip().lower() if name else ""
    if content_type not in ("", "application/x-www-form-urlencoded", "application/json") and not (
        content_type.endswith("+json") and "/" in content_type
    ):
        return _raw_error(
            415,
            "unsupported_media_type",
            "Send the request body as application/json.",
            [field_error("Content-Type", "must be application/json", "unsupported")],
        )
    _as_json(event)
    return None


def _as_json(event: dict) -> None:
    """Label the request's body `application/json` for the resolver."""
    headers = event.get("headers") or {}
    event["headers"] = {
        **{k: v for k, v in headers.items() if k.lower() != "content-type"},
        "Content-Type": "application/json",
    }
    if event.get("multiValueHeaders"):
        event["multiValueHeaders"] = {
            **{k: v for k, v in event["multiValueHeaders"].items() if k.lower() != "content-type"},
            "Content-Type": ["application/json"],
        }


def _raw_error(status: int, code: str, message: str, fields: list[dict]) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"error": code, "message": message, "fields": fields}),
        "isBase64Encoded": False,
    }


# ---------------------------------------------------------------- callers


def current_user(app: APIGatewayRestResolver, *roles: Role):
    """The authenticated caller of the current request (authenticated once,
    before validation, for routes that declare bearer security); optionally
    require a role."""
    known = app.context.get("gridpulse_caller")
    caller, user = known if known is not None else authentication.authenticate(_header(app, "Authorization"))
    if roles and caller.role not in roles:
        raise Forbidden("Your role does not allow this.", code="forbidden")
    logger.append_keys(user_id=caller.user_id)
    return caller, user


def current_caller(app: APIGatewayRestResolver, *roles: Role) -> Caller:
    return current_user(app, *roles)[0]


def current_device(app: APIGatewayRestResolver):
    """The device whose X-API-Key authenticated the current request."""
    known = app.context.get("gridpulse_device")
    if known is not None:
        return known
    from gridpulse.devices import service as devices

    return devices.authenticate_device(_header(app, "X-API-Key"))

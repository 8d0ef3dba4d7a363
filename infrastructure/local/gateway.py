"""A local stand-in for API Gateway (REST API, Lambda proxy integration).

Routes come from the Api events of template.yaml; each request becomes an API
Gateway proxy event (path parameters, query strings, single- and multi-value
headers, body, request context) handed to the same handler code that Lambda
runs. Like API Gateway it answers unknown routes itself (404/405), answers
CORS preflights, and refuses bodies over 10 MB (413), whether sized by
Content-Length or sent chunked (it stops reading at the limit).

Besides the API it serves, under paths no API route uses:
  /docs            Swagger UI for openapi.json
  /openapi.json    the checked-in OpenAPI document
  /_local/outbox   emails "sent" through SES and SNS (moto), newest last
  /_local/metrics  the functions' metrics (EMF) since start and over the last minute (infrastructure/local/metrics.py)
  POST /_local/schedules/<FunctionLogicalId>   run a scheduled function now
  POST /_local/invoke/<FunctionLogicalId>   invoke a function asynchronously with the body as its event
                   (Lambda's InvocationType Event, 202; infrastructure/redrive.py redrives with it)
  GET|POST /_local/tuya/faults, GET /_local/tuya/meters   the Tuya Cloud stand-in's fault switch and meters
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import json
import pathlib
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from infrastructure.cfn import ROOT, Stack
from infrastructure.local import web
from infrastructure.local.rate_limit import RateLimiter

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024
ASYNC_EVENT_MAX = 1024 * 1024  # Lambda's limit for an asynchronous invocation's payload
OPENAPI = ROOT / "openapi.json"


@dataclass
class LambdaContext:
    """What Powertools and handlers read from the Lambda context object."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    invoked_function_arn: str
    aws_request_id: str
    started: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """One Lambda function: its handler, loaded once, and `instances`, how many
    invocations may run at once (each a Lambda instance handling one event).

    A function with Api events has one instance: its Powertools resolver keeps
    the current request on the app object, so one process cannot serve two
    requests of it at once. Different functions do serve at once; the shared
    layer's resolver (gridpulse.api.Resolver) keeps each one's event apart. Other functions (SQS and schedule consumers) run
    up to their ReservedConcurrentExecutions at once, else up to
    `default_instances`; their event sources (infrastructure/local/
    event_sources.py) decide how many batches they start."""

    logical_id: str
    name: str
    handler: Callable
    memory: int
    timeout: int
    instances: int = 1
    on_error: Callable[[str], None] | None = None  # told the logical id when an invocation raises (Lambda's Errors)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(max(1, self.instances))

    def invoke(self, event: dict, region: str, account: str) -> dict:
        with self._slots:
            context = LambdaContext(
                function_name=self.name,
                memory_limit_in_mb=self.memory,
                timeout_s=self.timeout,
                invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{self.name}",
                aws_request_id=str(uuid.uuid4()),
                started=time.monotonic(),
            )
            try:
                return self.handler(event, context)
            except BaseException:
                if self.on_error is not None:
                    self.on_error(self.logical_id)
                raise


def load_handler(code_uri: pathlib.Path, handler: str, unique_name: str) -> Callable:
    """Import `module.function` from a function's CodeUri, under a unique module
    name (every function's module is called app.py)."""
    module_name, _, attr = handler.rpartition(".")
    path = code_uri / (module_name.replace(".", "/") + ".py")
    spec = importlib.util.spec_from_file_location(unique_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)


def load_functions(stack: Stack, default_instances: int = 64) -> dict[str, LocalFunction]:
    glob = (stack.template.get("Globals") or {}).get("Function") or {}
    functions = {}
    for logical, res in stack.functions().items():
        props = res["Properties"]
        serves_api = any(e.get("Type") == "Api" for e in (props.get("Events") or {}).values())
        reserved = props.get("ReservedConcurrentExecutions")
        instances = 1 if serves_api else int(stack.resolve(reserved)) if reserved is not None else default_instances
        functions[logical] = LocalFunction(
            logical_id=logical,
            name=str(stack.resolve(props.get("FunctionName", logical))),
            handler=load_handler(ROOT / props["CodeUri"], props["Handler"], f"gridpulse_fn_{logical}"),
            memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            timeout=int(stack.resolve(props.get("Timeout", glob.get("Timeout", 3)))),
            instances=instances,
        )
    return functions


def _cors(stack: Stack) -> dict[str, str]:
    """AllowOrigin and AllowHeaders of the template's API `Cors` (declared
    there once; SAM writes them as quoted strings: "'*'"), what a preflight
    answers with. The allowed methods are the route's own."""
    cors = {}
    for res in stack.resources("AWS::Serverless::Api").values():
        declared = (res.get("Properties") or {}).get("Cors") or {}
        for key in ("AllowOrigin", "AllowHeaders"):
            if key in declared:
                cors[key] = str(stack.resolve(declared[key])).strip("'")
    return cors


def _werkzeug_path(path: str) -> str:
    """/users/{user_id} -> /users/<user_id>; {proxy+} -> <path:proxy>."""
    path = re.sub(r"\{(\w+)\+\}", r"<path:\1>", path)
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


def _multi(pairs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


@functools.lru_cache(maxsize=8)
def _url_map(routes: tuple[tuple[str, str, str], ...]) -> Map:
    """The werkzeug routing map of `routes` ((METHOD, path, logical id)), built
    once per route set: compiling its rules is most of a Gateway's creation,
    and the tests create one per test. A Map is only read once built."""
    rules = [Rule(_werkzeug_path(path), methods=[method], endpoint=(logical, path)) for method, path, logical in routes]
    return Map(rules, strict_slashes=False, merge_slashes=False)


class Gateway:
    def __init__(
        self,
        stack: Stack,
        functions: dict[str, LocalFunction],
        stage: str = "dev",
        outbox: Callable[[], list[dict]] | None = None,
        log: Callable[[str], None] | None = None,
        run_schedule: Callable[[str], dict] | None = None,
        tuya=None,
        rate_limiter: RateLimiter | None = None,
        tile_url: str = "",
        invoke_async: Callable[[str, str], None] | None = None,
        metrics=None,
    ):
        self.stack = stack
        self.functions = functions
        self.stage = stage
        self.outbox = outbox
        self.log = log
        self.run_schedule = run_schedule
        self.tuya = tuya  # the Tuya Cloud stand-in (infrastructure/local/tuya): /_local/tuya/* goes to it
        self.rate_limiter = rate_limiter  # the web ACL's per-IP limits (infrastructure/local/rate_limit.py), or none
        self.tile_url = tile_url  # the dashboard map's tiles (GRIDPULSE_TILE_URL), allowed by its CSP
        self.invoke_async = invoke_async  # (function logical id, event JSON): the event sources' asynchronous invoke
        self.metrics = metrics  # the functions' EMF metrics (infrastructure/local/metrics.py): GET /_local/metrics
        self.cors = _cors(stack)
        self.url_map = _url_map(tuple(stack.api_routes()))

    # ------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.perf_counter()
        response = self.dispatch(request)
        if self.log:
            self.log(
                f"{request.method} {request.full_path.rstrip('?')} -> {response.status_code} "
                f"({(time.perf_counter() - started) * 1000:.0f} ms)"
            )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        local = self._local_route(request)
        if local is not None:
            return local
        page = web.serve(request, tile_url=self.tile_url)
        if page is not None:
            return page
        if self.rate_limiter is not None:
            wait = self.rate_limiter.check(request.remote_addr or "", request.path, request.headers)
            if wait is not None:
                return _error(
                    429,
                    "too_many_requests",
                    "Too many requests from this address; retry later.",
                    {"Retry-After": str(wait)},
                )
        adapter = self.url_map.bind_to_environ(request.environ)
        if request.method == "OPTIONS":
            return self._preflight(adapter, request)
        try:
            (logical, resource), path_params = adapter.match(method=request.method)
        except NotFound:
            return _error(404, "route_not_found", f"No route {request.method} {request.path}.")
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(m for m in exc.valid_methods or [] if m != "HEAD"))
            return _error(
                405, "method_not_allowed", f"{request.method} is not allowed here; use {allowed}.", {"Allow": allowed}
            )
        raw = read_body(request)
        if raw is None:
            return _error(413, "payload_too_large", "Request bodies are limited to 10 MB.")
        event = self.proxy_event(request, resource, path_params, raw)
        try:
            result = self.functions[logical].invoke(event, self.stack.region, self.stack.account)
        except Exception as exc:  # what API Gateway shows when the integration fails
            if self.log:
                self.log(f"  {logical} raised {type(exc).__name__}: {exc}")
            return _error(502, "internal_error", "Internal server error")
        return self.to_response(result)

    # ------------------------------------------------------------ events

    def proxy_event(self, request: Request, resource: str, path_params: dict, raw: bytes) -> dict:
        try:
            body, is_b64 = (raw.decode("utf-8"), False) if raw else (None, False)
        except UnicodeDecodeError:
            body, is_b64 = base64.b64encode(raw).decode(), True
        headers = {k: v for k, v in request.headers.items()}
        query = _multi(request.args.items(multi=True))
        now = time.time()
        return {
            "resource": resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": _multi(request.headers.items()) or None,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": dict(path_params) or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": resource,
                "httpMethod": request.method,
                "path": f"/{self.stage}{request.path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "extendedRequestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(now * 1000),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "accountId": self.stack.account,
                "apiId": "local",
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "domainName": request.host,
                "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
            },
            "body": body,
            "isBase64Encoded": is_b64,
        }

    @staticmethod
    def to_response(result: dict) -> Response:
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
        response = Response(data, status=int(result.get("statusCode", 200)))
        response.headers.clear()
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            response.headers.remove(key)
            for value in values:
                response.headers.add(key, str(value))
        response.headers.setdefault("Content-Type", "application/json")
        return response

    def _preflight(self, adapter, request: Request) -> Response:
        try:
            adapter.match(method="__none__")
        except NotFound:
            return _error(404, "route_not_found", f"No route {request.path}.")
        except MethodNotAllowed as exc:
            response = Response(status=204)
            if "AllowOrigin" in self.cors:
                response.headers["Access-Control-Allow-Origin"] = self.cors["AllowOrigin"]
            response.headers["Access-Control-Allow-Methods"] = ",".join(sorted(exc.valid_methods or []))
            if "AllowHeaders" in self.cors:
                response.headers["Access-Control-Allow-Headers"] = self.cors["AllowHeaders"]
            return response
        return Response(status=204)

    # ------------------------------------------------------------ local-only pages

    def _local_route(self, request: Request) -> Response | None:
        if request.path.startswith("/_local/") and request.method != "GET" and _cross_site(request):
            # A page of another site open in the developer's browser may POST here (text/plain, no preflight).
            return _error(403, "cross_site_request", "Local routes answer this gateway's pages and tools only.")
        if request.path.startswith("/_local/tuya/") and self.tuya is not None:
            return self.tuya.local_response(request)
        if request.method == "POST" and request.path.startswith("/_local/schedules/") and self.run_schedule:
            logical = request.path.rsplit("/", 1)[-1]
            try:
                result = self.run_schedule(logical)
            except KeyError:
                return _error(404, "schedule_not_found", f"No scheduled function {logical}.")
            return Response(
                json.dumps({"function": logical, "result": result}, default=str), content_type="application/json"
            )
        if request.method == "POST" and request.path.startswith("/_local/invoke/") and self.invoke_async:
            logical = request.path.rsplit("/", 1)[-1]
            if logical not in self.functions:
                return _error(404, "function_not_found", f"No function {logical}.")
            if (request.content_length or 0) > ASYNC_EVENT_MAX:
                return _error(413, "event_too_large", f"An event is at most {ASYNC_EVENT_MAX} bytes.")
            raw = request.stream.read(ASYNC_EVENT_MAX + 1)
            if len(raw) > ASYNC_EVENT_MAX:
                return _error(413, "event_too_large", f"An event is at most {ASYNC_EVENT_MAX} bytes.")
            try:
                body = raw.decode("utf-8")
                json.loads(body)
            except ValueError:
                return _error(400, "invalid_event", "The body must be the event, as JSON.")
            self.invoke_async(logical, body)
            return Response(status=202)
        if request.method != "GET":
            return None
        if request.path == "/openapi.json":
            return Response(OPENAPI.read_bytes(), content_type="application/json")
        if request.path in ("/docs", "/docs/"):
            response = Response(_swagger_html(), content_type="text/html; charset=utf-8")
            response.headers.update(web.security_headers())
            response.headers["Content-Security-Policy"] = _swagger_csp()
            return response
        if request.path.startswith("/docs/static/"):
            return _swagger_asset(request.path.rsplit("/", 1)[-1])
        if request.path == "/_local/metrics" and self.metrics is not None:
            return Response(json.dumps(self.metrics.snapshot(), indent=2), content_type="application/json")
        if request.path == "/_local/outbox" and self.outbox is not None:
            messages = self.outbox()
            to = request.args.get("to")
            if to:
                messages = [m for m in messages if to.lower() in [d.lower() for d in m["to"]]]
            return Response(
                json.dumps({"items": messages, "count": len(messages)}, indent=2), content_type="application/json"
            )
        return None


def read_body(request: Request, limit: int = API_GATEWAY_MAX_BODY) -> bytes | None:
    """The request body, or None when it is larger than `limit`. A body whose
    Content-Length is over the limit is not read at all; a chunked one (no
    Content-Length) is read only until it passes the limit, never truncated."""
    if request.content_length is not None:
        return None if request.content_length > limit else request.get_data(cache=False)
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # neither sized nor chunked: there is no body
    stream = request.environ["wsgi.input"]
    chunks, size = [], 0
    while True:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def _cross_site(request: Request) -> bool:
    """A browser's request from a page of another origin (curl and scripts send no Origin)."""
    origin = request.headers.get("Origin")
    return origin is not None and origin.split("://", 1)[-1].rstrip("/") != request.host


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    response = Response(json.dumps({"error": code, "message": message}), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _swagger_dir() -> pathlib.Path:
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as ui

    return pathlib.Path(ui.__file__).parent


def _swagger_asset(name: str) -> Response:
    allowed = {"swagger-ui-bundle.min.js": "application/javascript", "swagger-ui.min.css": "text/css"}
    if name not in allowed:
        return _error(404, "route_not_found", "No such asset.")
    return Response((_swagger_dir() / name).read_bytes(), content_type=allowed[name])


_SWAGGER_INIT = """
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});
"""


def _swagger_csp() -> str:
    """The dashboard's policy, with the page's one inline script allowed by its hash
    (Swagger UI sets inline styles)."""
    digest = base64.b64encode(hashlib.sha256(_SWAGGER_INIT.encode()).digest()).decode()
    return (
        web.csp()
        .replace("script-src 'self';", f"script-src 'self' 'sha256-{digest}';")
        .replace("style-src 'self';", "style-src 'self' 'unsafe-inline';")
    )


def _swagger_html() -> str:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>GridPulse API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.min.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.min.js"></script>
<script>{_SWAGGER_INIT}</script></body></html>"""

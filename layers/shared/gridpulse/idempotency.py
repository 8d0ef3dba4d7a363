"""`Idempotency-Key` on the writes that honour it (POST /devices, POST /telemetry).

Powertools' idempotency utility with its DynamoDB persistence layer
(IdempotencyTable in template.yaml, TTL on `expiration`). A request that
carries the header runs once per (route, authenticated caller, key):

* the same key and body again, within the TTL: the first answer (status and
  body) is replayed and nothing is done twice; the answer says so with
  `Idempotent-Replayed: true`;
* the same key with another body: 422 `idempotency_key_reused`;
* the same key while the first request still runs: 409 `idempotency_in_progress`;
* a request that fails (4xx, or an error) is not remembered: retrying it runs it.

Keys belong to the caller (the user of the bearer token, or the device of the
API key), so one caller cannot replay another's answer. The caller is
authenticated before the key is looked at. What is remembered never holds
a secret: POST /devices remembers the device without its credentials, and a
replay issues new ones (revoking the first), see functions/devices/app.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable

from aws_lambda_powertools.event_handler.openapi.params import Header

from gridpulse.aws import client
from gridpulse.errors import ApiError, BadRequest, Conflict, field_error
from gridpulse.settings import get_settings
from gridpulse.validation import control_character

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_TTL_S = 3600


class Unprocessable(ApiError):
    status = 422
    code = "unprocessable"


# The route parameter that declares the header (OpenAPI) and receives it (any case).
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=f"Makes a retry safe: the same key and body within {DEFAULT_TTL_S // 3600} hour replay the first "
        "answer (Idempotent-Replayed: true); the same key with another body is a 422 "
        "idempotency_key_reused; while the first is in progress, 409 idempotency_in_progress.",
    ),
]


def checked_key(value: str | None) -> str | None:
    """The Idempotency-Key header's value, checked; None when absent."""
    if value is None:
        return None
    if not 1 <= len(value.strip()) <= MAX_KEY_LENGTH:
        raise BadRequest(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
            code="validation_error",
            fields=[field_error(HEADER, f"1 to {MAX_KEY_LENGTH} characters", "invalid")],
        )
    found = control_character(value.strip())
    if found:
        raise BadRequest(
            f"{HEADER} must not contain control characters (found {found}).",
            code="validation_error",
            fields=[field_error(HEADER, "no control characters", "control_character")],
        )
    return value.strip()


def replay_headers(replayed: bool) -> dict | None:
    return {REPLAYED_HEADER: "true"} if replayed else None


def _mark_replay(response: Any, record: Any) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response


def run_once(
    scope: str,
    caller_id: str,
    key: str | None,
    body: Any,
    run: Callable[[], tuple[int, Any]],
    lambda_context: Any = None,
) -> tuple[int, Any, bool]:
    """(status, body, replayed) of `run()`, run at most once per (scope, caller, key) and body."""
    if key is None:
        status, out = run()
        return status, out, False
    # Powertools' idempotency utility is loaded by the first request that carries a key, not at every
    # cold start of the functions that honour the header (docs/decisions.md, "Cold start").
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    settings = get_settings()
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=client("dynamodb"))
    config = IdempotencyConfig(
        event_key_jmespath="[scope, caller, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=settings.idempotency_ttl_seconds,
        response_hook=_mark_replay,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # an interrupted request frees its key at its timeout

    @idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=config, key_prefix=f"gridpulse.{scope}"
    )
    def once(request: dict) -> dict:
        status, out = run()
        return {"status": status, "body": out}

    try:
        result = once(request={"scope": scope, "caller": caller_id, "key": key, "body": body})
    except IdempotencyValidationError:
        raise Unprocessable(
            f"This {HEADER} was used with another request body.",
            code="idempotency_key_reused",
            fields=[field_error(HEADER, "already used with another body", "reused")],
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            f"A request with this {HEADER} is still in progress; retry once it has finished.",
            code="idempotency_in_progress",
            headers={"Retry-After": "1"},
        ) from None
    return int(result["status"]), result["body"], bool(result.get("replayed"))

"""Billing endpoint group: prepaid Tuya meters (top-ups, tokens, balance,
usage, price, reset, prepayment mode, ledger, assignments)."""

from __future__ import annotations

from typing import Annotated, Literal

from gridpulse.api import (
    ADMIN,
    BEARER,
    Limit,
    NextToken,
    Query,
    Response,
    create_app,
    current_caller,
    json_response,
    lambda_handler,
)
from gridpulse.billing import service as billing
from gridpulse.billing.schemas import (
    AddBalanceIn,
    AddTokenIn,
    AssignedUsersPage,
    AssignIn,
    AssignmentOut,
    BalanceOut,
    CommandOut,
    LedgerPage,
    SetPriceIn,
    ThresholdIn,
    ThresholdOut,
    UsageOut,
)
from gridpulse.idempotency import IdempotencyKeyHeader, replay_headers
from gridpulse.pagination import parse_limit
from gridpulse.schemas import MessageOut

app = create_app()

COMMAND_RESPONSES = {
    200: {"description": "Applied", "content": {"application/json": {"model": CommandOut}}},
    202: {
        "description": "Pending: Tuya could not be reached; retried with backoff and applied once",
        "content": {"application/json": {"model": CommandOut}},
    },
    502: {
        "description": "Tuya refused (billing_error, with tuya_code) or stayed unreachable (connection_error); "
        "ledger_id and status say what happened to the money",
        "content": {"application/json": {"model": CommandOut}},
    },
}


def _command(device_id: str, cmd: billing.Command, key: str | None, extra: dict | None = None) -> Response:
    status, body, replayed = billing.run_command(
        current_caller(app), device_id, cmd, key, app.lambda_context, extra=extra
    )
    return json_response(status, body, headers=replay_headers(replayed))


@app.post(
    "/devices/<device_id>/add-balance",
    tags=["billing"],
    summary="Top up a prepaid meter with money (operator, admin, assigned user)",
    security=BEARER,
    responses=COMMAND_RESPONSES,
)
def add_balance(
    device_id: str, body: AddBalanceIn, idempotency_key: IdempotencyKeyHeader = None
) -> Response[CommandOut]:
    return _command(device_id, billing.Command("add_balance", body.amount, "amount", body.amount), idempotency_key)


@app.post(
    "/devices/<device_id>/add-token",
    tags=["billing"],
    summary="Apply a 20-digit prepaid token (operator, admin, assigned user)",
    security=BEARER,
    responses=COMMAND_RESPONSES,
)
def add_token(device_id: str, body: AddTokenIn, idempotency_key: IdempotencyKeyHeader = None) -> Response[CommandOut]:
    return _command(device_id, billing.Command("add_token", body.token, "token"), idempotency_key)


@app.post(
    "/devices/<device_id>/set-price",
    tags=["billing"],
    summary="Set the unit price (admin); kept as tariff history",
    security=ADMIN,
    responses=COMMAND_RESPONSES,
)
def set_price(device_id: str, body: SetPriceIn, idempotency_key: IdempotencyKeyHeader = None) -> Response[CommandOut]:
    extra = {"currency_symbol": body.currency_symbol} if body.currency_symbol else None
    return _command(device_id, billing.Command("set_price", body.price, "price"), idempotency_key, extra)


@app.post(
    "/devices/<device_id>/reset-balance",
    tags=["billing"],
    summary="Clear the meter's balance (admin)",
    security=ADMIN,
    responses=COMMAND_RESPONSES,
)
def reset_balance(device_id: str, idempotency_key: IdempotencyKeyHeader = None) -> Response[CommandOut]:
    return _command(device_id, billing.Command("reset_balance", True, "device_id"), idempotency_key)


@app.post(
    "/devices/<device_id>/prepayment-mode",
    tags=["billing"],
    summary="Switch prepayment mode on or off (admin)",
    security=ADMIN,
    responses=COMMAND_RESPONSES,
)
def prepayment_mode(
    device_id: str,
    enable: Annotated[Literal["true", "false"], Query(description="exactly true or false (required)")],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response[CommandOut]:
    return _command(device_id, billing.Command("prepayment_mode", enable == "true", "enable"), idempotency_key)


@app.get(
    "/devices/<device_id>/balance",
    tags=["billing"],
    summary="Money and energy balance: a live read, or the last one when Tuya is unreachable",
    security=BEARER,
)
def get_balance(device_id: str) -> BalanceOut:
    return billing.balance(current_caller(app), device_id)


@app.get("/devices/<device_id>/usage", tags=["billing"], summary="Energy used and purchased", security=BEARER)
def get_usage(device_id: str) -> UsageOut:
    return billing.usage(current_caller(app), device_id)


@app.get("/devices/<device_id>/ledger", tags=["billing"], summary="Billing operations, newest first", security=BEARER)
def get_ledger(device_id: str, limit: Limit = None, next_token: NextToken = None) -> LedgerPage:
    return billing.ledger_page(current_caller(app), device_id, parse_limit(limit), next_token)


@app.post(
    "/devices/<device_id>/low-balance-threshold",
    tags=["billing"],
    summary="Set the credit under which low_balance is raised (admin; money, or kWh for energy meters)",
    security=ADMIN,
)
def set_threshold(device_id: str, body: ThresholdIn) -> ThresholdOut:
    return billing.set_threshold(current_caller(app), device_id, body.threshold)


@app.post(
    "/devices/<device_id>/assign",
    tags=["billing"],
    summary="Assign the meter to a user (admin); the user may then see and top it up",
    security=ADMIN,
)
def assign(device_id: str, body: AssignIn) -> AssignmentOut:
    return billing.assign(current_caller(app), device_id, body.user_id)


@app.delete(
    "/devices/<device_id>/assign/<user_id>", tags=["billing"], summary="Unassign a user (admin)", security=ADMIN
)
def unassign(device_id: str, user_id: str) -> MessageOut:
    billing.unassign(current_caller(app), device_id, user_id)
    return {"message": "Device unassigned from user."}


@app.get("/devices/<device_id>/users", tags=["billing"], summary="Users assigned to the meter (admin)", security=ADMIN)
def list_users(device_id: str, limit: Limit = None, next_token: NextToken = None) -> AssignedUsersPage:
    return billing.assigned_users(current_caller(app), device_id, parse_limit(limit), next_token)


handler = lambda_handler(app, group="billing")

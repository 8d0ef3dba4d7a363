"""Request and response bodies of the billing group (functions/billing).

Money and energy are exact decimals: a request takes a JSON number or a
decimal string (at most MINOR_UNITS decimals for money), an answer gives
decimal strings ("500.00", "12.345"); nothing goes through a binary float
on the way to storage (a JSON number is read by its shortest repr, which is
the number the caller wrote).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

# The shapes other groups answer with live apart, so those functions do not build every billing model.
from gridpulse.billing.summary_schemas import PrepaidSummaryOut, RefreshOut  # noqa: F401 - re-exported
from gridpulse.schemas import Input, Output, Page, decimal, label

# Digits after the point of the currency (its minor units); 2 unless configured.
MINOR_UNITS = 2
# The largest single top-up or price accepted: anything above is a typo or an attack.
MAX_AMOUNT = Decimal("1000000")
MAX_PRICE = Decimal("100000")

Amount = Annotated[
    decimal(
        gt=0,
        le=MAX_AMOUNT,
        decimal_places=MINOR_UNITS,
        description=f"money, a JSON number or decimal string, > 0, <= {MAX_AMOUNT}, at most {MINOR_UNITS} decimals",
        examples=["500.00"],
    ),
    # 10, "10" and "10.00" are the same money: shown everywhere as "10.00".
    AfterValidator(lambda amount: amount.quantize(Decimal(1).scaleb(-MINOR_UNITS))),
]
Price = decimal(
    gt=0,
    le=MAX_PRICE,
    decimal_places=4,
    description="price of one kWh in the meter's currency, > 0 (the meter's own scale may allow fewer decimals)",
    examples=["20.00"],
)
Token = Annotated[str, Field(pattern=r"^[0-9]{20}$", description="the prepaid token: exactly 20 digits")]
UserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
LedgerStatus = Literal["pending", "applied", "failed"]
Operation = Literal["add_balance", "add_token", "set_price", "reset_balance", "prepayment_mode", "sync_adjustment"]


class AddBalanceIn(Input):
    amount: Amount


class AddTokenIn(Input):
    token: Token


class SetPriceIn(Input):
    price: Price
    currency_symbol: label(8) | None = None  # no control or bidi characters; left out (or null): kept


class ThresholdIn(Input):
    threshold: decimal(
        ge=0,
        le=MAX_AMOUNT,
        decimal_places=3,
        description="credit under which low_balance is raised: money for money meters, kWh for energy meters",
        examples=["25.00"],
    )


class ThresholdOut(Output):
    device_id: str
    low_balance_threshold: str
    unit: str = Field(description="the meter's currency, or kWh for an energy meter")
    message: str


class AssignIn(Input):
    user_id: UserId


class CommandOut(Output):
    success: bool
    message: str
    device_id: str
    command: str = Field(description="the Tuya data point written (or the meter's own code for it)")
    value: str | bool = Field(description="what was asked, a decimal string or a boolean (a token as given)")
    ledger_id: str
    status: LedgerStatus
    money_balance: str | None = None
    energy_balance: str | None = None
    error: str | None = None
    tuya_code: int | str | None = None
    tuya_message: str | None = None


class CommandErrorOut(Output):
    """502 from a billing command: Tuya refused (billing_error) or stayed
    unreachable (connection_error); says what happened to the money."""

    error: str
    message: str
    device_id: str
    ledger_id: str
    status: LedgerStatus
    command: str
    tuya_code: int | str | None = None
    tuya_message: str | None = None


class BalanceOut(Output):
    device_id: str
    money_balance: str | None
    energy_balance: str | None
    currency: str
    currency_symbol: str | None = None
    unit_price: str | None
    credit_status: Literal["good", "low", "empty", "unknown"]
    prepayment_enabled: bool | None
    as_of: str | None
    source: Literal["cache", "live"]


class UsageOut(Output):
    device_id: str
    total_energy_used: str | None
    total_energy_purchased: str
    monthly_energy: str | None
    daily_energy: str | None
    as_of: str | None
    source: Literal["cache", "live"]


class LedgerEntryOut(Output):
    ledger_id: str
    device_id: str
    operation: str
    amount: str | None = None
    energy_kwh: str | None = None
    value: str | bool | None = None
    command: str | None = None
    money_before: str | None = None
    money_after: str | None = None
    energy_before: str | None = None
    energy_after: str | None = None
    status: LedgerStatus
    error: str | None = None
    tuya_request_id: str | None = None
    attempts: int = 0
    performed_by: str
    created_at: str
    applied_at: str | None = None
    idempotency_key: str | None = None


class LedgerPage(Page[LedgerEntryOut]):
    pass


class AssignmentOut(Output):
    user_id: str
    device_id: str
    assigned_at: str


class AssignedUserOut(Output):
    user_id: str
    email: str | None = None
    name: str | None = None
    role: str | None = None
    assigned_at: str


class AssignedUsersPage(Page[AssignedUserOut]):
    pass

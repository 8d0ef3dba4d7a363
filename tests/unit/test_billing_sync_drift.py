"""What the sync counts as a balance change we did not make (gridpulse.billing.sync.drift_of)."""

from __future__ import annotations

from decimal import Decimal as D

from gridpulse.billing.service import Reading
from gridpulse.billing.sync import drift_of

BOOKS = {"money_balance": D("50.00"), "total_consumption_kwh": D("1200.00"), "unit_price": D("0.25"), "as_of": "t1"}


def test_consumption_at_the_unit_price_is_no_adjustment():
    reading = Reading(money=D("47.50"), total_kwh=D("1210.00"), unit_price=D("0.25"))
    assert drift_of(BOOKS, reading, "money") is None


def test_rounding_of_the_meter_is_no_adjustment_but_a_vending_top_up_is():
    assert drift_of(BOOKS, Reading(money=D("49.97"), total_kwh=D("1200.00")), "money") is None
    difference, expected, seen = drift_of(BOOKS, Reading(money=D("147.50"), total_kwh=D("1210.00")), "money")
    assert (difference, expected, seen) == (D("100.00"), D("47.50"), D("147.50"))


def test_a_meter_run_dry_stops_at_zero():
    reading = Reading(money=D("0"), total_kwh=D("1500.00"))  # would be -25 at the price: stopped at 0
    assert drift_of(BOOKS, reading, "money") is None


def test_energy_meters_compare_kwh_and_a_token_since_the_last_read_is_taken_as_it_is():
    books = {"energy_balance": D("200.00"), "total_consumption_kwh": D("1200.00"), "as_of": "2026-01-01T00:00:00Z"}
    assert drift_of(books, Reading(energy=D("190.00"), total_kwh=D("1210.00")), "energy") is None
    assert drift_of(books, Reading(energy=D("100.00"), total_kwh=D("1210.00")), "energy")[0] == D("-90.00")
    token = {**BOOKS, "last_token_at": "2026-01-02T00:00:00Z", "as_of": "2026-01-01T00:00:00Z"}
    assert drift_of(token, Reading(money=D("150.00"), total_kwh=D("1200.00")), "money") is None

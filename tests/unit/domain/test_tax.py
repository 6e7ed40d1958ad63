"""Line amounts and invoice totals: per-line half-up rounding, then sums."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.errors import InvalidInput
from portal.domain.tax import LineAmounts, LineInput, invoice_totals, line_amounts


def line(quantity: str, unit_price_minor: int, rate: str) -> LineInput:
    """A line from readable strings."""
    return LineInput(quantity=Decimal(quantity), unit_price_minor=unit_price_minor, tax_rate=Decimal(rate))


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "expected"),
    [
        ("3", 1999, "20", LineAmounts(5997, 1199, 7196)),  # tax 1199.4 -> 1199
        ("1", 5, "10", LineAmounts(5, 1, 6)),  # tax 0.5 rounds up, not to even
        ("1", 25, "10", LineAmounts(25, 3, 28)),  # 2.5 -> 3 (banker's rounding would give 2)
        ("1", 10000, "8.875", LineAmounts(10000, 888, 10888)),  # 887.5 -> 888
        ("1.5", 333, "0", LineAmounts(500, 0, 500)),  # net 499.5 -> 500
        ("0.333", 100, "20", LineAmounts(33, 7, 40)),  # net 33.3 -> 33, tax 6.6 -> 7
        ("2", 0, "20", LineAmounts(0, 0, 0)),
        ("1", 999, "100", LineAmounts(999, 999, 1998)),
    ],
)
def test_line_amounts_examples(quantity: str, price: int, rate: str, expected: LineAmounts) -> None:
    assert line_amounts(line(quantity, price, rate)) == expected


def test_tax_is_computed_on_the_rounded_net() -> None:
    # net 0.5 rounds to 1; tax at 50% of the rounded net is 0.5 -> 1 (on the exact net it would be 0.25 -> 0)
    assert line_amounts(line("0.5", 1, "50")) == LineAmounts(1, 1, 2)


def test_each_line_is_rounded_before_summing() -> None:
    # three lines each with 0.333 minor units of tax: each rounds to 0, so the invoice has no tax,
    # where rounding the invoice total instead would give 0.999 -> 1
    lines = [line("1", 333, "0.1")] * 3
    assert [line_amounts(one).tax_minor for one in lines] == [0, 0, 0]
    totals = invoice_totals(lines)
    assert (totals.subtotal_minor, totals.tax_minor, totals.total_minor) == (999, 0, 999)


def test_halves_on_each_line_add_up() -> None:
    # each line has 0.5 of tax -> 1 each, 3 in total (rounding the sum 1.5 would give 2)
    totals = invoice_totals([line("1", 5, "10")] * 3)
    assert (totals.subtotal_minor, totals.tax_minor, totals.total_minor) == (15, 3, 18)


def test_invoice_totals_group_tax_by_rate() -> None:
    totals = invoice_totals(
        [line("2", 1000, "20"), line("1", 500, "20.0"), line("1", 1000, "5.5"), line("1", 700, "0")]
    )
    assert totals.subtotal_minor == 4200
    assert totals.tax_by_rate == {Decimal("20"): 500, Decimal("5.5"): 55, Decimal("0"): 0}
    assert totals.tax_minor == 555
    assert totals.total_minor == 4755


def test_empty_invoice_totals_are_zero() -> None:
    totals = invoice_totals([])
    assert (totals.subtotal_minor, totals.tax_minor, totals.total_minor, totals.tax_by_rate) == (0, 0, 0, {})


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "field", "message"),
    [
        ("0", 100, "20", "quantity", "The quantity must be greater than zero."),
        ("-1", 100, "20", "quantity", "The quantity must be greater than zero."),
        ("NaN", 100, "20", "quantity", "The quantity must be greater than zero."),
        ("1", -1, "20", "unit_price", "The unit price cannot be negative."),
        ("1", 100, "-0.5", "tax_rate", "The tax rate must be between 0% and 100%."),
        ("1", 100, "100.01", "tax_rate", "The tax rate must be between 0% and 100%."),
    ],
)
def test_invalid_lines_name_the_field(quantity: str, price: int, rate: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        line_amounts(line(quantity, price, rate))
    assert (error.value.field, error.value.message) == (field, message)


def test_a_bad_line_makes_the_totals_fail() -> None:
    with pytest.raises(InvalidInput) as error:
        invoice_totals([line("1", 100, "20"), line("0", 100, "20")])
    assert error.value.field == "quantity"


def test_unit_price_must_be_minor_units() -> None:
    with pytest.raises(InvalidInput) as error:
        line_amounts(LineInput(quantity=Decimal(1), unit_price_minor=Decimal("1.5"), tax_rate=Decimal(0)))  # type: ignore[arg-type]
    assert error.value.field == "unit_price"


def test_huge_amounts_are_not_rounded_early() -> None:
    amounts = line_amounts(line("1000000.001", 10**15, "8.875"))
    assert amounts.net_minor == 1000000001 * 10**12
    assert amounts.tax_minor == 88750000088750000000  # 8.875% of the net, exact to the unit


rates = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)
quantities = st.decimals(
    min_value=Decimal("0.001"), max_value=10000, places=3, allow_nan=False, allow_infinity=False
)
prices = st.integers(min_value=0, max_value=10**9)
lines_strategy = st.lists(st.builds(LineInput, quantities, prices, rates), max_size=12)


@given(lines_strategy)
@settings(max_examples=150, deadline=None)
def test_totals_are_sums_of_rounded_lines(lines: list[LineInput]) -> None:
    totals = invoice_totals(lines)
    amounts = [line_amounts(one) for one in lines]
    assert totals.subtotal_minor == sum(a.net_minor for a in amounts)
    assert totals.tax_minor == sum(a.tax_minor for a in amounts)
    assert totals.total_minor == sum(a.gross_minor for a in amounts)
    assert totals.total_minor == totals.subtotal_minor + totals.tax_minor
    assert sum(totals.tax_by_rate.values()) == totals.tax_minor
    assert set(totals.tax_by_rate) == {one.tax_rate for one in lines}


@given(quantities, prices, rates)
@settings(max_examples=150, deadline=None)
def test_each_line_is_within_half_a_minor_unit(quantity: Decimal, price: int, rate: Decimal) -> None:
    amounts = line_amounts(LineInput(quantity, price, rate))
    assert abs(amounts.net_minor - quantity * price) <= Decimal("0.5")
    assert abs(amounts.tax_minor - amounts.net_minor * rate / 100) <= Decimal("0.5")
    assert amounts.gross_minor == amounts.net_minor + amounts.tax_minor
    assert 0 <= amounts.tax_minor <= amounts.net_minor

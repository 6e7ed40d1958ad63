"""Money: currency exponents, arithmetic, parsing what users type, and locale formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.errors import CurrencyMismatch, InvalidInput
from portal.domain.money import (
    MAX_AMOUNT_MINOR,
    Money,
    currency_exponent,
    format_amount,
    format_money,
    from_decimal,
    normalize_currency,
    parse_amount,
    round_half_up,
    to_decimal,
)

LOCALES = ["en", "fr", "de", "ja"]
CURRENCIES = ["USD", "EUR", "JPY", "KWD", "GBP"]
NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("currency", "exponent"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("jpy", 0)]
)
def test_currency_exponent_comes_from_the_currency(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_normalize_currency_accepts_lowercase_and_spaces() -> None:
    assert normalize_currency(" eur ") == "EUR"


@pytest.mark.parametrize("code", ["XYZ", "xyz", "US", "USDX", "12$", "€"])
def test_normalize_currency_rejects_unknown_codes(code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_currency(code)
    assert error.value.field == "currency"
    assert error.value.message.startswith("Unknown currency code '")


def test_unknown_currency_message_names_the_code() -> None:
    with pytest.raises(InvalidInput, match=r"^Unknown currency code 'XYZ'\.$"):
        normalize_currency("XYZ")


def test_empty_currency_asks_for_one() -> None:
    with pytest.raises(InvalidInput, match=r"^Enter a currency code\.$"):
        normalize_currency("  ")


# --- Money -------------------------------------------------------------------------------------------


def test_money_arithmetic_in_one_currency() -> None:
    a, b = Money(1050, "USD"), Money(250, "USD")
    assert a + b == Money(1300, "USD")
    assert a - b == Money(800, "USD")
    assert b - a == Money(-800, "USD")
    assert -a == Money(-1050, "USD")
    assert (b - a).is_negative and not a.is_negative
    assert Money.zero("USD").is_zero and not a.is_zero


def test_money_normalizes_currency() -> None:
    assert Money(5, "usd") == Money(5, "USD")
    with pytest.raises(InvalidInput):
        Money(5, "XYZ")


def test_money_comparisons() -> None:
    small, big = Money(100, "EUR"), Money(200, "EUR")
    assert small < big and small <= big and big > small and big >= small
    assert small <= Money(100, "EUR") and small >= Money(100, "EUR")
    assert not big < small
    assert sorted([big, small]) == [small, big]


def test_equal_amounts_in_different_currencies_are_not_equal() -> None:
    assert Money(100, "USD") != Money(100, "EUR")


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_raises(operation) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CurrencyMismatch, match="USD and EUR"):
        operation(Money(100, "USD"), Money(100, "EUR"))


def test_currency_mismatch_is_an_invalid_input() -> None:
    assert issubclass(CurrencyMismatch, InvalidInput)


@pytest.mark.parametrize("amount", [Decimal("1.5"), Decimal(1), True, "100", 1.5, None])
def test_money_rejects_non_int_amounts(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_money_cannot_be_added_to_a_plain_int() -> None:
    with pytest.raises(TypeError):
        Money(1, "USD") + 1  # type: ignore[operator]


def test_money_is_immutable_and_hashable() -> None:
    money = Money(1, "USD")
    with pytest.raises(AttributeError):
        money.amount_minor = 2  # type: ignore[misc]
    assert len({Money(1, "USD"), Money(1, "USD"), Money(1, "EUR")}) == 2


# --- Decimal conversion and rounding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (12345, "USD", "123.45"),
        (12345, "JPY", "12345"),
        (12345, "KWD", "12.345"),
        (-5, "USD", "-0.05"),
        (0, "EUR", "0.00"),
    ],
)
def test_to_decimal_is_exact(minor: int, currency: str, expected: str) -> None:
    value = to_decimal(minor, currency)
    assert value == Decimal(expected)
    assert str(value) == expected


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("123.45", "USD", 12345),
        ("123.4", "USD", 12340),
        ("123.450000", "USD", 12345),
        ("7", "JPY", 7),
        ("-1.5", "EUR", -150),
    ],
)
def test_from_decimal_is_exact(value: str, currency: str, expected: int) -> None:
    assert from_decimal(Decimal(value), currency) == expected


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("1.001", "USD", "USD amounts have at most 2 decimal places."),
        ("1.5", "JPY", "JPY amounts have no decimal places."),
        ("0.0001", "KWD", "KWD amounts have at most 3 decimal places."),
    ],
)
def test_from_decimal_refuses_extra_decimals(value: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        from_decimal(Decimal(value), currency)
    assert error.value.message == message


def test_from_decimal_refuses_infinity_and_nan() -> None:
    for value in (Decimal("Infinity"), Decimal("NaN")):
        with pytest.raises(InvalidInput):
            from_decimal(value, "USD")


@given(st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(CURRENCIES))
@settings(max_examples=100, deadline=None)
def test_decimal_round_trip(minor: int, currency: str) -> None:
    assert from_decimal(to_decimal(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.5", 3),
        ("3.5", 4),
        ("2.4999", 2),
        ("-2.5", -3),
        ("-2.4", -2),
        ("0.5", 1),
        ("1199.4", 1199),
        ("7", 7),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(value: str, expected: int) -> None:
    assert round_half_up(Decimal(value)) == expected


@given(st.decimals(min_value=-(10**20), max_value=10**20, allow_nan=False, allow_infinity=False, places=4))
@settings(max_examples=100, deadline=None)
def test_round_half_up_is_within_half_a_unit(value: Decimal) -> None:
    rounded = round_half_up(value)
    assert abs(Decimal(rounded) - value) <= Decimal("0.5")
    if abs(Decimal(rounded) - value) == Decimal("0.5"):
        assert abs(rounded) > abs(value)


# --- Parsing what users type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "locale", "expected"),
    [
        ("1,234", "JPY", "en", 1234),
        ("1234", "JPY", "en", 1234),
        ("¥1,234", "JPY", "en", 1234),
        ("￥1,234", "JPY", "ja", 1234),
        ("1.234", "KWD", "en", 1234),
        ("1,234.500", "KWD", "en", 1234500),
        ("1,234.50", "USD", "en", 123450),
        ("1,234", "USD", "en", 123400),
        ("1234.5", "USD", "en", 123450),
        ("$1,234.50", "USD", "en", 123450),
        ("  $ 1,234.50  ", "USD", "en", 123450),
        ("1,234.50 USD", "USD", "en", 123450),
        ("usd 1234.50", "USD", "en", 123450),
        ("12,345,678.90", "USD", "en", 1234567890),
        (".5", "USD", "en", 50),
        ("5.", "USD", "en", 500),
        ("0", "USD", "en", 0),
        ("0.00", "USD", "en", 0),
        ("12.500", "USD", "en", 1250),
        ("1234,50", "EUR", "fr", 123450),
        ("1 234,50", "EUR", "fr", 123450),
        (f"1{NBSP}234,50", "EUR", "fr", 123450),
        (f"1{NNBSP}234,50{NBSP}€", "EUR", "fr", 123450),
        ("1 234,50 EUR", "EUR", "fr", 123450),
        ("1.234,50", "EUR", "de", 123450),
        ("1.234,50 €", "EUR", "de", 123450),
        ("1.234", "EUR", "de", 123400),
        ("€1,234.50", "EUR", "en", 123450),
        ("£12", "GBP", "en", 1200),
        ("１，２３４", "JPY", "ja", 1234),
    ],
)
def test_parse_amount_examples(text: str, currency: str, locale: str, expected: int) -> None:
    assert parse_amount(text, currency, locale) == expected


def _parse_error(text: str, currency: str = "USD", locale: str = "en") -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        parse_amount(text, currency, locale)
    assert error.value.field == "amount"
    return error.value


@pytest.mark.parametrize("text", ["", "   ", NBSP])
def test_parse_amount_empty(text: str) -> None:
    assert _parse_error(text).message == "Enter an amount."


@pytest.mark.parametrize("text", ["-5", "-$5", "$-5", "−5", "-1,234.50", "(5.00)", "-5 USD"])
def test_parse_amount_negative(text: str) -> None:
    assert _parse_error(text).message == "The amount cannot be negative."


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        ("12.5", "JPY", "en", "JPY amounts have no decimal places."),
        ("1,234.50", "JPY", "en", "JPY amounts have no decimal places."),
        ("12.345", "USD", "en", "USD amounts have at most 2 decimal places."),
        ("12,345", "EUR", "fr", "EUR amounts have at most 2 decimal places."),
        ("1.2345", "KWD", "en", "KWD amounts have at most 3 decimal places."),
    ],
)
def test_parse_amount_too_many_decimals(text: str, currency: str, locale: str, message: str) -> None:
    assert _parse_error(text, currency, locale).message == message


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("abc", "en"),
        ("12abc", "en"),
        ("€5", "en"),  # another currency's symbol in a USD field
        ("$", "en"),
        ("USD", "en"),
        ("-", "en"),
        ("5e3", "en"),
        ("+5", "en"),
        ("1,,234", "en"),
    ],
)
def test_parse_amount_garbage(text: str, locale: str) -> None:
    assert _parse_error(text, "USD", locale).message == f"'{text}' is not a valid amount."


def test_parse_amount_garbage_message_is_short_for_long_input() -> None:
    message = _parse_error("x" * 500).message
    assert len(message) < 80 and message.endswith("is not a valid amount.")


@pytest.mark.parametrize("text", ["10,000,000,000,000.01", "99999999999999999", "9" * 5000])
def test_parse_amount_too_large(text: str) -> None:
    assert _parse_error(text).message == "The amount is too large."


def test_parse_amount_accepts_the_maximum() -> None:
    assert parse_amount("10,000,000,000,000.00", "USD") == MAX_AMOUNT_MINOR


def test_parse_amount_rejects_unknown_currency() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_amount("5", "XYZ")
    assert error.value.field == "currency"


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=9),
    st.sampled_from(CURRENCIES),
)
@settings(max_examples=50, deadline=None)
def test_parse_amount_rejects_any_extra_significant_decimal(
    whole: int, last_digit: int, currency: str
) -> None:
    text = f"{whole}.{'0' * currency_exponent(currency)}{last_digit}"
    assert "decimal places" in _parse_error(text, currency).message


# --- Formatting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (123450, "USD", "en", "$1,234.50"),
        (5, "USD", "en", "$0.05"),
        (0, "USD", "en", "$0.00"),
        (-123450, "USD", "en", "-$1,234.50"),
        (1234, "JPY", "en", "¥1,234"),
        (1234, "KWD", "en", "KWD1.234"),
        (5, "KWD", "en", "KWD0.005"),
        (123450, "EUR", "fr", f"1{NNBSP}234,50{NBSP}€"),
        (123450, "EUR", "de", f"1.234,50{NBSP}€"),
        (1234, "JPY", "ja", "￥1,234"),
        (99999999999999999, "USD", "en", "$999,999,999,999,999.99"),
    ],
)
def test_format_money_examples(minor: int, currency: str, locale: str, expected: str) -> None:
    assert format_money(minor, currency, locale) == expected


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (123450, "USD", "en", "1,234.50"),
        (123400, "USD", "en", "1,234.00"),
        (-123450, "USD", "en", "-1,234.50"),
        (1234, "JPY", "en", "1,234"),
        (1234, "KWD", "en", "1.234"),
        (1000, "KWD", "en", "1.000"),
        (123450, "EUR", "fr", f"1{NNBSP}234,50"),
        (123450, "EUR", "de", "1.234,50"),
    ],
)
def test_format_amount_examples(minor: int, currency: str, locale: str, expected: str) -> None:
    assert format_amount(minor, currency, locale) == expected


@given(
    st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR),
    st.sampled_from(CURRENCIES),
    st.sampled_from(LOCALES),
)
@settings(max_examples=200, deadline=None)
def test_parse_of_format_round_trips(minor: int, currency: str, locale: str) -> None:
    assert parse_amount(format_money(minor, currency, locale), currency, locale) == minor
    assert parse_amount(format_amount(minor, currency, locale), currency, locale) == minor


@given(
    st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR),
    st.sampled_from(CURRENCIES),
    st.sampled_from(LOCALES),
)
@settings(max_examples=50, deadline=None)
def test_negative_amounts_format_with_a_minus_and_are_refused_by_the_parser(
    minor: int, currency: str, locale: str
) -> None:
    for text in (format_money(-minor, currency, locale), format_amount(-minor, currency, locale)):
        assert "-" in text
        with pytest.raises(InvalidInput, match="cannot be negative"):
            parse_amount(text, currency, locale)

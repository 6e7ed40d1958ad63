"""Strict amount parsing per locale: a thousands separator in the wrong place is refused, and the message
says what the text could have meant and how to write an amount, in the reader's language (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import i18n
from portal.domain.errors import InvalidInput
from portal.domain.money import AmbiguousAmount, format_amount, parse_amount


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """The reader's language while a message is made (as a page sets it)."""
    i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n.set_locale("en")


def _error(text: str, currency: str, locale: str) -> InvalidInput:
    with use_locale(locale), pytest.raises(InvalidInput) as caught:
        parse_amount(text, currency, locale)
    return caught.value


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        (
            "0,500",
            "USD",
            "en",
            "“0,500” is not an amount in English: did you mean 0.50 or 500.00? Write amounts like 1,234.56.",
        ),
        (
            "1,23",
            "USD",
            "en",
            "“1,23” is not an amount in English: did you mean 1.23 or 123.00? Write amounts like 1,234.56.",
        ),
        (
            "0,500",
            "JPY",
            "en",
            "“0,500” is not an amount in English: did you mean 500? Write amounts like 1,234.",
        ),
        (
            "0\u202f500",
            "EUR",
            "fr",
            "« 0\u202f500 » n'est pas un montant en français : vouliez-vous dire 500,00 ? "
            "Écrivez les montants comme 1\u202f234,56.",
        ),
        (
            "1.234,56",
            "EUR",
            "fr",
            "« 1.234,56 » n'est pas un montant en français : vouliez-vous dire 1\u202f234,56 ou "
            "123\u202f456,00 ? Écrivez les montants comme 1\u202f234,56.",
        ),
    ],
)
def test_a_misplaced_separator_is_refused_with_what_it_could_mean(
    text: str, currency: str, locale: str, message: str
) -> None:
    error = _error(text, currency, locale)
    assert isinstance(error, AmbiguousAmount)
    assert error.message == message
    assert error.field == "amount"


@pytest.mark.parametrize(
    ("text", "locale"),
    [("1,23", "en"), ("12,50", "en"), ("1.2.3", "en"), ("1 234.50", "en"), ("1234.50", "fr"), ("1,5", "ja")],
)
def test_digits_with_separators_the_locale_cannot_read_are_ambiguous(text: str, locale: str) -> None:
    error = _error(text, "USD", locale)
    assert isinstance(error, AmbiguousAmount), error.message
    assert "did you mean" in error.message or "vouliez-vous dire" in error.message


def test_zero_then_a_group_is_never_five_hundred_in_english() -> None:
    """The finding: '0,500' was read as 500.00."""
    with pytest.raises(AmbiguousAmount):
        parse_amount("0,500", "USD", "en")
    with pytest.raises(AmbiguousAmount):
        parse_amount("00,500", "USD", "en")


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("1,234.56", "USD", "en", 123456),
        ("500", "USD", "en", 50000),
        ("0.5", "USD", "en", 50),
        ("0,500", "EUR", "fr", 50),  # in French the comma is the decimal mark
        ("1 234,56", "EUR", "fr", 123456),
        ("1\u202f234,56", "EUR", "fr", 123456),
        ("0,500", "KWD", "fr", 500),
        ("12,345", "JPY", "en", 12345),
    ],
)
def test_well_written_amounts_still_parse(text: str, currency: str, locale: str, minor: int) -> None:
    assert parse_amount(text, currency, locale) == minor


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(["USD", "EUR", "JPY", "KWD"]),
    locale=st.sampled_from(["en", "fr"]),
)
def test_what_we_write_is_read_back_strictly(amount: int, currency: str, locale: str) -> None:
    assert parse_amount(format_amount(amount, currency, locale), currency, locale) == amount

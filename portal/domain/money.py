"""Money as integer minor units plus an ISO 4217 code.

How many decimals a currency has comes from our own table (`portal/domain/currencies.py`), never from
babel; babel only supplies each locale's symbols, separators and patterns."""

from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern, get_currency_symbol

from portal.domain.currencies import MINOR_UNITS
from portal.domain.errors import CurrencyMismatch, InvalidInput
from portal.i18n import _

MAX_AMOUNT_MINOR = 10**15
"""The largest amount, in minor units, that `parse_amount` accepts."""

_MINUS_SIGNS = ("-", "\u2212", "\u2012", "\u2013")
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c"))


@lru_cache(maxsize=512)
def normalize_currency(code: str) -> str:
    """Return the upper-case ISO 4217 code, or raise InvalidInput if it is not in our table."""
    cleaned = code.strip().upper() if isinstance(code, str) else ""
    if not cleaned:
        raise InvalidInput(_("Enter a currency code."), field="currency")
    if len(cleaned) != 3 or not cleaned.isascii() or not cleaned.isalpha() or cleaned not in MINOR_UNITS:
        raise InvalidInput(_("Unknown currency code '{code}'.", code=cleaned), field="currency")
    return cleaned


def currency_exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY 0, USD 2, KWD 3), from our ISO table."""
    return MINOR_UNITS[normalize_currency(currency)]


def _check_int(amount_minor: object) -> int:
    """Return the value if it is a real int (not bool), else raise TypeError."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError(f"amount_minor must be an int, not {type(amount_minor).__name__}")
    return amount_minor


@dataclass(frozen=True, slots=True)
class Money:
    """An integer amount of minor units in one currency; arithmetic across currencies raises."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.amount_minor)
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in the given currency."""
        return cls(0, currency)

    @property
    def is_zero(self) -> bool:
        """True when the amount is zero."""
        return self.amount_minor == 0

    @property
    def is_negative(self) -> bool:
        """True when the amount is below zero."""
        return self.amount_minor < 0

    def _same(self, other: Money) -> None:
        """Raise CurrencyMismatch unless `other` has the same currency."""
        if self.currency != other.currency:
            raise CurrencyMismatch(
                _("Cannot combine {first} and {second} amounts.", first=self.currency, second=other.currency)
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount_minor >= other.amount_minor


def _decimals_message(currency: str) -> str:
    """The message shown when an amount has more decimals than the currency allows."""
    exponent = currency_exponent(currency)
    if exponent == 0:
        return _("{currency} amounts have no decimal places.", currency=currency)
    if exponent == 1:
        return _("{currency} amounts have at most 1 decimal place.", currency=currency)
    return _("{currency} amounts have at most {count} decimal places.", currency=currency, count=exponent)


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Exact Decimal value of an amount in minor units (12345 USD -> Decimal('123.45'))."""
    _check_int(amount_minor)
    return Decimal(f"{amount_minor}E-{currency_exponent(currency)}")


def from_decimal(value: Decimal, currency: str) -> int:
    """Exact minor units of a Decimal; raises InvalidInput if it has more decimals than the currency."""
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise TypeError(f"value must be a Decimal, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise InvalidInput(_("'{value}' is not a valid amount.", value=value), field="amount")
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    shift = exp + currency_exponent(currency)
    number = int("".join(map(str, digits)))
    if shift < 0:
        number, dropped = divmod(number, 10**-shift)
        if dropped:
            raise InvalidInput(_decimals_message(normalize_currency(currency)), field="amount")
    else:
        number *= 10**shift
    return -number if sign else number


def round_half_up(value: Decimal) -> int:
    """Round a Decimal count of minor units to an int, halves away from zero."""
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"cannot round {value}")
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


@lru_cache(maxsize=64)
def _locale(locale: str) -> Locale:
    """Parse 'en', 'fr_FR' or 'fr-FR' into a babel Locale."""
    return Locale.parse(locale.replace("-", "_"))


def _nfkc(text: str) -> str:
    """Compatibility-normalize: NBSP and narrow NBSP become spaces, fullwidth forms become ASCII."""
    text = unicodedata.normalize("NFKC", text).translate(_BIDI_MARKS)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


@lru_cache(maxsize=256)
def _currency_tokens(currency: str, locale: str) -> tuple[str, ...]:
    """Symbols and code a user may type with an amount, longest first, case-folded."""
    loc = _locale(locale)
    tokens = {currency, get_currency_symbol(currency, loc), get_currency_symbol(currency, "en")}
    return tuple(sorted({_nfkc(t).strip().casefold() for t in tokens if t.strip()}, key=len, reverse=True))


@lru_cache(maxsize=64)
def _number_regex(locale: str) -> re.Pattern[str]:
    """A strict regex for an unsigned number written with the locale's separators."""
    loc = _locale(locale)
    decimal = re.escape(_nfkc(loc.number_symbols["latn"]["decimal"]))
    group_symbol = _nfkc(loc.number_symbols["latn"]["group"])
    group = "[ ]" if group_symbol.isspace() else re.escape(group_symbol)
    pattern = loc.decimal_formats[None]
    primary, secondary = pattern.grouping[0], pattern.grouping[1]
    # babel's strict reading: a grouped number never starts with 0 ('0,500' is neither 500 nor 0.5 in English)
    first = rf"[1-9][0-9]{{0,{secondary - 1}}}"
    grouped = rf"{first}(?:{group}[0-9]{{{secondary}}})*{group}[0-9]{{{primary}}}"
    integer = rf"(?P<int>[0-9]+|{grouped})"
    return re.compile(rf"(?:{integer}(?:{decimal}(?P<frac>[0-9]*))?|{decimal}(?P<only>[0-9]+))")


def _strip_sign(text: str) -> tuple[bool, str]:
    """Remove a leading minus sign; return whether there was one."""
    if text.startswith(_MINUS_SIGNS):
        return True, text[1:].strip()
    return False, text


def _strip_currency(text: str, currency: str, locale: str) -> tuple[bool, str]:
    """Remove the sign and one currency symbol or code before and/or after the (case-folded) number."""
    negative, text = _strip_sign(text)
    tokens = _currency_tokens(currency, locale)
    prefix = next((t for t in tokens if text.startswith(t)), "")
    minus, text = _strip_sign(text[len(prefix) :].strip())
    suffix = next((t for t in tokens if text.endswith(t) and len(text) > len(t)), "")
    text = text[: len(text) - len(suffix)].strip()
    if text.startswith("(") and text.endswith(")"):
        minus, text = True, text[1:-1].strip()
    return negative or minus, text


class AmbiguousAmount(InvalidInput):
    """Digits and separators that the locale does not read as one amount ('0,500' or '1,23' in English):
    the message names the amounts it could have meant and how to write one."""


_SEPARATED = re.compile(r"[0-9]+(?:[.,' ][0-9]+)*[.,]?|[.,][0-9]+")


def _readings(number: str, currency: str) -> list[int]:
    """What digits with separators could have meant, smallest first: every separator a thousands
    separator ('0,500' -> 500), or the last '.' or ',' the decimal mark ('0,500' -> 0.50)."""
    if not _SEPARATED.fullmatch(number):
        return []
    exponent = currency_exponent(currency)
    found: set[int] = set()
    digits = re.sub(r"[^0-9]", "", number)
    if len(digits.lstrip("0")) <= 16:
        found.add(int(digits) * 10**exponent)
    mark = max(number.rfind("."), number.rfind(","))
    if mark >= 0:
        whole = re.sub(r"[^0-9]", "", number[:mark]).lstrip("0")
        fraction = number[mark + 1 :].rstrip("0")
        if fraction.isdigit() or not fraction:
            if len(fraction) <= exponent and len(whole) <= 16:
                found.add(int(whole or "0") * 10**exponent + int(fraction.ljust(exponent, "0") or "0"))
    return sorted(a for a in found if 0 < a <= MAX_AMOUNT_MINOR)


def _example(currency: str, locale: str) -> str:
    """'1,234.56' (en, USD), '1 234,56' (fr, EUR), '1,234' (en, JPY), '1,234.560' (en, KWD)."""
    exponent = currency_exponent(currency)
    return format_amount(
        123456 * 10 ** (exponent - 2) if exponent >= 2 else 1234 * 10**exponent, currency, locale
    )


def _language(locale: str) -> str:
    """The locale's language in its own words: 'English', 'français'."""
    loc = _locale(locale)
    return loc.get_display_name(loc) or locale


def _not_an_amount(original: str, number: str, currency: str, locale: str) -> InvalidInput:
    """The error for typed text the locale cannot read: the amounts it could mean, and how to write one."""
    shown = original if len(original) <= 40 else original[:39] + "…"
    readings = [format_amount(a, currency, locale) for a in _readings(number, currency)]
    example, language = _example(currency, locale), _language(locale)
    if len(readings) >= 2:
        message = _(
            "“{value}” is not an amount in {language}: did you mean {first} or {second}? "
            "Write amounts like {example}.",
            value=shown,
            language=language,
            first=readings[0],
            second=readings[-1],
            example=example,
        )
        return AmbiguousAmount(message, field="amount")
    if readings:
        message = _(
            "“{value}” is not an amount in {language}: did you mean {first}? Write amounts like {example}.",
            value=shown,
            language=language,
            first=readings[0],
            example=example,
        )
        return AmbiguousAmount(message, field="amount")
    return InvalidInput(_("'{value}' is not a valid amount.", value=shown), field="amount")


def parse_amount(text: str, currency: str, locale: str = "en") -> int:
    """Parse what a user typed in an amount field into minor units (zero allowed, negative refused)."""
    currency = normalize_currency(currency)
    original = (text or "").strip()
    if not original:
        raise InvalidInput(_("Enter an amount."), field="amount")
    negative, number = _strip_currency(_nfkc(original).strip().casefold(), currency, locale)
    match = _number_regex(locale).fullmatch(number)
    if match is None:
        raise _not_an_amount(original, number, currency, locale)
    group = _nfkc(_locale(locale).number_symbols["latn"]["group"])
    integer = re.sub(r"\s" if group.isspace() else re.escape(group), "", match["int"] or "").lstrip("0")
    fraction = (match["frac"] or match["only"] or "").rstrip("0")
    if negative and (integer or fraction):
        raise InvalidInput(_("The amount cannot be negative."), field="amount")
    exponent = currency_exponent(currency)
    if len(fraction) > exponent:
        raise InvalidInput(_decimals_message(currency), field="amount")
    if len(integer) > 16:
        raise InvalidInput(_("The amount is too large."), field="amount")
    amount = int(integer or "0") * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if amount > MAX_AMOUNT_MINOR:
        raise InvalidInput(_("The amount is too large."), field="amount")
    return amount


@lru_cache(maxsize=256)
def _pattern(locale: str, exponent: int, with_symbol: bool) -> NumberPattern:
    """The locale's currency (or plain number) pattern with exactly `exponent` decimals."""
    loc = _locale(locale)
    pattern = copy.copy(loc.currency_formats["standard"] if with_symbol else loc.decimal_formats[None])
    pattern.frac_prec = (exponent, exponent)
    return pattern


def _format(amount_minor: int, currency: str, locale: str, *, with_symbol: bool) -> str:
    """Apply the locale's pattern with the decimals of our table (babel's currency digits are not used)."""
    code = normalize_currency(currency)
    pattern = _pattern(locale, currency_exponent(code), with_symbol)
    value = to_decimal(amount_minor, code)
    return pattern.apply(value, _locale(locale), currency=code, currency_digits=False)


def format_amount(amount_minor: int, currency: str, locale: str = "en") -> str:
    """The number alone with the currency's exact decimals and the locale's separators."""
    return _format(amount_minor, currency, locale, with_symbol=False)


def format_money(amount_minor: int, currency: str, locale: str = "en") -> str:
    """The amount with its currency symbol, formatted for the locale, with the currency's exact decimals."""
    return _format(amount_minor, currency, locale, with_symbol=True)

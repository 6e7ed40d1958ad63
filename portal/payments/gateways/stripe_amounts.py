"""Amounts at the Stripe edge: Stripe's own minor unit per currency, and the conversion between it and the
portal's ISO 4217 minor units."""

from __future__ import annotations

from portal.domain.money import currency_exponent, normalize_currency
from portal.i18n import _
from portal.payments.gateways.protocol import GatewayError

# Stripe's minor units (https://docs.stripe.com/currencies): zero-decimal and three-decimal currencies,
# every other currency has two decimals at Stripe, whatever ISO 4217 says. ISK and UGX are zero-decimal in
# ISO 4217 but stay two-decimal in Stripe's API for backwards compatibility (5 ISK is sent as 500), so
# they are deliberately absent from the zero-decimal set below.
_STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def stripe_exponent(currency: str) -> int:
    """The number of decimals Stripe's API uses for a currency's amounts."""
    code = normalize_currency(currency)
    if code in _STRIPE_ZERO_DECIMAL:
        return 0
    if code in _STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_stripe_amount(amount_minor: int, currency: str) -> int:
    """Portal (ISO 4217) minor units -> Stripe's minor units (5 ISK -> 500, 500 JPY -> 500)."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError(f"amount_minor must be an int, not {type(amount_minor).__name__}")
    code = normalize_currency(currency)
    shift = stripe_exponent(code) - currency_exponent(code)
    if shift >= 0:
        amount = amount_minor * 10**shift
    else:
        amount, rest = divmod(amount_minor, 10**-shift)
        if rest:
            raise GatewayError(
                _("Stripe cannot take fractions of the smallest {currency} unit.", currency=code),
                code="amount_not_representable",
            )
    if code in _STRIPE_THREE_DECIMAL and amount % 10:
        raise GatewayError(
            _("Stripe needs {currency} amounts rounded to the nearest ten minor units.", currency=code),
            code="amount_not_representable",
        )
    return amount


def from_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's minor units -> portal (ISO 4217) minor units (500 ISK at Stripe -> 5); halves round up."""
    code = normalize_currency(currency)
    shift = stripe_exponent(code) - currency_exponent(code)
    if shift <= 0:
        return int(amount) * 10**-shift
    whole, rest = divmod(int(amount), 10**shift)
    return whole + (1 if rest * 2 >= 10**shift else 0)

"""The sandbox's test cards: card checks like a card form's, brands, and how each test number (or IBAN)
answers a charge."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.i18n import N_, _
from portal.payments.gateways.protocol import GatewayError, NewCard

DECLINES = {
    "4000000000000002": (
        "card_declined",
        N_("Your card was declined. Please use another card or contact your bank."),
    ),
    "4000000000009995": (
        "insufficient_funds",
        N_("Your card has insufficient funds. Please use another card."),
    ),
}
DECLINE_ON_CHARGE = {"4000000000000341": DECLINES["4000000000000002"]}
NEEDS_AUTH = {"4000002760003184"}
BRANDS = (
    ("4", "visa"),
    ("51", "mastercard"),
    ("52", "mastercard"),
    ("55", "mastercard"),
    ("34", "amex"),
    ("37", "amex"),
    ("35", "jcb"),
    ("6", "discover"),
)
IBAN_FAILS = "DE62370400440532013001"


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def card_brand(number: str) -> str:
    """The card's network from its first digits ('card' when none matches)."""
    return next((brand for prefix, brand in BRANDS if number.startswith(prefix)), "card")


def check_card(card: NewCard, *, today: datetime | None = None) -> str:
    """Validate a typed card like a card form would; return its digits."""
    number = "".join(ch for ch in card.number if ch.isdigit())
    if not 12 <= len(number) <= 19 or not _luhn_ok(number):
        raise GatewayError(_("Your card number is incorrect."), code="incorrect_number")
    now = today or datetime.now(UTC)
    if not 1 <= card.exp_month <= 12:
        raise GatewayError(_("Your card's expiration month is invalid."), code="invalid_expiry_month")
    if (card.exp_year, card.exp_month) < (now.year, now.month):
        raise GatewayError(_("Your card has expired."), code="expired_card")
    if card.cvc and not (card.cvc.isdigit() and 3 <= len(card.cvc) <= 4):
        raise GatewayError(_("Your card's security code is incorrect."), code="incorrect_cvc")
    return number


def intent_data(method: dict, customer: str, amount: int, currency: str, metadata: dict) -> dict:
    """A sandbox payment intent charging `method`: succeeded, declined, waiting for the bank (a debit) or
    asking for authentication, as its test number says."""
    number = method.get("number", "")
    status, code, message = "succeeded", "", ""
    if method["kind"] == "direct_debit":
        status = "processing"
    elif number in DECLINES or number in DECLINE_ON_CHARGE:
        code, message = (DECLINES | DECLINE_ON_CHARGE)[number]
        status = "requires_payment_method"
    elif number in NEEDS_AUTH:
        status, code, message = (
            "requires_action",
            "authentication_required",
            N_("Your bank asks you to confirm this payment."),
        )
    return {
        "customer": customer,
        "payment_method": method["id"],
        "amount": amount,
        "currency": currency.upper(),
        "metadata": dict(metadata),
        "status": status,
        "decline_code": code,
        "message": message,
        "amount_refunded": 0,
    }

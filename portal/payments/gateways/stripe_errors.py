"""Stripe's errors as the portal's: plain words for decline codes, and SDK errors turned into GatewayError."""

from __future__ import annotations

from typing import Any, NoReturn

import stripe

from portal.i18n import N_, _
from portal.payments.gateways.protocol import GatewayError

_GENERIC_DECLINE = N_("Your card was declined. Please use another card or contact your bank.")
DECLINE_MESSAGES: dict[str, str] = {
    "card_declined": _GENERIC_DECLINE,
    "generic_decline": _GENERIC_DECLINE,
    "do_not_honor": _GENERIC_DECLINE,
    "lost_card": _GENERIC_DECLINE,
    "stolen_card": _GENERIC_DECLINE,
    "fraudulent": _GENERIC_DECLINE,
    "insufficient_funds": N_("Your card has insufficient funds. Please use another card."),
    "expired_card": N_("Your card has expired. Please use another card."),
    "incorrect_cvc": N_("The card's security code (CVC) is incorrect. Please check it or use another card."),
    "incorrect_number": N_("The card number is incorrect. Please check it or use another card."),
    "processing_error": N_("Your bank could not process the card just now. Please try again in a moment."),
    "authentication_required": N_("Your bank asks you to confirm this payment."),
}
"""Plain words for Stripe's decline codes (anything else gets the generic decline message)."""


def decline_message(code: str) -> str:
    """Plain words for a decline code (in the current locale)."""
    return _(DECLINE_MESSAGES.get(code, _GENERIC_DECLINE))


def error_body(exc: stripe.StripeError) -> dict[str, Any]:
    """The `error` object of a Stripe error response, as a plain dict."""
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def card_error_code(exc: stripe.StripeError) -> str:
    """The most specific code of a card error (the decline code when the bank gave one)."""
    error = error_body(exc)
    return str(error.get("decline_code") or error.get("code") or exc.code or "card_declined")


def raise_gateway_error(exc: stripe.StripeError) -> NoReturn:
    """Translate an SDK error into a GatewayError that can be shown."""
    if isinstance(exc, stripe.CardError):
        code = card_error_code(exc)
        raise GatewayError(decline_message(code), code=code) from exc
    if isinstance(exc, stripe.AuthenticationError):
        raise GatewayError(
            _(
                "Stripe did not accept this secret key: {problem}",
                problem=exc.user_message or _("authentication failed"),
            ),
            code="invalid_key",
        ) from exc
    if isinstance(exc, stripe.PermissionError):
        raise GatewayError(
            _("This Stripe key may not do that: {problem}", problem=exc.user_message),
            code="permission_denied",
        ) from exc
    if isinstance(exc, stripe.APIConnectionError):
        raise GatewayError(
            _("Stripe could not be reached. Please try again in a moment."),
            code="network_error",
            retryable=True,
        ) from exc
    if isinstance(exc, stripe.RateLimitError):
        raise GatewayError(
            _("Stripe is busy. Please try again in a moment."), code="rate_limited", retryable=True
        ) from exc
    if isinstance(exc, stripe.IdempotencyError):
        raise GatewayError(
            _("This request was already sent with different details."), code="idempotency_error"
        ) from exc
    if isinstance(exc, stripe.InvalidRequestError):
        raise GatewayError(
            _("Stripe refused the request: {problem}", problem=exc.user_message),
            code=str(exc.code or "invalid_request"),
        ) from exc
    retryable = exc.http_status is None or exc.http_status >= 500
    raise GatewayError(
        _("Stripe failed: {problem}", problem=exc.user_message or _("unexpected error")),
        code="api_error",
        retryable=retryable,
    ) from exc

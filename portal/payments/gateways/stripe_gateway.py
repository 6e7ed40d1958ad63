"""The Stripe gateway: the official SDK's async API behind the PaymentGateway protocol.

This is the only module in the project that imports `stripe`. Every SDK object is turned into plain
Python (dicts, dataclasses) before it leaves this module, and every amount is converted between the
portal's ISO 4217 minor units and Stripe's own idea of a currency's minor unit at this edge.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import stripe

from portal.domain.money import currency_exponent, normalize_currency
from portal.i18n import N_, _
from portal.payments.gateways.protocol import (
    ChargeResult,
    ChargeStatus,
    CheckoutStart,
    GatewayError,
    GatewayEvent,
    GatewayPayment,
    InvalidSignature,
    NewCard,
    RefundResult,
    SavedMethod,
    SetupInfo,
    SubscriptionInfo,
)

T = TypeVar("T")

WEBHOOK_TOLERANCE_SECONDS = 300
"""Webhooks signed longer ago, or dated further ahead, than this are refused (Stripe's own default)."""
MAX_LISTED_PAYMENTS = 1000
"""`list_payments` stops after this many payments; reconciliation runs often enough for that."""
_NETWORK_RETRIES = 2
_TIMEOUT_SECONDS = 30.0

# Stripe's minor units (https://docs.stripe.com/currencies): zero-decimal and three-decimal currencies,
# every other currency has two decimals at Stripe, whatever ISO 4217 says. ISK and UGX are zero-decimal in
# ISO 4217 but stay two-decimal in Stripe's API for backwards compatibility (5 ISK is sent as 500), so
# they are deliberately absent from the zero-decimal set below.
_STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

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

_CHARGE_STATUS = {
    "succeeded": ChargeStatus.succeeded,
    "requires_action": ChargeStatus.requires_action,
    "processing": ChargeStatus.processing,
    "requires_capture": ChargeStatus.processing,
}
_DEBIT_TYPES = {"EUR": "sepa_debit", "USD": "us_bank_account", "GBP": "bacs_debit"}
_METHOD_KINDS = {
    "card": "card",
    "sepa_debit": "direct_debit",
    "us_bank_account": "direct_debit",
    "bacs_debit": "direct_debit",
    "au_becs_debit": "direct_debit",
    "acss_debit": "direct_debit",
    "customer_balance": "bank_transfer",
}
_INTERVALS = frozenset({"day", "week", "month", "year"})


def decline_message(code: str) -> str:
    """Plain words for a decline code (in the current locale)."""
    return _(DECLINE_MESSAGES.get(code, _GENERIC_DECLINE))


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


def _plain(obj: Any) -> dict[str, Any]:
    """An SDK object (or a dict) as a plain, recursive dict."""
    if obj is None:
        return {}
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"unexpected Stripe value {type(obj).__name__}")


def _ref(value: Any) -> str:
    """The id of a field that is either an id or an expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("id") or "")
    if isinstance(value, stripe.StripeObject):
        return str(value.to_dict().get("id") or "")
    return ""


def _metadata(value: Any) -> dict[str, str]:
    """Stripe metadata as a plain dict of strings."""
    return {str(k): str(v) for k, v in (_plain(value) if value else {}).items()}


def _timestamp(value: Any) -> datetime | None:
    """A Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    """The `error` object of a Stripe error response, as a plain dict."""
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _card_error_code(exc: stripe.StripeError) -> str:
    """The most specific code of a card error (the decline code when the bank gave one)."""
    error = _error_body(exc)
    return str(error.get("decline_code") or error.get("code") or exc.code or "card_declined")


def _check_signed_at(signature: str, *, now: float) -> None:
    """Refuse a (verified) Stripe-Signature whose `t=` lies more than the tolerance away from `now`."""
    try:  # read as the SDK reads it: the first `t=` item
        signed_at = int(next(item.split("=", 2)[1] for item in signature.split(",") if item.startswith("t=")))
    except (StopIteration, ValueError):
        raise InvalidSignature("The Stripe-Signature header has no timestamp.") from None
    if abs(now - signed_at) > WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidSignature(f"Timestamp outside the tolerance zone ({signed_at}).")


def _raise_gateway_error(exc: stripe.StripeError) -> NoReturn:
    """Translate an SDK error into a GatewayError that can be shown."""
    if isinstance(exc, stripe.CardError):
        code = _card_error_code(exc)
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


def _saved_method(pm: dict[str, Any]) -> SavedMethod | None:
    """A Stripe PaymentMethod as a SavedMethod (None for kinds the portal does not track)."""
    pm_type = str(pm.get("type") or "")
    kind = _METHOD_KINDS.get(pm_type)
    if kind is None:
        return None
    if pm_type == "card":
        card = pm.get("card") or {}
        return SavedMethod(
            ref=str(pm["id"]),
            kind=kind,
            brand=str(card.get("brand") or ""),
            last4=str(card.get("last4") or ""),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
        )
    details = pm.get(pm_type) or {}
    return SavedMethod(ref=str(pm["id"]), kind=kind, brand=pm_type, last4=str(details.get("last4") or ""))


def _subscription_info(sub: dict[str, Any]) -> SubscriptionInfo:
    """A Stripe Subscription as SubscriptionInfo; the period end lives on the items since API 2025-03-31."""
    period_end = sub.get("current_period_end")
    if not period_end:
        items = (sub.get("items") or {}).get("data") or []
        ends = [item.get("current_period_end") for item in items if item.get("current_period_end")]
        period_end = min(ends) if ends else None
    return SubscriptionInfo(
        ref=str(sub["id"]),
        status=str(sub.get("status") or ""),
        current_period_end=_timestamp(period_end),
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
    )


def _gateway_payment(pi: dict[str, Any]) -> GatewayPayment:
    """A Stripe PaymentIntent (with `latest_charge` expanded when possible) as a GatewayPayment."""
    currency = str(pi["currency"]).upper()
    charge = pi.get("latest_charge")
    refunded = int(charge.get("amount_refunded") or 0) if isinstance(charge, dict) else 0
    return GatewayPayment(
        ref=str(pi["id"]),
        amount_minor=from_stripe_amount(int(pi["amount"]), currency),
        currency=currency,
        status=str(pi.get("status") or ""),
        metadata=_metadata(pi.get("metadata")),
        customer_ref=_ref(pi.get("customer")),
        method_ref=_ref(pi.get("payment_method")),
        created=int(pi.get("created") or 0),
        amount_refunded_minor=from_stripe_amount(refunded, currency),
        failure_message=_failure_message(pi),
    )


def _failure_message(pi: dict[str, Any]) -> str:
    """The last payment error of an intent, in the plain words the portal shows."""
    error = pi.get("last_payment_error")
    if not isinstance(error, dict):
        return ""
    return decline_message(str(error.get("decline_code") or error.get("code") or "card_declined"))


def _checkout_method_types(method_kinds: Iterable[str], currency: str) -> list[str]:
    """Stripe payment method types for the portal's method kinds (skipping those `currency` lacks)."""
    types: list[str] = []
    for kind in method_kinds:
        pm_type = "card" if kind == "card" else _DEBIT_TYPES.get(currency) if kind == "direct_debit" else None
        if pm_type and pm_type not in types:
            types.append(pm_type)
    return types


class StripeGateway:
    """PaymentGateway on a Stripe account (or on localstripe, through `api_base`, in tests)."""

    name = "stripe"

    def __init__(
        self, secret_key: str, *, webhook_secret: str = "", api_base: str = "", mode: str = "test"
    ) -> None:
        self.mode = mode
        self.key = f"stripe:{mode}"
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._http = stripe.HTTPXClient(timeout=_TIMEOUT_SECONDS)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else {},
            http_client=self._http,
            max_network_retries=_NETWORK_RETRIES,
        )

    async def _call(self, request: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await one SDK call; Stripe errors become GatewayError."""
        try:
            return await request(*args, **kwargs)
        except stripe.StripeError as exc:
            _raise_gateway_error(exc)

    async def verify_account(self) -> str:
        """Check the key with a real call; return the account id."""
        key_mode = "live" if "_live_" in self._secret_key else "test" if "_test_" in self._secret_key else ""
        if key_mode and key_mode != self.mode:
            raise GatewayError(
                _("This is a {key} key but the gateway is set to {mode} mode.", key=key_mode, mode=self.mode),
                code="mode_mismatch",
            )
        account = await self._call(self._client.v1.accounts.retrieve_current_async)
        return str(_plain(account).get("id") or "")

    async def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        """Create a customer; return its id."""
        customer = await self._call(
            self._client.v1.customers.create_async,
            {"email": email, "name": name},
            {"idempotency_key": idempotency_key},
        )
        return str(customer.id)

    async def save_method(
        self, *, customer_ref: str, method: str | NewCard, idempotency_key: str
    ) -> SavedMethod:
        """Confirm a SetupIntent for the method (attaching it to the customer); a decline raises."""
        if not isinstance(method, str):
            raise GatewayError(
                "Stripe collects card numbers itself; pass a Stripe payment method id.",
                code="unsupported_method",
            )
        pm_type = await self._method_type(method)
        intent = await self._call(
            self._client.v1.setup_intents.create_async,
            {"customer": customer_ref, "usage": "off_session", "payment_method_types": [pm_type]},
            {"idempotency_key": idempotency_key},
        )
        confirmed = _plain(
            await self._call(
                self._client.v1.setup_intents.confirm_async,
                str(intent.id),
                {"payment_method": method},
                {"idempotency_key": f"{idempotency_key}:confirm"},
            )
        )
        status = confirmed.get("status")
        if status == "requires_action":
            raise GatewayError(decline_message("authentication_required"), code="authentication_required")
        if status != "succeeded":
            error = confirmed.get("last_setup_error") or {}
            code = str(error.get("decline_code") or error.get("code") or "card_declined")
            raise GatewayError(decline_message(code), code=code)
        pm = _plain(
            await self._call(
                self._client.v1.payment_methods.retrieve_async, _ref(confirmed["payment_method"])
            )
        )
        if _ref(pm.get("customer")) != customer_ref:
            pm = _plain(
                await self._call(
                    self._client.v1.payment_methods.attach_async,
                    str(pm["id"]),
                    {"customer": customer_ref},
                    {"idempotency_key": f"{idempotency_key}:attach"},
                )
            )
        saved = _saved_method(pm)
        if saved is None:
            raise GatewayError(
                _("The portal cannot keep this kind of payment method."), code="unsupported_method"
            )
        return saved

    async def list_methods(self, *, customer_ref: str) -> list[SavedMethod]:
        """The customer's saved methods (cards and bank debits)."""
        page = await self._call(
            self._client.v1.payment_methods.list_async, {"customer": customer_ref, "limit": 100}
        )
        methods = (_saved_method(_plain(pm)) for pm in page.data)
        return [method for method in methods if method is not None]

    async def set_default_method(self, *, customer_ref: str, method_ref: str) -> None:
        """Make the method the customer's default for invoices and subscriptions."""
        await self._call(
            self._client.v1.customers.update_async,
            customer_ref,
            {"invoice_settings": {"default_payment_method": method_ref}},
        )

    async def detach_method(self, *, method_ref: str) -> None:
        """Detach the method from its customer."""
        await self._call(self._client.v1.payment_methods.detach_async, method_ref)

    async def _method_type(self, method_ref: str) -> str:
        """A payment method's type ("card", "sepa_debit", ...), sent as `payment_method_types` so that
        Stripe does not turn on redirect-based automatic payment methods (which need a return_url)."""
        method = await self._call(self._client.v1.payment_methods.retrieve_async, method_ref)
        return str(_plain(method).get("type") or "card")

    async def _payment_intent_of_charge(self, charge_id: str) -> str:
        """The PaymentIntent a charge belongs to ("" when it cannot be found)."""
        if not charge_id:
            return ""
        try:
            charge = await self._client.v1.charges.retrieve_async(charge_id)
        except stripe.StripeError:
            return ""
        return _ref(_plain(charge).get("payment_intent"))

    async def charge(
        self,
        *,
        customer_ref: str,
        method_ref: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> ChargeResult:
        """Charge a saved method off-session; a decline is a result, not an exception."""
        amount = to_stripe_amount(amount_minor, currency)
        pm_type = await self._method_type(method_ref)
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_ref,
            "payment_method": method_ref,
            "payment_method_types": [pm_type],
            "off_session": True,
            "confirm": True,
            "metadata": dict(metadata),
        }
        try:
            intent = _plain(
                await self._client.v1.payment_intents.create_async(
                    params, {"idempotency_key": idempotency_key}
                )
            )
        except stripe.CardError as exc:
            error = _error_body(exc)
            payment_ref = _ref(error.get("payment_intent")) or await self._payment_intent_of_charge(
                str(error.get("charge") or "")
            )
            code = _card_error_code(exc)
            return ChargeResult(
                status=ChargeStatus.failed,
                payment_ref=payment_ref,
                decline_code=code,
                message=decline_message(code),
            )
        except stripe.StripeError as exc:
            _raise_gateway_error(exc)
        status = _CHARGE_STATUS.get(str(intent.get("status")))
        if status is not None:
            return ChargeResult(status=status, payment_ref=str(intent["id"]))
        error = intent.get("last_payment_error") or {}
        code = str(error.get("decline_code") or error.get("code") or "card_declined")
        return ChargeResult(
            status=ChargeStatus.failed,
            payment_ref=str(intent["id"]),
            decline_code=code,
            message=decline_message(code),
        )

    async def create_checkout(
        self,
        *,
        amount_minor: int,
        currency: str,
        description: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        metadata: dict[str, str],
        customer_ref: str = "",
        method_kinds: tuple[str, ...] = ("card",),
        save_method: bool = False,
    ) -> CheckoutStart:
        """A Checkout Session (mode payment) for one amount."""
        code = normalize_currency(currency)
        method_types = _checkout_method_types(method_kinds, code)
        if not method_types:
            raise GatewayError(
                _("None of these payment methods can be used in {currency}.", currency=code), code="no_method"
            )
        payment_intent_data: dict[str, Any] = {"metadata": dict(metadata)}
        if save_method:
            payment_intent_data["setup_future_usage"] = "off_session"
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": code.lower(),
                        "unit_amount": to_stripe_amount(amount_minor, code),
                        "product_data": {"name": description},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": dict(metadata),
            "payment_intent_data": payment_intent_data,
            "payment_method_types": method_types,
        }
        if customer_ref:
            params["customer"] = customer_ref
        elif save_method:
            params["customer_creation"] = "always"
        session = _plain(
            await self._call(
                self._client.v1.checkout.sessions.create_async, params, {"idempotency_key": idempotency_key}
            )
        )
        return CheckoutStart(session_id=str(session["id"]), url=str(session.get("url") or ""))

    async def create_setup_checkout(
        self, *, customer_ref: str, success_url: str, cancel_url: str, idempotency_key: str
    ) -> CheckoutStart:
        """A Checkout Session in setup mode: the customer saves a card on Stripe's page, no charge."""
        params: dict[str, Any] = {
            "mode": "setup",
            "customer": customer_ref,
            "payment_method_types": ["card"],
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        session = _plain(
            await self._call(
                self._client.v1.checkout.sessions.create_async, params, {"idempotency_key": idempotency_key}
            )
        )
        return CheckoutStart(session_id=str(session["id"]), url=str(session.get("url") or ""))

    async def retrieve_setup_intent(self, *, ref: str) -> SetupInfo:
        """Re-fetch a SetupIntent: its status, customer and the payment method it saved."""
        intent = _plain(await self._call(self._client.v1.setup_intents.retrieve_async, ref))
        return SetupInfo(
            ref=str(intent["id"]),
            status=str(intent.get("status") or ""),
            customer_ref=_ref(intent.get("customer")),
            method_ref=_ref(intent.get("payment_method")),
        )

    async def create_subscription(
        self,
        *,
        customer_ref: str,
        method_ref: str,
        amount_minor: int,
        currency: str,
        interval: str,
        description: str,
        idempotency_key: str,
        metadata: dict[str, str],
        trial_end: datetime | None = None,
        interval_count: int = 1,
    ) -> SubscriptionInfo:
        """A product, a (legacy) plan and a subscription charged to `method_ref` (first at `trial_end`)."""
        if interval not in _INTERVALS:
            raise GatewayError(f"Unknown billing interval '{interval}'.", code="invalid_interval")
        product = await self._call(
            self._client.v1.products.create_async,
            {"name": description, "metadata": dict(metadata)},
            {"idempotency_key": f"{idempotency_key}:product"},
        )
        plan = await self._call(
            self._client.v1.plans.create_async,
            {
                "amount": to_stripe_amount(amount_minor, currency),
                "currency": currency.lower(),
                "interval": interval,
                "interval_count": interval_count,
                "product": str(product.id),
                "metadata": dict(metadata),
            },
            {"idempotency_key": f"{idempotency_key}:plan"},
        )
        subscription = await self._call(
            self._client.v1.subscriptions.create_async,
            {
                "customer": customer_ref,
                "items": [{"plan": str(plan.id)}],
                "default_payment_method": method_ref,
                "metadata": dict(metadata),
                **({"trial_end": int(trial_end.timestamp())} if trial_end else {}),
            },
            {"idempotency_key": idempotency_key},
        )
        return _subscription_info(_plain(subscription))

    async def update_subscription_method(self, *, ref: str, method_ref: str) -> SubscriptionInfo:
        """Charge the subscription to another method from now on."""
        subscription = await self._call(
            self._client.v1.subscriptions.update_async, ref, {"default_payment_method": method_ref}
        )
        return _subscription_info(_plain(subscription))

    async def cancel_subscription(self, *, ref: str, at_period_end: bool) -> SubscriptionInfo:
        """Cancel at the end of the paid period, or now."""
        if at_period_end:
            subscription = await self._call(
                self._client.v1.subscriptions.update_async, ref, {"cancel_at_period_end": True}
            )
        else:
            subscription = await self._call(self._client.v1.subscriptions.cancel_async, ref)
        return _subscription_info(_plain(subscription))

    async def resume_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Keep a subscription that was set to cancel at its period end."""
        subscription = await self._call(
            self._client.v1.subscriptions.update_async, ref, {"cancel_at_period_end": False}
        )
        return _subscription_info(_plain(subscription))

    async def retrieve_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Re-fetch a subscription."""
        subscription = await self._call(self._client.v1.subscriptions.retrieve_async, ref)
        return _subscription_info(_plain(subscription))

    async def refund(self, *, payment_ref: str, amount_minor: int, idempotency_key: str) -> RefundResult:
        """Refund part or all of a PaymentIntent."""
        if amount_minor <= 0:
            raise GatewayError(_("A refund must be for more than nothing."), code="invalid_amount")
        intent = _plain(await self._call(self._client.v1.payment_intents.retrieve_async, payment_ref))
        currency = str(intent["currency"])
        refund = _plain(
            await self._call(
                self._client.v1.refunds.create_async,
                {"payment_intent": payment_ref, "amount": to_stripe_amount(amount_minor, currency)},
                {"idempotency_key": idempotency_key},
            )
        )
        return RefundResult(
            ref=str(refund["id"]),
            status=str(refund.get("status") or ""),
            amount_minor=from_stripe_amount(int(refund["amount"]), str(refund.get("currency") or currency)),
        )

    async def retrieve_payment(self, *, payment_ref: str) -> GatewayPayment:
        """Re-fetch a PaymentIntent with its latest charge (for the refunded amount)."""
        intent = await self._call(
            self._client.v1.payment_intents.retrieve_async, payment_ref, {"expand": ["latest_charge"]}
        )
        return _gateway_payment(_plain(intent))

    async def list_payments(self, *, created_after: int) -> list[GatewayPayment]:
        """PaymentIntents created after a Unix time, newest first, at most MAX_LISTED_PAYMENTS."""
        page = await self._call(
            self._client.v1.payment_intents.list_async,
            {"created": {"gt": int(created_after)}, "limit": 100, "expand": ["data.latest_charge"]},
        )
        payments: list[GatewayPayment] = []
        try:
            async for intent in page.auto_paging_iter():
                payments.append(_gateway_payment(_plain(intent)))
                if len(payments) >= MAX_LISTED_PAYMENTS:
                    break
        except stripe.StripeError as exc:
            _raise_gateway_error(exc)
        return payments

    def parse_webhook(self, *, payload: bytes, signature: str) -> GatewayEvent:
        """Verify the Stripe-Signature header and parse the event. The signature's timestamp must be within
        300 s of now in either direction: the SDK bounds only the past, a future date would let a captured
        request be replayed for as long as its date lies ahead."""
        if not self._webhook_secret:
            raise InvalidSignature("No webhook signing secret is configured.")
        if not signature:
            raise InvalidSignature("The Stripe-Signature header is missing.")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            _check_signed_at(signature, now=time.time())
            event = json.loads(payload)
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignature(exc.user_message or "Invalid signature.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidSignature("The webhook body is not a JSON event.") from exc
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise InvalidSignature("The webhook body is not a Stripe event.")
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        obj = data.get("object")
        return GatewayEvent(
            id=str(event["id"]),
            type=str(event["type"]),
            data=obj if isinstance(obj, dict) else {},
            created=int(event.get("created") or 0),
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.close_async()

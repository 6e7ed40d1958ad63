"""The Stripe gateway: the official SDK's async API behind the PaymentGateway protocol.

Only this module and its `stripe_*` neighbours (amounts, errors, objects, webhooks) import `stripe`. Every
SDK object is turned into plain Python (dicts, dataclasses) before it leaves them, and every amount is
converted between the portal's ISO 4217 minor units and Stripe's own idea of a currency's minor unit at
this edge.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import stripe

from portal.domain.money import normalize_currency
from portal.i18n import _
from portal.payments.gateways.protocol import (
    ChargeResult,
    ChargeStatus,
    CheckoutStart,
    GatewayError,
    GatewayEvent,
    GatewayPayment,
    NewCard,
    RefundResult,
    SavedMethod,
    SetupInfo,
    SubscriptionInfo,
)
from portal.payments.gateways.stripe_amounts import from_stripe_amount, to_stripe_amount
from portal.payments.gateways.stripe_errors import (
    card_error_code,
    decline_message,
    error_body,
    raise_gateway_error,
)
from portal.payments.gateways.stripe_objects import (
    checkout_method_types,
    gateway_payment,
    id_of,
    plain,
    saved_method,
    subscription_info,
)
from portal.payments.gateways.stripe_webhooks import parse_event

T = TypeVar("T")

MAX_LISTED_PAYMENTS = 1000
"""`list_payments` stops after this many payments; reconciliation runs often enough for that."""
_NETWORK_RETRIES = 2
_TIMEOUT_SECONDS = 30.0

_CHARGE_STATUS = {
    "succeeded": ChargeStatus.succeeded,
    "requires_action": ChargeStatus.requires_action,
    "processing": ChargeStatus.processing,
    "requires_capture": ChargeStatus.processing,
}
_INTERVALS = frozenset({"day", "week", "month", "year"})


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
            raise_gateway_error(exc)

    async def verify_account(self) -> str:
        """Check the key with a real call; return the account id."""
        key_mode = "live" if "_live_" in self._secret_key else "test" if "_test_" in self._secret_key else ""
        if key_mode and key_mode != self.mode:
            raise GatewayError(
                _("This is a {key} key but the gateway is set to {mode} mode.", key=key_mode, mode=self.mode),
                code="mode_mismatch",
            )
        account = await self._call(self._client.v1.accounts.retrieve_current_async)
        return str(plain(account).get("id") or "")

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
        confirmed = plain(
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
        pm = plain(
            await self._call(
                self._client.v1.payment_methods.retrieve_async, id_of(confirmed["payment_method"])
            )
        )
        if id_of(pm.get("customer")) != customer_ref:
            pm = plain(
                await self._call(
                    self._client.v1.payment_methods.attach_async,
                    str(pm["id"]),
                    {"customer": customer_ref},
                    {"idempotency_key": f"{idempotency_key}:attach"},
                )
            )
        saved = saved_method(pm)
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
        methods = (saved_method(plain(pm)) for pm in page.data)
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
        return str(plain(method).get("type") or "card")

    async def _payment_intent_of_charge(self, charge_id: str) -> str:
        """The PaymentIntent a charge belongs to ("" when it cannot be found)."""
        if not charge_id:
            return ""
        try:
            charge = await self._client.v1.charges.retrieve_async(charge_id)
        except stripe.StripeError:
            return ""
        return id_of(plain(charge).get("payment_intent"))

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
            intent = plain(
                await self._client.v1.payment_intents.create_async(
                    params, {"idempotency_key": idempotency_key}
                )
            )
        except stripe.CardError as exc:
            error = error_body(exc)
            payment_ref = id_of(error.get("payment_intent")) or await self._payment_intent_of_charge(
                str(error.get("charge") or "")
            )
            code = card_error_code(exc)
            return ChargeResult(
                status=ChargeStatus.failed,
                payment_ref=payment_ref,
                decline_code=code,
                message=decline_message(code),
            )
        except stripe.StripeError as exc:
            raise_gateway_error(exc)
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
        locale: str = "",
    ) -> CheckoutStart:
        """A Checkout Session (mode payment) for one amount, its page in `locale` when given."""
        code = normalize_currency(currency)
        method_types = checkout_method_types(method_kinds, code)
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
        if locale:
            params["locale"] = locale
        if customer_ref:
            params["customer"] = customer_ref
        elif save_method:
            params["customer_creation"] = "always"
        session = plain(
            await self._call(
                self._client.v1.checkout.sessions.create_async, params, {"idempotency_key": idempotency_key}
            )
        )
        return CheckoutStart(session_id=str(session["id"]), url=str(session.get("url") or ""))

    async def create_setup_checkout(
        self, *, customer_ref: str, success_url: str, cancel_url: str, idempotency_key: str, locale: str = ""
    ) -> CheckoutStart:
        """A Checkout Session in setup mode: the customer saves a card on Stripe's page, no charge."""
        params: dict[str, Any] = {
            "mode": "setup",
            "customer": customer_ref,
            "payment_method_types": ["card"],
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if locale:
            params["locale"] = locale
        session = plain(
            await self._call(
                self._client.v1.checkout.sessions.create_async, params, {"idempotency_key": idempotency_key}
            )
        )
        return CheckoutStart(session_id=str(session["id"]), url=str(session.get("url") or ""))

    async def retrieve_setup_intent(self, *, ref: str) -> SetupInfo:
        """Re-fetch a SetupIntent: its status, customer and the payment method it saved."""
        intent = plain(await self._call(self._client.v1.setup_intents.retrieve_async, ref))
        return SetupInfo(
            ref=str(intent["id"]),
            status=str(intent.get("status") or ""),
            customer_ref=id_of(intent.get("customer")),
            method_ref=id_of(intent.get("payment_method")),
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
        return subscription_info(plain(subscription))

    async def update_subscription_method(self, *, ref: str, method_ref: str) -> SubscriptionInfo:
        """Charge the subscription to another method from now on."""
        subscription = await self._call(
            self._client.v1.subscriptions.update_async, ref, {"default_payment_method": method_ref}
        )
        return subscription_info(plain(subscription))

    async def cancel_subscription(self, *, ref: str, at_period_end: bool) -> SubscriptionInfo:
        """Cancel at the end of the paid period, or now."""
        if at_period_end:
            subscription = await self._call(
                self._client.v1.subscriptions.update_async, ref, {"cancel_at_period_end": True}
            )
        else:
            subscription = await self._call(self._client.v1.subscriptions.cancel_async, ref)
        return subscription_info(plain(subscription))

    async def resume_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Keep a subscription that was set to cancel at its period end."""
        subscription = await self._call(
            self._client.v1.subscriptions.update_async, ref, {"cancel_at_period_end": False}
        )
        return subscription_info(plain(subscription))

    async def retrieve_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Re-fetch a subscription."""
        subscription = await self._call(self._client.v1.subscriptions.retrieve_async, ref)
        return subscription_info(plain(subscription))

    async def refund(self, *, payment_ref: str, amount_minor: int, idempotency_key: str) -> RefundResult:
        """Refund part or all of a PaymentIntent."""
        if amount_minor <= 0:
            raise GatewayError(_("A refund must be for more than nothing."), code="invalid_amount")
        intent = plain(await self._call(self._client.v1.payment_intents.retrieve_async, payment_ref))
        currency = str(intent["currency"])
        refund = plain(
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
        return gateway_payment(plain(intent))

    async def list_payments(self, *, created_after: int) -> list[GatewayPayment]:
        """PaymentIntents created after a Unix time, newest first, at most MAX_LISTED_PAYMENTS."""
        page = await self._call(
            self._client.v1.payment_intents.list_async,
            {"created": {"gt": int(created_after)}, "limit": 100, "expand": ["data.latest_charge"]},
        )
        payments: list[GatewayPayment] = []
        try:
            async for intent in page.auto_paging_iter():
                payments.append(gateway_payment(plain(intent)))
                if len(payments) >= MAX_LISTED_PAYMENTS:
                    break
        except stripe.StripeError as exc:
            raise_gateway_error(exc)
        return payments

    def parse_webhook(self, *, payload: bytes, signature: str) -> GatewayEvent:
        """Verify the Stripe-Signature header and parse the event (see `stripe_webhooks.parse_event`)."""
        return parse_event(payload=payload, signature=signature, webhook_secret=self._webhook_secret)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.close_async()

"""The sandbox gateway: the default when no Stripe key is set. It keeps its state in our database and
behaves like Stripe's test mode: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined,
4000 0000 0000 9995 is declined for insufficient funds, 4000 0000 0000 0341 saves but declines when
charged, 4000 0027 6000 3184 asks for authentication. It emits the same events as Stripe's webhooks,
handed to the same handlers (through `emit`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.db.models import SandboxObject
from portal.domain.periods import INTERVAL_DAYS, period_length
from portal.i18n import _
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
from portal.payments.gateways.sandbox_cards import DECLINES, IBAN_FAILS, card_brand, check_card, intent_data

Emit = Callable[[GatewayEvent], Awaitable[None]]


def _new_id(prefix: str) -> str:
    return f"{prefix}_sbx_{secrets.token_hex(10)}"


class SandboxGateway:
    """A PaymentGateway whose 'bank' is a table in our own database."""

    name = "sandbox"
    mode = "sandbox"
    key = "sandbox"

    def __init__(self, *, emit: Emit | None = None, public_url: str = "") -> None:
        self._emit = emit
        self.public_url = public_url.rstrip("/")

    # -- storage ---------------------------------------------------------------------------------
    async def _create(
        self, kind: str, prefix: str, data: dict[str, Any], idempotency_key: str | None
    ) -> dict:
        if idempotency_key:
            existing = await SandboxObject.get_or_none(idempotency_key=f"{kind}:{idempotency_key}")
            if existing is not None:
                return existing.data
        object_id = _new_id(prefix)
        data = {"id": object_id, "object": kind, "created": int(time.time()), **data}
        try:
            async with in_transaction():
                await SandboxObject.create(
                    object_id=object_id,
                    kind=kind,
                    data=data,
                    idempotency_key=f"{kind}:{idempotency_key}" if idempotency_key else None,
                )
        except IntegrityError:  # the same key raced us: return the winner's object
            existing = await SandboxObject.get(idempotency_key=f"{kind}:{idempotency_key}")
            return existing.data
        return data

    async def _get(self, object_id: str, kind: str) -> dict:
        row = await SandboxObject.get_or_none(object_id=object_id, kind=kind)
        if row is None:
            raise GatewayError(f"No such {kind.replace('_', ' ')}: {object_id}", code="resource_missing")
        return row.data

    async def _update(self, object_id: str, **changes: Any) -> dict:
        async with in_transaction():
            row = await SandboxObject.select_for_update().get(object_id=object_id)
            row.data = {**row.data, **changes}
            await row.save(update_fields=["data"])
        return row.data

    async def _send(self, event_type: str, data: dict) -> None:
        if self._emit is not None:
            await self._emit(
                GatewayEvent(id=_new_id("evt"), type=event_type, data=data, created=int(time.time()))
            )

    # -- account, customers, methods ---------------------------------------------------------------
    async def verify_account(self) -> str:
        """The sandbox always answers."""
        return "acct_sandbox"

    async def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        """A sandbox customer."""
        data = await self._create(
            "customer", "cus", {"email": email, "name": name, "default_method": ""}, idempotency_key
        )
        return data["id"]

    async def save_method(
        self, *, customer_ref: str, method: str | NewCard, idempotency_key: str
    ) -> SavedMethod:
        """Check the card like a SetupIntent would and keep it for the customer."""
        if not isinstance(method, NewCard):
            raise GatewayError(_("The sandbox saves cards typed into its own form."), code="unsupported")
        await self._get(customer_ref, "customer")
        number = check_card(method)
        if number in DECLINES:
            code, message = DECLINES[number]
            raise GatewayError(_(message), code=code)
        data = await self._create(
            "payment_method",
            "pm",
            {
                "customer": customer_ref,
                "kind": "card",
                "number": number,
                "brand": card_brand(number),
                "last4": number[-4:],
                "exp_month": method.exp_month,
                "exp_year": method.exp_year,
                "detached": False,
            },
            idempotency_key,
        )
        await self._send("setup_intent.succeeded", {"customer": customer_ref, "payment_method": data["id"]})
        return _saved(data)

    async def list_methods(self, *, customer_ref: str) -> list[SavedMethod]:
        """The customer's attached methods."""
        rows = await SandboxObject.filter(kind="payment_method").order_by("id")
        return [_saved(r.data) for r in rows if r.data["customer"] == customer_ref and not r.data["detached"]]

    async def set_default_method(self, *, customer_ref: str, method_ref: str) -> None:
        """Remember the default method."""
        await self._update(customer_ref, default_method=method_ref)

    async def detach_method(self, *, method_ref: str) -> None:
        """Detach a method."""
        await self._get(method_ref, "payment_method")
        await self._update(method_ref, detached=True)

    # -- payments ----------------------------------------------------------------------------------
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
        """Charge a saved card off-session; the same key returns the first answer."""
        method = await self._get(method_ref, "payment_method")
        if method["detached"]:
            return ChargeResult(
                ChargeStatus.failed, "", "payment_method_detached", _("This card was removed.")
            )
        intent = await self._create(
            "payment_intent",
            "pi",
            intent_data(method, customer_ref, amount_minor, currency, metadata),
            idempotency_key,
        )
        if intent["status"] == "succeeded" and not intent.get("_emitted"):
            await self._update(intent["id"], _emitted=True)
            await self._send("payment_intent.succeeded", intent)
        elif intent["status"] == "requires_payment_method" and not intent.get("_emitted"):
            await self._update(intent["id"], _emitted=True)
            await self._send("payment_intent.payment_failed", intent)
        return _charge_result(intent)

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
        """A checkout session whose page is the portal's own sandbox card form (in `locale`)."""
        data = await self._create(
            "checkout_session",
            "cs",
            {
                "amount_total": amount_minor,
                "currency": currency.upper(),
                "description": description,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": metadata,
                "customer": customer_ref,
                "method_kinds": list(method_kinds),
                "save_method": save_method,
                "locale": locale,
                "status": "open",
                "payment_status": "unpaid",
                "payment_intent": None,
            },
            idempotency_key,
        )
        return CheckoutStart(session_id=data["id"], url=f"{self.public_url}/sandbox/checkout/{data['id']}")

    async def checkout_details(self, session_id: str) -> dict:
        """The session, for the sandbox checkout page."""
        return await self._get(session_id, "checkout_session")

    async def complete_checkout(
        self, session_id: str, *, card: NewCard | None = None, iban: str = ""
    ) -> ChargeResult:
        """Pay a checkout session with a typed card or IBAN, as Stripe's hosted page would."""
        session = await self._get(session_id, "checkout_session")
        if session["status"] != "open":
            intent = await self._get(session["payment_intent"], "payment_intent")
            return _charge_result(intent)
        customer = session["customer"] or await self.create_customer(
            email="", name="", idempotency_key=f"checkout:{session_id}:customer"
        )
        if iban:
            method = await self._bank_debit(customer, iban, session_id)
        else:
            if card is None:
                raise GatewayError(_("Enter your card details."), code="missing_card")
            number = check_card(card)
            method = await self._create(
                "payment_method",
                "pm",
                {
                    "customer": customer,
                    "kind": "card",
                    "number": number,
                    "brand": card_brand(number),
                    "last4": number[-4:],
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "detached": not session["save_method"],
                },
                f"checkout:{session_id}:method:{number[-4:]}:{card.exp_month}:{card.exp_year}",
            )
        intent = await self._create(
            "payment_intent",
            "pi",
            intent_data(method, customer, session["amount_total"], session["currency"], session["metadata"]),
            f"checkout:{session_id}:pay:{method['id']}",
        )
        if intent["status"] in ("succeeded", "processing"):
            session = await self._update(
                session_id,
                status="complete",
                customer=customer,
                payment_intent=intent["id"],
                payment_status="paid" if intent["status"] == "succeeded" else "unpaid",
            )
            await self._send("checkout.session.completed", session)
            if intent["status"] == "processing":  # a bank debit: the bank answers at once in the sandbox
                final = "failed" if method.get("iban") == IBAN_FAILS else "succeeded"
                intent = await self._update(
                    intent["id"], status="succeeded" if final == "succeeded" else "requires_payment_method"
                )
                session = await self._update(
                    session_id, payment_status="paid" if final == "succeeded" else "unpaid"
                )
                await self._send(f"checkout.session.async_payment_{final}", session)
        return _charge_result(intent)

    # -- setup checkout: save a card without paying -------------------------------------------------
    async def create_setup_checkout(
        self, *, customer_ref: str, success_url: str, cancel_url: str, idempotency_key: str, locale: str = ""
    ) -> CheckoutStart:
        """A setup session whose page is the portal's own sandbox card form (/sandbox/setup/{id})."""
        await self._get(customer_ref, "customer")
        data = await self._create(
            "setup_session",
            "cs",
            {
                "mode": "setup",
                "customer": customer_ref,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "locale": locale,
                "status": "open",
                "setup_intent": None,
            },
            idempotency_key,
        )
        return CheckoutStart(session_id=data["id"], url=f"{self.public_url}/sandbox/setup/{data['id']}")

    async def setup_details(self, session_id: str) -> dict:
        """The setup session, for the sandbox setup page."""
        return await self._get(session_id, "setup_session")

    async def complete_setup(self, session_id: str, *, card: NewCard) -> SavedMethod:
        """Save a typed card on a setup session, as Stripe's hosted page would; a decline raises."""
        session = await self._get(session_id, "setup_session")
        if session["status"] != "open":
            intent = await self._get(session["setup_intent"], "setup_intent")
            return _saved(await self._get(intent["payment_method"], "payment_method"))
        number = check_card(card)
        saved = await self.save_method(
            customer_ref=session["customer"],
            method=card,
            idempotency_key=f"setup:{session_id}:{number[-4:]}:{card.exp_month}:{card.exp_year}",
        )
        intent = await self._create(
            "setup_intent",
            "seti",
            {"customer": session["customer"], "payment_method": saved.ref, "status": "succeeded"},
            f"setup:{session_id}:intent:{saved.ref}",
        )
        await self._update(session_id, status="complete", setup_intent=intent["id"])
        return saved

    async def retrieve_setup_intent(self, *, ref: str) -> SetupInfo:
        """A setup intent as it is now."""
        intent = await self._get(ref, "setup_intent")
        return SetupInfo(
            ref=intent["id"],
            status=intent["status"],
            customer_ref=intent["customer"],
            method_ref=intent["payment_method"],
        )

    async def _bank_debit(self, customer: str, iban: str, session_id: str) -> dict:
        iban = iban.replace(" ", "").upper()
        if len(iban) < 15 or not iban[:2].isalpha() or not iban[2:].isalnum():
            raise GatewayError(_("The IBAN you entered is invalid."), code="invalid_bank_account_iban")
        return await self._create(
            "payment_method",
            "pm",
            {
                "customer": customer,
                "kind": "direct_debit",
                "iban": iban,
                "brand": "sepa_debit",
                "last4": iban[-4:],
                "exp_month": None,
                "exp_year": None,
                "detached": False,
            },
            f"checkout:{session_id}:iban:{iban}",
        )

    async def refund(self, *, payment_ref: str, amount_minor: int, idempotency_key: str) -> RefundResult:
        """Refund part or all of a succeeded payment."""
        intent = await self._get(payment_ref, "payment_intent")
        if intent["status"] != "succeeded":
            raise GatewayError(_("Only a succeeded payment can be refunded."), code="charge_not_refundable")
        existing = await SandboxObject.get_or_none(idempotency_key=f"refund:{idempotency_key}")
        if existing is not None:
            return RefundResult(existing.object_id, "succeeded", existing.data["amount"])
        if amount_minor <= 0 or intent.get("amount_refunded", 0) + amount_minor > intent["amount"]:
            raise GatewayError(
                _("The refund is larger than what is left of the payment."), code="amount_too_large"
            )
        data = await self._create(
            "refund", "re", {"payment_intent": payment_ref, "amount": amount_minor}, idempotency_key
        )
        intent = await self._update(
            payment_ref, amount_refunded=intent.get("amount_refunded", 0) + amount_minor
        )
        await self._send(
            "charge.refunded", {"payment_intent": payment_ref, "amount_refunded": intent["amount_refunded"]}
        )
        return RefundResult(data["id"], "succeeded", amount_minor)

    async def retrieve_payment(self, *, payment_ref: str) -> GatewayPayment:
        """The payment intent as it is now."""
        return _payment(await self._get(payment_ref, "payment_intent"))

    async def list_payments(self, *, created_after: int) -> list[GatewayPayment]:
        """Payment intents created after a Unix time."""
        rows = await SandboxObject.filter(kind="payment_intent").order_by("id")
        return [_payment(r.data) for r in rows if r.data["created"] > created_after]

    # -- subscriptions -----------------------------------------------------------------------------
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
        """A subscription the sandbox renews itself (see `renew_due`)."""
        if interval not in INTERVAL_DAYS or interval_count < 1:
            raise GatewayError(f"Unknown interval '{interval_count} x {interval}'.", code="invalid_interval")
        await self._get(method_ref, "payment_method")
        now = datetime.now(UTC)
        period_end = trial_end or now + period_length(interval, interval_count)
        data = await self._create(
            "subscription",
            "sub",
            {
                "customer": customer_ref,
                "method": method_ref,
                "amount": amount_minor,
                "currency": currency.upper(),
                "interval": interval,
                "interval_count": interval_count,
                "description": description,
                "metadata": metadata,
                "status": "active",
                "current_period_end": int(period_end.timestamp()),
                "cancel_at_period_end": False,
            },
            idempotency_key,
        )
        return _subscription(data)

    async def update_subscription_method(self, *, ref: str, method_ref: str) -> SubscriptionInfo:
        """Charge a different method from now on."""
        await self._get(method_ref, "payment_method")
        return _subscription(await self._update(ref, method=method_ref))

    async def cancel_subscription(self, *, ref: str, at_period_end: bool) -> SubscriptionInfo:
        """Cancel now or at the period end."""
        await self._get(ref, "subscription")
        changes = {"cancel_at_period_end": True} if at_period_end else {"status": "canceled"}
        data = await self._update(ref, **changes)
        await self._send(
            "customer.subscription.updated" if at_period_end else "customer.subscription.deleted", data
        )
        return _subscription(data)

    async def resume_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Keep a subscription that was set to end at its period end."""
        sub = await self._get(ref, "subscription")
        if sub["status"] == "canceled":
            raise GatewayError(_("A canceled subscription cannot be resumed."), code="subscription_canceled")
        data = await self._update(ref, cancel_at_period_end=False)
        await self._send("customer.subscription.updated", data)
        return _subscription(data)

    async def retrieve_subscription(self, *, ref: str) -> SubscriptionInfo:
        """The subscription as it is now."""
        return _subscription(await self._get(ref, "subscription"))

    async def renew_due(self, *, now: datetime | None = None) -> int:
        """Charge every subscription whose period has ended (what Stripe does on its own); return how many."""
        now = now or datetime.now(UTC)
        rows = await SandboxObject.filter(kind="subscription").order_by("id")
        count = 0
        for row in rows:
            sub = row.data
            if sub["status"] not in ("active", "past_due") or sub["current_period_end"] > now.timestamp():
                continue
            if sub["cancel_at_period_end"]:
                await self._send(
                    "customer.subscription.deleted", await self._update(sub["id"], status="canceled")
                )
                continue
            period = sub["current_period_end"]
            result = await self.charge(
                customer_ref=sub["customer"],
                method_ref=sub["method"],
                amount_minor=sub["amount"],
                currency=sub["currency"],
                idempotency_key=f"{sub['id']}:renewal:{period}",
                metadata={**sub["metadata"], "subscription": sub["id"], "period": str(period)},
            )
            invoice = {
                "id": f"in_sbx_{sub['id']}_{period}",
                "subscription": sub["id"],
                "payment_intent": result.payment_ref,
                "amount_paid": sub["amount"],
                "currency": sub["currency"],
                "period_start": period,
            }
            if result.status == ChargeStatus.succeeded:
                length = period_length(sub["interval"], int(sub.get("interval_count", 1)))
                next_end = period + int(length.total_seconds())
                await self._update(sub["id"], current_period_end=next_end, status="active")
                await self._send("invoice.paid", invoice)
            else:
                await self._update(sub["id"], status="past_due", current_period_end=period + 86400)
                await self._send(
                    "invoice.payment_failed", {**invoice, "amount_paid": 0, "failure": result.message}
                )
            count += 1
        return count

    def parse_webhook(self, *, payload: bytes, signature: str) -> GatewayEvent:
        """The sandbox sends no HTTP webhooks."""
        raise InvalidSignature("the sandbox does not send webhooks")

    async def close(self) -> None:
        """Nothing to release."""


def _charge_result(intent: dict) -> ChargeResult:
    status = {
        "succeeded": ChargeStatus.succeeded,
        "processing": ChargeStatus.processing,
        "requires_action": ChargeStatus.requires_action,
    }.get(intent["status"], ChargeStatus.failed)
    return ChargeResult(status, intent["id"], intent.get("decline_code", ""), _(intent.get("message", "")))


def _payment(intent: dict) -> GatewayPayment:
    return GatewayPayment(
        ref=intent["id"],
        amount_minor=intent["amount"],
        currency=intent["currency"],
        status=intent["status"],
        metadata=dict(intent.get("metadata") or {}),
        customer_ref=intent.get("customer", ""),
        method_ref=intent.get("payment_method", ""),
        created=intent["created"],
        amount_refunded_minor=intent.get("amount_refunded", 0),
        failure_message=_(intent.get("message", "")),
    )


def _saved(data: dict) -> SavedMethod:
    return SavedMethod(
        ref=data["id"],
        kind=data["kind"],
        brand=data["brand"],
        last4=data["last4"],
        exp_month=data["exp_month"],
        exp_year=data["exp_year"],
    )


def _subscription(data: dict) -> SubscriptionInfo:
    return SubscriptionInfo(
        ref=data["id"],
        status=data["status"],
        current_period_end=datetime.fromtimestamp(data["current_period_end"], UTC),
        cancel_at_period_end=data["cancel_at_period_end"],
    )

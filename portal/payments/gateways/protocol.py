"""The PaymentGateway protocol: what the portal needs from Stripe or the built-in sandbox.

Amounts cross this boundary as integer minor units in the ISO 4217 sense (the portal's own); a gateway
converts at its edge when its idea of a currency's exponent differs. Every call that creates something
takes an idempotency key derived from our own ids, so a retry or a double click charges once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class GatewayError(Exception):
    """The gateway refused or failed; `message` is fit to show, `code` is the gateway's code."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class InvalidSignature(Exception):
    """A webhook whose signature is missing, wrong or too old."""


class ChargeStatus(StrEnum):
    """Outcome of a charge attempt."""

    succeeded = "succeeded"
    failed = "failed"
    requires_action = "requires_action"  # the bank wants the cardholder (3-D Secure)
    processing = "processing"  # bank debits: the answer comes later, by webhook


@dataclass(frozen=True)
class NewCard:
    """A card typed into the sandbox's own card form (never used with Stripe, where Stripe.js collects it)."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str = ""


@dataclass(frozen=True)
class SavedMethod:
    """A payment method stored at the gateway for a customer."""

    ref: str
    kind: str  # card | bank_transfer | direct_debit
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway said about a charge."""

    status: ChargeStatus
    payment_ref: str
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class CheckoutStart:
    """A hosted checkout page to send the payer to."""

    session_id: str
    url: str


@dataclass(frozen=True)
class SetupInfo:
    """A setup intent (a method saved for later without a payment), as a setup checkout leaves it."""

    ref: str
    status: str  # succeeded | requires_payment_method | requires_action | canceled | ...
    customer_ref: str = ""
    method_ref: str = ""


@dataclass(frozen=True)
class SubscriptionInfo:
    """A gateway subscription as the portal tracks it."""

    ref: str
    status: str
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False


@dataclass(frozen=True)
class RefundResult:
    """A refund the gateway accepted."""

    ref: str
    status: str
    amount_minor: int


@dataclass(frozen=True)
class GatewayPayment:
    """A payment as the gateway knows it (for webhooks and reconciliation)."""

    ref: str
    amount_minor: int
    currency: str
    status: str  # succeeded | processing | requires_payment_method | canceled | ...
    metadata: dict[str, str] = field(default_factory=dict)
    customer_ref: str = ""
    method_ref: str = ""
    created: int = 0
    amount_refunded_minor: int = 0
    failure_message: str = ""  # the decline reason in plain words, when it failed


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook event: its unique id, type and the object it is about (a plain dict)."""

    id: str
    type: str
    data: dict[str, Any]
    created: int = 0


@runtime_checkable
class PaymentGateway(Protocol):
    """Customers, saved methods, off-session charges, hosted checkout, subscriptions, refunds, webhooks."""

    name: str  # "sandbox" | "stripe"
    mode: str  # "sandbox" | "test" | "live"
    key: str  # whose objects: "sandbox", "stripe:test" or "stripe:live" (refs are valid only there)

    async def verify_account(self) -> str:
        """Check the credentials with a real call; return the account id (GatewayError if refused)."""
        ...

    async def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        """Create a customer; return its reference."""
        ...

    async def save_method(
        self, *, customer_ref: str, method: str | NewCard, idempotency_key: str
    ) -> SavedMethod:
        """Save a method for off-session use (a SetupIntent at Stripe); a declined card raises."""
        ...

    async def list_methods(self, *, customer_ref: str) -> list[SavedMethod]:
        """The customer's saved methods."""
        ...

    async def set_default_method(self, *, customer_ref: str, method_ref: str) -> None:
        """Make a method the customer's default for invoices and subscriptions."""
        ...

    async def detach_method(self, *, method_ref: str) -> None:
        """Remove a saved method from its customer."""
        ...

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
        """Charge a saved method off-session (a PaymentIntent confirmed at once)."""
        ...

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
        """A hosted page where the payer enters a new card (or bank details) for one payment, in `locale`
        (the payer's language: 'en', 'fr'; empty = the gateway's choice)."""
        ...

    async def create_setup_checkout(
        self, *, customer_ref: str, success_url: str, cancel_url: str, idempotency_key: str, locale: str = ""
    ) -> CheckoutStart:
        """A hosted page where the customer saves a new card without paying (Checkout in setup mode), in
        `locale`."""
        ...

    async def retrieve_setup_intent(self, *, ref: str) -> SetupInfo:
        """Re-fetch a setup intent (the webhook of a setup checkout names it; the method is on it)."""
        ...

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
        """Charge `amount_minor` every `interval_count` x `interval` (day, week, month, year), first at
        `trial_end` if given."""
        ...

    async def update_subscription_method(self, *, ref: str, method_ref: str) -> SubscriptionInfo:
        """Switch the method a subscription is charged to."""
        ...

    async def cancel_subscription(self, *, ref: str, at_period_end: bool) -> SubscriptionInfo:
        """Cancel now, or at the end of the period already paid for."""
        ...

    async def resume_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Undo a cancellation at the period end (before the period ends)."""
        ...

    async def retrieve_subscription(self, *, ref: str) -> SubscriptionInfo:
        """Re-fetch a subscription (webhook handlers trust this over the event's copy)."""
        ...

    async def refund(self, *, payment_ref: str, amount_minor: int, idempotency_key: str) -> RefundResult:
        """Refund all or part of a payment."""
        ...

    async def retrieve_payment(self, *, payment_ref: str) -> GatewayPayment:
        """Re-fetch a payment (webhook handlers trust this over the event's copy)."""
        ...

    async def list_payments(self, *, created_after: int) -> list[GatewayPayment]:
        """Payments created after a Unix time (for reconciliation)."""
        ...

    def parse_webhook(self, *, payload: bytes, signature: str) -> GatewayEvent:
        """Verify a webhook's signature (dated within 300 s of now, either way) and parse it.

        Raises InvalidSignature."""
        ...

    async def close(self) -> None:
        """Release HTTP connections."""
        ...

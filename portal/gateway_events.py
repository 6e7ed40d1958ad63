"""Gateway events (Stripe webhooks and the sandbox's own), processed exactly once.

1. The event is stored under its unique id (a duplicate finds the stored row).
2. The handler re-fetches the object from the gateway (never trusting the event's copy or its order).
3. In one transaction the row is claimed (`processed_at` set only where it is still empty) and the
   effects are written. A failure rolls both back and records the error, so a redelivery succeeds once.
   A new event is stored already claimed inside that same transaction (one commit per event).

Stripe's webhooks take the quick path: `accept` stores the verified event with one INSERT, the route
answers 200 at once (as Stripe asks: answer first, work after), then `process_stored` runs steps 2 and 3
right after the answer is sent; the `process webhook events` job retries any event left unprocessed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.billing import invoices, reminders
from portal.core.clock import now_utc, today
from portal.db.models import Payment, Subscription, WebhookEvent
from portal.domain.status import PaymentSource, PaymentStatus, SubscriptionStatus
from portal.i18n import N_, _
from portal.payments import methods, refunds, settlement
from portal.payments.gateways.protocol import GatewayEvent, PaymentGateway
from portal.payments.ledger import apply_allocations, lock_open_items

log = logging.getLogger(__name__)

Handler = Callable[[GatewayEvent, PaymentGateway], Awaitable[None]]


class _StoredBefore(Exception):
    """The event is already stored: a redelivery, a concurrent duplicate, or an attempt that failed."""


async def ingest(*, provider: str, event: GatewayEvent, gateway: PaymentGateway) -> str:
    """Store and process one event; returns 'processed', 'duplicate' or 'ignored'. Raises on failure.

    A new event (the common case) is stored already claimed and processed in one transaction, one
    commit (an event no handler wants: one INSERT). A concurrent duplicate's INSERT waits on the unique
    (provider, event id) until that transaction ends (PostgreSQL; on SQLite the connection is held),
    then fails and goes the slow way: it finds the row processed and changes nothing. A failure rolls
    the row back with the effects, and the event is then kept unclaimed with its error, so that a
    redelivery processes it once."""
    handler = HANDLERS.get(event.type)
    if handler is None:  # nothing to do but keep it: one statement, no transaction
        try:
            await _store_processed(provider, event)
        except IntegrityError:
            return await _ingest_stored(provider, event, handler, gateway)
        return "ignored"
    try:
        async with in_transaction():
            try:
                await _store_processed(provider, event)
            except IntegrityError:
                raise _StoredBefore from None
            await handler(event, gateway)
    except _StoredBefore:
        return await _ingest_stored(provider, event, handler, gateway)
    except Exception as exc:
        row = await _store(provider, event)
        await WebhookEvent.filter(id=row.id, processed_at=None).update(
            attempts=row.attempts + 1, error=repr(exc)[:2000]
        )
        raise
    return "processed"


async def accept(*, provider: str, event: GatewayEvent) -> bool:
    """Store a verified event, unprocessed, with one INSERT; False when it was stored before.

    The webhook route answers the gateway right after this, then processes the event (`process_stored`)
    once the answer is sent; the `process webhook events` job retries whatever is left unprocessed."""
    try:
        await WebhookEvent.create(
            provider=provider,
            event_id=event.id,
            type=event.type,
            payload={"data": event.data, "created": event.created},
        )
    except IntegrityError:
        return False
    return True


async def process_stored(*, provider: str, event: GatewayEvent, gateway: PaymentGateway) -> str:
    """Claim and process a stored event once ('processed', 'ignored' or 'duplicate'); raises on failure,
    leaving the event unclaimed with its error for the next try."""
    return await _ingest_stored(provider, event, HANDLERS.get(event.type), gateway)


RETRY_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 10


async def process_pending(*, gateway: PaymentGateway, provider: str = "stripe") -> int:
    """Job: process the events accepted but not processed (the answer's follow-up failed or the process
    stopped), those received more than 30 s ago and tried fewer than 10 times; returns how many succeeded."""
    rows = await WebhookEvent.filter(
        provider=provider,
        processed_at__isnull=True,
        received_at__lt=now_utc() - RETRY_AFTER,
        attempts__lt=MAX_ATTEMPTS,
    ).order_by("id")
    done = 0
    for row in rows:
        event = GatewayEvent(
            id=row.event_id,
            type=row.type,
            data=row.payload.get("data", {}),
            created=row.payload.get("created", 0),
        )
        try:
            await process_stored(provider=provider, event=event, gateway=gateway)
            done += 1
        except Exception:
            log.exception("webhook event %s (%s) failed again", row.event_id, row.type)
    return done


async def _store_processed(provider: str, event: GatewayEvent) -> None:
    """Store a new event already claimed (raises IntegrityError when it is stored already)."""
    await WebhookEvent.create(
        provider=provider,
        event_id=event.id,
        type=event.type,
        payload={"data": event.data, "created": event.created},
        processed_at=now_utc(),
        attempts=1,
    )


async def _ingest_stored(
    provider: str, event: GatewayEvent, handler: Handler | None, gateway: PaymentGateway
) -> str:
    """An event stored before: a duplicate when it was processed, else claim and process it now."""
    row = await _store(provider, event)
    if row.processed_at is not None:
        return "duplicate"
    try:
        async with in_transaction():
            # the claim and the effects commit together; a concurrent duplicate waits on this row's lock
            # (PostgreSQL) or on the connection (SQLite), then finds it processed and changes nothing
            claimed = await WebhookEvent.filter(id=row.id, processed_at=None).update(
                processed_at=now_utc(), attempts=row.attempts + 1, error=""
            )
            if not claimed:
                return "duplicate"
            if handler is not None:
                await handler(event, gateway)
    except Exception as exc:
        await WebhookEvent.filter(id=row.id).update(attempts=row.attempts + 1, error=repr(exc)[:2000])
        raise
    return "processed" if handler else "ignored"


async def _store(provider: str, event: GatewayEvent) -> WebhookEvent:
    existing = await WebhookEvent.get_or_none(provider=provider, event_id=event.id)
    if existing is not None:
        return existing
    try:
        return await WebhookEvent.create(
            provider=provider,
            event_id=event.id,
            type=event.type,
            payload={"data": event.data, "created": event.created},
        )
    except IntegrityError:  # the same event delivered twice at once
        return await WebhookEvent.get(provider=provider, event_id=event.id)


# Handlers: each re-fetches what it acts on, and each effect is also idempotent in its own right (a
# settled payment cannot settle again; a renewal is keyed by its gateway payment id), so that the same
# money arriving through two different events (payment_intent.succeeded and checkout.session.completed)
# is recorded once.
async def _payment_intent(event: GatewayEvent, gateway: PaymentGateway) -> None:
    fresh = await gateway.retrieve_payment(payment_ref=event.data["id"])
    await settlement.settle_from_gateway(fresh)


async def _checkout_completed(event: GatewayEvent, gateway: PaymentGateway) -> None:
    session = event.data
    if session.get("mode") == "setup":
        await _setup_checkout_completed(session, gateway)
        return
    ref = session.get("payment_intent")
    if not ref:
        return
    fresh = await gateway.retrieve_payment(payment_ref=ref)
    payment_id = await settlement.settle_from_gateway(fresh, checkout_id=session["id"])
    if payment_id is not None and fresh.method_ref:
        payment = await Payment.get(id=payment_id)
        if payment.client_id and session.get("save_method", True):
            await methods.upsert_method(
                client_id=payment.client_id,
                customer_ref=fresh.customer_ref,
                method_ref=fresh.method_ref,
                gateway=gateway,
            )


async def _setup_checkout_completed(session: dict[str, Any], gateway: PaymentGateway) -> None:
    """A card saved on a setup-mode Checkout page: mirror the method on its (re-fetched) setup intent."""
    ref = session.get("setup_intent")
    if not ref:
        return
    await methods.record_setup(gateway=gateway, setup_ref=str(ref), source=f"checkout:{session.get('id')}")


async def _async_payment_failed(event: GatewayEvent, gateway: PaymentGateway) -> None:
    ref = event.data.get("payment_intent")
    row = await Payment.get_or_none(gateway_checkout_id=event.data["id"])
    if row is not None:
        await settlement.fail_payment(
            payment_id=row.id, message=_("The bank debit failed."), gateway_payment_id=ref or ""
        )


async def _setup_intent(event: GatewayEvent, gateway: PaymentGateway) -> None:
    customer = event.data.get("customer")
    client = await methods.client_for_customer(gateway=gateway, customer_ref=customer or "")
    method_ref = event.data.get("payment_method")
    if client is not None and method_ref:
        await methods.upsert_method(
            client_id=client.id, customer_ref=customer, method_ref=method_ref, gateway=gateway
        )


async def _subscription_changed(event: GatewayEvent, gateway: PaymentGateway) -> None:
    sub = await Subscription.get_or_none(gateway_ref=event.data["id"])
    if sub is None:
        return
    info = await gateway.retrieve_subscription(ref=sub.gateway_ref)
    status = {
        "active": SubscriptionStatus.active,
        "trialing": SubscriptionStatus.active,
        "past_due": SubscriptionStatus.past_due,
        "unpaid": SubscriptionStatus.past_due,
        "canceled": SubscriptionStatus.canceled,
        "incomplete_expired": SubscriptionStatus.canceled,
    }.get(info.status, sub.status)
    sub.status = status
    sub.cancel_at_period_end = info.cancel_at_period_end
    sub.current_period_end = info.current_period_end or sub.current_period_end
    if status == SubscriptionStatus.canceled and sub.canceled_at is None:
        sub.canceled_at = now_utc()
    await sub.save()


async def _renewal_paid(event: GatewayEvent, gateway: PaymentGateway) -> None:
    """A subscription renewal was charged: an invoice here, settled by that payment."""
    data = event.data
    sub = await Subscription.get_or_none(gateway_ref=data.get("subscription") or "")
    ref = data.get("payment_intent")
    if sub is None or not ref or not data.get("amount_paid"):
        return
    fresh = await gateway.retrieve_payment(payment_ref=ref)
    if fresh.status != "succeeded":
        return
    async with in_transaction():
        if await Payment.exists(gateway_payment_id=ref):
            return
        invoice = await invoices.issue_single_line(
            client_id=sub.client_id,
            description=sub.description or "Subscription",
            amount_minor=fresh.amount_minor,
            currency=fresh.currency,
            due_date=today(),
            notes=N_("Subscription renewal"),  # stored in English; pages show it translated
            subscription_id=sub.id,
        )
        payment = await Payment.create(
            client_id=sub.client_id,
            amount_minor=fresh.amount_minor,
            currency=fresh.currency,
            status=PaymentStatus.succeeded,
            source=PaymentSource.online,
            method="card",
            gateway=gateway.key,
            gateway_payment_id=ref,
            purpose="invoice",
            invoice_id=invoice.id,
            received_on=today(),
            payment_method_id=sub.payment_method_id,
        )
        open_items = await lock_open_items(sub.client_id, fresh.currency)
        await apply_allocations(
            open_items=open_items,
            plan=[(invoice.id, fresh.amount_minor)],
            currency=fresh.currency,
            payment_id=payment.id,
        )
        info = await gateway.retrieve_subscription(ref=sub.gateway_ref)
        await Subscription.filter(id=sub.id).update(
            status=SubscriptionStatus.active, current_period_end=info.current_period_end
        )


async def _renewal_failed(event: GatewayEvent, gateway: PaymentGateway) -> None:
    """A renewal could not be charged: the subscription is past due and the client is told."""
    sub = await Subscription.get_or_none(gateway_ref=event.data.get("subscription") or "")
    if sub is None:
        return
    await Subscription.filter(id=sub.id).update(status=SubscriptionStatus.past_due)
    # once per unpaid period, however often the gateway retries (see reminders.queue_renewal_failed)
    await reminders.queue_renewal_failed(subscription_id=sub.id, reason=str(event.data.get("failure") or ""))


async def _charge_refunded(event: GatewayEvent, gateway: PaymentGateway) -> None:
    """A refund made at the gateway (e.g. in Stripe's dashboard) that we have not recorded yet."""
    ref = event.data.get("payment_intent")
    row = await Payment.get_or_none(gateway_payment_id=ref) if ref else None
    if row is None:
        return
    fresh = await gateway.retrieve_payment(payment_ref=ref)
    if fresh.amount_refunded_minor > row.refunded_minor:
        await refunds.record_refund(
            payment_id=row.id,
            gateway_total_refunded=fresh.amount_refunded_minor,
            reason=N_("Refunded at the gateway"),  # stored in English; pages show it translated
            actor=None,
        )


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _payment_intent,
    "payment_intent.payment_failed": _payment_intent,
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.async_payment_failed": _async_payment_failed,
    "setup_intent.succeeded": _setup_intent,
    "invoice.paid": _renewal_paid,
    "invoice.payment_failed": _renewal_failed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "charge.refunded": _charge_refunded,
}

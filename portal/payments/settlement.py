"""Settling online payments exactly once: succeeded or failed, the money allocated to what it pays,
leftovers to credit, the receipt queued; also what a gateway reports paid that we have not recorded."""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.core.clock import now_utc
from portal.db.models import (
    BillingRequest,
    Client,
    CreditEntry,
    CreditRequest,
    Payment,
    Subscription,
)
from portal.domain.allocation import OpenItem, allocate
from portal.domain.periods import period_length
from portal.domain.status import (
    BillingRequestStatus,
    CreditReason,
    CreditRequestStatus,
    PaymentStatus,
    SubscriptionStatus,
)
from portal.events import Event, publish
from portal.i18n import N_, _
from portal.payments import pay_all_ledger
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import (
    GatewayError,
    GatewayPayment,
    PaymentGateway,
)
from portal.payments.ledger import (
    apply_allocations,
    lock_open_items,
)
from portal.payments.methods import upsert_method
from portal.payments.pay_all_ledger import PAY_ALL
from portal.payments.receipts import queue_receipt, receipt_issued

log = logging.getLogger(__name__)

DECLINED_MESSAGE = N_("The payment was declined.")


# -- settling -------------------------------------------------------------------------------------
async def fail_payment(*, payment_id: int, message: str, gateway_payment_id: str = "") -> bool:
    """A pending payment failed: keep what is due unchanged and remember why."""
    changes: dict[str, str] = {"status": PaymentStatus.failed, "failure_message": message}
    if gateway_payment_id:
        changes["gateway_payment_id"] = gateway_payment_id
    updated = await Payment.filter(id=payment_id, status=PaymentStatus.pending).update(**changes)
    if updated:
        payment = await Payment.get(id=payment_id)
        await publish(Event("payment.failed", client_id=payment.client_id, data={"payment_id": payment_id}))
    return bool(updated)


async def lock_client_of(payment_id: int) -> None:
    """Take the client's row lock first: every money-moving transaction locks client, payment, invoices
    in that order, so two of them can wait for each other but never deadlock."""
    client_id = (await Payment.get(id=payment_id)).client_id
    if client_id is not None:
        await Client.select_for_update().get(id=client_id)


async def settle(*, payment_id: int, gateway_payment_id: str = "", amount_minor: int | None = None) -> bool:
    """Mark a payment succeeded and allocate it, exactly once whoever calls; True if this call did it."""
    async with in_transaction():
        await lock_client_of(payment_id)
        payment = await Payment.select_for_update().get(id=payment_id)
        if payment.status not in (PaymentStatus.pending, PaymentStatus.failed):
            return False
        changes: dict[str, object] = {"status": PaymentStatus.succeeded, "failure_message": ""}
        if gateway_payment_id:
            changes["gateway_payment_id"] = gateway_payment_id
        if amount_minor is not None and amount_minor != payment.amount_minor:
            changes["amount_minor"] = amount_minor  # the gateway's amount is what was received
        won = await Payment.filter(id=payment_id, status=payment.status).update(**changes)
        if not won:
            return False
        await payment.refresh_from_db()
        await _allocate(payment)
        await _queue_receipt(payment)
    await publish(Event("payment.recorded", client_id=payment.client_id, data={"payment_id": payment.id}))
    await receipt_issued(payment.id)
    await _after_settle(payment)
    return True


async def _allocate(payment: Payment) -> None:
    """Put received money where the payer meant it; anything that cannot be placed is flagged, never lost."""
    if payment.purpose == PAY_ALL and payment.client_id is not None:
        await pay_all_ledger.place(payment)  # oldest due first over one currency, and its one receipt
        return
    if payment.purpose == "credit_request":
        credit = await CreditRequest.select_for_update().get(id=payment.credit_request_id)
        if credit.status == CreditRequestStatus.pending:
            credit.status, credit.paid_at = CreditRequestStatus.paid, now_utc()
            await credit.save(update_fields=["status", "paid_at"])
            await _add_credit(payment, payment.amount_minor, CreditReason.purchase)
        else:
            await _flag(
                payment, f"Paid a credit request that is {credit.status}: refund it or keep it as credit."
            )
        return
    if payment.purpose == "billing_request":
        request = await BillingRequest.select_for_update().get(id=payment.billing_request_id)
        if request.status != BillingRequestStatus.pending:
            await _flag(
                payment, f"Paid a billing request that is {request.status}: refund it or move it to credit."
            )
            return
        request.status, request.paid_at = BillingRequestStatus.paid, now_utc()
        await request.save(update_fields=["status", "paid_at"])
    remaining = payment.amount_minor
    if payment.invoice_id is not None and payment.client_id is not None:
        open_items = await lock_open_items(payment.client_id, payment.currency)
        if payment.invoice_id in open_items:
            inv, due = open_items[payment.invoice_id]
            items = [OpenItem(id=inv.id, due_date=inv.due_date, amount_due_minor=due)]
            plan = allocate(payment.amount_minor, items, target_id=inv.id)
            await apply_allocations(
                open_items=open_items, plan=plan.allocations, currency=payment.currency, payment_id=payment.id
            )
            remaining = plan.remainder_minor
    if remaining and payment.client_id is not None:
        await _add_credit(payment, remaining, CreditReason.overpayment)
        note = N_("More than was due: the rest became credit.")  # staff's review note, kept in English
        await Payment.filter(id=payment.id).update(needs_review=True, review_note=note)
    elif remaining:
        await _flag(payment, N_("Received without a client to credit: refund it."))


async def _add_credit(payment: Payment, amount: int, reason: CreditReason) -> None:
    await CreditEntry.create(
        client_id=payment.client_id,
        currency=payment.currency,
        amount_minor=amount,
        reason=reason,
        payment_id=payment.id,
    )


async def _flag(payment: Payment, note: str) -> None:
    await Payment.filter(id=payment.id).update(needs_review=True, review_note=note)


async def _queue_receipt(payment: Payment) -> None:
    if payment.purpose != PAY_ALL:  # a pay-all receipt, listing every document, is queued by `place`
        await queue_receipt(payment)


async def _after_settle(payment: Payment) -> None:
    """Work that needs the gateway and so runs after commit: the subscription of a recurring request."""
    if payment.purpose == "billing_request" and payment.billing_request_id:
        request = await BillingRequest.get(id=payment.billing_request_id)
        if request.billing_type == "recurring" and request.status == BillingRequestStatus.paid:
            try:
                await start_recurring(request=request, payment=payment)
            except GatewayError as exc:  # the renewal job tries again
                log.warning("subscription for billing request %s not started: %s", request.id, exc.message)


async def start_recurring(
    *, request: BillingRequest, payment: Payment, gateway: PaymentGateway | None = None
) -> int:
    """Turn a paid recurring billing request into a subscription charged to the method just used."""
    existing = await Subscription.get_or_none(billing_request_id=request.id)
    if existing is not None:
        return existing.id
    gateway = gateway or await selector.current_gateway()
    paid = await gateway.retrieve_payment(payment_ref=payment.gateway_payment_id or "")
    method = await upsert_method(
        client_id=request.client_id,
        customer_ref=paid.customer_ref,
        method_ref=paid.method_ref,
        gateway=gateway,
    )
    interval = request.interval or "month"

    info = await gateway.create_subscription(
        customer_ref=paid.customer_ref,
        method_ref=paid.method_ref,
        amount_minor=request.amount_minor,
        currency=request.currency,
        interval=interval,
        description=request.description or "Subscription",
        idempotency_key=f"billing_request:{request.id}:subscription",
        metadata={"billing_request": str(request.id)},
        trial_end=now_utc() + period_length(interval),
    )
    try:
        sub = await Subscription.create(
            client_id=request.client_id,
            billing_request_id=request.id,
            description=request.description,
            amount_minor=request.amount_minor,
            currency=request.currency,
            interval=interval,
            status=SubscriptionStatus.active,
            payment_method_id=method.id if method else None,
            gateway=gateway.key,
            gateway_ref=info.ref,
            current_period_start=now_utc(),
            current_period_end=info.current_period_end,
        )
    except IntegrityError:
        return (await Subscription.get(billing_request_id=request.id)).id
    return sub.id


async def settle_from_gateway(payment: GatewayPayment, *, checkout_id: str = "") -> int | None:
    """Apply a succeeded gateway payment to our pending row (found by ref, checkout or metadata)."""
    row = await Payment.get_or_none(gateway_payment_id=payment.ref)
    if row is None and checkout_id:
        row = await Payment.get_or_none(gateway_checkout_id=checkout_id)
    if row is None and payment.metadata.get("portal_payment_id", "").isdigit():
        row = await Payment.get_or_none(id=int(payment.metadata["portal_payment_id"]))
    if row is None:
        return None
    if payment.status == "succeeded":
        await settle(payment_id=row.id, gateway_payment_id=payment.ref, amount_minor=payment.amount_minor)
    elif payment.status in ("requires_payment_method", "canceled"):
        message = payment.failure_message or _(DECLINED_MESSAGE)
        await fail_payment(payment_id=row.id, message=message, gateway_payment_id=payment.ref)
    elif row.gateway_payment_id is None:
        await Payment.filter(id=row.id, gateway_payment_id=None).update(gateway_payment_id=payment.ref)
    return row.id

"""Refunds: staff refunds through the gateway (online payments) or paid out by hand (offline ones), refunds
the gateway reports, the ledger rows that reverse a payment's allocations and credit, and the refund
receipt each refund emails once."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date

from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.db.models import (
    Allocation,
    CreditEntry,
    Invoice,
    Payment,
    PaymentMethod,
    Refund,
)
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import (
    CreditReason,
    InvoiceStatus,
    PaymentSource,
    PaymentStatus,
    invoice_status_after,
)
from portal.events import Event, publish
from portal.i18n import _, get_locale
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import (
    GatewayError,
    PaymentGateway,
)
from portal.payments.ledger import (
    allocated_by_invoice,
    credit_balance,
)
from portal.payments.methods import method_label
from portal.payments.receipts import queue_refund_receipt
from portal.payments.settlement import lock_client_of

REASON_MAX_LENGTH = 500

CancelHook = Callable[[Invoice, int, Refund], Awaitable[int | None]]
"""Called in the refund's transaction for each invoice the refund takes money back off, with the amount:
cancels that amount on the invoice (billing issues a credit note) and returns the credit note's id, or None
to leave the amount owed again. Billing passes it in: payments sits below billing and cannot import it."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _StaffAsk:
    """A staff refund waiting for the gateway's answer: a gateway that reports the refund while it is
    being made (the sandbox does, inline) records it with the staff member's name, reason and key."""

    payment_id: int
    actor: Actor
    reason: str
    idempotency_key: str
    cancel: CancelHook | None = None


_asking: ContextVar[_StaffAsk | None] = ContextVar("refund_asking", default=None)


@dataclass(frozen=True)
class RefundOffer:
    """What the refund dialog shows about a payment: how much it was, how much can still be refunded, and
    where the money goes (back to the original method online; paid out by hand offline)."""

    payment_id: int
    client_id: int | None
    currency: str
    amount_minor: int
    refunded_minor: int
    refundable_minor: int
    online: bool
    method: str  # 'Visa •••• 4242', 'Cash' (in the current locale)
    received_on: date
    reference: str
    on_invoices_minor: int = 0  # of what can be refunded, what was paid on invoices (the rest is credit)

    @property
    def can_refund(self) -> bool:
        """Something is left to refund."""
        return self.refundable_minor > 0


async def refund_offer(*, actor: Actor, payment_id: int) -> RefundOffer:
    """The refund dialog's facts for one payment (staff only); 'not found' for an unknown payment."""
    require_staff(actor)
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        raise NotFound(_("That payment does not exist."))
    refundable = on_invoices = 0
    if payment.status in (PaymentStatus.succeeded, PaymentStatus.partially_refunded):
        credit, placed = await _reversible(payment)
        refundable = max(0, min(payment.amount_minor - payment.refunded_minor, credit + placed))
        on_invoices = max(0, refundable - credit)
    saved = (
        await PaymentMethod.get_or_none(id=payment.payment_method_id) if payment.payment_method_id else None
    )
    return RefundOffer(
        payment_id=payment.id,
        client_id=payment.client_id,
        currency=payment.currency,
        amount_minor=payment.amount_minor,
        refunded_minor=payment.refunded_minor,
        refundable_minor=refundable,
        online=payment.source == PaymentSource.online and bool(payment.gateway_payment_id),
        method=method_label(payment.method, saved),
        received_on=payment.received_on,
        reference=payment.reference,
        on_invoices_minor=on_invoices,
    )


async def refund_payment(
    *,
    actor: Actor,
    payment_id: int,
    amount_minor: int,
    reason: str = "",
    idempotency_key: str | None = None,
    gateway: PaymentGateway | None = None,
    cancel: CancelHook | None = None,
) -> int:
    """Refund all or part of a payment: its unspent credit first, then what it paid on invoices, which
    is owed again, unless `cancel` cancels it there (see `CancelHook`).

    `idempotency_key` (one per refund dialog) makes a double click or a retry one refund; without it,
    every call is a refund of its own, checked again under the lock when it is recorded. Online payments are
    refunded to their original method through the gateway; offline ones are recorded as paid out.
    """
    require_staff(actor)
    reason = reason.strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            _("The reason is too long ({max} characters at most).", max=REASON_MAX_LENGTH), field="reason"
        )
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        raise NotFound(_("That payment does not exist."))
    key = f"payment:{payment.id}:refund:{idempotency_key or secrets.token_hex(8)}"
    if idempotency_key and (done := await Refund.get_or_none(idempotency_key=key)):
        return done.id  # a double click: the first one made the refund
    if payment.status not in (PaymentStatus.succeeded, PaymentStatus.partially_refunded):
        raise Conflict(_("Only a received payment can be refunded."))
    if amount_minor <= 0:
        raise InvalidInput(_("The refund must be greater than zero."), field="amount")
    async with in_transaction():
        await lock_client_of(payment.id)
        payment = await Payment.select_for_update().get(id=payment_id)
        if idempotency_key and (done := await Refund.get_or_none(idempotency_key=key)):
            return done.id
        await _check_refundable(payment, amount_minor)
    if payment.source == PaymentSource.online and payment.gateway_payment_id:
        gateway = gateway or await selector.current_gateway()
        token = _asking.set(_StaffAsk(payment.id, actor, reason, key, cancel))
        try:
            result = await gateway.refund(
                payment_ref=payment.gateway_payment_id, amount_minor=amount_minor, idempotency_key=key
            )
        except GatewayError as exc:  # e.g. a refund racing this one already took the rest
            raise Conflict(_("The refund was not made: {problem}", problem=exc.message)) from exc
        finally:
            _asking.reset(token)
        fresh = await gateway.retrieve_payment(payment_ref=payment.gateway_payment_id)
        return await record_refund(
            payment_id=payment.id,
            gateway_total_refunded=fresh.amount_refunded_minor,
            reason=reason,
            gateway_refund_id=result.ref,
            idempotency_key=key,
            actor=actor,
            cancel=cancel,
        )
    return await record_refund(
        payment_id=payment.id,
        amount_minor=amount_minor,
        reason=reason,
        idempotency_key=key,
        actor=actor,
        cancel=cancel,
    )


async def _reversible(payment: Payment) -> tuple[int, int]:
    """What a refund of this payment can take back: (its unspent credit, its money still on invoices)."""
    credit = await _unspent_credit(payment)
    placed = sum(await Allocation.filter(payment_id=payment.id).values_list("amount_minor", flat=True))
    taken_back = sum(
        await Allocation.filter(refund__payment_id=payment.id).values_list("amount_minor", flat=True)
    )
    unplaced = payment.amount_minor - payment.refunded_minor if await _never_placed(payment) else 0
    return credit, placed + taken_back + unplaced


async def _unspent_credit(payment: Payment) -> int:
    """The credit this payment created (net of what was taken back) that the client still has."""
    if payment.client_id is None:
        return 0
    created = sum(await CreditEntry.filter(payment_id=payment.id).values_list("amount_minor", flat=True))
    return max(0, min(created, await credit_balance(payment.client_id, payment.currency)))


async def _never_placed(payment: Payment) -> bool:
    """Money received and flagged without ever reaching an invoice or credit (e.g. a late billing request)."""
    if await Allocation.exists(payment_id=payment.id):
        return False
    return not await CreditEntry.exists(payment_id=payment.id, amount_minor__gt=0)


async def _check_refundable(payment: Payment, amount_minor: int) -> None:
    """Refuse a refund larger than what is left, or than what can be taken back (inside the lock)."""
    left = payment.amount_minor - payment.refunded_minor
    if amount_minor > left:
        shown = format_money(left, payment.currency, get_locale())
        raise InvalidInput(_("At most {amount} can be refunded.", amount=shown), field="amount")
    credit, placed = await _reversible(payment)
    if amount_minor > credit + placed:
        can = format_money(credit + placed, payment.currency, get_locale())
        raise InvalidInput(
            _(
                "Only {amount} of this payment can be refunded: the rest of the credit it created has been "
                "used. Take that credit back from the invoices it paid first.",
                amount=can,
            ),
            field="amount",
        )


async def record_refund(
    *,
    payment_id: int,
    reason: str,
    actor: Actor | None,
    amount_minor: int | None = None,
    gateway_total_refunded: int | None = None,
    gateway_refund_id: str | None = None,
    idempotency_key: str | None = None,
    cancel: CancelHook | None = None,
) -> int:
    """Write a refund and undo what the payment did: its credit first, then its invoices, newest first.

    Online, the amount is what the gateway has refunded in total minus what we have recorded, worked out
    under the payment's lock: the staff action and the gateway's charge.refunded event can arrive in
    either order, and whichever comes second finds nothing missing (the staff action then puts its name
    and reason on the row the event wrote). Money the gateway returned beyond what could be taken back
    (credit already spent) is recorded all the same and the payment is flagged for review. With `cancel`,
    what it takes back off invoices is cancelled there, even on a row the gateway's event wrote first.
    """
    ask = _asking.get()
    if actor is None and ask is not None and ask.payment_id == payment_id:
        # the gateway reports the refund a staff member is making right now (inline): it is theirs
        actor, reason, idempotency_key = ask.actor, ask.reason, ask.idempotency_key
        cancel = ask.cancel
    async with in_transaction():
        await lock_client_of(payment_id)
        payment = await Payment.select_for_update().get(id=payment_id)
        if gateway_refund_id and (done := await Refund.get_or_none(gateway_refund_id=gateway_refund_id)):
            return done.id
        if idempotency_key and (done := await Refund.get_or_none(idempotency_key=idempotency_key)):
            if gateway_refund_id and done.gateway_refund_id is None:
                done.gateway_refund_id = gateway_refund_id
                await done.save(update_fields=["gateway_refund_id"])
            return done.id  # the same refund asked for twice
        if gateway_total_refunded is not None:
            missing = min(gateway_total_refunded, payment.amount_minor) - payment.refunded_minor
        else:
            missing = amount_minor or 0
            await _check_refundable(payment, missing)
        if missing <= 0:
            adopted = (
                await Refund.filter(payment_id=payment.id, gateway_refund_id=None).order_by("-id").first()
            )
            if gateway_refund_id and adopted is not None:
                adopted.gateway_refund_id, adopted.reason = gateway_refund_id, reason or adopted.reason
                adopted.created_by_id = (actor.impersonator_id or actor.user_id) if actor else None
                adopted.idempotency_key = adopted.idempotency_key or idempotency_key
                await adopted.save(
                    update_fields=["gateway_refund_id", "reason", "created_by_id", "idempotency_key"]
                )
                if cancel is not None:  # the event reopened the invoices; the staff asked to cancel
                    await _cancel_taken_back(adopted, cancel)
                return adopted.id
            raise Conflict(_("This payment is already fully refunded."))
        refund = await Refund.create(
            payment_id=payment.id,
            amount_minor=missing,
            currency=payment.currency,
            reason=reason,
            gateway_refund_id=gateway_refund_id,
            idempotency_key=idempotency_key,
            created_by_id=(actor.impersonator_id or actor.user_id) if actor else None,
        )
        unreversed = await _reverse(payment, refund, missing, reopen=cancel is None)
        if cancel is not None:
            await _cancel_taken_back(refund, cancel)
        payment.refunded_minor += missing
        fully = payment.refunded_minor >= payment.amount_minor
        payment.status = PaymentStatus.refunded if fully else PaymentStatus.partially_refunded
        fields = ["refunded_minor", "status"]
        if unreversed:
            payment.needs_review = True
            payment.review_note = (
                f"{format_money(unreversed, payment.currency)} was refunded at the gateway after the credit "
                "it created had been used: take it back from the client or write it off."
            )
            fields += ["needs_review", "review_note"]
        await payment.save(update_fields=fields)
        await audit.record(
            actor=actor,
            action="payment.refund",
            subject=f"payment:{payment.id}",
            client_id=payment.client_id,
            details={
                "amount_minor": missing,
                "currency": payment.currency,
                "reason": reason,
                "source": payment.source,
            },
        )
        await queue_refund_receipt(payment, refund)  # once per refund (its own dedupe key)
    await publish(Event("payment.refunded", client_id=payment.client_id, data={"payment_id": payment.id}))
    return refund.id


async def _reverse(payment: Payment, refund: Refund, amount: int, *, reopen: bool = True) -> int:
    """Take back the credit the payment made, then its money on invoices (newest first); return the rest.
    `reopen`: a paid invoice is open again now (else `_cancel_taken_back` decides)."""
    remaining = amount
    if payment.client_id is not None:
        take = min(remaining, await _unspent_credit(payment))
        if take:
            await CreditEntry.create(
                client_id=payment.client_id,
                currency=payment.currency,
                amount_minor=-take,
                reason=CreditReason.refunded,
                payment_id=payment.id,
                refund_id=refund.id,
            )
            remaining -= take
    allocations = await Allocation.filter(payment_id=payment.id).order_by("-id")
    net: dict[int, int] = {}
    for row in allocations:
        net[row.invoice_id] = net.get(row.invoice_id, 0) + row.amount_minor
    for row in await Allocation.filter(refund__payment_id=payment.id):
        net[row.invoice_id] = net.get(row.invoice_id, 0) + row.amount_minor
    for invoice_id, allocated in net.items():
        if remaining <= 0:
            break
        back = min(remaining, allocated)
        if back <= 0:
            continue
        invoice = await Invoice.select_for_update().get(id=invoice_id)
        await Allocation.create(
            invoice_id=invoice_id, amount_minor=-back, currency=payment.currency, refund_id=refund.id
        )
        if reopen:
            await _restatus(invoice, refund)
        remaining -= back
    if remaining and await _never_placed(payment):
        return 0  # money that was flagged and never placed: the refund simply returns it
    return remaining


async def _restatus(invoice: Invoice, refund: Refund) -> None:
    """Open or paid as the invoice's allocations now say (a paid invoice keeps its paid date)."""
    if invoice.status not in (InvoiceStatus.open, InvoiceStatus.paid):
        return
    allocated = (await allocated_by_invoice([invoice.id])).get(invoice.id, 0)
    status = invoice_status_after(invoice.total_minor, allocated, InvoiceStatus(invoice.status))
    if status != invoice.status:
        invoice.status = status
        invoice.paid_at = (invoice.paid_at or refund.created_at) if status == InvoiceStatus.paid else None
        await invoice.save(update_fields=["status", "paid_at", "updated_at"])


async def _cancel_taken_back(refund: Refund, cancel: CancelHook) -> None:
    """Cancel on each invoice what `refund` took back off it (a positive row naming the credit note that
    `cancel` issues): the client no longer owes it, so a paid invoice stays paid; an invoice `cancel`
    declines is open again. Once per invoice: a second call finds the credit note's row."""
    taken: dict[int, int] = {}
    for row in await Allocation.filter(refund_id=refund.id).order_by("id"):
        taken[row.invoice_id] = taken.get(row.invoice_id, 0) - row.amount_minor
    for invoice_id, amount in taken.items():
        invoice = await Invoice.select_for_update().get(id=invoice_id)
        done = await Allocation.exists(invoice_id=invoice_id, credit_note__refund_id=refund.id)
        if amount > 0 and not done and (credit_note_id := await cancel(invoice, amount, refund)):
            await Allocation.create(
                invoice_id=invoice_id,
                amount_minor=amount,
                currency=invoice.currency,
                credit_note_id=credit_note_id,
            )
        await _restatus(invoice, refund)

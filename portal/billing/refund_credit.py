"""Staff refunds from the console, with what the refund means for the invoices it takes money back off:
either the client owes that amount again (the invoices reopen), or it is cancelled there by a credit note
(issue 16 item 5: a refund of a sale that is off), in the same transaction as the refund. One refund flow:
`payments.refunds.refund_payment` does the refund, this module only hands it the credit-note step."""

from __future__ import annotations

from dataclasses import dataclass

from portal.billing import credit_notes, issued
from portal.core.actors import Actor
from portal.payments import refunds
from portal.payments.gateways.protocol import PaymentGateway


@dataclass(frozen=True)
class RefundDone:
    """The refund recorded, and the numbers of the credit notes it issued (none when nothing was
    cancelled)."""

    refund_id: int
    credit_notes: list[str]


async def refund(
    *,
    actor: Actor,
    payment_id: int,
    amount_minor: int,
    reason: str = "",
    idempotency_key: str | None = None,
    cancel_on_invoices: bool = True,
    gateway: PaymentGateway | None = None,
) -> RefundDone:
    """Refund all or part of a payment (see `refunds.refund_payment`). With `cancel_on_invoices`, what it
    takes back off issued invoices is cancelled by a credit note per invoice, so they stay paid; their
    documents are stored as issued after the commit. A double click or a retry with the same key is one
    refund with the same credit notes."""
    refund_id = await refunds.refund_payment(
        actor=actor,
        payment_id=payment_id,
        amount_minor=amount_minor,
        reason=reason,
        idempotency_key=idempotency_key,
        gateway=gateway,
        cancel=credit_notes.issue_for_refund if cancel_on_invoices else None,
    )
    issued_notes = await credit_notes.of_refund(refund_id)
    for credit_note_id, _number in issued_notes:
        await issued.store_issued_credit_note(credit_note_id)
    return RefundDone(refund_id, [number for _id, number in issued_notes])

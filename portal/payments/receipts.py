"""The receipt emails: of a payment (what it shows: the saved method, the invoices paid, the credit added,
whether the client can sign in) and of a refund, loaded, handed to the builder and queued once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    Client,
    CreditEntry,
    Invoice,
    OutboxEmail,
    Payment,
    PaymentMethod,
    Refund,
    User,
)
from portal.mail import payment_emails
from portal.mail.compose import Email
from portal.mail.outbox import enqueue
from portal.mail.worker import Written, register_writer
from portal.payments.presentation import load_presentation

RECEIPT = "receipt"
_issued_hooks: list[Callable[[int], Awaitable[None]]] = []


def on_receipt_issued(hook: Callable[[int], Awaitable[None]]) -> None:
    """Call `hook(payment_id)` once a payment's receipt exists (portal.billing.issued stores its PDF; the
    billing layer sits above payments, so it registers here rather than being imported)."""
    if hook not in _issued_hooks:
        _issued_hooks.append(hook)


async def receipt_issued(payment_id: int) -> None:
    """After the commit that made a payment succeed: its receipt is issued now."""
    for hook in _issued_hooks:
        await hook(payment_id)


async def receipt_email(payment: Payment, client: Client) -> Email:
    """The receipt `client` gets for `payment` (as stored: amount, date, method, reference)."""
    saved = None
    if payment.payment_method_id:
        saved = await PaymentMethod.get_or_none(id=payment.payment_method_id)
    allocations = await Allocation.filter(payment_id=payment.id, amount_minor__gt=0).prefetch_related(
        "invoice"
    )
    credited = await CreditEntry.filter(payment_id=payment.id, amount_minor__gt=0).values_list(
        "amount_minor", flat=True
    )
    return payment_emails.receipt(
        org=await get_organization(),
        payment=payment,
        client=client,
        saved_method=saved,
        allocations=allocations,
        credited_minor=sum(credited),
        can_sign_in=await User.exists(client_id=client.id, is_active=True),
        invoices={a.invoice_id: await load_presentation(a.invoice) for a in allocations},
    )


async def queue_receipt(payment: Payment) -> None:
    """Queue the receipt of `payment` (inside the caller's transaction); once per payment, whoever asks.
    The worker writes it as it sends it (`write_receipt`), so a payment does not wait for its email."""
    if payment.client_id is None:
        return
    (to,) = await Client.filter(id=payment.client_id).values_list("email", flat=True)
    await enqueue(
        kind=RECEIPT,
        to=str(to),
        client_id=payment.client_id,
        dedupe_key=f"receipt:payment:{payment.id}",
        subject="",
        text="",
        values={"payment": payment.id},
    )


async def write_receipt(row: OutboxEmail) -> Written | None:
    """A queued receipt, written as it is sent: the payment as stored, what it paid and what it added."""
    payment = await Payment.get_or_none(id=int((row.values or {})["payment"]))
    if payment is None or payment.client_id is None:
        return None
    email = await receipt_email(payment, await Client.get(id=payment.client_id))
    return Written(email.subject, email.text, email.html)


register_writer(RECEIPT, write_receipt)


async def queue_offline_receipt(payment: Payment) -> None:
    """The receipt of an offline payment, when the organization emails them (its billing setting)."""
    if (await get_organization()).email_offline_receipts:
        await queue_receipt(payment)


async def refund_receipt_email(payment: Payment, refund: Refund, client: Client) -> Email:
    """The refund receipt `client` gets for `refund` of `payment`: what it reopened and took back."""
    saved = None
    if payment.payment_method_id:
        saved = await PaymentMethod.get_or_none(id=payment.payment_method_id)
    invoice_ids = await Allocation.filter(refund_id=refund.id).values_list("invoice_id", flat=True)
    numbers = [
        inv.number
        for inv in await Invoice.filter(id__in=list(invoice_ids)).order_by("id")
        if inv.number  # a sent invoice always has one
    ]
    taken = await CreditEntry.filter(refund_id=refund.id).values_list("amount_minor", flat=True)
    return payment_emails.refund_receipt(
        org=await get_organization(),
        payment=payment,
        refund=refund,
        client=client,
        saved_method=saved,
        invoice_numbers=numbers,
        credit_taken_minor=-sum(taken),
        can_sign_in=await User.exists(client_id=client.id, is_active=True),
    )


async def queue_refund_receipt(payment: Payment, refund: Refund) -> None:
    """Queue the refund receipt (inside the refund's transaction); once per refund."""
    if payment.client_id is None:
        return
    client = await Client.get(id=payment.client_id)
    email = await refund_receipt_email(payment, refund, client)
    await enqueue(
        kind="refund_receipt",
        to=client.email,
        client_id=client.id,
        dedupe_key=f"receipt:refund:{refund.id}",
        subject=email.subject,
        text=email.text,
        html=email.html,
    )

"""The receipt email of a payment: what it shows (the saved method, the invoices paid, the credit added,
whether the client can sign in), loaded and handed to the builder."""

from __future__ import annotations

from portal.core.organization import get_organization
from portal.db.models import Allocation, Client, CreditEntry, Payment, PaymentMethod, User
from portal.mail import payment_emails
from portal.mail.compose import Email
from portal.payments.presentation import load_presentation


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

"""Paying invoices from the client's credit balance: on request (client or staff), and automatically
when an invoice is sent."""

from __future__ import annotations

import logging

from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, check_client_access
from portal.core.organization import get_organization
from portal.db.models import (
    Client,
    CreditEntry,
    Invoice,
)
from portal.domain.allocation import credit_to_apply
from portal.domain.errors import Conflict, NotFound
from portal.domain.status import (
    CreditReason,
    InvoiceStatus,
)
from portal.events import Event, publish
from portal.i18n import _
from portal.payments.charges import INVOICE_NOT_FOUND, NOT_FOUND
from portal.payments.ledger import (
    amount_due,
    apply_allocations,
    credit_balance,
)

log = logging.getLogger(__name__)


# -- credit and refunds ---------------------------------------------------------------------------
async def pay_from_credit(*, actor: Actor, invoice_id: int, amount_minor: int | None = None) -> int:
    """Use the client's credit on an invoice, fully or partly (the rest stays due); return the amount used."""
    found = await Invoice.get_or_none(id=invoice_id)
    if found is None or found.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
        raise NotFound(_(INVOICE_NOT_FOUND))
    check_client_access(actor, found.client_id, message=NOT_FOUND["invoice"])
    async with in_transaction():
        await Client.select_for_update().get(id=found.client_id)  # lock order: client, payment, invoices
        invoice = await Invoice.select_for_update().get(id=invoice_id)
        due = await amount_due(invoice)
        if invoice.status != InvoiceStatus.open or due <= 0:
            raise Conflict(_("This invoice is already paid."))
        balance = await credit_balance(invoice.client_id, invoice.currency)
        use = credit_to_apply(
            balance_minor=balance,
            amount_due_minor=due,
            currency=invoice.currency,
            requested_minor=amount_minor,
            locale=actor.locale,
        )
        if use <= 0:
            raise Conflict(_("There is no credit to use."))
        entry = await CreditEntry.create(
            client_id=invoice.client_id,
            currency=invoice.currency,
            amount_minor=-use,
            reason=CreditReason.applied_to_invoice,
            invoice_id=invoice.id,
            created_by_id=actor.impersonator_id or actor.user_id,
        )
        open_items = {invoice.id: (invoice, due)}
        await apply_allocations(
            open_items=open_items,
            plan=[(invoice.id, use)],
            currency=invoice.currency,
            credit_entry_id=entry.id,
        )
        await audit.record(
            actor=actor,
            action="credit.apply",
            subject=f"invoice:{invoice.id}",
            client_id=invoice.client_id,
            details={"amount_minor": use},
        )
    await publish(Event("payment.recorded", client_id=invoice.client_id, data={"invoice_id": invoice.id}))
    return use


async def apply_credit_automatically(*, invoice_id: int) -> int:
    """Use the client's credit on a newly raised invoice when the organization says so (caller's txn)."""
    org = await get_organization()
    if not org.apply_credit_automatically:
        return 0
    client_id = (await Invoice.get(id=invoice_id)).client_id
    await Client.select_for_update().get(id=client_id)  # lock order: client, payment, invoices
    invoice = await Invoice.select_for_update().get(id=invoice_id)
    if invoice.status != InvoiceStatus.open:
        return 0
    balance = await credit_balance(invoice.client_id, invoice.currency)
    use = min(balance, await amount_due(invoice))
    if use <= 0:
        return 0
    entry = await CreditEntry.create(
        client_id=invoice.client_id,
        currency=invoice.currency,
        amount_minor=-use,
        reason=CreditReason.applied_to_invoice,
        invoice_id=invoice.id,
        note="Applied automatically",
    )
    await apply_allocations(
        open_items={invoice.id: (invoice, invoice.total_minor)},
        plan=[(invoice.id, use)],
        currency=invoice.currency,
        credit_entry_id=entry.id,
    )
    return use

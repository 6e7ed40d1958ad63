"""Paying by bank transfer: the agency's bank details and the reference to quote, and the document marked
as awaiting the transfer (it stays payable by any other way until the money is recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.core.actors import Actor, check_client_access
from portal.core.clock import now_utc
from portal.core.organization import get_organization
from portal.db.models import CreditRequest, Invoice
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import normalize_currency
from portal.domain.status import CreditRequestStatus, InvoiceStatus
from portal.events import Event, publish
from portal.i18n import _
from portal.payments.charges import NOT_FOUND
from portal.payments.pay_all_ledger import payable_invoices


@dataclass(frozen=True)
class TransferDetails:
    """What to transfer to and what to quote; since when the document waits for it (None: not yet)."""

    bank_details: str
    reference: str
    awaiting_since: datetime | None


def reference_for(purpose: str, target_id: int, number: str = "") -> str:
    """The reference a transfer quotes: the invoice number, CR-<id> for a credit request."""
    if purpose == "invoice":
        return number or f"INV-{target_id}"
    if purpose == "pay_all":
        return f"CL-{target_id}"
    return f"CR-{target_id}"


async def _target(purpose: str, target_id: int) -> Invoice | CreditRequest:
    if purpose == "invoice":
        invoice = await Invoice.get_or_none(id=target_id)
        if invoice is None or invoice.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
            raise NotFound(_(NOT_FOUND["invoice"]))
        return invoice
    if purpose == "credit_request":
        credit = await CreditRequest.get_or_none(id=target_id)
        if credit is None or credit.status == CreditRequestStatus.deleted:
            raise NotFound(_(NOT_FOUND["credit_request"]))
        return credit
    raise InvalidInput(_("Unknown payment purpose."), field="purpose")


async def details(*, actor: Actor | None, purpose: str, target_id: int) -> TransferDetails:
    """The bank details and reference for one invoice or credit request (`actor` None: a payment link)."""
    target = await _target(purpose, target_id)
    if actor is not None:
        check_client_access(actor, target.client_id, message=NOT_FOUND[purpose])
    number = target.number or "" if isinstance(target, Invoice) else ""
    org = await get_organization()
    return TransferDetails(
        org.bank_details, reference_for(purpose, target_id, number), target.awaiting_transfer_since
    )


async def mark_awaiting(*, actor: Actor | None, purpose: str, target_id: int) -> TransferDetails:
    """The payer says a transfer is on its way: the document shows as awaiting it from now (once: a second
    click keeps the first time). Refused when nothing is due on it any more."""
    target = await _target(purpose, target_id)
    if actor is not None:
        check_client_access(actor, target.client_id, message=NOT_FOUND[purpose])
    if isinstance(target, Invoice):
        if target.status != InvoiceStatus.open:
            raise Conflict(_("This invoice is already paid."))
        await Invoice.filter(id=target.id, awaiting_transfer_since=None).update(
            awaiting_transfer_since=now_utc()
        )
    else:
        if target.status != CreditRequestStatus.pending:
            raise Conflict(_("This credit request is already paid."))
        await CreditRequest.filter(id=target.id, awaiting_transfer_since=None).update(
            awaiting_transfer_since=now_utc()
        )
    await publish(
        Event("payment.recorded", client_id=target.client_id, data={"awaiting_transfer": target.id})
    )
    return await details(actor=actor, purpose=purpose, target_id=target_id)


async def mark_all_awaiting(*, actor: Actor, currency: str) -> TransferDetails:
    """Everything due in `currency` awaits one transfer (paying everything at once by bank transfer)."""
    client_id = actor.client_id
    if client_id is None:
        raise NotFound(_("That client does not exist."))
    currency = normalize_currency(currency)
    now = now_utc()
    ids = await Invoice.filter(payable_invoices(client_id, currency)).values_list("id", flat=True)
    marked = await Invoice.filter(id__in=list(ids), awaiting_transfer_since=None).update(
        awaiting_transfer_since=now
    )
    marked += await CreditRequest.filter(
        client_id=client_id,
        currency=currency,
        status=CreditRequestStatus.pending,
        awaiting_transfer_since=None,
    ).update(awaiting_transfer_since=now)
    if not ids and not marked:
        if not await CreditRequest.exists(
            client_id=client_id, currency=currency, status=CreditRequestStatus.pending
        ):
            raise Conflict(_("Nothing is due in {currency}.", currency=currency))
    await publish(Event("payment.recorded", client_id=client_id, data={"awaiting_transfer": currency}))
    org = await get_organization()
    return TransferDetails(org.bank_details, reference_for("pay_all", client_id), now)


async def details_for_all(*, actor: Actor, currency: str) -> TransferDetails:
    """The bank details and the one reference to quote for a transfer of everything due in `currency`."""
    client_id = actor.client_id
    if client_id is None:
        raise NotFound(_("That client does not exist."))
    org = await get_organization()
    return TransferDetails(org.bank_details, reference_for("pay_all", client_id), None)

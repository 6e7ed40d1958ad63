"""Paying invoices from the client's credit balance: on request (client or staff), and automatically
when an invoice is sent."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, check_client_access
from portal.core.organization import get_organization
from portal.db.models import (
    BillingRequest,
    Client,
    CreditEntry,
    Invoice,
    PaymentMethod,
)
from portal.domain.allocation import credit_to_apply
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import (
    CreditReason,
    InvoiceStatus,
)
from portal.events import Event, publish
from portal.i18n import _, get_locale
from portal.payments import recurring_from_credit
from portal.payments.charges import INVOICE_NOT_FOUND, NOT_FOUND
from portal.payments.ledger import (
    amount_due,
    apply_allocations,
    credit_balance,
)

log = logging.getLogger(__name__)


# -- credit and refunds ---------------------------------------------------------------------------
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,120}$")


@dataclass(frozen=True)
class CreditOffer:
    """What paying one invoice from credit would do, said before anyone confirms it."""

    invoice_id: int
    number: str
    currency: str
    credit_minor: int  # credit available in the invoice's currency
    due_minor: int  # still due on the invoice
    recurring: bool  # the invoice of a recurring billing request (paid whole, starts a subscription)
    renews_on: str  # the card the subscription renews on ('Visa •••• 4242'), for a recurring request
    reason: str | None  # why credit cannot pay this invoice now; None when it can

    @property
    def usable(self) -> bool:
        """Credit can pay (some of) this invoice."""
        return self.reason is None

    @property
    def max_minor(self) -> int:
        """The most credit that can go to this invoice now."""
        return min(self.credit_minor, self.due_minor) if self.usable else 0

    def credit_left(self, amount_minor: int) -> int:
        """Credit left after using `amount_minor` of it."""
        return self.credit_minor - amount_minor

    def due_left(self, amount_minor: int) -> int:
        """Still due on the invoice after `amount_minor` of credit."""
        return self.due_minor - amount_minor


def _money(amount_minor: int, currency: str, actor: Actor) -> str:
    return format_money(amount_minor, currency, actor.locale or get_locale())


def _reason(
    actor: Actor, invoice: Invoice, due: int, balance: int, request: BillingRequest | None, card: bool
) -> str | None:
    if invoice.status != InvoiceStatus.open or due <= 0:
        return _("This invoice is already paid.")
    if balance <= 0:
        return _("There is no {currency} credit to use.", currency=invoice.currency)
    if request is None:
        return None
    if not card:
        return _(recurring_from_credit.NEEDS_CARD)
    if balance < due:
        return _(
            "A recurring request is paid whole: {due} is due and there is only {credit} of credit.",
            due=_money(due, invoice.currency, actor),
            credit=_money(balance, invoice.currency, actor),
        )
    return None


async def _open_invoice(actor: Actor, invoice_id: int) -> Invoice:
    found = await Invoice.get_or_none(id=invoice_id)
    if found is None or found.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
        raise NotFound(_(INVOICE_NOT_FOUND))
    check_client_access(actor, found.client_id, message=NOT_FOUND["invoice"])
    return found


async def credit_offer(*, actor: Actor, invoice_id: int) -> CreditOffer:
    """What credit can do for one invoice (the client or staff): available, due, and why not if it cannot."""
    invoice = await _open_invoice(actor, invoice_id)
    due = await amount_due(invoice)
    balance = await credit_balance(invoice.client_id, invoice.currency)
    request = await recurring_from_credit.recurring_request_of(invoice.billing_request_id)
    card = await recurring_from_credit.renewal_card(invoice.client_id) if request else None
    return CreditOffer(
        invoice_id=invoice.id,
        number=invoice.number or "",
        currency=invoice.currency,
        credit_minor=max(balance, 0),
        due_minor=max(due, 0),
        recurring=request is not None,
        renews_on=recurring_from_credit.card_label(card) if card else "",
        reason=_reason(actor, invoice, due, balance, request, card is not None),
    )


def _entry_key(invoice_id: int, idempotency_key: str | None) -> str | None:
    if idempotency_key is None:
        return None
    if not _KEY.match(idempotency_key):
        raise InvalidInput(_("This form has expired. Close it and open it again."), field="idempotency_key")
    return f"credit:invoice:{invoice_id}:{idempotency_key}"


async def _already_used(key: str | None, invoice: Invoice) -> int | None:
    """The credit a form with this key already used (a double click or a retry), or None."""
    if key is None:
        return None
    entry = await CreditEntry.get_or_none(idempotency_key=key)
    if entry is None:
        return None
    if invoice.billing_request_id:  # finish what the first click started
        await recurring_from_credit.start_or_explain(invoice.billing_request_id)
    return -entry.amount_minor


async def pay_from_credit(
    *, actor: Actor, invoice_id: int, amount_minor: int | None = None, idempotency_key: str | None = None
) -> int:
    """Use the client's credit on an invoice, fully or partly (the rest stays due); return the amount used.

    The client pays their own invoices; staff pay any client's (audited with who did it). With an
    `idempotency_key` (one per form opening) a double click or a retry uses credit once and answers with
    the first use. A recurring billing request's invoice is paid whole and starts its subscription on the
    client's default card; without such a card credit is refused with the reason.
    """
    found = await _open_invoice(actor, invoice_id)
    key = _entry_key(found.id, idempotency_key)
    if (used := await _already_used(key, found)) is not None:
        return used
    request = await recurring_from_credit.recurring_request_of(found.billing_request_id)
    card = await recurring_from_credit.renewal_card(found.client_id) if request else None
    if request is not None and card is None:
        raise Conflict(_(recurring_from_credit.NEEDS_CARD))
    try:
        use, invoice = await _use_credit(actor, invoice_id, amount_minor, key, request, card)
    except (IntegrityError, Conflict):
        if (used := await _already_used(key, found)) is not None:  # a racing click got here first
            return used
        raise
    await publish(Event("payment.recorded", client_id=invoice.client_id, data={"invoice_id": invoice.id}))
    if request is not None:
        await recurring_from_credit.start_or_explain(request.id)
    return use


async def _use_credit(
    actor: Actor,
    invoice_id: int,
    amount_minor: int | None,
    key: str | None,
    request: BillingRequest | None,
    card: PaymentMethod | None,
) -> tuple[int, Invoice]:
    """One transaction: lock client then invoice, check what is due and the credit, use it, audit."""
    async with in_transaction():
        client_id = (await Invoice.get(id=invoice_id)).client_id
        await Client.select_for_update().get(id=client_id)  # lock order: client, payment, invoices
        invoice = await Invoice.select_for_update().get(id=invoice_id)
        due = await amount_due(invoice)
        if invoice.status != InvoiceStatus.open or due <= 0:
            raise Conflict(_("This invoice is already paid."))
        balance = await credit_balance(invoice.client_id, invoice.currency)
        if request is not None:
            if (problem := _reason(actor, invoice, due, balance, request, True)) is not None:
                raise InvalidInput(problem, field="amount")
            if amount_minor is not None and amount_minor != due:
                raise InvalidInput(
                    _(
                        "A recurring request is paid whole: use {due} of credit.",
                        due=_money(due, invoice.currency, actor),
                    ),
                    field="amount",
                )
        use = credit_to_apply(
            balance_minor=max(balance, 0),
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
            idempotency_key=key,
        )
        await apply_allocations(
            open_items={invoice.id: (invoice, due)},
            plan=[(invoice.id, use)],
            currency=invoice.currency,
            credit_entry_id=entry.id,
        )
        details: dict[str, object] = {"amount_minor": use, "currency": invoice.currency}
        if request is not None and card is not None:
            details["subscription_id"] = await recurring_from_credit.add_subscription(
                request=request, method=card
            )
            details["method_id"] = card.id
        await audit.record(
            actor=actor,
            action="credit.apply",
            subject=f"invoice:{invoice.id}",
            client_id=invoice.client_id,
            details=details,
        )
    return use, invoice


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
    if await recurring_from_credit.recurring_request_of(invoice.billing_request_id) is not None:
        return 0  # credit would mark it paid with no card to renew on: the payer chooses how to pay
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

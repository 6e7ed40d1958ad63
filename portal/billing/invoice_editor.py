"""The staff invoice editor: drafts from what staff type, send, resend, void, duplicate.

What staff type (`InvoiceForm`) is parsed and checked by `line_input`, the same rules the page's live
preview (`check_form`) uses.

Lock order (as in `payments`): client, then invoice. Sending locks both and checks the status inside the
transaction, so two clicks on Send number the invoice once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from portal.billing import credit_notes, issued
from portal.billing.documents import InvoiceDetail, get_invoice
from portal.billing.invoices import LineDraft, queue_invoice_email, reverse_charged, send_draft, store_lines
from portal.billing.line_input import (
    LineForm,
    TaxChoice,
    by_key,
    check_dates,
    check_notes,
    checked_lines,
    currency_choices,
    line_forms,
    preview,
    raise_first,
    tax_choices,
)
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import Client, Invoice, InvoiceLine, Payment, QuoteLine
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money, normalize_currency
from portal.domain.status import InvoiceStatus, PaymentStatus, check_transition, invoice_display_status
from portal.events import Event, publish
from portal.i18n import N_, _
from portal.payments import links
from portal.payments.ledger import allocated_by_invoice

NOT_FOUND = N_("That invoice does not exist.")
CLIENT_NOT_FOUND = N_("That client does not exist.")
DEFAULT_TERM_DAYS = 14


# -- the form ---------------------------------------------------------------------------------------
@dataclass
class InvoiceForm:
    """The editor's fields as typed (dates as YYYY-MM-DD)."""

    currency: str
    issue_date: str
    due_date: str
    notes: str = ""
    lines: list[LineForm] = field(default_factory=list)


def check_form(form: InvoiceForm, *, locale: str, taxes: Mapping[str, TaxChoice]) -> dict[str, str]:
    """Every error of an invoice form, by field (empty when it can be saved)."""
    errors: dict[str, str] = {}
    try:
        currency = normalize_currency(form.currency)
    except InvalidInput as exc:
        return {"currency": exc.message}
    errors.update(check_dates(form.issue_date, form.due_date)[2])
    errors.update(check_notes(form.notes))
    errors.update(preview(form.lines, currency=currency, locale=locale, taxes=taxes).errors)
    return errors


# -- stored lines (shared with the quote editor) ----------------------------------------------------
def drafts_of(rows: Iterable[InvoiceLine] | Iterable[QuoteLine]) -> list[LineDraft]:
    """Stored lines as drafts (to copy them onto another document)."""
    return [
        LineDraft(
            description=row.description,
            quantity=Decimal(row.quantity),
            unit_price_minor=row.unit_price_minor,
            tax_rate=Decimal(row.tax_rate),
            tax_name=row.tax_name,
            date=row.date,
        )
        for row in rows
    ]


# -- views ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRef:
    """The client a document is for; `reverse_charge`: its documents are written without VAT (EU reverse
    charge, decided as they will be when saved), `vat_number` the number that makes it so."""

    id: int
    name: str
    email: str
    currency: str
    reverse_charge: bool = False
    vat_number: str = ""


@dataclass(frozen=True)
class InvoiceEditorView:
    """Everything the staff invoice page shows: the form, the tax menu, and (once saved) the document."""

    id: int | None
    number: str | None
    status: str  # draft | open | paid | deleted ("draft" for a new one too)
    client: ClientRef
    form: InvoiceForm
    taxes: list[TaxChoice]
    currencies: list[str]
    detail: InvoiceDetail | None = None

    @property
    def editable(self) -> bool:
        """Only a draft's lines can be changed."""
        return self.status == InvoiceStatus.draft

    @property
    def display_status(self) -> str:
        """'overdue' for an overdue open invoice, 'void' for a voided one, else the status."""
        return self.detail.display_status if self.detail else invoice_display_status(self.status)

    @property
    def title(self) -> str:
        """'Invoice INV-2026-0001', 'Draft invoice 12', 'New invoice'."""
        if self.id is None:
            return _("New invoice")
        if self.number:
            return _("Invoice {number}", number=self.number)
        return _("Draft invoice {id}", id=self.id)

    @property
    def amount_due_minor(self) -> int:
        """What is still due (the total for a draft)."""
        return self.detail.amount_due_minor if self.detail else 0


async def editor_client(client_id: int | None) -> Client:
    """The client a new or saved document is for (NotFound when there is none)."""
    client = await Client.get_or_none(id=client_id) if client_id is not None else None
    if client is None:
        raise NotFound(_(CLIENT_NOT_FOUND))
    return client


async def client_ref(client: Client) -> ClientRef:
    """The client as the editors show it, with what saving would decide about reverse charge."""
    reverse_charge = await reverse_charged(client)
    return ClientRef(client.id, client.name, client.email, client.currency, reverse_charge, client.vat_number)


async def new_invoice(*, actor: Actor, client_id: int) -> InvoiceEditorView:
    """An empty editor for a client: its currency, issued today, due in 14 days, one empty line."""
    require_staff(actor)
    client = await editor_client(client_id)
    taxes = await tax_choices()
    org = await get_organization()
    form = InvoiceForm(
        currency=client.currency,
        issue_date=today().isoformat(),
        due_date=(today() + timedelta(days=DEFAULT_TERM_DAYS)).isoformat(),
        lines=[LineForm(date=today().isoformat())],
    )
    currencies = currency_choices(client.currency, org.default_currency)
    return InvoiceEditorView(
        None, None, InvoiceStatus.draft, await client_ref(client), form, taxes, currencies
    )


async def get_invoice_editor(*, actor: Actor, invoice_id: int) -> InvoiceEditorView:
    """A saved invoice in the editor (drafts) or as a document with its payments (the others)."""
    require_staff(actor)
    invoice = await Invoice.get_or_none(id=invoice_id)
    if invoice is None:
        raise NotFound(_(NOT_FOUND))
    client = await editor_client(invoice.client_id)
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    taxes = await tax_choices(kept=[(row.tax_name, Decimal(row.tax_rate)) for row in rows])
    org = await get_organization()
    form = InvoiceForm(
        currency=invoice.currency,
        issue_date=invoice.issue_date.isoformat(),
        due_date=invoice.due_date.isoformat(),
        notes=invoice.notes,
        lines=line_forms(rows, invoice.currency, actor.locale, taxes),
    )
    return InvoiceEditorView(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status,
        client=await client_ref(client),
        form=form,
        taxes=taxes,
        currencies=currency_choices(invoice.currency, client.currency, org.default_currency),
        detail=await get_invoice(actor=actor, invoice_id=invoice.id),
    )


# -- saving -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Checked:
    currency: str
    issue_date: date
    due_date: date
    notes: str
    drafts: list[LineDraft]


async def _check(form: InvoiceForm, *, locale: str, kept: Iterable[tuple[str, Decimal]] = ()) -> _Checked:
    """Parse and check a form; InvalidInput names the first wrong field and nothing is saved."""
    currency = normalize_currency(form.currency)
    issue, due, errors = check_dates(form.issue_date, form.due_date)
    errors.update(check_notes(form.notes))
    raise_first(errors)
    assert issue is not None and due is not None
    taxes = by_key(await tax_choices(kept=kept))
    drafts, _inputs = await checked_lines(form.lines, currency=currency, locale=locale, taxes=taxes)
    return _Checked(currency, issue, due, form.notes.strip(), drafts)


async def _lock_invoice(invoice_id: int) -> tuple[Client, Invoice]:
    """Lock the client, then the invoice (the order payments use); NotFound if it does not exist."""
    found = await Invoice.get_or_none(id=invoice_id)
    if found is None:
        raise NotFound(_(NOT_FOUND))
    client = await Client.select_for_update().get(id=found.client_id)
    invoice = await Invoice.select_for_update().get(id=invoice_id)
    return client, invoice


def _not_draft(invoice: Invoice) -> Conflict:
    if invoice.status == InvoiceStatus.deleted:
        return Conflict(_("This invoice has been voided and can no longer be changed."))
    if invoice.status == InvoiceStatus.paid:
        return Conflict(
            _("This invoice is paid, so its lines can no longer be edited. Duplicate it to make changes.")
        )
    return Conflict(
        _(
            "This invoice has been sent, so its lines can no longer be edited. "
            "Void it and duplicate it to make changes."
        )
    )


async def _kept(invoice_id: int) -> list[tuple[str, Decimal]]:
    rows = await InvoiceLine.filter(invoice_id=invoice_id).values_list("tax_name", "tax_rate")
    return [(name, Decimal(rate)) for name, rate in rows]


async def _store(invoice: Invoice, checked: _Checked, client: Client) -> None:
    """The checked form onto the draft; reverse charge decided from the client as it is now."""
    invoice.currency, invoice.issue_date, invoice.due_date = (
        checked.currency,
        checked.issue_date,
        checked.due_date,
    )
    invoice.notes = checked.notes
    await store_lines(invoice, checked.drafts, reverse_charge=await reverse_charged(client))


async def _save(
    actor: Actor, form: InvoiceForm, *, invoice_id: int | None, client_id: int | None
) -> tuple[Client, Invoice]:
    """Create or update a draft inside the caller's transaction."""
    if invoice_id is None:
        client = await editor_client(client_id)
        checked = await _check(form, locale=actor.locale)
        client = await Client.select_for_update().get(id=client.id)
        invoice = Invoice(client_id=client.id, status=InvoiceStatus.draft, created_by_id=actor.user_id)
        await _store(invoice, checked, client)
        await audit.record(
            actor=actor, action="invoice.create", subject=f"invoice:{invoice.id}", client_id=client.id
        )
        return client, invoice
    kept = await _kept(invoice_id)
    checked = await _check(form, locale=actor.locale, kept=kept)
    client, invoice = await _lock_invoice(invoice_id)
    if invoice.status != InvoiceStatus.draft:
        raise _not_draft(invoice)
    await _store(invoice, checked, client)
    await audit.record(
        actor=actor, action="invoice.update", subject=f"invoice:{invoice.id}", client_id=client.id
    )
    return client, invoice


async def save_draft(
    *, actor: Actor, form: InvoiceForm, invoice_id: int | None = None, client_id: int | None = None
) -> int:
    """Create a draft for `client_id`, or update draft `invoice_id`: no number, nothing sent."""
    require_staff(actor)
    async with in_transaction():
        _client_row, invoice = await _save(actor, form, invoice_id=invoice_id, client_id=client_id)
    return invoice.id


async def send_invoice(
    *,
    actor: Actor,
    invoice_id: int | None = None,
    client_id: int | None = None,
    form: InvoiceForm | None = None,
) -> int:
    """Number a draft, open it, email a payment link and use credit; with `form`, save it first.

    Without `invoice_id` a new invoice is created for `client_id` from `form` and sent at once.
    """
    require_staff(actor)
    if invoice_id is None and form is None:
        raise InvalidInput(_("Add at least one line."), field="lines")

    async def load() -> tuple[Client, Invoice]:
        if form is not None:
            client, invoice = await _save(actor, form, invoice_id=invoice_id, client_id=client_id)
        else:
            assert invoice_id is not None
            client, invoice = await _lock_invoice(invoice_id)
        if invoice.status != InvoiceStatus.draft:
            if invoice.status == InvoiceStatus.deleted:
                raise _not_draft(invoice)
            raise Conflict(_("This invoice has already been sent. Use Resend to email it again."))
        if not await InvoiceLine.exists(invoice_id=invoice.id):
            raise InvalidInput(_("Add at least one line."), field="lines")
        return client, invoice

    return await send_draft(actor=actor, load=load)


async def resend_invoice(*, actor: Actor, invoice_id: int) -> str:
    """Email an open invoice again with a new link (earlier links keep working); returns the address."""
    require_staff(actor)
    async with in_transaction():
        client, invoice = await _lock_invoice(invoice_id)
        if invoice.status == InvoiceStatus.draft:
            raise Conflict(_("This invoice is still a draft. Send it first."))
        if invoice.status == InvoiceStatus.paid:
            raise Conflict(_("This invoice is paid: there is nothing to ask for."))
        if invoice.status != InvoiceStatus.open:
            raise _not_draft(invoice)
        await queue_invoice_email(invoice, client)
        await audit.record(
            actor=actor,
            action="invoice.resend",
            subject=f"invoice:{invoice.id}",
            client_id=client.id,
            details={"number": invoice.number, "to": client.email},
        )
    return client.email


async def void_invoice(*, actor: Actor, invoice_id: int, reason: str = "") -> str | None:
    """Void an invoice with no money on it and revoke its payment links: a draft is deleted; an issued
    invoice stays as it was issued, marked void, and a credit note cancels it. The credit note's number,
    or None for a draft."""
    require_staff(actor)

    async with in_transaction():
        client, invoice = await _lock_invoice(invoice_id)
        if invoice.status == InvoiceStatus.deleted:
            raise Conflict(_("This invoice is already void."))
        credited = await credit_notes.credited_minor(invoice.id)  # by the credit notes of refunds
        if credited and credited >= invoice.total_minor:
            raise Conflict(_("Credit notes already cancel the whole of this invoice."))
        allocated = (await allocated_by_invoice([invoice.id])).get(invoice.id, 0) - credited
        if allocated:
            raise Conflict(
                _(
                    "{amount} has been paid or credited to this invoice. "
                    "Refund it first, then void the invoice.",
                    amount=format_money(allocated, invoice.currency, actor.locale),
                )
            )
        if await Payment.exists(invoice_id=invoice.id, status=PaymentStatus.pending):
            raise Conflict(
                _(
                    "A payment for this invoice is in progress. "
                    "Wait for it to finish before voiding the invoice."
                )
            )
        check_transition(InvoiceStatus(invoice.status), InvoiceStatus.deleted)
        previous = invoice.status
        invoice.status = InvoiceStatus.deleted
        await invoice.save(update_fields=["status", "updated_at"])
        revoked = await links.revoke_for(purpose="invoice", target_id=invoice.id)
        details = {"number": invoice.number, "was": previous, "links_revoked": revoked}
        credit_note = None
        if invoice.number:  # issued: it is never deleted, a credit note cancels it
            credit_note = await credit_notes.issue_for_void(
                invoice=invoice, user_id=actor.user_id, note=reason
            )
            details["credit_note"] = credit_note.number
        await audit.record(
            actor=actor,
            action="invoice.void",
            subject=f"invoice:{invoice.id}",
            client_id=client.id,
            details=details,
        )
    await publish(Event("invoice.voided", client_id=client.id, data={"invoice_id": invoice.id}))
    if credit_note is None:
        return None
    await issued.store_issued_credit_note(credit_note.id)  # its PDF as issued, kept unchanged from now on
    return credit_note.number


async def duplicate_invoice(*, actor: Actor, invoice_id: int) -> int:
    """A new draft with the same lines, issued today, with the same payment term; returns its id. Reverse
    charge is decided again from the client as it is now."""
    require_staff(actor)
    source = await Invoice.get_or_none(id=invoice_id)
    if source is None:
        raise NotFound(_(NOT_FOUND))
    drafts = drafts_of(await InvoiceLine.filter(invoice_id=source.id).order_by("position", "id"))
    term = max((source.due_date - source.issue_date).days, 0)
    reverse_charge = await reverse_charged(await editor_client(source.client_id))
    async with in_transaction():
        copy = Invoice(
            client_id=source.client_id,
            status=InvoiceStatus.draft,
            currency=source.currency,
            issue_date=today(),
            due_date=today() + timedelta(days=term),
            notes=source.notes,
            created_by_id=actor.user_id,
        )
        await store_lines(copy, drafts, reverse_charge=reverse_charge, line_date=today())
        await audit.record(
            actor=actor,
            action="invoice.duplicate",
            subject=f"invoice:{copy.id}",
            client_id=source.client_id,
            details={"from_invoice": source.id, "from_number": source.number},
        )
    return copy.id


async def draft_from_lines(
    *, actor: Actor, client_id: int, currency: str, drafts: Sequence[LineDraft], action_details: dict
) -> Invoice:
    """A draft invoice with these lines, issued today, due in 14 days (inside the caller's transaction);
    reverse charge is decided from the client as it is now."""
    require_staff(actor)
    invoice = Invoice(
        client_id=client_id,
        status=InvoiceStatus.draft,
        currency=currency,
        issue_date=today(),
        due_date=today() + timedelta(days=DEFAULT_TERM_DAYS),
        created_by_id=actor.user_id,
    )
    await store_lines(invoice, drafts, reverse_charge=await reverse_charged(await editor_client(client_id)))
    await audit.record(
        actor=actor,
        action="invoice.create",
        subject=f"invoice:{invoice.id}",
        client_id=client_id,
        details=action_details,
    )
    return invoice

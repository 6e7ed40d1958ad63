"""Credit notes (issue 16 item 5): an issued invoice is never deleted or changed. Voiding one issues a
credit note: its own gapless number (CN-2026-0001), the invoice it cancels, the invoice's lines and taxes
as deductions, a PDF; the client sees it beside the invoice and in their history, staff on the invoice page
and the client record. A draft, never issued, is simply deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from tortoise.queryset import QuerySet

from portal.billing.documents import (
    INVOICE_NOT_FOUND,
    InvoiceDetail,
    Letterhead,
    LineView,
    Party,
    letterhead,
    line_views,
    party_of,
    safe_name,
    tax_summary,
)
from portal.core.actors import Actor, check_client_access
from portal.core.clock import today
from portal.core.numbering import next_number
from portal.core.organization import get_organization
from portal.db.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from portal.domain.errors import NotFound
from portal.domain.presentation import InvoicePresentation, PresentedLine, present_invoice
from portal.domain.status import InvoiceStatus
from portal.i18n import N_, _, translate

PATTERN = "CN-{YYYY}-{seq:04}"
"""Credit notes are numbered apart from invoices, restarting each year."""
KIND = "credit_note"
VOID = "void"
REASON_TEXTS = {VOID: N_("The invoice was voided.")}
NOT_FOUND = N_("That credit note does not exist.")


async def issue_for_void(*, invoice: Invoice, user_id: int | None, note: str = "") -> CreditNote:
    """In the caller's transaction (the invoice locked): the credit note cancelling the whole of an issued
    invoice, once (a second call answers with the first)."""
    key = f"{VOID}:invoice:{invoice.id}"
    if (existing := await CreditNote.get_or_none(dedupe_key=key)) is not None:
        return existing
    issued_on = today()
    credit = await CreditNote.create(
        number=await next_number(kind=KIND, pattern=PATTERN, on=issued_on),
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        currency=invoice.currency,
        issue_date=issued_on,
        reason=VOID,
        note=note.strip(),
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        dedupe_key=key,
        created_by_id=user_id,
    )
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    await CreditNoteLine.bulk_create(
        [
            CreditNoteLine(
                credit_note_id=credit.id,
                position=line.position,
                date=line.date,
                description=line.description,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                tax_name=line.tax_name,
                tax_rate=line.tax_rate,
                net_minor=line.net_minor,
                tax_minor=line.tax_minor,
                gross_minor=line.gross_minor,
            )
            for line in lines
        ]
    )
    return credit


@dataclass(frozen=True)
class CreditNoteSummary:
    """A credit note in a list: number, date, the invoice it cancels, the amount credited."""

    id: int
    number: str
    issue_date: date
    invoice_id: int
    invoice_number: str
    currency: str
    total_minor: int
    einvoice: bool = False  # it downloads as Factur-X too (the organization's country is set)

    @property
    def pdf_url(self) -> str:
        """Where its PDF downloads (clients and staff)."""
        return f"/billing/credit-notes/{self.id}/pdf"

    def einvoice_url(self, extension: str) -> str:
        """Where its Factur-X PDF (`pdf`) or XML (`xml`) downloads."""
        return f"/billing/credit-notes/{self.id}/factur-x.{extension}"


@dataclass(frozen=True)
class CreditNoteDetail:
    """A credit note in full, as its PDF draws it: the lines and totals as deductions."""

    summary: CreditNoteSummary
    reason: str
    note: str
    invoice_issue_date: date
    lines: list[LineView]  # as the invoice had them (positive): what an e-invoice of type 381 carries
    presentation: InvoicePresentation  # the same lines and totals as deductions: what the PDF draws
    client: Party
    organization: Letterhead
    locale: str
    reverse_charge: bool = False  # the cancelled invoice's: its credit note is reverse charged too

    @property
    def pdf_filename(self) -> str:
        """'credit-note-CN-2026-0001.pdf' (only safe characters)."""
        return f"credit-note-{safe_name(self.summary.number)}.pdf"


SUMMARY_FIELDS = ("id", "number", "issue_date", "invoice_id", "currency", "total_minor")


def _summary(row: CreditNote, invoice_number: str) -> CreditNoteSummary:
    return CreditNoteSummary(
        row.id, row.number, row.issue_date, row.invoice_id, invoice_number, row.currency, row.total_minor
    )


async def _summaries(query: QuerySet[CreditNote]) -> list[CreditNoteSummary]:
    """The credit notes a query selects, in its order, with their invoices' numbers (one statement)."""
    rows = await query.values(*SUMMARY_FIELDS, invoice_number="invoice__number")
    return [
        CreditNoteSummary(**{k: row[k] for k in SUMMARY_FIELDS}, invoice_number=row["invoice_number"] or "")
        for row in rows
    ]


async def of_invoice(*, actor: Actor, invoice_id: int) -> list[CreditNoteSummary]:
    """The credit notes of one invoice (clients: only of their own invoices)."""
    invoice = await Invoice.get_or_none(id=invoice_id)
    if invoice is None:  # the same words for another client's invoice as for one that does not exist
        raise NotFound(_(INVOICE_NOT_FOUND))
    check_client_access(actor, invoice.client_id, message=INVOICE_NOT_FOUND)
    found = await _summaries(CreditNote.filter(invoice_id=invoice_id).order_by("id"))
    if found and (await get_organization()).country:
        found = [replace(note, einvoice=True) for note in found]
    return found


async def latest_of_client(*, client_id: int, limit: int) -> tuple[list[CreditNoteSummary], int]:
    """The client's latest credit notes (newest first) and how many there are, counted only when the
    page is full (for the history page and the client record, whose use cases check access)."""
    query = CreditNote.filter(client_id=client_id)
    items = await _summaries(query.order_by("-issue_date", "-id").limit(limit))
    return items, len(items) if len(items) < limit else await query.count()


def _deducted(line: CreditNoteLine) -> PresentedLine:
    """A cancelled line as a deduction: its unit price and amounts negated, its quantity and rate kept."""
    return PresentedLine(
        description=line.description,
        quantity=Decimal(line.quantity),
        unit_price_minor=-line.unit_price_minor,
        tax_name=line.tax_name,
        tax_rate=Decimal(line.tax_rate),
        net_minor=-line.net_minor,
        tax_minor=-line.tax_minor,
        gross_minor=-line.gross_minor,
        date=line.date,
    )


async def get_credit_note(*, actor: Actor, credit_note_id: int) -> CreditNoteDetail:
    """One credit note; another client's is 'not found', in the same words as one that does not exist."""
    row = await CreditNote.get_or_none(id=credit_note_id)
    if row is None:
        raise NotFound(_(NOT_FOUND))
    check_client_access(actor, row.client_id, message=NOT_FOUND)
    invoice = await Invoice.get(id=row.invoice_id)
    rows = await CreditNoteLine.filter(credit_note_id=row.id).order_by("position", "id")
    lines = [_deducted(line) for line in rows]
    presentation = present_invoice(
        currency=row.currency,
        lines=lines,
        subtotal_minor=-row.subtotal_minor,
        tax_minor=-row.tax_minor,
        total_minor=-row.total_minor,
    )
    party, locale = await party_of(row.client_id)
    return CreditNoteDetail(
        summary=_summary(row, invoice.number or ""),
        reason=row.reason,
        note=row.note,
        invoice_issue_date=invoice.issue_date,
        lines=line_views(rows),
        presentation=presentation,
        client=party,
        organization=await letterhead(),
        locale=locale,
        reverse_charge=invoice.reverse_charge,
    )


def has_einvoice(detail: CreditNoteDetail) -> bool:
    """A credit note has an e-invoice once the organization's country is set (as an invoice does)."""
    return bool(detail.organization.country)


def reason_text(detail: CreditNoteDetail) -> str:
    """Why the credit note was issued, in the client's language, then staff's own words."""
    known = translate(REASON_TEXTS[detail.reason], detail.locale) if detail.reason in REASON_TEXTS else ""
    return "\n".join(part for part in (known, detail.note) if part)


def _undeducted(line: PresentedLine) -> PresentedLine:
    return replace(
        line,
        unit_price_minor=-line.unit_price_minor,
        net_minor=-line.net_minor,
        tax_minor=-line.tax_minor,
        gross_minor=-line.gross_minor,
    )


def as_einvoice(detail: CreditNoteDetail) -> InvoiceDetail:
    """The credit note as the invoice-shaped view the Factur-X writer takes: its own number and date, the
    cancelled lines and totals (positive, as a type 381 document states them), nothing paid."""
    note = detail.summary
    positive = present_invoice(
        currency=note.currency,
        lines=[_undeducted(line) for line in detail.presentation.lines],
        subtotal_minor=-detail.presentation.subtotal_minor,
        tax_minor=-detail.presentation.tax_minor,
        total_minor=-detail.presentation.total_minor,
    )
    return InvoiceDetail(
        id=note.id,
        number=note.number,
        status=InvoiceStatus.open,
        currency=note.currency,
        issue_date=note.issue_date,
        due_date=note.issue_date,
        notes=reason_text(detail),
        lines=detail.lines,
        subtotal_minor=positive.subtotal_minor,
        tax_minor=positive.tax_minor,
        total_minor=positive.total_minor,
        tax_by_rate=tax_summary(detail.lines),
        payments=[],
        credits=[],
        refunds=[],
        amount_due_minor=positive.total_minor,
        client=detail.client,
        organization=detail.organization,
        presentation=positive,
        locale=detail.locale,
        reverse_charge=detail.reverse_charge,
    )

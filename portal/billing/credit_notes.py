"""Credit notes (issue 16 item 5): an issued invoice is never deleted or changed. Voiding one issues a
credit note: its own gapless number (CN-2026-0001), the invoice it cancels, the invoice's lines and taxes
as deductions, a PDF. A refund that cancels what it takes back (rather than leaving it owed again) issues
one for that amount, shared across the invoice's taxes. The client sees a credit note beside the invoice
and in their history, staff on the invoice page and the client record. A draft is simply deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from tortoise.queryset import QuerySet

from portal.billing import facturx
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
from portal.db.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, Refund
from portal.domain.errors import NotFound
from portal.domain.presentation import InvoicePresentation, PresentedLine, present_invoice
from portal.domain.status import InvoiceStatus
from portal.domain.tax import credit_shares
from portal.i18n import N_, _, translate

PATTERN = "CN-{YYYY}-{seq:04}"
"""Credit notes are numbered apart from invoices, restarting each year."""
KIND = "credit_note"
VOID = "void"
REFUND = "refund"
REASON_TEXTS = {VOID: N_("The invoice was voided."), REFUND: N_("Part of the invoice was refunded.")}
PART_OF = N_("Part of {number} cancelled: {items}")
DESCRIPTION_MAX = 500
NOT_FOUND = N_("That credit note does not exist.")


async def issue_for_void(*, invoice: Invoice, user_id: int | None, note: str = "") -> CreditNote:
    """In the caller's transaction (the invoice locked): the credit note cancelling what is left of an issued
    invoice (the whole of it, unless refunds already credited part), once (a second call answers with the
    first)."""
    left = invoice.total_minor - await credited_minor(invoice.id)
    return await _issue(
        invoice, left, reason=VOID, key=f"{VOID}:invoice:{invoice.id}", user_id=user_id, note=note
    )


async def issue_for_refund(invoice: Invoice, amount_minor: int, refund: Refund) -> int | None:
    """In the refund's transaction (the invoice locked): the credit note cancelling the `amount_minor` a
    refund took back off an issued invoice, so the client no longer owes it; its id (None for an
    unnumbered invoice, which stays owed). Once per refund and invoice."""
    if not invoice.number:
        return None
    key = f"{REFUND}:{refund.id}:invoice:{invoice.id}"
    note = await _issue(
        invoice,
        amount_minor,
        reason=REFUND,
        key=key,
        user_id=refund.created_by_id,
        note=refund.reason,
        refund_id=refund.id,
    )
    return note.id


async def credited_minor(invoice_id: int) -> int:
    """What the credit notes of an invoice have cancelled so far."""
    return sum(await CreditNote.filter(invoice_id=invoice_id).values_list("total_minor", flat=True))


async def _issue(
    invoice: Invoice,
    amount_minor: int,
    *,
    reason: str,
    key: str,
    user_id: int | None,
    note: str,
    refund_id: int | None = None,
) -> CreditNote:
    """A numbered credit note of `amount_minor` (gross) on an invoice: the invoice's own lines when it
    cancels the whole invoice, else a share of each of its taxes (`tax.credit_shares`)."""
    if (existing := await CreditNote.get_or_none(dedupe_key=key)) is not None:
        return existing
    rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    whole = amount_minor == invoice.total_minor
    lines = [_copied(line) for line in rows] if whole else await _shares(invoice, rows, amount_minor)
    issued_on = today()
    credit = await CreditNote.create(
        number=await next_number(kind=KIND, pattern=PATTERN, on=issued_on),
        client_id=invoice.client_id,
        invoice_id=invoice.id,
        currency=invoice.currency,
        issue_date=issued_on,
        reason=reason,
        note=note.strip(),
        refund_id=refund_id,
        subtotal_minor=sum(line.net_minor for line in lines),
        tax_minor=sum(line.tax_minor for line in lines),
        total_minor=sum(line.gross_minor for line in lines),
        dedupe_key=key,
        created_by_id=user_id,
    )
    for line in lines:
        line.credit_note_id = credit.id
    await CreditNoteLine.bulk_create(lines)
    return credit


def _copied(line: InvoiceLine) -> CreditNoteLine:
    """An invoice line cancelled whole, as the invoice has it."""
    return CreditNoteLine(
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


async def _shares(invoice: Invoice, rows: list[InvoiceLine], amount_minor: int) -> list[CreditNoteLine]:
    """Part of an invoice cancelled: one line per tax of the invoice, in the client's language, naming
    the invoice and what its lines at that tax were."""
    groups: dict[tuple[str, Decimal], list[InvoiceLine]] = {}
    for row in rows:
        groups.setdefault((row.tax_name, Decimal(row.tax_rate).normalize()), []).append(row)
    shares = credit_shares(
        [(name, rate, sum(r.gross_minor for r in lines)) for (name, rate), lines in groups.items()],
        amount_minor,
    )
    _party, locale = await party_of(invoice.client_id)
    out = []
    for position, share in enumerate(shares):
        items = ", ".join(r.description for r in groups[(share.tax_name, share.tax_rate.normalize())])
        text = translate(PART_OF, locale, number=invoice.number or "", items=items)
        out.append(
            CreditNoteLine(
                position=position,
                description=text[:DESCRIPTION_MAX],
                quantity=Decimal(1),
                unit_price_minor=share.net_minor,
                tax_name=share.tax_name,
                tax_rate=share.tax_rate,
                net_minor=share.net_minor,
                tax_minor=share.tax_minor,
                gross_minor=share.gross_minor,
            )
        )
    return out


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
    reason: str = VOID  # VOID cancels the whole invoice; REFUND the part a refund took back
    einvoice: bool = False  # it downloads as Factur-X too (`has_einvoice`)

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


SUMMARY_FIELDS = ("id", "number", "issue_date", "invoice_id", "currency", "total_minor", "reason")


def _summary(row: CreditNote, invoice_number: str) -> CreditNoteSummary:
    return CreditNoteSummary(
        row.id,
        row.number,
        row.issue_date,
        row.invoice_id,
        invoice_number,
        row.currency,
        row.total_minor,
        row.reason,
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
    found = [  # an invoice has few: each read in full, to offer its e-invoice exactly when it has one
        replace(note, einvoice=has_einvoice(await get_credit_note(actor=actor, credit_note_id=note.id)))
        for note in found
    ]
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
    """A credit note has an e-invoice when it, read as an invoice, would (`facturx.has_einvoice`: the
    organization identified as EN 16931 asks)."""
    return facturx.has_einvoice(as_einvoice(detail))


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


async def of_refund(refund_id: int) -> list[tuple[int, str]]:
    """The credit notes a refund issued (id, number), oldest first."""
    rows = await CreditNote.filter(refund_id=refund_id).order_by("id").values_list("id", "number")
    return [(int(note_id), str(number)) for note_id, number in rows]

"""A credit note as a PDF (fpdf2), drawn with the helpers of `pdf.py`: the same letterhead, title bar,
client block, lines table and legal mentions (reverse charge, French law's) as the invoice it cancels, its
lines and totals as deductions, in the client's language."""

from __future__ import annotations

from portal.billing import facturx
from portal.billing.credit_notes import CreditNoteDetail, as_einvoice, reason_text
from portal.billing.pdf import (
    _day,
    _Document,
    _finish,
    _letterhead,
    _lines_table,
    _mentions,
    _notes,
    _parties,
    _srgb_output_intent,
    _title_bar,
    _totals,
)
from portal.domain.money import format_money
from portal.domain.presentation import totals
from portal.i18n import translate

SHOWN_TOTALS = ("subtotal", "tax", "total")  # a credit note has no payments and nothing due


def credit_note_pdf(detail: CreditNoteDetail, *, compress: bool = True, archival: bool = False) -> bytes:
    """The credit note as a PDF (`compress=False` keeps the text searchable, for tests; `archival` adds
    the sRGB output intent PDF/A asks for, for the Factur-X e-invoice)."""
    locale, note = detail.locale, detail.summary
    money = format_money(-note.total_minor, note.currency, locale)
    pdf = _Document(
        detail.organization,
        translate("Credit note {number}", locale, number=note.number),
        compress=compress,
        locale=locale,
    )
    if archival:
        _srgb_output_intent(pdf)
    _letterhead(pdf)
    _title_bar(pdf, translate("CREDIT NOTE", locale), translate("Credited {amount}", locale, amount=money))
    facts = [
        (translate("Credit note number", locale), note.number),
        (translate("Issued", locale), _day(note.issue_date, locale)),
        (translate("Cancels invoice", locale), note.invoice_number),
        (translate("Invoice issued", locale), _day(detail.invoice_issue_date, locale)),
    ]
    _parties(pdf, translate("CREDITED TO", locale), detail.client, facts)
    _lines_table(pdf, detail.presentation, locale)
    _totals(pdf, [row for row in totals(detail.presentation, locale) if row.key in SHOWN_TOTALS])
    _notes(pdf, translate("Reason", locale), reason_text(detail))
    _mentions(pdf, as_einvoice(detail))  # the invoice's legal mentions, as its e-invoice's notes carry them
    return _finish(pdf)


def credit_note_xml(detail: CreditNoteDetail) -> bytes:
    """The credit note as Factur-X CII XML (EN 16931, type 381, naming the invoice it cancels)."""
    note = detail.summary
    return facturx.cii_xml(as_einvoice(detail), cancels=(note.invoice_number, detail.invoice_issue_date))


def credit_note_einvoice(detail: CreditNoteDetail) -> bytes:
    """The credit note's PDF with its CII XML inside (Factur-X)."""
    return facturx.facturx_pdf(credit_note_pdf(detail, archival=True), credit_note_xml(detail))

"""The credit notes of an invoice, with their PDFs: the one that cancels a voided invoice, or those that
cancel the parts refunds took back; on the client's and the console's invoice page."""

from __future__ import annotations

from nicegui import ui

from portal import i18n
from portal.billing import credit_notes
from portal.billing.credit_notes import CreditNoteSummary
from portal.core.actors import Actor
from portal.domain.money import format_money
from portal.i18n import _


def credit_note_line(note: CreditNoteSummary) -> None:
    """'Credit note CN-2026-0001 of 4 Dec 2026 cancels this invoice: −$1,511.96 · Download PDF'."""
    values = {
        "number": note.number,
        "date": i18n.format_date(note.issue_date),
        "amount": format_money(-note.total_minor, note.currency, i18n.get_locale()),
    }
    with ui.row().classes("items-center gap-3").mark(f"credit-note-{note.number}"):
        if note.reason == credit_notes.REFUND:
            text = _("Credit note {number} of {date} cancels what a refund took back: {amount}", **values)
        else:
            text = _("Credit note {number} of {date} cancels this invoice: {amount}", **values)
        ui.label(text).classes("text-sm")
        link = ui.link(_("Credit note PDF"), note.pdf_url).props("download").mark("credit-note-pdf")
        link.props["aria-label"] = _("Download credit note {number}", number=note.number)
        if note.einvoice:
            ui.link(_("E-invoice (Factur-X)"), note.einvoice_url("pdf")).props("download").mark(
                "credit-note-facturx"
            )
            ui.link(_("XML"), note.einvoice_url("xml")).props("download").mark("credit-note-xml")


async def credit_note_notice(actor: Actor, invoice_id: int) -> None:
    """Each credit note of the invoice (nothing when there is none)."""
    for note in await credit_notes.of_invoice(actor=actor, invoice_id=invoice_id):
        credit_note_line(note)

"""/billing/history: the statement of account, paid invoices, payments with receipts, refunds, the credit
ledger, decided estimates and proposals (with their PDF), credit notes (with theirs), and access history."""

from __future__ import annotations

from datetime import date, datetime

from nicegui import ui

from portal import i18n
from portal.clients import history
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.tables import LINK_CELL
from portal.config import get_settings
from portal.core.actors import Actor
from portal.domain.money import format_money
from portal.i18n import N_, _
from portal.payments.branding import branding


def _col(name: str, label: str, align: str = "left") -> dict:
    """A column whose title is in the catalog (translated when the table is drawn)."""
    return {"name": name, "label": label, "field": name, "align": align}


PAID_COLUMNS = [
    _col("number", N_("Invoice")),
    _col("paid_on", N_("Paid on")),
    _col("total", N_("Total"), "right"),
]
PAYMENT_COLUMNS = [
    _col("date", N_("Date")),
    _col("method", N_("Method")),
    _col("amount", N_("Amount"), "right"),
    _col("status", N_("Status")),
    _col("receipt", "", "right"),
]
REFUND_COLUMNS = [
    _col("date", N_("Date")),
    _col("amount", N_("Amount"), "right"),
    _col("reason", N_("Reason")),
]
CREDIT_COLUMNS = [
    _col("date", N_("Date")),
    _col("reason", N_("What")),
    _col("amount", N_("Amount"), "right"),
    _col("balance", N_("Balance"), "right"),
]
QUOTE_COLUMNS = [
    _col("document", N_("Estimate or proposal")),
    _col("decision", N_("Decision")),
    _col("decided_on", N_("Date")),
    _col("comment", N_("Comment")),
    _col("total", N_("Total"), "right"),
    _col("pdf", "", "right"),
]
CREDIT_NOTE_COLUMNS = [
    _col("number", N_("Credit note")),
    _col("date", N_("Date")),
    _col("invoice", N_("Cancels invoice")),
    _col("amount", N_("Amount"), "right"),
    _col("pdf", "", "right"),
]
PDF_CELL = """
<q-td :props="props">
  <a :href="props.row.pdf_href" class="text-primary" download>{{ props.value }}</a>
</q-td>
"""
DECISIONS = {
    "approved": N_("Approved"),
    "converted": N_("Approved"),
    "declined": N_("Declined"),
    "expired": N_("Expired"),
}
ACCESS_COLUMNS = [
    _col("admin", N_("Who")),
    _col("started", N_("Started")),
    _col("ended", N_("Ended")),
    _col("reason", N_("Reason")),
]
EMPTY = {
    "paid-invoices": N_("No paid invoices yet. Invoices you pay will be listed here."),
    "payments": N_("You have not made any payments yet."),
    "refunds": N_("No refunds. If we ever give money back, it will show here."),
    "credit-ledger": N_(
        "You have no credit history. Credit from overpayments or adjustments will show here."
    ),
    "access-history": N_("Nobody from our team has viewed your account as you."),
    "decided-quotes": N_(
        "No decided estimates or proposals yet. Those you approve or decline will show here."
    ),
    "credit-notes": N_("No credit notes. If we ever cancel an invoice, its credit note will show here."),
}


def _section(
    title: str, marker: str, section: history.Section, columns: list[dict], rows: list[dict]
) -> ui.table | None:
    """A card with a table of the section's rows, or a friendly sentence when it is empty."""
    with ui.card().classes("w-full gap-2").mark(f"{marker}-section"):
        with ui.row().classes("w-full items-baseline justify-between"):
            ui.label(title).classes("text-lg font-semibold")
            if section.truncated:
                ui.label(
                    _("The latest {shown} of {total}", shown=len(section.items), total=section.total)
                ).classes("text-sm text-gray-600")
        if not rows:
            ui.label(_(EMPTY[marker])).classes("text-gray-600").mark(f"no-{marker}")
            return None
        titled = [{**column, "label": _(title) if (title := column["label"]) else ""} for column in columns]
        table = ui.table(columns=titled, rows=rows, row_key="id").classes("w-full").props("flat")
        return table.mark(marker)


def _stamp(value: datetime) -> str:
    """'Nov 5, 2026, 2:05 PM UTC' / '5 nov. 2026, 14:05 UTC'."""
    return i18n.format_datetime(value)


def _day(value: date | None) -> str:
    """'Nov 5, 2026' / '5 nov. 2026'."""
    return i18n.format_date(value)


def _signed(amount_minor: int, currency: str, locale: str) -> str:
    text = format_money(amount_minor, currency, locale)
    return f"+{text}" if amount_minor > 0 else text


def register() -> None:
    """Add /billing/history."""

    @guard.page("/billing/history", access=guard.Access.client, title="History")
    async def history_page(actor: Actor) -> None:
        assert actor.client_id is not None
        data = await history.get_history(actor=actor, client_id=actor.client_id)
        locale = i18n.get_locale()
        money = lambda amount, currency: format_money(amount, currency, locale)  # noqa: E731
        ui.page_title(_("History"))
        with signed_in_frame(actor, await branding(), _("History")):
            with ui.card().classes("w-full gap-1").mark("statement-card"):
                ui.label(_("Statement of account")).classes("text-lg font-semibold")
                ui.label(
                    _(
                        "Opening and closing balances, every invoice, payment, refund and credit of a period "
                        "you choose, and what is overdue; as a page or a PDF."
                    )
                ).classes("text-sm text-gray-600")
                ui.link(_("Open my statement"), "/billing/statement").mark("statement-link")
            rows = [
                {
                    "id": i.id,
                    "number": i.number,
                    "paid_on": _day(i.paid_on),
                    "total": money(i.total_minor, i.currency),
                    "href": f"/billing/invoices/{i.id}",
                }
                for i in data.paid_invoices.items
            ]
            table = _section(_("Paid invoices"), "paid-invoices", data.paid_invoices, PAID_COLUMNS, rows)
            if table:
                table.add_slot("body-cell-number", LINK_CELL)

            rows = [
                {
                    "id": p.id,
                    "date": _day(p.date),
                    "method": p.method,
                    "amount": money(p.amount_minor, p.currency),
                    "status": p.status_label,
                    "receipt": _("Receipt") if p.receipt_id else "",
                    "receipt_id": p.receipt_id,
                    "href": f"/billing/receipts/{p.receipt_id}" if p.receipt_id else "",
                }
                for p in data.payments.items
            ]
            table = _section(_("Payments"), "payments", data.payments, PAYMENT_COLUMNS, rows)
            if table:
                table.add_slot("body-cell-receipt", LINK_CELL)

            rows = [
                {
                    "id": r.id,
                    "date": _day(r.date),
                    "amount": money(r.amount_minor, r.currency),
                    "reason": _(r.reason) if r.reason else "",  # a reason the portal wrote is in the catalog
                }
                for r in data.refunds.items
            ]
            _section(_("Refunds"), "refunds", data.refunds, REFUND_COLUMNS, rows)

            rows = [
                {
                    "id": c.id,
                    "date": _day(c.date),
                    "reason": " · ".join(part for part in (c.reason, c.invoice_number, c.note) if part),
                    "amount": _signed(c.amount_minor, c.currency, locale),
                    "balance": money(c.balance_minor, c.currency),
                }
                for c in data.credit.items
            ]
            _section(_("Credit"), "credit-ledger", data.credit, CREDIT_COLUMNS, rows)

            rows = [
                {
                    "id": q.id,
                    "document": " · ".join(part for part in (q.label, q.title) if part),
                    "href": f"/billing/quotes/{q.id}",
                    "decision": _(DECISIONS.get(q.status, q.status)),
                    "status": q.status,
                    "decided_on": _day(q.decided_on),
                    "comment": q.comment,
                    "total": money(q.total_minor, q.currency),
                    "pdf": _("PDF"),
                    "pdf_href": f"/billing/quotes/{q.id}/pdf",
                }
                for q in data.quotes.items
            ]
            table = _section(_("Estimates and proposals"), "decided-quotes", data.quotes, QUOTE_COLUMNS, rows)
            if table:
                table.add_slot("body-cell-document", LINK_CELL)
                table.add_slot("body-cell-pdf", PDF_CELL)

            rows = [
                {
                    "id": n.id,
                    "number": n.number,
                    "date": _day(n.issue_date),
                    "invoice": n.invoice_number,
                    "href": f"/billing/invoices/{n.invoice_id}",
                    "amount": money(-n.total_minor, n.currency),
                    "pdf": _("PDF"),
                    "pdf_href": n.pdf_url,
                }
                for n in data.credit_notes.items
            ]
            table = _section(_("Credit notes"), "credit-notes", data.credit_notes, CREDIT_NOTE_COLUMNS, rows)
            if table:
                table.add_slot("body-cell-invoice", LINK_CELL)
                table.add_slot("body-cell-pdf", PDF_CELL)

            rows = [
                {
                    "id": a.id,
                    "admin": _("{name} (administrator)", name=a.admin_name),
                    "started": _stamp(a.started_at),
                    "ended": a.ended,
                    "reason": a.reason,
                }
                for a in data.access.items
            ]
            with ui.column().classes("w-full gap-1"):
                _section(_("Access history"), "access-history", data.access, ACCESS_COLUMNS, rows)
                minutes = get_settings().impersonation_minutes
                ui.label(
                    _(
                        "Our team can view your account as you, with a reason, to help you; each visit "
                        "ends by itself after {minutes} minutes and is listed here.",
                        minutes=minutes,
                    )
                ).classes("text-sm text-gray-600")
            ui.link(_("Back to My Billing"), "/billing")

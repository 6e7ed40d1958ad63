"""/billing/history: paid invoices, payments with receipts, refunds, the credit ledger, and access history."""

from __future__ import annotations

from datetime import date, datetime

from nicegui import ui

from portal import auth
from portal.config import get_settings
from portal.domain.money import format_money
from portal.pages.common import signed_in_frame
from portal.pages.documents import link_cell
from portal.services import history
from portal.services.actors import Actor
from portal.services.organization import branding


def _col(name: str, label: str, align: str = "left") -> dict:
    return {"name": name, "label": label, "field": name, "align": align}


PAID_COLUMNS = [_col("number", "Invoice"), _col("paid_on", "Paid on"), _col("total", "Total", "right")]
PAYMENT_COLUMNS = [
    _col("date", "Date"),
    _col("method", "Method"),
    _col("amount", "Amount", "right"),
    _col("status", "Status"),
    _col("receipt", "", "right"),
]
REFUND_COLUMNS = [_col("date", "Date"), _col("amount", "Amount", "right"), _col("reason", "Reason")]
CREDIT_COLUMNS = [
    _col("date", "Date"),
    _col("reason", "What"),
    _col("amount", "Amount", "right"),
    _col("balance", "Balance", "right"),
]
ACCESS_COLUMNS = [
    _col("admin", "Who"),
    _col("started", "Started"),
    _col("ended", "Ended"),
    _col("reason", "Reason"),
]
EMPTY = {
    "paid-invoices": "No paid invoices yet. Invoices you pay will be listed here.",
    "payments": "You have not made any payments yet.",
    "refunds": "No refunds. If we ever give money back, it will show here.",
    "credit-ledger": "You have no credit history. Credit from overpayments or adjustments will show here.",
    "access-history": "Nobody from our team has viewed your account as you.",
}


def _section(
    title: str, marker: str, section: history.Section, columns: list[dict], rows: list[dict]
) -> ui.table | None:
    """A card with a table of the section's rows, or a friendly sentence when it is empty."""
    with ui.card().classes("w-full gap-2").mark(f"{marker}-section"):
        with ui.row().classes("w-full items-baseline justify-between"):
            ui.label(title).classes("text-lg font-semibold")
            if section.truncated:
                ui.label(f"The latest {len(section.items)} of {section.total}").classes(
                    "text-sm text-gray-600"
                )
        if not rows:
            ui.label(EMPTY[marker]).classes("text-gray-600").mark(f"no-{marker}")
            return None
        table = ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat")
        return table.mark(marker)


def _stamp(value: datetime) -> str:
    return f"{value:%d %b %Y %H:%M} UTC"


def _day(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else ""


def _signed(amount_minor: int, currency: str, locale: str) -> str:
    text = format_money(amount_minor, currency, locale)
    return f"+{text}" if amount_minor > 0 else text


def register() -> None:
    """Add /billing/history."""

    @auth.page("/billing/history", access=auth.Access.client, title="History")
    async def history_page(actor: Actor) -> None:
        assert actor.client_id is not None
        data = await history.get_history(actor=actor, client_id=actor.client_id)
        locale = actor.locale
        money = lambda amount, currency: format_money(amount, currency, locale)  # noqa: E731
        with signed_in_frame(actor, await branding(), "History"):
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
            table = _section("Paid invoices", "paid-invoices", data.paid_invoices, PAID_COLUMNS, rows)
            if table:
                table.add_slot("body-cell-number", link_cell("href"))

            rows = [
                {
                    "id": p.id,
                    "date": _day(p.date),
                    "method": p.method,
                    "amount": money(p.amount_minor, p.currency),
                    "status": p.status_label,
                    "receipt": "Receipt" if p.receipt_id else "",
                    "receipt_id": p.receipt_id,
                    "href": f"/billing/receipts/{p.receipt_id}" if p.receipt_id else "",
                }
                for p in data.payments.items
            ]
            table = _section("Payments", "payments", data.payments, PAYMENT_COLUMNS, rows)
            if table:
                table.add_slot("body-cell-receipt", link_cell("href"))

            rows = [
                {
                    "id": r.id,
                    "date": _day(r.date),
                    "amount": money(r.amount_minor, r.currency),
                    "reason": r.reason,
                }
                for r in data.refunds.items
            ]
            _section("Refunds", "refunds", data.refunds, REFUND_COLUMNS, rows)

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
            _section("Credit", "credit-ledger", data.credit, CREDIT_COLUMNS, rows)

            rows = [
                {
                    "id": a.id,
                    "admin": f"{a.admin_name} ({a.admin_email})",
                    "started": _stamp(a.started_at),
                    "ended": a.ended,
                    "reason": a.reason,
                }
                for a in data.access.items
            ]
            with ui.column().classes("w-full gap-1"):
                _section("Access history", "access-history", data.access, ACCESS_COLUMNS, rows)
                minutes = get_settings().impersonation_minutes
                ui.label(
                    "Our team can view your account as you, with a reason, to help you; each visit ends by "
                    f"itself after {minutes} minutes and is listed here."
                ).classes("text-sm text-gray-600")
            ui.link("Back to My Billing", "/billing")

"""Small labels: money amounts and status badges."""

from __future__ import annotations

from nicegui import ui

from portal.domain.money import format_money
from portal.domain.status import invoice_display_status, invoice_label, local_label
from portal.i18n import get_locale

STATUS_COLORS = {
    "draft": "grey",
    "open": "blue",
    "overdue": "red",
    "pending": "orange",
    "paid": "green",
    "expired": "grey-7",
    "deleted": "grey-5",
    "void": "grey-7",
    "sent": "blue",
    "approved": "green",
    "declined": "red",
    "active": "green",
    "past_due": "red",
    "canceled": "grey",
}


def status_label(status: str, *, invoice: bool = False) -> str:
    """'past_due' -> 'Past due' (in the current locale: 'En retard de paiement'); with `invoice`, a stored
    `deleted` is 'Void' (billing and credit requests stay 'Deleted')."""
    return invoice_label(status) if invoice else local_label(status)


def status_badge(status: str, *, invoice: bool = False) -> ui.badge:
    """A coloured badge for a status (open, paid, overdue, void...); `invoice` for an invoice's status."""
    shown = invoice_display_status(status) if invoice else status
    badge = ui.badge(status_label(shown), color=STATUS_COLORS.get(shown, "grey"))
    return badge.props("rounded").mark(f"status-{shown}")


def money_label(amount_minor: int, currency: str, *, locale: str | None = None) -> ui.label:
    """An amount in the currency's own format (¥1,234 / $1,234.50 / 1 234,50 €), in the current locale."""
    text = format_money(amount_minor, currency, locale or get_locale())
    return ui.label(text).classes("tabular-nums")

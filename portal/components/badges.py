"""Small labels: money amounts and status badges."""

from __future__ import annotations

from nicegui import ui

from portal.domain.money import format_money
from portal.domain.status import label
from portal.i18n import _, get_locale

STATUS_COLORS = {
    "draft": "grey",
    "open": "blue",
    "overdue": "red",
    "pending": "orange",
    "paid": "green",
    "expired": "grey-7",
    "deleted": "grey-5",
    "sent": "blue",
    "approved": "green",
    "declined": "red",
    "active": "green",
    "past_due": "red",
    "canceled": "grey",
}


def status_label(status: str) -> str:
    """'past_due' -> 'Past due' (in the current locale: 'En retard de paiement')."""
    return _(label(status))


def status_badge(status: str) -> ui.badge:
    """A coloured badge for a status (open, paid, overdue...)."""
    badge = ui.badge(status_label(status), color=STATUS_COLORS.get(status, "grey"))
    return badge.props("rounded").mark(f"status-{status}")


def money_label(amount_minor: int, currency: str, *, locale: str | None = None) -> ui.label:
    """An amount in the currency's own format (¥1,234 / $1,234.50 / 1 234,50 €), in the current locale."""
    text = format_money(amount_minor, currency, locale or get_locale())
    return ui.label(text).classes("tabular-nums")

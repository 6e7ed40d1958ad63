"""Small labels: money amounts and status badges."""

from __future__ import annotations

from nicegui import ui

from portal.domain.money import format_money

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
    """'past_due' -> 'Past due'."""
    return status.replace("_", " ").capitalize()


def status_badge(status: str) -> ui.badge:
    """A coloured badge for a status (open, paid, overdue...)."""
    badge = ui.badge(status_label(status), color=STATUS_COLORS.get(status, "grey"))
    return badge.props("rounded").mark(f"status-{status}")


def money_label(amount_minor: int, currency: str, *, locale: str = "en", classes: str = "") -> ui.label:
    """An amount in the currency's own format (¥1,234 / $1,234.50 / 1 234,50 €)."""
    return ui.label(format_money(amount_minor, currency, locale)).classes(f"tabular-nums {classes}")

"""Estimates and proposals waiting for the client's decision, as one table: the document (linking its page),
what it is for, its amount and how long it is valid, and Approve / Decline.

My Billing draws it in its to-do panel. One `ui.table` however many quotes wait: the buttons are drawn by
the browser from the row (the table's slot), and the words every row repeats are translated once per
table, not once per row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from portal import i18n
from portal.billing.quotes import QuoteView
from portal.domain.money import format_money
from portal.i18n import _

HIDE_ON_PHONE = {"classes": "gt-xs", "headerClasses": "gt-xs"}

DOCUMENT_CELL = """
<q-td :props="props">
  <a :href="props.row.view" class="text-primary">{{ props.value }}</a>
</q-td>
"""
ACTIONS_CELL = """
<q-td :props="props" class="whitespace-nowrap">
  <q-btn unelevated dense no-caps color="green-7" class="q-mr-xs" :label="props.row.approve_label"
         :aria-label="props.row.approve_aria" @click="() => $parent.$emit('approve', props.row.id)" />
  <q-btn flat dense no-caps color="red-7" :label="props.row.decline_label"
         :aria-label="props.row.decline_aria" @click="() => $parent.$emit('decline', props.row.id)" />
</q-td>
"""

Decide = Callable[[QuoteView], Awaitable[None] | None]


def quote_rows(waiting: list[QuoteView]) -> list[dict]:
    """The table's rows, in the reader's locale."""
    locale = i18n.get_locale()
    approve, decline = _("Approve"), _("Decline")
    rows = []
    for quote in waiting:
        document = quote.label
        rows.append(
            {
                "id": quote.id,
                "document": document,
                "title": quote.title,
                "amount": format_money(quote.total_minor, quote.currency, locale),
                "valid_until": i18n.format_date(quote.valid_until, locale) if quote.valid_until else "",
                "view": f"/billing/quotes/{quote.id}",
                "approve_label": approve,
                "decline_label": decline,
                "approve_aria": _("Approve {document}", document=document),
                "decline_aria": _("Decline {document}", document=document),
            }
        )
    return rows


def quotes_table(waiting: list[QuoteView], on_approve: Decide, on_decline: Decide) -> ui.table:
    """The table; Approve and Decline call back with the row's quote (a row redrawn away meanwhile:
    nothing)."""
    by_id = {quote.id: quote for quote in waiting}
    columns = [
        {"name": "document", "label": _("Document"), "field": "document", "align": "left"},
        {"name": "title", "label": _("Title"), "field": "title", "align": "left"},
        {"name": "amount", "label": _("Amount"), "field": "amount", "align": "right"},
        {
            "name": "valid_until",
            "label": _("Valid until"),
            "field": "valid_until",
            "align": "left",
            **HIDE_ON_PHONE,
        },
        {"name": "actions", "label": "", "field": "id", "align": "right"},
    ]
    table = ui.table(columns=columns, rows=quote_rows(waiting), row_key="id").classes("w-full")
    table.props("flat dense wrap-cells").mark("quotes")
    table.add_slot("body-cell-document", DOCUMENT_CELL)
    table.add_slot("body-cell-actions", ACTIONS_CELL)

    async def decide(handler: Decide, quote_id: object) -> None:
        quote = by_id.get(quote_id) if isinstance(quote_id, int) else None
        if quote is not None:
            result = handler(quote)
            if result is not None:
                await result

    table.on("approve", lambda e: decide(on_approve, e.args))
    table.on("decline", lambda e: decide(on_decline, e.args))
    return table

"""What the client can pay, as one table: number (linking the invoice), dates, amount due, status, Pay now.

Shared by My Billing's to-do (the oldest due few) and the page of all open invoices. One `ui.table` whatever
the number of rows; each row costs one badge and one button (the number is the link to the invoice), and
the words every row repeats are translated once per table, not once per row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from portal import i18n
from portal.clients.dashboard import Payable
from portal.domain.money import format_money
from portal.domain.status import local_label
from portal.i18n import _

# on phones the dates give way so that the amount, the status and Pay now stay in view
HIDE_ON_PHONE = {"classes": "gt-xs", "headerClasses": "gt-xs"}

# the badge colour follows the status key; the label is the translated status
STATUS_CELL = """
<q-td :props="props">
  <q-badge rounded
           :color="{overdue: 'red', open: 'blue', pending: 'orange', awaiting_transfer: 'purple'}[
             props.row.status_key] || 'grey'"
           :label="props.value" />
</q-td>
"""
NUMBER_CELL = """
<q-td :props="props">
  <a v-if="props.row.view" :href="props.row.view" class="text-primary">{{ props.value }}</a>
  <span v-else>{{ props.value }}</span>
</q-td>
"""
ACTIONS_CELL = """
<q-td :props="props">
  <q-btn unelevated dense no-caps color="green-7" :label="props.row.pay_label"
         :aria-label="props.row.pay_aria" @click="() => $parent.$emit('pay', props.row.key)" />
</q-td>
"""


def payable_columns() -> list[dict]:
    """The columns of the table, titled in the current locale."""
    return [
        {"name": "number", "label": _("Invoice"), "field": "number", "align": "left"},
        {"name": "issue_date", "label": _("Issued"), "field": "issue_date", "align": "left", **HIDE_ON_PHONE},
        {"name": "due_date", "label": _("Due"), "field": "due_date", "align": "left", **HIDE_ON_PHONE},
        {"name": "amount_due", "label": _("Amount due"), "field": "amount_due", "align": "right"},
        {"name": "status", "label": _("Status"), "field": "status", "align": "left"},
        {"name": "actions", "label": "", "field": "key", "align": "right"},
    ]


def payable_rows(items: list[Payable]) -> list[dict]:
    """The table's rows, in the reader's locale."""
    locale = i18n.get_locale()
    pay_label = _("Pay now")
    statuses = {status: local_label(status) for status in {item.status for item in items}}
    if "awaiting_transfer" in statuses:
        statuses["awaiting_transfer"] = _("Awaiting transfer")
    rows = []
    for item in items:
        number = item.number if item.purpose == "invoice" else item.title
        rows.append(
            {
                "key": f"{item.purpose}:{item.id}",
                "number": number,
                "issue_date": i18n.format_date(item.issue_date, locale),
                "due_date": i18n.format_date(item.due_date, locale),
                "amount_due": format_money(item.amount_due_minor, item.currency, locale),
                "status": statuses[item.status],
                "status_key": item.status,
                "view": f"/billing/invoices/{item.id}" if item.purpose == "invoice" else "",
                "pay_label": pay_label,
                "pay_aria": _("Pay now: {number}", number=number),  # holds the visible "Pay now"
            }
        )
    return rows


def payables_table(
    items: list[Payable], on_pay: Callable[[Payable], Awaitable[None] | None], marker: str = "open-invoices"
) -> ui.table:
    """The table; Pay now calls `on_pay` with the row's payable (a row redrawn away meanwhile: nothing)."""
    by_key = {f"{item.purpose}:{item.id}": item for item in items}
    table = ui.table(columns=payable_columns(), rows=payable_rows(items), row_key="key").classes("w-full")
    table.props("flat dense wrap-cells").mark(marker)
    table.add_slot("body-cell-number", NUMBER_CELL)
    table.add_slot("body-cell-status", STATUS_CELL)
    table.add_slot("body-cell-actions", ACTIONS_CELL)

    async def pay(key: str) -> None:
        item = by_key.get(key)
        if item is not None:
            result = on_pay(item)
            if result is not None:
                await result

    table.on("pay", lambda e: pay(e.args))
    return table

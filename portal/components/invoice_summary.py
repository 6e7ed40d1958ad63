"""An invoice's lines under their titled columns and its totals block: the one presentation
(`portal.domain.presentation`) that the invoice page and the pay-link page draw, in the reader's locale.

Stable handles: the lines table is marked `invoice-lines`; each amount of the totals block is marked by its
row (`subtotal`, `tax`, `total`, `paid`, `credit-applied`, `refunded`, `amount-due`). In the browser the
table and the totals block carry `data-presentation="lines"` / `"totals"` and each totals row `data-total`.
"""

from __future__ import annotations

from nicegui import ui

from portal import i18n
from portal.domain.presentation import InvoicePresentation, TotalRow, sheet

TOTAL_MARKERS = {
    "subtotal": "subtotal",
    "tax": "tax",
    "total": "total",
    "paid": "paid",
    "credit": "credit-applied",
    "refunded": "refunded",
    "due": "amount-due",
}
PHONE_HIDDEN = {"classes": "gt-xs", "headerClasses": "gt-xs"}
"""Quasar classes that leave a column out below 600 px (quantity, unit price, tax rate, date)."""


def lines_table(presentation: InvoicePresentation, marker: str = "invoice-lines") -> ui.table | None:
    """The lines with their labelled columns (None when the invoice has no line)."""
    written = sheet(presentation, i18n.get_locale())
    if not written.rows:
        return None
    columns = [
        {
            "name": column.key,
            "label": column.label,
            "field": column.key,
            "align": "right" if column.numeric else "left",
            **({} if column.essential else PHONE_HIDDEN),
        }
        for column in written.columns
    ]
    rows = [{"id": index, **row} for index, row in enumerate(written.rows)]
    table = ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat")
    table.props["data-presentation"] = "lines"
    table.mark(marker)
    return table


def _total(row: TotalRow) -> None:
    with ui.row().classes("w-full justify-between items-baseline no-wrap") as line:
        line.props["data-total"] = row.key
        ui.label(row.label).classes("font-semibold" if row.strong else "text-gray-700")
        amount = ui.label(row.amount).classes(
            "tabular-nums " + ("text-xl font-semibold" if row.strong else "")
        )
        amount.mark(TOTAL_MARKERS.get(row.key, row.key))
    if row.key == "total":
        ui.separator()


def totals_block(presentation: InvoicePresentation) -> ui.column:
    """Subtotal (net), tax per rate, total, payments received, credit applied, refunds and amount due."""
    written = sheet(presentation, i18n.get_locale())
    with ui.column().classes("w-full max-w-sm ml-auto gap-1") as block:
        block.props["data-presentation"] = "totals"
        for row in written.totals:
            _total(row)
    return block


def invoice_summary(presentation: InvoicePresentation, marker: str = "invoice-lines") -> None:
    """The lines table, then the totals block under it."""
    lines_table(presentation, marker)
    totals_block(presentation)

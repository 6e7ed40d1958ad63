"""Table pieces the pages share: the link cell, columns from (name, label, align) triples, money text."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from portal import i18n
from portal.domain.money import format_money
from portal.i18n import N_, _

LINK_CELL = """
<q-td :props="props">
  <a v-if="props.row.href" :href="props.row.href" class="text-primary">{{ props.value }}</a>
  <span v-else>{{ props.value }}</span>
</q-td>
"""
"""A table cell that shows its value as a link to the row's `href` (text stays text: Vue escapes it)."""


def table_columns(*specs: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Table columns from (name, label, align) triples; labels are translated here."""
    return [{"name": n, "label": _(label), "field": n, "align": align} for n, label, align in specs]


def money_cell(amount_minor: int | None, currency: str) -> str:
    """An amount in the current locale, or nothing."""
    return "" if amount_minor is None else format_money(amount_minor, currency, i18n.get_locale())


EMPTY_CELL = """
<div class="w-full text-center text-gray-600 py-2" role="status">{{ props.message }}</div>
"""
"""The `no-data` slot: the message alone, without Quasar's default warning triangle (an empty list is not
an error)."""
NOTHING_YET = N_("Nothing yet.")


def quiet_empty(table: ui.table, message: str | None = None) -> ui.table:
    """Show `message` (default 'Nothing yet.') when the table has no rows, in neutral grey and
    without a warning icon. static/portal.css also hides the icon of any table this was not applied to."""
    table.props["no-data-label"] = message if message is not None else _(NOTHING_YET)
    table.add_slot("no-data", EMPTY_CELL)
    return table

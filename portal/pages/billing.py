"""/billing: the client's "My Billing" home (the open invoices for now; the full dashboard comes later)."""

from __future__ import annotations

from nicegui import ui

from portal import auth
from portal.components.badges import money_label
from portal.domain.money import format_money
from portal.pages.common import signed_in_frame
from portal.services import clients, invoices, ledger
from portal.services.actors import Actor
from portal.services.organization import branding

HIDE_ON_PHONE = {"classes": "gt-xs", "headerClasses": "gt-xs"}
INVOICE_COLUMNS = [
    {"name": "number", "label": "Invoice", "field": "number", "align": "left"},
    # the dates give way on phones so that the amount and the status stay in view
    {"name": "issue_date", "label": "Issued", "field": "issue_date", "align": "left", **HIDE_ON_PHONE},
    {"name": "due_date", "label": "Due", "field": "due_date", "align": "left", **HIDE_ON_PHONE},
    {"name": "amount_due", "label": "Amount due", "field": "amount_due", "align": "right"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
]


STATUS_CELL = """
<q-td :props="props">
  <q-badge rounded :color="props.value === 'Overdue' ? 'red' : 'blue'" :label="props.value" />
</q-td>
"""


def register() -> None:
    """Add /billing."""

    @auth.page("/billing", access=auth.Access.client, title="My Billing")
    async def billing_page(actor: Actor) -> None:
        client_id = actor.client_id
        assert client_id is not None
        profile = await clients.get_profile(actor=actor, client_id=client_id)
        open_items = await invoices.open_invoices(actor=actor, client_id=client_id)
        credit = await ledger.credit_balances(actor=actor, client_id=client_id)
        locale = actor.locale
        with signed_in_frame(actor, await branding(), "My Billing"):
            with ui.card().classes("w-full"), ui.row().classes("items-center gap-4"):
                if profile.avatar_path:
                    ui.image(profile.avatar_path).classes("w-14 h-14 rounded-full").props("alt=Avatar")
                else:
                    with ui.avatar(color="primary", text_color="white").mark("avatar"):
                        ui.label(profile.initials).classes("text-base font-semibold")
                with ui.column().classes("gap-0"):
                    ui.label(profile.name).classes("text-lg font-semibold").mark("client-name")
                    if profile.company:
                        ui.label(profile.company).classes("text-gray-600").mark("client-company")
                    if profile.plans:
                        ui.label("Plans: " + ", ".join(profile.plans)).classes("text-sm").mark("plans")

            totals: dict[str, int] = {}
            for item in open_items:
                totals[item.currency] = totals.get(item.currency, 0) + item.amount_due_minor
            with ui.row().classes("w-full gap-4"):
                with ui.card().classes("grow"):
                    ui.label("Open balance").classes("text-sm text-gray-600")
                    if not totals:
                        ui.label("Nothing to pay").classes("text-xl").mark("total-open")
                    for currency, amount in sorted(totals.items()):
                        money_label(amount, currency, locale=locale, classes="text-xl font-semibold").mark(
                            "total-open"
                        )
                with ui.card().classes("grow"):
                    ui.label("Credit available").classes("text-sm text-gray-600")
                    text = ", ".join(format_money(v, c, locale) for c, v in sorted(credit.items()))
                    ui.label(text or "No credit").classes("text-xl").mark("credit")

            with ui.card().classes("w-full"):
                ui.label("Unpaid invoices").classes("text-lg font-semibold")
                if not open_items:
                    ui.label("You are all paid up. Thank you!").mark("no-open-invoices")
                else:
                    rows = [
                        {
                            "id": item.id,
                            "number": item.number,
                            "issue_date": item.issue_date.isoformat(),
                            "due_date": item.due_date.isoformat(),
                            "amount_due": format_money(item.amount_due_minor, item.currency, locale),
                            "status": "Overdue" if item.is_overdue else "Open",
                        }
                        for item in open_items
                    ]
                    table = ui.table(columns=INVOICE_COLUMNS, rows=rows, row_key="id").classes("w-full")
                    table.props("flat").mark("open-invoices")
                    table.add_slot("body-cell-status", STATUS_CELL)

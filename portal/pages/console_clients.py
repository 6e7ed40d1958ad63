"""/admin/clients: the console's list of clients (search, filters, server-side pages); also serves the
stored avatars."""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from fastapi import Response
from fastapi.responses import FileResponse
from nicegui import app, ui

from portal import i18n
from portal.clients import profiles
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.tables import money_cell, table_columns
from portal.core.actors import Actor
from portal.i18n import N_, _
from portal.payments.branding import branding

AVATAR_HEADERS = {
    "Cache-Control": "private, max-age=86400",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}
NAME_CELL = """
<q-td :props="props">
  <a :href="'/admin/clients/' + props.row.id" class="text-primary" @click.stop>{{ props.value }}</a>
</q-td>
"""
OVERDUE_CELL = """
<q-td :props="props">
  <q-badge v-if="props.row.has_overdue" rounded color="red" :label="props.value" />
</q-td>
"""


def register() -> None:
    """Add /admin/clients and the avatars."""
    app.add_api_route(
        f"{profiles.AVATAR_URL}/{{name}}", _avatar_route, methods=["GET"], include_in_schema=False
    )

    @guard.page("/admin/clients", access=guard.Access.staff, title="Clients")
    async def list_page(actor: Actor) -> None:
        await _list_page(actor)


async def _avatar_route(name: str) -> Response:
    """A stored avatar (always a PNG we re-encoded ourselves; the random name is the only way to it)."""
    path = profiles.avatar_file(name)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, media_type="image/png", headers=AVATAR_HEADERS)


LIST_COLUMNS = (
    ("name", N_("Name"), "left"),
    ("company", N_("Company"), "left"),
    ("email", N_("Email"), "left"),
    ("currency", N_("Currency"), "left"),
    ("open_due", N_("Open amount due"), "right"),
    ("overdue", N_("Overdue"), "left"),
)


async def _list_page(actor: Actor) -> None:
    state: dict[str, Any] = {"search": "", "page": 1, "overdue": False, "currency": ""}
    first = await profiles.list_clients(actor=actor, page=1, with_currencies=True)  # and the filter's choices
    currencies = first.currencies
    with signed_in_frame(actor, await branding(), _("Clients")):
        with ui.row().classes("w-full items-center gap-3"):
            search = (
                ui.input(_("Search name, company or email"))
                .props("outlined dense clearable debounce=300")
                .classes("grow max-w-md")
                .mark("client-search")
            )
            currency = (
                ui.select(
                    {"": _("All currencies"), **{c: c for c in currencies}}, value="", label=_("Currency")
                )
                .props("outlined dense")
                .classes("w-40")
                .mark("filter-currency")
            )
            overdue = ui.checkbox(_("Has overdue invoices")).mark("filter-overdue")
            ui.button(
                _("New client"), icon="add", on_click=lambda: ui.navigate.to("/admin/clients/new")
            ).props("no-caps").classes("ml-auto").mark("new-client")
            ui.button(
                _("Import clients"),
                icon="upload_file",
                on_click=lambda: ui.navigate.to("/admin/clients/import"),
            ).props("no-caps outline").mark("import-clients")
        table = ui.table(columns=table_columns(*LIST_COLUMNS), rows=[], row_key="id").classes("w-full")
        table.props("flat").mark("clients")
        table.add_slot("body-cell-name", NAME_CELL)
        table.add_slot("body-cell-overdue", OVERDUE_CELL)
        table.on("rowClick", lambda e: ui.navigate.to(f"/admin/clients/{e.args[1]['id']}"))
        with ui.row().classes("items-center gap-2"):
            prev_button = (
                ui.button(_("Previous"), on_click=lambda: go(-1)).props("flat no-caps").mark("prev-page")
            )
            page_label = ui.label().mark("page-label")
            next_button = ui.button(_("Next"), on_click=lambda: go(1)).props("flat no-caps").mark("next-page")

    async def load() -> None:
        show(
            await profiles.list_clients(
                actor=actor,
                search=state["search"],
                page=state["page"],
                has_overdue=state["overdue"],
                currency=state["currency"],
            )
        )

    def show(result: profiles.ClientPage) -> None:
        state["page"] = result.page
        overdue_word = _("Overdue")  # translated once, not per row
        table.rows = [
            {
                "id": row.id,
                "name": row.name,
                "company": row.company,
                "email": row.email,
                "currency": row.currency,
                "open_due": " · ".join(money_cell(v, c) for c, v in sorted(row.open_due.items())),
                "has_overdue": row.has_overdue,
                "overdue": overdue_word if row.has_overdue else "",
            }
            for row in result.rows
        ]
        table.update()
        count = (
            _("1 client")
            if result.total == 1
            else _("{count} clients", count=format_decimal(result.total, locale=i18n.get_locale()))
        )
        page_label.set_text(
            _("Page {page} of {pages} · {count}", page=result.page, pages=result.pages, count=count)
        )
        prev_button.set_enabled(result.page > 1)
        next_button.set_enabled(result.page < result.pages)

    async def go(step: int) -> None:
        state["page"] = max(1, state["page"] + step)
        await load()

    async def on_filter() -> None:
        state.update(
            search=search.value or "", overdue=bool(overdue.value), currency=currency.value or "", page=1
        )
        await load()

    search.on_value_change(on_filter)
    overdue.on_value_change(on_filter)
    currency.on_value_change(on_filter)
    show(first)

"""/admin/clients: the clients list (search, filters, server-side pages)."""

from __future__ import annotations

from nicegui import ui

from portal import auth
from portal.pages.common import signed_in_frame
from portal.services import clients
from portal.services.actors import Actor
from portal.services.organization import branding

CLIENT_COLUMNS = [
    {"name": "name", "label": "Name", "field": "name", "align": "left"},
    {"name": "company", "label": "Company", "field": "company", "align": "left"},
    {"name": "email", "label": "Email", "field": "email", "align": "left"},
    {"name": "currency", "label": "Currency", "field": "currency", "align": "left"},
]


def register() -> None:
    """Add /admin/clients."""

    @auth.page("/admin/clients", access=auth.Access.staff, title="Clients")
    async def console_page(actor: Actor) -> None:
        state = {"search": "", "page": 1}

        with signed_in_frame(actor, await branding(), "Clients"):
            search = (
                ui.input("Search name, company or email")
                .props("outlined dense clearable debounce=300")
                .classes("w-full max-w-md")
                .mark("client-search")
            )
            table = ui.table(columns=CLIENT_COLUMNS, rows=[], row_key="id").classes("w-full").mark("clients")
            table.props("flat")
            with ui.row().classes("items-center gap-2"):
                prev_button = ui.button("Previous", on_click=lambda: go(-1)).props("flat").mark("prev-page")
                page_label = ui.label().mark("page-label")
                next_button = ui.button("Next", on_click=lambda: go(1)).props("flat").mark("next-page")

        async def load() -> None:
            result = await clients.list_clients(actor=actor, search=state["search"], page=state["page"])
            table.rows = [row.__dict__ for row in result.rows]
            table.update()
            pages = max(1, -(-result.total // result.page_size))
            page_label.set_text(f"Page {result.page} of {pages} · {result.total} clients")
            prev_button.set_enabled(result.page > 1)
            next_button.set_enabled(result.page < pages)

        async def go(step: int) -> None:
            state["page"] = max(1, state["page"] + step)
            await load()

        async def on_search() -> None:
            state["search"] = search.value or ""
            state["page"] = 1
            await load()

        search.on_value_change(on_search)
        await load()

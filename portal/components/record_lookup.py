"""Finding the record a console page is about: the id in the query string, a client picker when there is
none, and what a missing record looks like."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from nicegui import ui

from portal.clients import profiles
from portal.components.frame import signed_in_frame
from portal.core.actors import Actor
from portal.i18n import _


async def client_picker(actor: Actor, title: str, target: Callable[[int], str]) -> None:
    """A client menu for the 'new' pages opened without ?client=."""
    page = await profiles.list_clients(actor=actor, page_size=100)
    with ui.card().classes("w-full max-w-lg gap-2").mark("client-picker"):
        ui.label(title).classes("text-lg font-semibold")
        options = {row.id: f"{row.name} · {row.email}" for row in page.rows}
        choice = (
            ui.select(options, label=_("Client"), with_input=True)
            .props("outlined dense")
            .classes("w-full")
            .mark("client-choice")
        )
        choice.on_value_change(lambda e: ui.navigate.to(target(e.value)) if e.value else None)


def query_id(request: Request, name: str) -> int | None:
    """An id from the query string: None when absent, -1 when it is not a number (so: not found)."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) < 10 else -1


def not_found(message: str, back: str, back_label: str) -> None:
    """What a missing record looks like."""
    with ui.card().classes("w-full").mark("not-found"):
        ui.label(message)
        ui.link(back_label, back)


def client_not_found(actor: Actor, brand: Any) -> None:
    """The page of a client that does not exist."""
    with signed_in_frame(actor, brand, _("Not found")), ui.card().classes("w-full").mark("not-found"):
        ui.label(_("That client does not exist."))
        ui.link(_("Back to the clients"), "/admin/clients")

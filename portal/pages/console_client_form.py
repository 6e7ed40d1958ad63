"""/admin/clients/new and /admin/clients/{id}/edit: the client form of the console."""

from __future__ import annotations

from portal.clients import profiles
from portal.components import guard
from portal.components.client_form import ClientFormView
from portal.components.frame import signed_in_frame
from portal.components.record_lookup import client_not_found
from portal.core.actors import Actor
from portal.domain.errors import NotFound
from portal.i18n import _
from portal.payments.branding import branding


def register() -> None:
    """Add /admin/clients/new and /admin/clients/{id}/edit."""

    @guard.page("/admin/clients/new", access=guard.Access.staff, title="New client")
    async def new_page(actor: Actor) -> None:
        await _form_page(actor, None)

    @guard.page("/admin/clients/{client_id}/edit", access=guard.Access.staff, title="Edit client")
    async def edit_page(actor: Actor, client_id: int) -> None:
        await _form_page(actor, client_id)


async def _form_page(actor: Actor, client_id: int | None) -> None:
    brand = await branding()
    try:
        form = (
            await profiles.new_client_form(actor=actor)
            if client_id is None
            else await profiles.get_client_form(actor=actor, client_id=client_id)
        )
    except NotFound:
        client_not_found(actor, brand)
        return
    title = _("New client") if client_id is None else _("Edit {name}", name=form.name)
    with signed_in_frame(actor, brand, title):
        ClientFormView(actor, form, client_id)

"""The page shown when a signed-in user opens a page their role may not see."""

from __future__ import annotations

from nicegui import ui

from portal import auth
from portal.core.actors import Actor
from portal.core.organization import branding
from portal.i18n import _
from portal.pages.common import signed_in_frame


async def not_allowed(actor: Actor) -> None:
    """Say no, without any of the page's data, and offer the way home."""
    with signed_in_frame(actor, await branding(), _("Not allowed")):
        with ui.card().classes("w-full").mark("not-allowed"):
            if actor.is_impersonating:
                ui.label(_("You are viewing the portal as a client. Stop impersonating to use the console."))
            else:
                ui.label(_("You do not have access to this page."))
            ui.link(_("Go to your home page"), auth.home_for(actor))

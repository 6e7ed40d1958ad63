"""/admin: the console overview."""

from __future__ import annotations

from portal import auth
from portal.i18n import _
from portal.pages.common import signed_in_frame
from portal.services.actors import Actor
from portal.services.organization import branding


def register() -> None:
    """Add /admin."""

    @auth.page("/admin", access=auth.Access.staff, title="Console")
    async def overview_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Overview")):
            pass

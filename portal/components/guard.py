"""The role guard every page sits behind: `page(...)`, who may open what, and the "not allowed" page it shows
instead of a page the signed-in role may not see."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from portal import i18n
from portal.components.browser_session import LOGIN_PATH, close_lapsed_view, current_actor, home_for
from portal.components.frame import signed_in_frame
from portal.core import organization
from portal.core.actors import Actor
from portal.i18n import _
from portal.payments.branding import branding


class Access(StrEnum):
    """Who may open a page."""

    client = "client"  # a client, or an admin impersonating one
    staff = "staff"  # staff and admins (not while impersonating)
    admin = "admin"  # admins only


def allows(access: Access, actor: Actor) -> bool:
    """The page-level rule (services check again: this guard is a convenience)."""
    if access == Access.client:
        return actor.client_id is not None
    if access == Access.staff:
        return actor.is_staff
    return actor.is_admin


PageBody = Callable[..., Awaitable[None]]


def page(path: str, *, access: Access, title: str) -> Callable[[PageBody], PageBody]:
    """`ui.page` behind the role guard: the body is called as `body(actor, **path_params)`.

    Not signed in -> redirect to /login?next=<this page>. Signed in with the wrong role -> a
    "not allowed" page, and the body (and so every data query) never runs.
    """

    def decorator(body: PageBody) -> PageBody:
        body_params = list(inspect.signature(body).parameters.values())[1:]
        wants_request = any(p.name == "request" for p in body_params)

        async def guarded(request: Request, **kwargs: Any) -> Any:
            actor = await current_actor()
            browser_locale = i18n.best_match(request.headers.get("accept-language"))
            i18n.set_locale(actor.locale if actor else browser_locale)
            if actor is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
            if (lapsed := await close_lapsed_view(request, actor)) is not None:
                return lapsed
            if not allows(access, actor):
                await not_allowed(actor)
                return None
            if wants_request:
                kwargs["request"] = request
            with organization.page_scope():  # one read of the organization row per page build
                await body(actor, **kwargs)
            return None

        params = [p for p in body_params if p.name != "request"]
        params.append(inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request))
        guarded.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        guarded.__name__ = body.__name__
        ui.page(path, title=title)(guarded)
        return body

    return decorator


async def not_allowed(actor: Actor) -> None:
    """Say no, without any of the page's data, and offer the way home."""
    with signed_in_frame(actor, await branding(), _("Not allowed")):
        with ui.card().classes("w-full").mark("not-allowed"):
            if actor.is_impersonating:
                ui.label(_("You are viewing the portal as a client. Stop impersonating to use the console."))
            else:
                ui.label(_("You do not have access to this page."))
            ui.link(_("Go to your home page"), home_for(actor))

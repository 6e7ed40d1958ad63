"""Sign-in, sign-out, the session, the current actor and the one role guard every page uses.

This is the only module that reads NiceGUI's session storage. The session holds ids only; the user is
reloaded from the database on every page. Event handlers run over the websocket, where cookies cannot
be set, so sign-in and sign-out end with a redirect through `/auth/session`, a plain HTTP route that
consumes a one-time token bound to the browser session and starts a new session id.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from portal import i18n
from portal.domain.errors import NotFound
from portal.domain.status import Role
from portal.services import accounts
from portal.services.actors import Actor

SESSION_ROUTE = "/auth/session"
LOGIN_PATH = "/login"


class Access(StrEnum):
    """Who may open a page."""

    client = "client"  # a client, or an admin impersonating one
    staff = "staff"  # staff and admins (not while impersonating)
    admin = "admin"  # admins only


def home_for(actor: Actor) -> str:
    """The landing page of an actor's role."""
    return "/billing" if actor.client_id is not None else "/admin"


def allows(access: Access, actor: Actor) -> bool:
    """The page-level rule (services check again: this guard is a convenience)."""
    if access == Access.client:
        return actor.client_id is not None
    if access == Access.staff:
        return actor.is_staff
    return actor.is_admin


async def current_actor() -> Actor | None:
    """The signed-in actor of this browser session, reloaded from the database."""
    storage = app.storage.user
    return await accounts.load_actor(
        user_id=storage.get("user_id"), impersonation_id=storage.get("impersonation_id")
    )


def _browser_session_id() -> str:
    """The session id of the page this event handler belongs to (the request that built the page)."""
    return str(ui.context.client.request.session.get("id", ""))


async def sign_in(actor: Actor, *, next_url: str) -> None:
    """Finish a sign-in from an event handler: go through the session route with a one-time token."""
    token = await accounts.issue_session_token(
        user_id=actor.user_id, next_url=next_url or home_for(actor), bound_to=_browser_session_id()
    )
    ui.navigate.to(f"{SESSION_ROUTE}?token={token}")


async def sign_out() -> None:
    """Start a fresh, signed-out session through the session route (which also wipes the old one)."""
    token = await accounts.issue_session_token(
        user_id=None, next_url=LOGIN_PATH, bound_to=_browser_session_id()
    )
    ui.navigate.to(f"{SESSION_ROUTE}?token={token}")


async def _session_route(request: Request, token: str = "") -> RedirectResponse:
    """Exchange a one-time token for a brand-new session id holding the granted user."""
    old_id = request.session.get("id")
    try:
        grant = await accounts.consume_session_token(token=token, bound_to=str(old_id or ""))
    except NotFound:
        return RedirectResponse(LOGIN_PATH, status_code=303)
    storage = app.storage
    if old_id in storage._users:
        storage._users[old_id].clear()
    new_id = str(uuid.uuid4())
    request.session["id"] = new_id
    await storage._create_user_storage(new_id)
    if grant.user_id is not None:
        storage._users[new_id].update(user_id=grant.user_id, impersonation_id=grant.impersonation_id)
    return RedirectResponse(grant.next_url, status_code=303)


async def _root() -> RedirectResponse:
    actor = await current_actor()
    return RedirectResponse(home_for(actor) if actor else LOGIN_PATH, status_code=303)


def register_routes() -> None:
    """Add the plain HTTP routes (called by main.py each time the app is built)."""
    app.add_api_route(SESSION_ROUTE, _session_route, methods=["GET"], include_in_schema=False)
    ui.page("/")(_root)


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
            if not allows(access, actor):
                from portal.pages.errors import not_allowed

                await not_allowed(actor)
                return None
            if wants_request:
                kwargs["request"] = request
            await body(actor, **kwargs)
            return None

        params = [p for p in body_params if p.name != "request"]
        params.append(inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request))
        guarded.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        guarded.__name__ = body.__name__
        ui.page(path, title=title)(guarded)
        return body

    return decorator


def client_ip(request: Request | None) -> str:
    """The remote address of a request (the proxy's, unless the proxy is trusted by uvicorn)."""
    if request is None or request.client is None:
        return ""
    return request.client.host


def role_label(actor: Actor) -> str:
    """How the frame names the actor's role."""
    return {Role.admin: "Administrator", Role.staff: "Staff", Role.client: "Client"}[actor.role]

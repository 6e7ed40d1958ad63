"""Sign-in, sign-out, the session, the current actor and the one role guard every page uses.

This is the only module that reads NiceGUI's session storage. The session holds ids only; the user is
reloaded from the database on every page. Event handlers run over the websocket, where cookies cannot
be set, so sign-in and sign-out end with a redirect through `/auth/session`, a plain HTTP route that
consumes a one-time token bound to the browser session and starts a new session id. Starting and
stopping an impersonation rotate the session the same way; a view that ran out of time is closed on the
next page load, which rotates the session back to the admin and says so with a one-time notice.
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
from portal.accounts import impersonation, sessions
from portal.core import organization
from portal.core.actors import Actor
from portal.domain.errors import DomainError, NotFound
from portal.domain.status import Role

SESSION_ROUTE = "/auth/session"
LOGIN_PATH = "/login"
NOTICE = "notice"  # session key of a one-time notice for the next page (see `take_notice`)


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
    return await sessions.load_actor(
        user_id=storage.get("user_id"), impersonation_id=storage.get("impersonation_id")
    )


def _browser_session_id() -> str:
    """The session id of the page this event handler belongs to (the request that built the page)."""
    return str(ui.context.client.request.session.get("id", ""))


async def sign_in(actor: Actor, *, next_url: str) -> None:
    """Finish a sign-in from an event handler: go through the session route with a one-time token."""
    token = await sessions.issue_session_token(
        user_id=actor.user_id, next_url=next_url or home_for(actor), bound_to=_browser_session_id()
    )
    ui.navigate.to(f"{SESSION_ROUTE}?token={token}")


async def sign_out() -> None:
    """Start a fresh, signed-out session through the session route (which also wipes the old one)."""
    token = await sessions.issue_session_token(
        user_id=None, next_url=LOGIN_PATH, bound_to=_browser_session_id()
    )
    ui.navigate.to(f"{SESSION_ROUTE}?token={token}")


async def start_impersonation(actor: Actor, *, client_id: int, reason: str) -> None:
    """Start viewing as a client (the service checks the admin and the reason and may raise), then rotate
    the session into the view and open the client's My Billing."""
    view = await impersonation.start(actor=actor, client_id=client_id, reason=reason, ip=_event_ip())
    token = await sessions.issue_session_token(
        user_id=actor.user_id,
        impersonation_id=view.id,
        next_url="/billing",
        bound_to=_browser_session_id(),
    )
    ui.navigate.to(f"{SESSION_ROUTE}?token={token}")


async def stop_impersonation(actor: Actor) -> None:
    """End the view as a client and rotate the session back to the admin, on that client's record."""
    if not actor.is_impersonating or actor.impersonator_id is None:
        return
    client_id, client_name = actor.client_id, actor.name
    try:
        view = await impersonation.stop(actor=actor, ip=_event_ip())
        client_id, client_name = view.client_id, view.client_name
    except DomainError:
        pass  # already gone: going back to the admin is all that is left to do
    token = await sessions.issue_session_token(
        user_id=actor.impersonator_id,
        next_url=f"/admin/clients/{client_id}",
        bound_to=_browser_session_id(),
        notice={"kind": "impersonation_stopped", "client": client_name},
    )
    ui.navigate.to(f"{SESSION_ROUTE}?token={token}")


def _event_ip() -> str:
    """The remote address of the page an event handler belongs to."""
    return client_ip(ui.context.client.request)


def take_notice() -> dict[str, str] | None:
    """The one-time notice the last session change left for this page (removed once read)."""
    return app.storage.user.pop(NOTICE, None) or None


async def _close_lapsed_view(request: Request, actor: Actor) -> RedirectResponse | None:
    """A browser that still holds an impersonation which no longer grants the view (it ran out of time or
    was stopped elsewhere): close it, and rotate the session back to the admin with a notice."""
    held = app.storage.user.get("impersonation_id")
    if held is None or actor.is_impersonating:
        return None
    notice: dict[str, str] = {}
    try:
        view = await impersonation.end_lapsed(actor=actor, impersonation_id=int(held), ip=client_ip(request))
        notice = {"kind": "impersonation_ended", "client": view.client_name}
    except (DomainError, ValueError):
        pass
    token = await sessions.issue_session_token(
        user_id=actor.user_id,
        next_url=home_for(actor),
        bound_to=str(request.session.get("id", "")),
        notice=notice,
    )
    return RedirectResponse(f"{SESSION_ROUTE}?token={token}", status_code=303)


async def _session_route(request: Request, token: str = "") -> RedirectResponse:
    """Exchange a one-time token for a brand-new session id holding the granted user."""
    old_id = request.session.get("id")
    try:
        grant = await sessions.consume_session_token(token=token, bound_to=str(old_id or ""))
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
        if grant.notice:
            storage._users[new_id][NOTICE] = grant.notice
    return RedirectResponse(grant.next_url, status_code=303)


async def _root(request: Request) -> RedirectResponse:
    actor = await current_actor()
    if actor is not None and (lapsed := await _close_lapsed_view(request, actor)) is not None:
        return lapsed
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
            if (lapsed := await _close_lapsed_view(request, actor)) is not None:
                return lapsed
            if not allows(access, actor):
                from portal.pages.errors import not_allowed

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


def client_ip(request: Request | None) -> str:
    """The remote address of a request (the proxy's, unless the proxy is trusted by uvicorn)."""
    if request is None or request.client is None:
        return ""
    return request.client.host


def role_label(actor: Actor) -> str:
    """How the frame names the actor's role."""
    return {Role.admin: "Administrator", Role.staff: "Staff", Role.client: "Client"}[actor.role]

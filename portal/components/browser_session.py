"""The browser session: who is signed in, signing in and out, starting and stopping a view as a client.

This is the only module that reads NiceGUI's session storage. The session holds ids only; the user is
reloaded from the database on every page. Event handlers run over the websocket, where cookies cannot
be set, so sign-in and sign-out end with a redirect through `/auth/session`, a plain HTTP route
(`portal.pages.session`) that consumes a one-time token bound to the browser session and starts a new
session id. Starting and stopping an impersonation rotate the session the same way; a view that ran out of
time is closed on the next page load, which rotates the session back to the admin and says so with a
one-time notice.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from portal import i18n
from portal.accounts import impersonation, sessions
from portal.core.actors import Actor
from portal.domain.errors import DomainError

SESSION_ROUTE = "/auth/session"
LOGIN_PATH = "/login"
NOTICE = "notice"  # session key of a one-time notice for the next page (see `take_notice`)


def home_for(actor: Actor) -> str:
    """The landing page of an actor's role."""
    return "/billing" if actor.client_id is not None else "/admin"


async def current_actor() -> Actor | None:
    """The signed-in actor of this browser session, reloaded from the database."""
    storage = app.storage.user
    return await sessions.load_actor(
        user_id=storage.get("user_id"), impersonation_id=storage.get("impersonation_id")
    )


async def page_locale(request: Request) -> str:
    """The language of a page outside the role guard: the signed-in person's (a client's is the language
    stored on their client record), else the browser's."""
    actor = await current_actor()
    if actor is not None:
        return actor.locale
    return i18n.best_match(request.headers.get("accept-language"))


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


async def close_lapsed_view(request: Request, actor: Actor) -> RedirectResponse | None:
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


def client_ip(request: Request | None) -> str:
    """The remote address of a request (the proxy's, unless the proxy is trusted by uvicorn)."""
    if request is None or request.client is None:
        return ""
    return request.client.host

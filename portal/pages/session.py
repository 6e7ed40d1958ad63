"""The session's plain HTTP routes: `/auth/session?token=...` swaps a one-time token for a new session id,
and `/` sends the browser to its home page (or to the sign-in page)."""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from portal.accounts import sessions
from portal.components.browser_session import (
    LOGIN_PATH,
    NOTICE,
    SESSION_ROUTE,
    close_lapsed_view,
    current_actor,
    home_for,
)
from portal.domain.errors import NotFound


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
    if actor is not None and (lapsed := await close_lapsed_view(request, actor)) is not None:
        return lapsed
    return RedirectResponse(home_for(actor) if actor else LOGIN_PATH, status_code=303)


def register_routes() -> None:
    """Add the plain HTTP routes (called by main.py each time the app is built)."""
    app.add_api_route(SESSION_ROUTE, _session_route, methods=["GET"], include_in_schema=False)
    ui.page("/")(_root)

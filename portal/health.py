"""GET /healthz: 200 while the process answers (for load balancers, and the login benchmark's ping)."""

from __future__ import annotations

from fastapi.responses import PlainTextResponse
from nicegui import app

PATH = "/healthz"


async def healthz() -> PlainTextResponse:
    """Answer at once: no database, no session, so the time to answer is the event loop's delay."""
    return PlainTextResponse("ok")


def register() -> None:
    """Add the route (main.py calls this each time the app is built); adding it twice is harmless."""
    if any(getattr(route, "path", None) == PATH for route in app.routes):
        return
    app.add_api_route(PATH, healthz, methods=["GET"], include_in_schema=False)

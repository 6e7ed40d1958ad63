"""The real portal app (main.py) in this process, run by NiceGUI's user simulation: its lifespan opens the
database, and httpx talks to it in-process over ASGI, on the same event loop as the benchmark."""

from __future__ import annotations

import base64
import json
import os
import runpy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from nicegui import Client, core
from nicegui.testing import User

from portal.accounts import sessions

MAIN = Path(__file__).resolve().parent.parent / "main.py"
BASE_URL = "http://test"


@asynccontextmanager
async def portal_app(url: str) -> AsyncIterator[None]:
    """main.py on `url` (already migrated and seeded), jobs off, served in-process."""
    os.environ.update(
        DATABASE_URL=url,
        AUTO_MIGRATE="false",
        JOBS_ENABLED="false",
        PUBLIC_URL=BASE_URL,
        STRIPE_SECRET_KEY="",
        STRIPE_WEBHOOK_SECRET="",
        NICEGUI_USER_SIMULATION="true",
    )
    # main.py as NiceGUI's user simulation runs it for the UI tests (nicegui.testing.user_simulation,
    # without the reset of NiceGUI's globals between tests: this process runs it once)
    runpy.run_path(str(MAIN), run_name="__main__")
    async with core.app.router.lifespan_context(core.app):
        yield


def http_client() -> httpx.AsyncClient:
    """A new browser: its own cookies, talking to the app in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url=BASE_URL)


def _session_id(client: httpx.AsyncClient) -> str:
    """The browser session id inside NiceGUI's signed session cookie (base64 JSON before the signature)."""
    value = client.cookies.get("session")
    if not value:
        raise AssertionError("the app set no session cookie")
    data = value.split(".", 1)[0]
    return str(json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))["id"])


async def signed_in_user(user_id: int, path: str) -> User:
    """A browser signed in as `user_id` with `path` open and connected, without typing a password: the
    one-time session token a sign-in issues, exchanged at /auth/session like after a real sign-in."""
    user = User(http_client())
    response = await user.http_client.get("/healthz")  # any request starts a browser session
    response.raise_for_status()
    token = await sessions.issue_session_token(
        user_id=user_id, bound_to=_session_id(user.http_client), next_url=path
    )
    await user.open(f"/auth/session?token={token}")
    return user


async def signed_in_client(user_id: int) -> httpx.AsyncClient:
    """A browser signed in as `user_id`, with no page open: the one-time session token a sign-in issues,
    exchanged at /auth/session (a plain route) like after a real sign-in. For plain GETs of whole pages."""
    client = http_client()
    response = await client.get("/healthz")  # any request starts a browser session
    response.raise_for_status()
    token = await sessions.issue_session_token(user_id=user_id, bound_to=_session_id(client), next_url="/")
    response = await client.get(f"/auth/session?token={token}")
    if response.status_code != 303 or response.headers.get("location", "").startswith("/login"):
        raise AssertionError(f"/auth/session did not sign user {user_id} in ({response.status_code})")
    return client


def close_unconnected_pages() -> list[int]:
    """Delete every page (NiceGUI client) that no websocket has connected to, as the server does when a
    tab goes away (there after the reconnect timeout, or a minute for a page never connected): a plain
    GET leaves one behind, with its element tree and event subscriptions. Returns each one's element
    count."""
    stale = [client for client in list(Client.instances.values()) if not client.has_socket_connection]
    counts = [len(client.elements) for client in stale]
    for client in stale:
        client.delete()
    return counts

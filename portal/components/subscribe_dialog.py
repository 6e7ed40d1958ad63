"""Subscribe a client to a plan with one of their stored methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from portal.services.actors import Actor

OnDone = Callable[[], Awaitable[None] | None]


async def open_subscribe(actor: Actor, *, client_id: int, on_done: OnDone | None = None) -> None:
    """Open the dialog; `on_done` runs after the subscription starts."""
    raise NotImplementedError

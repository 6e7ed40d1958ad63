"""The new-credit-request dialog."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from portal.services.actors import Actor

OnDone = Callable[[], Awaitable[None] | None]


async def open_new_credit_request(actor: Actor, *, client_id: int, on_done: OnDone | None = None) -> None:
    """Open the dialog; `on_done` runs after the request is created."""
    raise NotImplementedError

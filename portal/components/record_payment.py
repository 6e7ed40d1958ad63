"""The record-payment dialog (online: charge a stored method; offline: cash, transfer, cheque, other)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from portal.services.actors import Actor

OnDone = Callable[[], Awaitable[None] | None]


async def open_record_payment(
    actor: Actor, *, client_id: int, invoice_id: int | None = None, on_done: OnDone | None = None
) -> None:
    """Open the dialog; `on_done` runs after a payment is recorded."""
    raise NotImplementedError

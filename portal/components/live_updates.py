"""Keeping an open page current: run an event from another task in the page's own language, and redraw a
page's live part when money moves for its client."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from nicegui import Client, ui

from portal import events, i18n

MONEY_EVENTS = ("payment.recorded", "payment.failed", "payment.refunded")


def in_page_language(client: Any, handler: Callable[..., object], *args: Any) -> None:
    """Run `handler(*args)` for another page's client (an event from elsewhere) in that page's language.

    The event may come from a task that is building or serving someone else's page, in another language:
    the handler runs in a copy of the context with this page's locale, so what it redraws is in its own.
    """
    context = contextvars.copy_context()

    def run() -> None:
        i18n.set_locale(getattr(client, "portal_locale", None) or i18n.DEFAULT)
        handler(*args)

    with client:
        context.run(run)


def follow_money_events(client_id: int | None, refresh: Callable[[], object]) -> None:
    """Redraw `refresh` when money moves for this client, until the browser tab goes away."""
    page = ui.context.client

    def on_event(event: events.Event) -> None:
        if event.client_id != client_id or page.id not in Client.instances:
            return
        in_page_language(page, refresh)

    stops = [events.subscribe(name, on_event) for name in MONEY_EVENTS]
    page.on_delete(lambda: [stop() for stop in stops])

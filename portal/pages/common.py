"""What every signed-in page does: load the branding, draw the frame, wire sign-out."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from nicegui import ui

from portal import auth, i18n
from portal.components.frame import frame
from portal.core.actors import Actor
from portal.core.organization import Branding


@contextmanager
def signed_in_frame(actor: Actor, branding: Branding, title: str) -> Iterator[ui.column]:
    """The frame with navigation for the actor's role and a working sign-out."""
    with frame(actor, branding, title=title, on_sign_out=auth.sign_out) as content:
        yield content


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


async def page_locale(request: Request) -> str:
    """The language of a page outside the role guard: the signed-in user's, else the browser's."""
    actor = await auth.current_actor()
    if actor is not None:
        return actor.locale
    return i18n.best_match(request.headers.get("accept-language"))

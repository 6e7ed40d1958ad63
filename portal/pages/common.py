"""What every signed-in page does: load the branding, draw the frame, wire sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from portal import auth
from portal.components.frame import frame
from portal.services.actors import Actor
from portal.services.organization import Branding


@contextmanager
def signed_in_frame(actor: Actor, branding: Branding, title: str) -> Iterator[ui.column]:
    """The frame with navigation for the actor's role and a working sign-out."""
    with frame(actor, branding, title=title, on_sign_out=auth.sign_out) as content:
        yield content

"""The "View as client" button and its reason dialog (admins only)."""

from __future__ import annotations

from portal.services.actors import Actor


def impersonate_button(actor: Actor, *, client_id: int, client_name: str) -> None:
    """Render the button for admins (nothing for staff); it asks for a reason and starts the session."""

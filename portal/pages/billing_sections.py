"""Payment methods and subscriptions sections of My Billing (placeholder until they are built)."""

from __future__ import annotations

from portal.services.actors import Actor


async def payment_methods_section(actor: Actor) -> None:
    """The client's saved cards."""


async def subscriptions_section(actor: Actor) -> None:
    """The client's subscriptions."""


def register() -> None:
    """Pages of this module."""

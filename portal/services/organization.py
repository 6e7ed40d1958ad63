"""The organization (the agency running the portal): one row, created on first use."""

from __future__ import annotations

from dataclasses import dataclass

from portal.db.models import Organization


async def get_organization() -> Organization:
    """Return the organization row, creating it with defaults when the database is new."""
    org, _ = await Organization.get_or_create(id=1)
    return org


@dataclass(frozen=True)
class Branding:
    """What every page shows of the organization."""

    name: str
    theme_color: str
    logo_path: str
    gateway_mode: str  # sandbox | test | live


async def branding() -> Branding:
    """Name, colour, logo and payment mode for the page frame."""
    from portal.services.gateways import current_mode  # gateways needs this module: import when called

    org = await get_organization()
    return Branding(
        name=org.name, theme_color=org.theme_color, logo_path=org.logo_path, gateway_mode=await current_mode()
    )

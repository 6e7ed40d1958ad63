"""What every page shows of the organization: its name, colour and logo, and the payment mode."""

from __future__ import annotations

from dataclasses import dataclass

from portal.core.organization import get_organization
from portal.payments.gateways.selector import current_mode


@dataclass(frozen=True)
class Branding:
    """What every page shows of the organization."""

    name: str
    theme_color: str
    logo_path: str
    gateway_mode: str  # sandbox | test | live


async def branding() -> Branding:
    """Name, colour, logo and payment mode for the page frame."""
    org = await get_organization()
    return Branding(
        name=org.name, theme_color=org.theme_color, logo_path=org.logo_path, gateway_mode=await current_mode()
    )

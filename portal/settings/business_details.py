"""The organization's name, billing address and bank details (admin only)."""

from __future__ import annotations

from dataclasses import dataclass

from portal.core.actors import Actor, require_admin
from portal.core.organization import get_organization
from portal.db.models import Organization
from portal.i18n import _
from portal.settings.fields import NAME_MAX, audit_details, clean_text, collect, raise_if_any, update_fields

TEXT_MAX = 1000


@dataclass(frozen=True)
class OrganizationView:
    """The organization page: who the agency is and how clients pay it by bank transfer."""

    name: str
    billing_address: str
    bank_details: str
    logo_url: str


def _organization_view(org: Organization) -> OrganizationView:
    return OrganizationView(
        name=org.name,
        billing_address=org.billing_address,
        bank_details=org.bank_details,
        logo_url=org.logo_path,
    )


async def get_organization_settings(*, actor: Actor) -> OrganizationView:
    """The organization page's values."""
    require_admin(actor)
    return _organization_view(await get_organization())


async def update_organization(
    *, actor: Actor, name: str, billing_address: str, bank_details: str
) -> OrganizationView:
    """Change the name, billing address and bank details (shown on the pay page and on invoices)."""
    require_admin(actor)
    errors: dict[str, str | None] = {}
    clean = {
        "name": collect(
            errors,
            "name",
            lambda: clean_text(
                name, field="name", label=_("the organization's name"), max_length=NAME_MAX, required=True
            ),
        ),
        "billing_address": collect(
            errors,
            "billing_address",
            lambda: clean_text(
                billing_address, field="billing_address", label=_("the billing address"), max_length=TEXT_MAX
            ),
        ),
        "bank_details": collect(
            errors,
            "bank_details",
            lambda: clean_text(
                bank_details, field="bank_details", label=_("the bank details"), max_length=TEXT_MAX
            ),
        ),
    }
    raise_if_any(errors)
    org = await get_organization()
    await update_fields(
        org, clean, actor, "settings.organization", lambda changed: audit_details(changed, clean, "name")
    )
    return _organization_view(org)

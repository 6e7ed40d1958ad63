"""A French organization's legal identity, set through the settings use case (Factur-X and invoice
mentions tests)."""

from __future__ import annotations

from portal.db.models import Organization
from portal.settings.business_details import LegalIdentityView, update_legal_identity
from tests.services.conftest import World

FRENCH_SELLER = LegalIdentityView(
    legal_name="Studio Exemple SAS",
    legal_form="SAS au capital de 10 000 €",
    company_id="732829320",
    vat_number="FR40303265045",
    postcode="75002",
    city="Paris",
    country="FR",
    vies_check_enabled=False,
)


async def set_legal_identity(world: World, values: LegalIdentityView = FRENCH_SELLER) -> None:
    """The organization (made if the test has none yet) with this legal identity."""
    if await Organization.first() is None:
        await Organization.create(name="Studio Exemple")
    await update_legal_identity(actor=world.admin, values=values)

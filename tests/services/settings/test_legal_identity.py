"""The organization's legal identity (settings): checked by format and check digits, all wrong fields
named at once, nothing saved then, every change audited."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portal.core.organization import get_organization
from portal.db.models import AuditEntry
from portal.domain.errors import InvalidFields
from portal.settings.business_details import LegalIdentityView, get_legal_identity, update_legal_identity
from tests.services.conftest import World

FRENCH_AGENCY = LegalIdentityView(
    legal_name=" Studio Exemple SAS ",
    legal_form="SAS au capital de 10 000 €",
    company_id="732 829 320 00074",
    vat_number="FR 40 303 265 045",
    postcode="75002",
    city="Paris",
    country="fr",
    vies_check_enabled=True,
)


async def test_the_legal_identity_is_saved_in_its_clean_form_and_audited(world: World) -> None:
    view = await update_legal_identity(actor=world.admin, values=FRENCH_AGENCY)
    assert view == LegalIdentityView(
        legal_name="Studio Exemple SAS",
        legal_form="SAS au capital de 10 000 €",
        company_id="73282932000074",
        vat_number="FR40303265045",
        postcode="75002",
        city="Paris",
        country="FR",
        vies_check_enabled=True,
    )
    assert await get_legal_identity(actor=world.admin) == view
    org = await get_organization()
    assert (org.vat_number, org.vies_check_enabled) == ("FR40303265045", True)
    (entry,) = await AuditEntry.filter(action="settings.legal_identity")
    assert entry.actor_id == world.admin.user_id and entry.details["vat_number"] == "FR40303265045"
    # the same values again change nothing and audit nothing
    await update_legal_identity(actor=world.admin, values=FRENCH_AGENCY)
    assert await AuditEntry.filter(action="settings.legal_identity").count() == 1


async def test_every_wrong_field_is_named_and_nothing_is_saved(world: World) -> None:
    wrong = replace(
        FRENCH_AGENCY, company_id="732829321", vat_number="FR123", country="Narnia", city="x" * 101
    )
    with pytest.raises(InvalidFields) as raised:
        await update_legal_identity(actor=world.admin, values=wrong)
    assert set(raised.value.errors) == {"vat_number", "country", "city"}
    with pytest.raises(InvalidFields) as raised:
        await update_legal_identity(actor=world.admin, values=replace(FRENCH_AGENCY, company_id="732829321"))
    assert set(raised.value.errors) == {"company_id"}
    org = await get_organization()
    assert (org.vat_number, org.company_id, org.country) == ("", "", "")
    assert not await AuditEntry.filter(action="settings.legal_identity").exists()

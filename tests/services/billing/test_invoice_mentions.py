"""An invoice's PDF names who issues it and who it is for by their legal identity, and an invoice issued
from France carries the mentions French law requires, in the client's language."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import documents, invoices, pdf
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Client, Organization
from portal.domain.errors import InvalidFields
from portal.settings.business_details import get_legal_identity
from tests.services.billing.test_documents import pdf_text
from tests.services.conftest import World
from tests.services.identity_fixtures import FRENCH_SELLER, set_legal_identity

FRANCE = FRENCH_SELLER


async def _invoice_text(world: World, *, locale: str, business: bool, tax_rate: int = 20) -> str:
    await Client.filter(id=world.alice_id).update(
        locale=locale,
        is_business=business,
        company_id="73282932000074" if business else "",
        vat_number="FR40303265045" if business else "",
        country="FR",
    )
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 10000, Decimal(tax_rate), "TVA" if tax_rate else "")],
        due_date=today() + timedelta(days=30),
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    return pdf_text(pdf.invoice_pdf(detail, compress=False))


async def test_an_invoice_from_france_to_a_business_carries_every_mention_in_french(world: World) -> None:
    await set_legal_identity(world, replace(FRANCE, late_penalty_rate="12,5", early_payment_discount=""))
    text = await _invoice_text(world, locale="fr", business=True)
    for expected in (
        "Studio Exemple SAS · SAS au capital de 10 000 €",  # the seller under its address
        "SIREN 732829320 · TVA FR40303265045",
        "SIRET 73282932000074 · TVA FR40303265045",  # the client, in the bill-to block
        "Nature de l’opération : prestation de services.",
        "Pénalités de retard : 12,5 % par an, exigibles dès le lendemain de la date d’échéance.",
        "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 €",
        "Pas d’escompte pour paiement anticipé.",
    ):
        assert expected in text, expected


async def test_a_person_owes_no_recovery_indemnity_and_english_reads_english(world: World) -> None:
    await set_legal_identity(world, replace(FRANCE, operation_nature="goods", early_payment_discount="2"))
    text = await _invoice_text(world, locale="en", business=False)
    assert "Nature of the operation: sale of goods." in text
    assert "the European Central Bank's refinancing rate plus 10 percentage points" in text
    assert "Discount for early payment: 2%." in text
    assert "40 €" not in text and "SIRET" not in text


FRANCHISE_FR = "TVA non applicable, article 293 B du CGI."


async def test_under_the_franchise_en_base_an_invoice_without_vat_says_article_293_b(world: World) -> None:
    await set_legal_identity(world, replace(FRANCE, vat_number="", vat_franchise=True))
    assert (await get_legal_identity(actor=world.admin)).vat_franchise
    assert FRANCHISE_FR in await _invoice_text(world, locale="fr", business=True, tax_rate=0)
    english = await _invoice_text(world, locale="en", business=False, tax_rate=0)
    assert "VAT not applicable, article 293 B of the French General Tax Code." in english


async def test_the_article_293_b_mention_only_when_it_is_true(world: World) -> None:
    """Not on an invoice that charges VAT, nor for a business outside the scheme."""
    await set_legal_identity(world, replace(FRANCE, vat_franchise=True))
    assert FRANCHISE_FR not in await _invoice_text(world, locale="fr", business=True, tax_rate=20)
    await set_legal_identity(world, replace(FRANCE, vat_number=""))
    assert FRANCHISE_FR not in await _invoice_text(world, locale="fr", business=True, tax_rate=0)


async def test_an_invoice_from_elsewhere_has_no_french_mentions(world: World) -> None:
    await set_legal_identity(
        world,
        replace(FRANCE, legal_form="Ltd", company_id="09876543", vat_number="GB980780684", country="GB"),
    )
    text = await _invoice_text(world, locale="en", business=True)
    assert "Register no. 09876543 · VAT no. GB980780684" in text
    assert "Nature of the operation" not in text and "Late payment penalties" not in text


async def test_rates_are_checked_and_kept_as_typed(world: World) -> None:
    with pytest.raises(InvalidFields) as raised:
        await set_legal_identity(
            world,
            replace(FRANCE, late_penalty_rate="douze", early_payment_discount="150", operation_nature="x"),
        )
    assert set(raised.value.errors) == {"late_penalty_rate", "early_payment_discount", "operation_nature"}
    assert "like 12 or 10.5" in raised.value.errors["late_penalty_rate"]
    with pytest.raises(InvalidFields) as raised:
        await set_legal_identity(world, replace(FRANCE, late_penalty_rate="12.345"))
    assert "at most 2 decimals" in raised.value.errors["late_penalty_rate"]
    await set_legal_identity(
        world, replace(FRANCE, late_penalty_rate=" 12,50 % ", early_payment_discount="1.5")
    )
    view = await get_legal_identity(actor=world.admin)
    assert (view.late_penalty_rate, view.early_payment_discount) == ("12.5", "1.5")
    org = await Organization.first()
    assert org is not None and org.late_penalty_rate == Decimal("12.5")

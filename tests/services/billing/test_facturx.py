"""Factur-X (EN 16931): an issued invoice's CII XML, checked against the profile's XSD by a second
library, with amounts exactly the invoice's integers in its currency's precision; and the PDF with the XML
inside."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import facturx as facturx_lib
import pytest
from lxml import etree

from portal.billing import documents, facturx, invoices, pdf
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Client
from portal.domain.money import to_decimal
from tests.services.conftest import World
from tests.services.identity_fixtures import set_legal_identity

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SUMMATION = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"


FRENCH_BUYER = {"company": "Archery SARL", "postcode": "69002", "city": "Lyon", "country": "FR"}
GERMAN_BUYER = {"company": "Archery GmbH", "postcode": "10115", "city": "Berlin", "country": "DE"}


async def _invoice(world: World, currency: str, buyer: dict = FRENCH_BUYER) -> documents.InvoiceDetail:
    """A business client (in France by default: VAT is charged; in Germany: reverse charge)."""
    await Client.filter(id=world.alice_id).update(
        currency=currency,
        billing_address="Hauptstraße 1",
        is_business=True,
        vat_number="FR44732829320" if buyer["country"] == "FR" else "DE136695976",
        **buyer,
    )
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[
            LineDraft("Design, hours", Decimal("2.5"), 8001, Decimal(20), "VAT"),
            LineDraft("Hosting & <care>", Decimal(3), 1999, Decimal("5.5"), "VAT"),
            LineDraft("Workshop", Decimal(1), 5, Decimal(0), ""),
        ],
        due_date=today() + timedelta(days=30),
        notes="Merci !",
    )
    return await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)


def _amount(tree: etree._Element, path: str) -> str:
    (node,) = tree.xpath(path, namespaces=NS)
    return node.text


@pytest.mark.parametrize("currency", ["JPY", "EUR", "USD", "KWD"])
async def test_the_xml_validates_and_carries_the_invoices_exact_integers(world: World, currency: str) -> None:
    await set_legal_identity(world)
    detail = await _invoice(world, currency)
    xml = facturx.cii_xml(detail)
    assert facturx_lib.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # a second library's XSD check
    tree = etree.fromstring(xml)

    def text(minor: int) -> str:
        return str(to_decimal(minor, currency))

    assert _amount(tree, SUMMATION + "LineTotalAmount") == text(detail.subtotal_minor)
    assert _amount(tree, SUMMATION + "TaxTotalAmount") == text(detail.tax_minor)
    assert _amount(tree, SUMMATION + "GrandTotalAmount") == text(detail.total_minor)
    assert _amount(tree, SUMMATION + "DuePayableAmount") == text(detail.total_minor)
    if currency == "JPY":
        assert "." not in _amount(tree, SUMMATION + "GrandTotalAmount")
    if currency == "KWD":
        assert len(_amount(tree, SUMMATION + "GrandTotalAmount").split(".")[1]) == 3
    lines = tree.xpath("//ram:SpecifiedLineTradeSettlement//ram:LineTotalAmount/text()", namespaces=NS)
    assert lines == [text(line.net_minor) for line in detail.lines]
    taxes = tree.xpath("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    by_category = {
        (
            t.findtext("ram:CategoryCode", namespaces=NS),
            t.findtext("ram:RateApplicablePercent", namespaces=NS),
        ): (
            t.findtext("ram:BasisAmount", namespaces=NS),
            t.findtext("ram:CalculatedAmount", namespaces=NS),
        )
        for t in taxes
    }
    assert set(by_category) == {("S", "20"), ("S", "5.5"), ("Z", "0")}
    assert sum(Decimal(calculated) for _, calculated in by_category.values()) == to_decimal(
        detail.tax_minor, currency
    )
    assert tree.xpath("//ram:SellerTradeParty/ram:Name/text()", namespaces=NS) == ["Studio Exemple SAS"]
    assert tree.xpath(
        "//ram:SellerTradeParty//ram:SpecifiedTaxRegistration/ram:ID/text()", namespaces=NS
    ) == ["FR40303265045"]
    (register,) = tree.xpath("//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)
    assert (register.text, register.get("schemeID")) == ("732829320", "0002")
    assert tree.xpath("//ram:BuyerTradeParty//ram:CountryID/text()", namespaces=NS) == ["FR"]
    assert tree.xpath("//ram:BuyerTradeParty/ram:Name/text()", namespaces=NS) == ["Archery SARL"]
    assert tree.xpath("//rsm:ExchangedDocument/ram:ID/text()", namespaces=NS) == [detail.number]
    pairs = [
        (note.findtext("ram:SubjectCode", namespaces=NS), note.findtext("ram:Content", namespaces=NS))
        for note in tree.xpath("//rsm:ExchangedDocument/ram:IncludedNote", namespaces=NS)
    ]
    assert [text for code, text in pairs if code is None] == [
        "Merci !",  # the invoice's own notes
        "Nature of the operation: provision of services.",
    ]
    notes = dict(pairs)
    assert notes["PMT"].startswith("Fixed indemnity for recovery costs")  # a business client, from France
    assert "refinancing rate plus 10 percentage points" in notes["PMD"]
    assert notes["AAB"] == "No discount for early payment."


async def test_the_pdf_carries_the_xml_as_factur_x(world: World) -> None:
    await set_legal_identity(world)
    detail = await _invoice(world, "EUR")
    xml = facturx.cii_xml(detail)
    document = facturx.facturx_pdf(pdf.invoice_pdf(detail), xml)
    filename, embedded = facturx_lib.get_xml_from_pdf(document, check_xsd=True)
    assert filename == facturx.XML_FILENAME and embedded == xml
    assert facturx_lib.get_facturx_level(etree.fromstring(embedded)) == "en16931"


async def test_a_seller_without_a_vat_number_invoices_outside_vat(world: World) -> None:
    detail = await _invoice(world, "USD")
    xml = facturx.cii_xml(detail)
    tree = etree.fromstring(xml)
    categories = tree.xpath(
        "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode/text()", namespaces=NS
    )
    assert "O" in categories
    # without the organization's country the portal offers no e-invoice and tells staff why
    assert not facturx.has_einvoice(detail)
    assert "set the organization's country" in (facturx.missing(detail) or "")
    assert facturx_lib.xml_check_xsd(xml, flavor="factur-x", level="en16931")


async def test_a_draft_has_no_e_invoice(world: World) -> None:
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Work", Decimal(1), 100, Decimal(0))],
        due_date=today() + timedelta(days=3),
        send=False,
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    assert not facturx.has_einvoice(detail)

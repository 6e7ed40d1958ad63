"""EU reverse charge on every path that writes an invoice's or a quote's lines: a French agency invoicing a
German business with a valid VAT number charges no VAT, whatever rate was chosen; the decision is kept on
the invoice, its PDF, page totals and email agree with the stored integers, and its e-invoice uses the
reverse-charge category (AE)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import facturx as facturx_lib
from lxml import etree

from portal.billing import (
    billing_requests,
    documents,
    facturx,
    invoice_editor,
    invoices,
    pdf,
    quote_editor,
    quotes,
)
from portal.billing.invoice_editor import InvoiceForm
from portal.billing.invoices import LineDraft
from portal.billing.line_input import LineForm
from portal.billing.quote_editor import QuoteForm
from portal.core.clock import today
from portal.db.models import Client, Invoice, InvoiceLine, OutboxEmail, Quote, QuoteLine, TaxRate
from portal.domain.money import format_money
from portal.domain.presentation import sheet
from portal.domain.tax import LineInput, invoice_totals
from tests.services.billing.test_documents import pdf_text
from tests.services.billing.test_facturx import NS
from tests.services.conftest import World
from tests.services.identity_fixtures import set_legal_identity

MENTION_EN = (
    "Reverse charge: VAT to be accounted for by the recipient (Article 196 of Council Directive 2006/112/EC)"
)
MENTION_FR = "Autoliquidation : TVA due par le preneur (article 196 de la directive 2006/112/CE)"
DUE = today() + timedelta(days=30)
TAXED = [
    LineDraft("Design, hours", Decimal("2.5"), 8001, Decimal(20), "VAT"),
    LineDraft("Hosting", Decimal(3), 1999, Decimal("5.5"), "VAT"),
]
NET = 20003 + 5997  # 2.5 x 80.01 rounded half-up, 3 x 19.99


async def german_business(world: World, *, vat_check: str = "", locale: str = "en") -> None:
    """Alice becomes a business in Germany with a valid VAT number; the agency is in France."""
    await set_legal_identity(world)
    await Client.filter(id=world.alice_id).update(
        company="Archery GmbH",
        is_business=True,
        country="DE",
        postcode="10115",
        city="Berlin",
        vat_number="DE136695976",
        vat_check=vat_check,
        currency="EUR",
        locale=locale,
    )


async def french_business(world: World) -> None:
    await set_legal_identity(world)
    await Client.filter(id=world.alice_id).update(
        company="Archery SARL", is_business=True, country="FR", vat_number="FR44732829320", currency="EUR"
    )


async def assert_untaxed(invoice_id: int, net: int = NET) -> None:
    """The stored invoice is reverse charged, no line carries tax, and the totals are the lines' sums."""
    invoice = await Invoice.get(id=invoice_id)
    rows = await InvoiceLine.filter(invoice_id=invoice_id)
    assert invoice.reverse_charge is True
    assert [(Decimal(row.tax_rate), row.tax_minor, row.gross_minor) for row in rows] == [
        (0, 0, row.net_minor) for row in rows
    ]
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (net, 0, net)


def typed(key: str) -> list[LineForm]:
    return [
        LineForm(description="Design, hours", quantity="2.5", unit_price="80.01", tax=key),
        LineForm(description="Hosting", quantity="3", unit_price="19.99", tax=key),
    ]


async def vat_key() -> str:
    return f"rate:{(await TaxRate.create(name='VAT', rate=Decimal(20))).id}"


# -- every write path -------------------------------------------------------------------------------
async def test_create_invoice_writes_no_vat_for_an_eu_business_elsewhere(world: World) -> None:
    await german_business(world)
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE, send=False
    )
    await assert_untaxed(invoice_id)


async def test_a_business_at_home_still_pays_vat(world: World) -> None:
    await french_business(world)
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE, send=False
    )
    invoice = await Invoice.get(id=invoice_id)
    assert invoice.reverse_charge is False
    assert invoice.tax_minor == 4001 + 330  # 20% of 200.03, 5.5% of 59.97, each rounded


async def test_a_number_vies_said_is_invalid_pays_vat(world: World) -> None:
    await german_business(world, vat_check="invalid")
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE, send=False
    )
    invoice = await Invoice.get(id=invoice_id)
    assert (invoice.reverse_charge, invoice.tax_minor) == (False, 4331)


async def test_the_editor_saves_and_updates_a_draft_without_vat(world: World) -> None:
    await german_business(world)
    key = await vat_key()
    form = InvoiceForm(
        currency="EUR", issue_date=today().isoformat(), due_date=DUE.isoformat(), lines=typed(key)
    )
    invoice_id = await invoice_editor.save_draft(actor=world.staff, client_id=world.alice_id, form=form)
    await assert_untaxed(invoice_id)
    form.lines.append(LineForm(description="Workshop", quantity="1", unit_price="100.00", tax=key))
    await invoice_editor.save_draft(actor=world.staff, invoice_id=invoice_id, form=form)
    await assert_untaxed(invoice_id, NET + 10000)


async def test_a_draft_saved_before_the_client_changed_is_decided_again_when_saved(world: World) -> None:
    await french_business(world)
    key = await vat_key()
    form = InvoiceForm(
        currency="EUR", issue_date=today().isoformat(), due_date=DUE.isoformat(), lines=typed(key)
    )
    invoice_id = await invoice_editor.save_draft(actor=world.staff, client_id=world.alice_id, form=form)
    assert (await Invoice.get(id=invoice_id)).tax_minor == 4001 + 1199
    await german_business(world)
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id, form=form)
    await assert_untaxed(invoice_id)


async def test_a_duplicate_is_decided_from_the_client_as_it_is_now(world: World) -> None:
    await french_business(world)
    source = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE, send=False
    )
    await german_business(world)
    copy = await invoice_editor.duplicate_invoice(actor=world.staff, invoice_id=source)
    await assert_untaxed(copy)
    assert (await Invoice.get(id=source)).tax_minor == 4331  # the source is not touched


async def test_quotes_and_the_invoice_an_approved_one_becomes_carry_no_vat(world: World) -> None:
    await german_business(world)
    key = await vat_key()
    form = QuoteForm(currency="EUR", title="App", lines=typed(key))
    quote_id = await quote_editor.send_quote(
        actor=world.staff, client_id=world.alice_id, kind="estimate", form=form
    )
    quote = await Quote.get(id=quote_id)
    assert (quote.subtotal_minor, quote.tax_minor, quote.total_minor) == (NET, 0, NET)
    assert {
        Decimal(rate) for rate in await QuoteLine.filter(quote_id=quote_id).values_list("tax_rate", flat=True)
    } == {0}
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=True)
    invoice_id = await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id)
    await assert_untaxed(invoice_id)


async def test_a_quote_written_with_vat_converts_into_an_invoice_without_it(world: World) -> None:
    await french_business(world)
    key = await vat_key()
    form = QuoteForm(currency="EUR", title="App", lines=typed(key))
    quote_id = await quote_editor.send_quote(
        actor=world.staff, client_id=world.alice_id, kind="proposal", form=form
    )
    assert (await Quote.get(id=quote_id)).tax_minor == 5200
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=True)
    await german_business(world)  # the client's VAT number arrived after the approval
    invoice_id = await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id)
    await assert_untaxed(invoice_id)


async def test_a_billing_requests_untaxed_invoice_is_marked_reverse_charged(world: World) -> None:
    await german_business(world)
    sent = await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="EUR",
        amount_text="20.00",
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="one_time",
        description="Rush fee",
    )
    await assert_untaxed(sent.invoice_id, 2000)
    detail = await documents.get_invoice(actor=world.staff, invoice_id=sent.invoice_id)
    assert MENTION_EN in pdf_text(pdf.invoice_pdf(detail, compress=False))


# -- kept, shown, agreed ----------------------------------------------------------------------------
async def test_a_written_invoice_keeps_its_decision_when_the_client_changes(world: World) -> None:
    await german_business(world)
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE
    )
    await Client.filter(id=world.alice_id).update(country="FR", vat_number="FR44732829320")
    await assert_untaxed(invoice_id)
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    assert detail.reverse_charge and MENTION_EN in pdf_text(pdf.invoice_pdf(detail, compress=False))


async def test_page_pdf_email_and_stored_integers_agree(world: World) -> None:
    await german_business(world, locale="fr")
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE
    )
    invoice = await Invoice.get(id=invoice_id)
    rows = await InvoiceLine.filter(invoice_id=invoice_id)
    recomputed = invoice_totals(
        [LineInput(Decimal(r.quantity), r.unit_price_minor, Decimal(r.tax_rate)) for r in rows]
    )
    assert (recomputed.subtotal_minor, recomputed.tax_minor, recomputed.total_minor) == (
        invoice.subtotal_minor,
        invoice.tax_minor,
        invoice.total_minor,
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    presentation = detail.presentation
    assert (presentation.subtotal_minor, presentation.tax_minor, presentation.total_minor) == (NET, 0, NET)
    total = format_money(NET, "EUR", "fr")
    totals = {row.amount for row in sheet(presentation, "fr").totals}
    assert total in totals
    text = pdf_text(pdf.invoice_pdf(detail, compress=False))
    assert total in text and MENTION_FR in text and MENTION_EN not in text
    email = await OutboxEmail.get(kind="invoice", client_id=world.alice_id)
    assert total in email.text_body and MENTION_FR in email.text_body


async def test_an_invoice_that_is_not_reverse_charged_has_no_mention(world: World) -> None:
    await french_business(world)
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    assert not detail.reverse_charge
    assert "Reverse charge" not in pdf_text(pdf.invoice_pdf(detail, compress=False))
    assert "Reverse charge" not in facturx.cii_xml(detail).decode()


# -- the e-invoice ----------------------------------------------------------------------------------
async def test_the_e_invoice_uses_the_reverse_charge_category_and_validates(world: World) -> None:
    await german_business(world)
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=TAXED, due_date=DUE
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    xml = facturx.cii_xml(detail)  # checked against the EN 16931 XSD as it is written
    assert facturx_lib.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # and by a second library
    tree = etree.fromstring(xml)
    line_taxes = tree.xpath("//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    assert [
        (
            t.findtext("ram:CategoryCode", namespaces=NS),
            t.findtext("ram:RateApplicablePercent", namespaces=NS),
        )
        for t in line_taxes
    ] == [("AE", "0"), ("AE", "0")]
    (breakdown,) = tree.xpath("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    assert {child.tag.split("}")[1]: child.text for child in breakdown} == {
        "CalculatedAmount": "0.00",
        "TypeCode": "VAT",
        "ExemptionReason": "Reverse charge",
        "BasisAmount": "260.00",
        "CategoryCode": "AE",
        "ExemptionReasonCode": "VATEX-EU-AE",
        "RateApplicablePercent": "0",
    }
    assert tree.xpath("//ram:BuyerTradeParty//ram:SpecifiedTaxRegistration/ram:ID/text()", namespaces=NS) == [
        "DE136695976"
    ]
    assert tree.xpath(
        "//ram:SellerTradeParty//ram:SpecifiedTaxRegistration/ram:ID/text()", namespaces=NS
    ) == ["FR40303265045"]
    notes = [
        note.findtext("ram:Content", namespaces=NS)
        for note in tree.xpath("//ram:IncludedNote", namespaces=NS)
        if note.findtext("ram:SubjectCode", namespaces=NS) == "TXD"
    ]
    assert notes == [MENTION_EN]
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert tree.xpath(summation + "TaxTotalAmount/text()", namespaces=NS) == ["0.00"]
    assert tree.xpath(summation + "GrandTotalAmount/text()", namespaces=NS) == ["260.00"]

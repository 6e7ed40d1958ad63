"""Credit notes (issue 16 item 5): voiding an issued invoice never deletes or alters it; it issues a credit
note with its own gapless number that names the invoice and repeats its lines and taxes as deductions,
with a PDF, shown to the client and in the console. A draft, never issued, is simply deleted."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import facturx as facturx_lib
import pytest
from lxml import etree
from pypdf import PdfReader

from portal import i18n
from portal.billing import billing_requests, credit_notes, documents, invoice_editor, issued
from portal.billing.credit_note_pdf import credit_note_einvoice, credit_note_pdf, credit_note_xml
from portal.billing.invoice_editor import InvoiceForm
from portal.billing.line_input import LineForm
from portal.clients import client_record, history
from portal.core.clock import now_utc, set_now, today
from portal.db.models import (
    AuditEntry,
    BillingRequest,
    Client,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    IssuedDocument,
    Organization,
    TaxRate,
)
from portal.domain.errors import Conflict, NotFound
from portal.domain.money import to_decimal
from portal.domain.status import InvoiceStatus
from tests.services.conftest import World
from tests.services.identity_fixtures import set_legal_identity

YEAR = today().year
ISSUE = today().isoformat()
DUE = (today() + timedelta(days=14)).isoformat()


def _line(price: str, qty: str = "1", tax: str = "none", text: str = "Design") -> LineForm:
    return LineForm(description=text, quantity=qty, unit_price=price, tax=tax, date=ISSUE)


async def _sent(world: World, *lines: LineForm, client_id: int | None = None) -> int:
    form = InvoiceForm(currency="USD", issue_date=ISSUE, due_date=DUE, notes="", lines=list(lines))
    return await invoice_editor.send_invoice(
        actor=world.staff, invoice_id=None, client_id=client_id or world.alice_id, form=form
    )


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_voiding_an_issued_invoice_keeps_it_and_issues_a_credit_note_of_its_lines(world: World) -> None:
    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    invoice_id = await _sent(
        world, _line("100.00", "2", f"rate:{vat.id}"), _line("0.33", "3", text="Hosting")
    )
    before = await Invoice.get(id=invoice_id)
    lines_before = await InvoiceLine.filter(invoice_id=invoice_id).order_by("position").values()

    number = await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id, reason="Sent twice")

    assert number == f"CN-{YEAR}-0001"
    after = await Invoice.get(id=invoice_id)
    assert after.status == InvoiceStatus.deleted  # shown as Void
    assert (after.number, after.total_minor, after.tax_minor) == (
        before.number,
        before.total_minor,
        before.tax_minor,
    )
    assert await InvoiceLine.filter(invoice_id=invoice_id).order_by("position").values() == lines_before
    note = await CreditNote.get(number=number)
    assert (note.invoice_id, note.client_id, note.currency, note.reason, note.note) == (
        invoice_id,
        world.alice_id,
        "USD",
        "void",
        "Sent twice",
    )
    assert (note.subtotal_minor, note.tax_minor, note.total_minor) == (20099, 4000, 24099)
    copied = await CreditNoteLine.filter(credit_note_id=note.id).order_by("position")
    assert [(c.description, c.net_minor, c.tax_minor, c.gross_minor) for c in copied] == [
        (row["description"], row["net_minor"], row["tax_minor"], row["gross_minor"]) for row in lines_before
    ]
    [audited] = await AuditEntry.filter(action="invoice.void")
    assert audited.details["credit_note"] == number
    with pytest.raises(Conflict, match="already void"):
        await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    assert await CreditNote.all().count() == 1


async def test_a_draft_is_deleted_without_a_credit_note(world: World) -> None:
    form = InvoiceForm(currency="USD", issue_date=ISSUE, due_date=DUE, notes="", lines=[_line("10")])
    draft_id = await invoice_editor.save_draft(actor=world.staff, client_id=world.alice_id, form=form)
    assert await invoice_editor.void_invoice(actor=world.staff, invoice_id=draft_id) is None
    assert not await CreditNote.exists()
    with pytest.raises(NotFound):  # the client never saw it
        await documents.get_invoice(actor=world.alice, invoice_id=draft_id)


async def test_credit_notes_are_numbered_apart_from_invoices_and_once_under_two_clicks(world: World) -> None:
    first = await _sent(world, _line("10"))
    second = await _sent(world, _line("20"))
    third = await _sent(world, _line("30"))
    results = await asyncio.gather(
        invoice_editor.void_invoice(actor=world.staff, invoice_id=first),
        invoice_editor.void_invoice(actor=world.staff, invoice_id=first),
        return_exceptions=True,
    )
    assert sorted(map(str, results)) == sorted([f"CN-{YEAR}-0001", "This invoice is already void."])
    assert await invoice_editor.void_invoice(actor=world.staff, invoice_id=third) == f"CN-{YEAR}-0002"
    numbers = [i.number for i in await Invoice.filter(id__in=[first, second, third]).order_by("id")]
    assert numbers == [f"INV-{YEAR}-0001", f"INV-{YEAR}-0002", f"INV-{YEAR}-0003"]  # untouched
    fourth = await _sent(world, _line("40"))
    assert (await Invoice.get(id=fourth)).number == f"INV-{YEAR}-0004"


async def test_the_client_sees_the_void_invoice_and_its_credit_note_and_nobody_else_does(
    world: World,
) -> None:
    invoice_id = await _sent(world, _line("50.00"))
    number = await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert detail.display_status == "void" and not detail.can_pay
    [listed] = await credit_notes.of_invoice(actor=world.alice, invoice_id=invoice_id)
    assert (listed.number, listed.total_minor, listed.pdf_url) == (
        number,
        5000,
        f"/billing/credit-notes/{listed.id}/pdf",
    )
    assert (await credit_notes.get_credit_note(actor=world.alice, credit_note_id=listed.id)).summary == listed
    with pytest.raises(NotFound):
        await credit_notes.get_credit_note(actor=world.bob, credit_note_id=listed.id)
    with pytest.raises(NotFound):
        await credit_notes.of_invoice(actor=world.bob, invoice_id=invoice_id)
    shown = await history.get_history(actor=world.alice, client_id=world.alice_id)
    assert [n.number for n in shown.credit_notes.items] == [number]
    record = await client_record.get_client_record(actor=world.staff, client_id=world.alice_id)
    assert [n.number for n in record.credit_notes.items] == [number] and record.credit_notes.total == 1


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", ["CREDIT NOTE", "Credited -$241.20", "Cancels invoice", "-$201.00", "Total", "Sent twice"]),
        ("fr", ["AVOIR", "Crédité -241,20", "Annule la facture", "-201,00", "La facture a été annulée."]),
    ],
)
async def test_the_pdf_names_the_invoice_and_shows_its_lines_as_deductions(
    world: World, locale: str, expected: list[str]
) -> None:
    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    await Client.filter(id=world.alice_id).update(locale=locale)
    invoice_id = await _sent(world, _line("100.50", "2", f"rate:{vat.id}"))
    number = await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id, reason="Sent twice")
    note = await CreditNote.get(number=number)
    detail = await credit_notes.get_credit_note(actor=world.staff, credit_note_id=note.id)
    with i18n.locale_scope("en"):  # the PDF is in the client's language, whoever downloads it
        text = _text(credit_note_pdf(detail))
    invoice_number = (await Invoice.get(id=invoice_id)).number
    assert number in text and invoice_number in text
    for fragment in expected:
        assert fragment.replace("\u202f", " ") in text.replace("\u202f", " ").replace("\xa0", " "), (
            fragment,
            text,
        )
    assert detail.pdf_filename == f"credit-note-{number}.pdf"


# -- as an e-invoice --------------------------------------------------------------------------------------
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def _one(tree: etree._Element, path: str) -> str:
    (node,) = tree.xpath(path, namespaces=NS)
    return node.text


@pytest.mark.parametrize(
    ("buyer_country", "vat_number", "category"), [("FR", "FR44732829320", "S"), ("DE", "DE136695976", "AE")]
)
async def test_the_credit_note_is_a_factur_x_381_naming_the_invoice_with_its_amounts(
    world: World, buyer_country: str, vat_number: str, category: str
) -> None:
    await set_legal_identity(world)  # a French organization
    await Client.filter(id=world.alice_id).update(
        currency="EUR", is_business=True, vat_number=vat_number, country=buyer_country, company="Archery"
    )
    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    form = InvoiceForm(
        currency="EUR",
        issue_date=ISSUE,
        due_date=DUE,
        notes="",
        lines=[_line("100.50", "2", f"rate:{vat.id}")],
    )
    invoice_id = await invoice_editor.send_invoice(
        actor=world.staff, invoice_id=None, client_id=world.alice_id, form=form
    )
    invoice = await Invoice.get(id=invoice_id)
    number = await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id, reason="Duplicate")
    note = await CreditNote.get(number=number)
    detail = await credit_notes.get_credit_note(actor=world.staff, credit_note_id=note.id)

    xml = credit_note_xml(detail)

    assert facturx_lib.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert _one(tree, "//rsm:ExchangedDocument/ram:ID") == number
    assert _one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert _one(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == invoice.number
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert _one(tree, summation + "GrandTotalAmount") == str(to_decimal(invoice.total_minor, "EUR"))
    assert _one(tree, summation + "TaxTotalAmount") == str(to_decimal(invoice.tax_minor, "EUR"))
    assert tree.xpath("//ram:ApplicableTradeTax/ram:CategoryCode/text()", namespaces=NS)[0] == category
    einvoice = credit_note_einvoice(detail)
    _filename, attached = facturx_lib.get_xml_from_pdf(einvoice, check_xsd=False)
    assert attached == xml
    # the PDF says what the XML's notes say: the French mentions, and reverse charge when the invoice was
    text = " ".join(_text(credit_note_pdf(detail)).split())
    assert "Nature of the operation: provision of services." in text
    assert ("Reverse charge: VAT to be accounted for by the recipient" in text) == (category == "AE")


async def test_the_credit_note_is_stored_when_issued_and_downloads_as_stored(world: World) -> None:
    await set_legal_identity(world)
    invoice_id = await _sent(world, _line("80.00"))
    number = await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    note = await CreditNote.get(number=number)
    stored = {
        row.kind: row
        for row in await IssuedDocument.filter(subject_id=note.id, kind__startswith="credit-note")
    }
    assert set(stored) == {
        "credit-note",
        "credit-note-factur-x",
        "credit-note-xml",
    }  # at issue, not at download

    first = await issued.credit_note_pdf_download(actor=world.alice, credit_note_id=note.id)
    await Organization.filter(id=1).update(theme_color="#aa0000", invoice_footer="New footer", name="Renamed")
    again = await issued.credit_note_pdf_download(actor=world.alice, credit_note_id=note.id)
    assert (
        again.content == first.content
        and hashlib.sha256(first.content).hexdigest() == stored["credit-note"].sha256
    )
    einvoice = await issued.credit_note_einvoice(actor=world.alice, credit_note_id=note.id, extension="pdf")
    _name, xml = facturx_lib.get_xml_from_pdf(einvoice.content, check_xsd=False)
    assert (
        xml
        == (
            await issued.credit_note_einvoice(actor=world.alice, credit_note_id=note.id, extension="xml")
        ).content
    )
    [listed] = await credit_notes.of_invoice(actor=world.alice, invoice_id=invoice_id)
    assert listed.einvoice and listed.einvoice_url("xml") == f"/billing/credit-notes/{note.id}/factur-x.xml"
    with pytest.raises(NotFound):
        await issued.credit_note_pdf_download(actor=world.bob, credit_note_id=note.id)


async def _billing_request(world: World, amount_minor: int) -> tuple[int, int]:
    sent = await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="payer@x.test",
        currency="USD",
        amount_minor=amount_minor,
        success_url="https://a.test/ok",
        cancel_url="https://a.test/no",
        billing_type="one_time",
        description="Deposit",
    )
    return sent.id, sent.invoice_id


async def test_deleting_a_billing_request_cancels_its_issued_invoice_with_a_credit_note(world: World) -> None:
    request_id, invoice_id = await _billing_request(world, 12345)
    invoice = await Invoice.get(id=invoice_id)
    assert invoice.number  # the request's invoice was issued: a legal document

    await billing_requests.delete_billing_request(actor=world.staff, request_id=request_id)

    assert (await BillingRequest.get(id=request_id)).status == "deleted"  # the request: Deleted
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.deleted  # its invoice: Void
    note = await CreditNote.get(invoice_id=invoice_id)
    assert (note.total_minor, note.reason, note.number) == (12345, "void", f"CN-{YEAR}-0001")
    # issued with the deletion: its PDF is stored at once, and the client sees both
    assert await IssuedDocument.exists(kind="credit-note", subject_id=note.id)
    seen = await credit_notes.of_invoice(actor=world.alice, invoice_id=invoice_id)
    assert [n.number for n in seen] == [note.number]
    await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)  # not hidden from its client


async def test_an_expired_billing_request_s_invoice_is_cancelled_by_a_credit_note_once(world: World) -> None:
    _request_id, invoice_id = await _billing_request(world, 5000)
    set_now(now_utc() + timedelta(hours=25))
    try:
        assert await billing_requests.expire_due() == 1
        assert await billing_requests.expire_due() == 0
    finally:
        set_now(None)
    assert [(n.invoice_id, n.total_minor) for n in await CreditNote.all()] == [(invoice_id, 5000)]
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.deleted

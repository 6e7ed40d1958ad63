"""Issued documents never change (issue 16, item 6): an invoice's PDF, its Factur-X and a receipt's PDF are
stored once with their SHA-256, and every later download sends those exact bytes, whatever happens to the
organization's logo and template or to the invoice's payments; a stored file changed on disk is refused."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import facturx as facturx_lib
import pytest
from pypdf import PdfReader

from portal.billing import documents, invoice_editor, invoices, issued, pdf
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import IssuedDocument, Organization
from portal.domain.money import format_money
from portal.payments import charges, ledger, refunds
from portal.settings import template
from tests.pdf_reading import pdf_strings
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox


def _text(data: bytes) -> str:
    """The text drawn on a PDF's pages, compressed or not (its strings in drawing order)."""
    return " ".join(pdf_strings(data))


def _pages(data: bytes) -> list[bytes]:
    """Each page's content stream, as drawn."""
    return [page.get_contents().get_data() for page in PdfReader(io.BytesIO(data)).pages]


async def _taxed_invoice(world: World) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[
            LineDraft("Design", Decimal(2), 12_500, Decimal("8.875"), "NY sales tax"),
            LineDraft("Hosting", Decimal(1), 5_000, Decimal(0)),
        ],
        due_date=today() + timedelta(days=14),
    )


async def _restyle(world: World) -> None:
    """The organization changes its logo, theme colour and footer."""
    await Organization.filter(id=1).update(logo_path="/static/favicon.png")
    await template.update_template(
        actor=world.admin,
        theme_color="#0f766e",
        footer="New footer: thank you for your business",
        number_pattern=(await Organization.get(id=1)).invoice_number_pattern,
    )


async def _pay(world: World, amount: int, invoice_id: int | None = None) -> int:
    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=amount,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
        reference="BT-1",
        invoice_id=invoice_id,
    )
    return result.payment_id


async def _row(kind: str, subject_id: int) -> IssuedDocument:
    return await IssuedDocument.get(kind=kind, subject_id=subject_id)


def _stored_file(folder: Path, row: IssuedDocument) -> Path:
    return folder / row.storage_key


async def test_an_invoice_downloads_as_issued_after_the_template_changes_and_a_payment(
    world: World, documents_dir: Path
) -> None:
    invoice_id = await _taxed_invoice(world)
    row = await _row("invoice", invoice_id)  # stored as it was sent, before anyone downloaded it
    first = await issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id)
    assert first.content.startswith(b"%PDF-") and first.filename.startswith("invoice-")
    assert row.sha256 == hashlib.sha256(first.content).hexdigest() and row.size == len(first.content)
    assert _stored_file(documents_dir, row).read_bytes() == first.content
    assert row.storage_key == f"invoice/{invoice_id}/{row.sha256}.pdf"

    await _restyle(world)
    await _pay(world, 10_000, invoice_id)
    again = await issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id)
    staff = await issued.invoice_pdf(actor=world.staff, invoice_id=invoice_id)
    assert again.content == staff.content == first.content
    assert await IssuedDocument.filter(kind="invoice", subject_id=invoice_id).count() == 1

    # what a fresh drawing would give now differs: the new logo, and the payment
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert b"/Subtype /Image" in pdf.invoice_pdf(detail) and b"/Subtype /Image" not in first.content
    total = format_money(detail.total_minor, "USD", "en")
    assert (total, format_money(detail.amount_due_minor, "USD", "en")) == ("$322.19", "$222.19")
    # the stored one is the invoice as issued: its lines and total, the whole total due, no payment yet
    text = _text(first.content)
    assert detail.number in text and "NY sales tax 8.875%" in text and "$22.19" in text
    assert f"Amount due {total}" in text and "$222.19" not in text
    assert format_money(-10_000, "USD", "en") not in text and "New footer" not in text
    # the invoice's page is where payments show
    assert [p.amount_minor for p in detail.payments] == [10_000]


async def test_a_receipt_downloads_as_issued_after_the_template_changes_and_a_refund(
    world: World, documents_dir: Path
) -> None:
    invoice_id = await invoice_for(world, 10_000)
    payment_id = await _pay(world, 6_000, invoice_id)
    row = await _row("receipt", payment_id)  # stored as the payment was recorded
    first = await issued.receipt_pdf(actor=world.alice, payment_id=payment_id)
    assert first.filename == f"receipt-RCPT-{payment_id}.pdf"
    assert row.sha256 == hashlib.sha256(first.content).hexdigest()
    assert _stored_file(documents_dir, row).read_bytes() == first.content

    await _restyle(world)
    await refunds.refund_payment(actor=world.staff, payment_id=payment_id, amount_minor=1_000)
    await _pay(world, 5_000, invoice_id)  # a later payment on the same invoice
    again = await issued.receipt_pdf(actor=world.alice, payment_id=payment_id)
    assert again.content == first.content
    text = _text(first.content)
    assert "$60.00" in text and "$40.00" in text  # received, and what it left due on the invoice
    assert "Refunded" not in text and "New footer" not in text
    receipt = await documents.get_receipt(actor=world.alice, payment_id=payment_id)
    assert (receipt.refunded_minor, receipt.status) == (1_000, "partially_refunded")  # the page says so


async def test_an_online_payment_stores_its_receipt_as_it_settles(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 12_345)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    assert outcome.status == "succeeded"
    row = await _row("receipt", outcome.payment_id)
    download = await issued.receipt_pdf(actor=world.alice, payment_id=outcome.payment_id)
    assert hashlib.sha256(download.content).hexdigest() == row.sha256


@pytest.mark.parametrize("damage", ["altered", "missing"])
async def test_a_stored_file_changed_on_disk_is_refused(
    world: World, documents_dir: Path, damage: str
) -> None:
    invoice_id = await invoice_for(world, 2_500)
    payment_id = await _pay(world, 2_500, invoice_id)
    for kind, subject_id, download in (
        ("invoice", invoice_id, lambda: issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id)),
        ("receipt", payment_id, lambda: issued.receipt_pdf(actor=world.alice, payment_id=payment_id)),
    ):
        stored = _stored_file(documents_dir, await _row(kind, subject_id))
        if damage == "altered":
            data = stored.read_bytes()
            middle = len(data) // 2
            stored.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
        else:
            stored.unlink()
        with pytest.raises(issued.AlteredDocument):
            await download()
        # and it is not quietly drawn again: the row still names the issued bytes
        assert await IssuedDocument.filter(kind=kind, subject_id=subject_id).count() == 1


async def test_an_invoice_issued_before_documents_were_stored_is_stored_once_at_its_first_downloads(
    world: World, documents_dir: Path
) -> None:
    invoice_id = await invoice_for(world, 7_000)
    await IssuedDocument.all().delete()  # issued before this change: nothing stored
    await _pay(world, 3_000, invoice_id)
    await IssuedDocument.filter(kind="receipt").delete()

    downloads = await asyncio.gather(
        *(issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id) for _ in range(3))
    )
    rows = await IssuedDocument.filter(kind="invoice", subject_id=invoice_id)
    assert len(rows) == 1
    assert {d.content for d in downloads} == {_stored_file(documents_dir, rows[0]).read_bytes()}
    assert hashlib.sha256(downloads[0].content).hexdigest() == rows[0].sha256
    text = _text(downloads[0].content)
    assert "Amount due $70.00" in text and "$40.00" not in text  # as issued, though paid in part since
    await _restyle(world)
    later = await issued.invoice_pdf(actor=world.staff, invoice_id=invoice_id)
    assert later.content == downloads[0].content


async def test_a_voided_invoice_keeps_its_issued_pdf(world: World) -> None:
    invoice_id = await invoice_for(world, 4_200)
    issued_pdf = await issued.invoice_pdf(actor=world.staff, invoice_id=invoice_id)
    await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    await _restyle(world)
    voided = await issued.invoice_pdf(actor=world.staff, invoice_id=invoice_id)
    assert voided.content == issued_pdf.content
    assert (await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)).display_status == "void"


async def test_drafts_are_drawn_as_they_stand_and_never_stored(world: World) -> None:
    draft_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Draft work", Decimal(1), 100, Decimal(0))],
        due_date=today() + timedelta(days=14),
        send=False,
    )
    before = await issued.invoice_pdf(actor=world.staff, invoice_id=draft_id)
    await _restyle(world)
    after = await issued.invoice_pdf(actor=world.staff, invoice_id=draft_id)
    assert b"/Subtype /Image" not in before.content and b"/Subtype /Image" in after.content
    assert not await IssuedDocument.exists(subject_id=draft_id)


async def test_the_factur_x_pdf_is_the_stored_invoice_pdf_with_its_stored_xml(world: World) -> None:
    await get_organization()  # the row is made on first use
    await Organization.filter(id=1).update(country="FR", vat_number="FR40303265045")
    invoice_id = await _taxed_invoice(world)
    kinds = await IssuedDocument.filter(subject_id=invoice_id).values_list("kind", flat=True)
    assert sorted(kinds) == ["factur-x", "factur-x-xml", "invoice"]  # all stored as it was sent

    await _restyle(world)
    await _pay(world, 10_000, invoice_id)
    invoice_pdf = await issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id)
    einvoice = await issued.einvoice(actor=world.alice, invoice_id=invoice_id, extension="pdf")
    xml = await issued.einvoice(actor=world.alice, invoice_id=invoice_id, extension="xml")
    assert (einvoice.media_type, xml.media_type) == ("application/pdf", "application/xml")
    assert _pages(einvoice.content) == _pages(invoice_pdf.content)  # the invoice as issued, drawn once
    name, attached = facturx_lib.get_xml_from_pdf(einvoice.content, check_xsd=False)
    assert (name, attached) == ("factur-x.xml", xml.content)
    for kind, download in (("factur-x", einvoice), ("factur-x-xml", xml)):
        assert hashlib.sha256(download.content).hexdigest() == (await _row(kind, invoice_id)).sha256
    again = await issued.einvoice(actor=world.alice, invoice_id=invoice_id, extension="pdf")
    assert again.content == einvoice.content


async def test_a_factur_x_pdf_wanted_after_the_country_is_set_is_built_from_the_stored_pdf(
    world: World,
) -> None:
    invoice_id = await _taxed_invoice(world)  # sent before the organization's country was set
    assert await IssuedDocument.filter(subject_id=invoice_id).values_list("kind", flat=True) == ["invoice"]
    stored = await issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id)
    await _restyle(world)
    # the country, and the VAT number an e-invoice that charges tax names (EN 16931, BR-S-02)
    await Organization.filter(id=1).update(country="FR", vat_number="FR40303265045")
    einvoice = await issued.einvoice(actor=world.alice, invoice_id=invoice_id, extension="pdf")
    assert _pages(einvoice.content) == _pages(stored.content)  # the issued look, not today's template
    assert b"/Subtype /Image" not in einvoice.content
    again = await issued.einvoice(actor=world.staff, invoice_id=invoice_id, extension="pdf")
    assert again.content == einvoice.content
    assert await IssuedDocument.filter(kind="factur-x", subject_id=invoice_id).count() == 1

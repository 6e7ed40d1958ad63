"""Every script in the PDFs (issue 16, item 1): a client whose name, company and invoice lines are in
Polish, Czech, Greek, Russian, Chinese and Japanese gets an invoice, a receipt, a quote and a statement
that print those words (read back from the PDF's text as a reader copies it), with the fonts embedded
and the amounts unchanged."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import facturx as facturx_lib
from pypdf import PdfReader

from portal.billing import (
    documents,
    facturx,
    invoices,
    pdf,
    pdf_fonts,
    quote_editor,
    statement_pdf,
    statements,
)
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Client, Quote, QuoteLine
from portal.domain.money import format_money
from portal.domain.status import QuoteStatus
from portal.payments import ledger
from tests.pdf_reading import embedded_fonts, pdf_strings
from tests.services.conftest import World
from tests.services.identity_fixtures import set_legal_identity

NAME = "Zażółć Gęślą-Jaźń"  # Polish
COMPANY = "Příliš žluťoučký kůň s.r.o."  # Czech
LINES = {
    "Zażółć gęślą jaźń": 12_345,  # Polish
    "Příliš žluťoučký kůň úpěl ďábelské ódy": 1_000,  # Czech
    "Ελληνική μετάφραση ιστοσελίδας": 2_500,  # Greek
    "Разработка сайта «Ромашка»": 4_200,  # Russian
    "网站设计与开发": 9_900,  # Chinese
    "ウェブサイト制作、東京都": 7_700,  # Japanese (kana and kanji)
}


async def _client(world: World) -> int:
    client = await Client.create(
        name=NAME,
        company=COMPANY,
        email="zazolc@x.test",
        currency="EUR",
        billing_address="ul. Świętokrzyska 12\n東京都千代田区1-1",
    )
    return client.id


async def _quote(client_id: int) -> int:
    quote = await Quote.create(
        kind="estimate",
        client_id=client_id,
        title="Ελληνικά и русский, 日本語",
        status=QuoteStatus.sent,
        currency="EUR",
        issue_date=today(),
        valid_until=today() + timedelta(days=30),
        terms="Płatność 50 % — 前払い",
        subtotal_minor=sum(LINES.values()),
        tax_minor=0,
        total_minor=sum(LINES.values()),
    )
    for text, amount in LINES.items():
        await QuoteLine.create(
            quote_id=quote.id,
            description=text,
            quantity=Decimal(1),
            unit_price_minor=amount,
            tax_name="",
            tax_rate=Decimal(0),
            net_minor=amount,
            tax_minor=0,
            gross_minor=amount,
        )
    return quote.id


async def _invoice(world: World, client_id: int) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id,
        lines=[LineDraft(text, Decimal(1), amount, Decimal(20), "VAT") for text, amount in LINES.items()],
        due_date=today() + timedelta(days=14),
    )


def _reads_every_script(strings: list[str]) -> None:
    text = "\n".join(strings)
    assert NAME in strings and COMPANY in strings
    for line in LINES:
        assert line in text, line
    assert "?" not in text.replace("\n", "")  # nothing fell back to a question mark


async def test_an_invoice_in_six_scripts_reads_back_with_its_fonts_embedded(world: World) -> None:
    client_id = await _client(world)
    detail = await documents.get_invoice(actor=world.staff, invoice_id=await _invoice(world, client_id))
    data = pdf.invoice_pdf(detail)  # compressed, as downloaded
    strings = pdf_strings(data)

    _reads_every_script(strings)
    assert "ul. Świętokrzyska 12" in strings and "東京都千代田区1-1" in strings
    money = lambda amount: format_money(amount, "EUR", "en")  # noqa: E731
    assert money(12_345) in strings and money(7_700) in strings  # each line's amount
    assert money(detail.total_minor) in strings and detail.total_minor == round(sum(LINES.values()) * 1.2)
    fonts = embedded_fonts(data)
    names = [f.split("+")[1] for f in fonts]  # the core subsets, the rest of Lato for Greek and Russian, CJK
    assert names == ["Lato", "LatoBold", "LatoExtended", "NotoSansCJKJP"]
    assert len(data) < 120_000  # subsets, not whole fonts (Noto Sans CJK alone is 16 MB)


async def test_a_latin_invoice_embeds_only_the_core_subsets(world: World) -> None:
    detail = await documents.get_invoice(
        actor=world.staff,
        invoice_id=await invoices.create_invoice(
            actor=world.staff,
            client_id=world.alice_id,
            lines=[LineDraft("Zażółć gęślą jaźń", Decimal(2), 5_000, Decimal(20), "VAT")],
            due_date=today() + timedelta(days=14),
        ),
    )
    data = pdf.invoice_pdf(detail)
    assert "Zażółć gęślą jaźń" in pdf_strings(data)
    assert format_money(detail.total_minor, "USD", "en") in pdf_strings(data)
    fonts = embedded_fonts(data)
    assert [f.split("+")[1] for f in fonts] == ["Lato", "LatoBold"]  # the core subsets only
    assert len(data) < 40_000


async def test_a_receipt_a_quote_and_a_statement_print_every_script(world: World) -> None:
    client_id = await _client(world)
    invoice_id = await _invoice(world, client_id)
    paid = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=client_id,
        amount_minor=10_000,
        currency="EUR",
        method="bank_transfer",
        received_on=today(),
        reference="Przelew 東京",
        invoice_id=invoice_id,
    )
    receipt = await documents.get_receipt(actor=world.staff, payment_id=paid.payment_id)
    strings = pdf_strings(pdf.receipt_pdf(receipt))
    assert NAME in strings and "Przelew 東京" in strings
    assert format_money(10_000, "EUR", "en") in " ".join(strings)

    quote = await _quote(client_id)
    document = await quote_editor.quote_document(actor=world.staff, quote_id=quote)
    data = pdf.quote_pdf(document.view, organization=document.organization, client=document.client)
    strings = pdf_strings(data)
    _reads_every_script(strings)
    assert "Ελληνικά и русский, 日本語" in strings  # the quote's title, bold
    assert "NotoSansCJKJPBold" in [f.split("+")[1] for f in embedded_fonts(data)]

    doc = await statements.statement_document(
        actor=world.staff, client_id=client_id, start=today() - timedelta(days=30), end=today()
    )
    strings = pdf_strings(statement_pdf.statement_pdf(doc))
    assert NAME in strings and COMPANY in strings
    assert format_money(10_000, "EUR", "en") in " ".join(strings)


async def test_the_factur_x_pdf_embeds_its_fonts_and_declares_srgb(world: World) -> None:
    """What PDF/A-3 asks of the PDF that this test can see (no PDF/A validator runs here): every font
    embedded with a ToUnicode map, an sRGB output intent, the PDF/A-3 identification in the XMP."""
    await set_legal_identity(world)
    client_id = await _client(world)
    await Client.filter(id=client_id).update(country="PL", postcode="00-001", city="Warszawa")
    detail = await documents.get_invoice(actor=world.staff, invoice_id=await _invoice(world, client_id))
    data = facturx.einvoice_pdf(detail)

    _reads_every_script(pdf_strings(data))
    reader = PdfReader(io.BytesIO(data))
    fonts = reader.pages[0]["/Resources"]["/Font"].values()
    for font in (f.get_object() for f in fonts):
        assert font["/Subtype"] == "/Type0" and "/ToUnicode" in font
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor  # no font left to the viewer
    (intent,) = reader.trailer["/Root"]["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.get_data()[36:40] == b"acsp"  # an ICC profile, RGB
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp and b"<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert facturx_lib.get_xml_from_pdf(data, check_xsd=True)[1] == facturx.cii_xml(detail)


async def test_the_lines_after_a_name_that_starts_in_japanese_keep_their_own_font(world: World) -> None:
    """A cell whose first character comes from a fallback font: the lines drawn after it (another style,
    no font change of their own) are still drawn, and read, in the core font (fpdf2 2.8.9 restored the
    page's font inside the cell's own graphics state only)."""
    client = await Client.create(
        name="山田太郎 Zażółć",
        company="Ελληνική Εταιρεία",
        email="yamada@x.test",
        currency="JPY",
        billing_address="ul. Świętokrzyska 12\n東京都千代田区1-1",
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=await _invoice(world, client.id))
    strings = pdf_strings(pdf.invoice_pdf(detail))
    assert "山田太郎 Zażółć" in strings and "Ελληνική Εταιρεία" in strings
    assert "ul. Świętokrzyska 12" in strings and "yamada@x.test" in strings
    assert "Invoice number" in strings and detail.number in strings


def test_what_no_font_has_prints_as_a_question_mark_and_the_rest_as_it_is() -> None:
    assert pdf.pdf_text("Łódź Ελλάδα Москва 東京") == "Łódź Ελλάδα Москва 東京"
    assert pdf.pdf_text("1\u202f560,00\xa0€") == "1\u202f560,00\xa0€"  # French amounts keep their spaces
    assert pdf.pdf_text("\U0001d400\U0001d401 a\tb\u200b") == "AB a b"  # folded, spaced, dropped
    assert pdf.pdf_text("مرحبا 🙂") == "????? ?"  # Arabic needs shaping: not drawn yet
    assert all(pdf_fonts.covers(c) for c in "ŻźČřΩжЁ々ー")

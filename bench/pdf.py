"""PDF throughput: invoices rendered per second by `portal.billing.pdf` against a bare fpdf2 document with
the same text in the same embedded font.

    python -m bench.pdf [--database-url URL] [--seeded]

A typical invoice: five lines (two with VAT, one with a long description that wraps), a note, the
organization's address, bank details and footer, created through the invoice use case in the seeded
database and read back with `documents.get_invoice`, as the PDF route does. Two sides, 40 alternating
rounds of 5 documents each after a warm-up:
- the portal: `pdf.invoice_pdf(detail)` (what GET /invoices/<id>/pdf sends, compressed), everything from
  the detail to the bytes: formatting, the letterhead, the lines table, the totals, the footer, the
  embedded font subsets (Lato regular and bold, issue 16);
- the bare document: fpdf2 with the same two Lato faces added the way fpdf2 documents it (`add_font` of
  the package's TTF files, regular and bold, in each document: a document that embeds the font its text
  needs), one `cell` per string (the same strings: every label, value, table cell and total of the
  portal's page, formatted once before timing), the same page size and compression: the least fpdf2
  can do to put that text on a page in a font that prints every script the portal's does.
Figure: documents per second of the portal / of the bare document (medians). Target >= 0.5. Not judged,
for comparison with the figures before issue 16: the same bare document in fpdf2's core Helvetica
(Windows-1252 only: it cannot print Polish, Greek, Russian or Japanese names). The database only provides
the invoice (the rendering does not touch it): the figure should be the same on both.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from datetime import timedelta
from decimal import Decimal

from fpdf import FPDF

from bench import common, seed
from portal.billing import documents, facturx, invoices, pdf, pdf_fonts
from portal.billing.documents import InvoiceDetail, Letterhead
from portal.billing.invoices import LineDraft
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.lifecycle import database
from portal.domain.money import format_money
from portal.domain.presentation import sheet, totals
from portal.domain.status import Role, local_label
from portal.i18n import translate

TARGET = 0.5
PER_ROUND = 5
ROUNDS = 40
LINES = [
    LineDraft(
        "Website redesign: new home page, product pages and checkout", Decimal(1), 240_000, Decimal(20), "VAT"
    ),
    LineDraft("Hosting and maintenance (month)", Decimal(3), 4_500, Decimal(20), "VAT"),
    LineDraft("Workshop, half a day", Decimal("0.5"), 60_000),
    LineDraft(
        "Content migration from the old site, including redirects for every old address, image "
        "compression and a check of every internal link",
        Decimal(12),
        8_500,
    ),
    LineDraft("Domain renewal", Decimal(1), 1_500),
]
ORGANIZATION = Letterhead(
    name="Bench Agency",
    address="12 Harbour Street\nBristol BS1 4RN\nUnited Kingdom",
    bank_details="Bench Agency Ltd\nIBAN GB33 BUKB 2020 1555 5555 55\nBIC BUKBGB22",
    footer="Bench Agency Ltd · Registered in England and Wales, no. 01234567 · VAT GB 123 4567 89",
    legal_name="Bench Agency Ltd",
    company_id="01234567",
    vat_number="GB980780684",
    postcode="BS1 4RN",
    city="Bristol",
    country="GB",
)


async def typical_invoice() -> InvoiceDetail:
    """A new five-line invoice for the small client, read back as the PDF route reads it."""
    staff = Actor(user_id=seed.STAFF_USER, role=Role.staff, email="staff@bench.test", name="Staff")
    invoice_id = await invoices.create_invoice(
        actor=staff,
        client_id=seed.SMALL_CLIENT,
        lines=[dataclasses.replace(line, date=today()) for line in LINES],
        due_date=today() + timedelta(days=30),
        notes="Thank you for your business. Payment within 30 days, please quote the invoice number.",
    )
    detail = await documents.get_invoice(actor=staff, invoice_id=invoice_id)
    # the letterhead of a typical agency (the bench organization has a name only; its row stays as it is)
    return dataclasses.replace(detail, organization=ORGANIZATION)


def texts(detail: InvoiceDetail) -> dict[str, list[list[str]]]:
    """Every string the portal's invoice PDF shows, formatted once, grouped by how the bare side draws it
    (each group a list of rows of cells)."""
    locale = detail.locale
    org = detail.organization
    money = lambda amount: format_money(amount, detail.currency, locale)  # noqa: E731
    written = sheet(detail.presentation, locale)
    keys = [c.key for c in written.columns]
    groups = {
        "letterhead": [
            [org.name],
            *([line] for line in org.address.splitlines()),
            *([line] for line in pdf.letterhead_identity(org, locale)),
        ],
        "title": [
            [
                translate("INVOICE", locale),
                translate("Amount due {amount}", locale, amount=money(detail.amount_due_minor)),
            ]
        ],
        "facts": [
            [translate("Invoice number", locale), detail.number],
            [translate("Issued", locale), pdf._day(detail.issue_date, locale)],
            [translate("Due", locale), pdf._day(detail.due_date, locale)],
            [translate("Status", locale), local_label(detail.display_status, locale)],
        ],
        "client": [
            [translate("BILL TO", locale)],
            *(
                [v]
                for v in (
                    detail.client.name,
                    detail.client.company,
                    detail.client.address,
                    detail.client.email,
                )
                if v
            ),
        ],
        "table": [[c.label for c in written.columns], *([row[k] for k in keys] for row in written.rows)],
        "totals": [[row.label, row.amount] for row in totals(detail.presentation, locale)],
        "notes": [
            [translate("Notes", locale)],
            [detail.notes],
            [translate("Pay by bank transfer", locale)],
            *([line] for line in org.bank_details.splitlines()),
            [translate("Reference: {reference}", locale, reference=detail.number)],
        ],
        "footer": [[org.footer], [translate("Page {page} of {pages}", locale, page=1, pages=1)]],
    }
    return {name: [[pdf.pdf_text(cell) for cell in row] for row in rows] for name, rows in groups.items()}


def bare_pdf(groups: dict[str, list[list[str]]], *, core_font: bool = False) -> bytes:
    """The same strings on an A4 page, one `cell` each, rows of cells side by side, in Lato (embedded as
    fpdf2's `add_font` does it) or, with `core_font`, in the core Helvetica."""
    document = FPDF(orientation="portrait", unit="mm", format="A4")
    family = "Helvetica"
    if core_font:
        document.core_fonts_encoding = "windows-1252"
    else:
        family = "lato"
        document.add_font(family, "", pdf_fonts.face_file(pdf_fonts.CORE, ""))
        document.add_font(family, "B", pdf_fonts.face_file(pdf_fonts.CORE, "B"))
    document.set_margins(15, 15, 15)
    document.set_auto_page_break(True, margin=24)
    document.add_page()
    for name, rows in groups.items():
        document.set_font(family, "B" if name in ("title", "totals") else "", 9)
        for row in rows:
            width = pdf.PAGE_WIDTH / len(row)
            for cell in row:
                document.cell(width, 5, cell)
            document.ln(5)
    return bytes(document.output())


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    async with database(url, auto_migrate=False):
        version = await common.server_version()
        detail = await typical_invoice()
    groups = texts(detail)
    title = (
        f"== PDF invoices on {version}: {len(detail.lines)} lines, {ROUNDS} alternating rounds of "
        f"{PER_ROUND} documents a side =="
    )

    async def portal_side() -> None:
        for _ in range(PER_ROUND):
            pdf.invoice_pdf(detail)

    async def bare_side() -> None:
        for _ in range(PER_ROUND):
            bare_pdf(groups)

    portal_bytes, bare_bytes = pdf.invoice_pdf(detail), bare_pdf(groups)
    started = time.perf_counter()
    portal_round, bare_round = await common.paired_medians(
        portal_side, bare_side, repetitions=ROUNDS, warmup=2
    )
    took = time.perf_counter() - started
    portal_rate, bare_rate = PER_ROUND / portal_round, PER_ROUND / bare_round
    strings = sum(len(row) for rows in groups.values() for row in rows)
    figure = common.at_least(
        f"{common.dialect_of(url)}.pdf_invoices_vs_bare",
        portal_rate / bare_rate,
        TARGET,
        f"portal {portal_rate:,.0f} invoices/s ({common.ms(portal_round / PER_ROUND)} each, "
        f"{len(portal_bytes):,} bytes), bare fpdf2 {bare_rate:,.0f}/s ({common.ms(bare_round / PER_ROUND)}, "
        f"{len(bare_bytes):,} bytes, the same {strings} strings); medians of {ROUNDS} rounds of "
        f"{PER_ROUND}, {took:.1f} s in all",
    )

    async def core_font_side() -> None:
        for _ in range(PER_ROUND):
            bare_pdf(core_groups, core_font=True)

    # the strings as the core font can print them (the bench's text is within Windows-1252 but for the
    # narrow no-break space some locales group with)
    core_groups = {k: [[c.replace("\u202f", "\xa0") for c in row] for row in v] for k, v in groups.items()}
    portal_again, core_round = await common.paired_medians(
        portal_side, core_font_side, repetitions=ROUNDS // 2, warmup=1
    )
    figure.details.append(
        f"not judged: against the bare document in fpdf2's core Helvetica (Windows-1252 only, as before "
        f"issue 16): {(PER_ROUND / portal_again) / (PER_ROUND / core_round):.2f} (that document "
        f"{common.ms(core_round / PER_ROUND)}, {len(bare_pdf(core_groups, core_font=True)):,} bytes)"
    )
    if facturx.has_einvoice(detail):  # the letterhead above has a country: the invoice has an e-invoice

        async def einvoice_side() -> None:
            for _ in range(PER_ROUND):
                facturx.einvoice_pdf(detail)

        einvoice_round, bare_again = await common.paired_medians(
            einvoice_side, bare_side, repetitions=ROUNDS // 2, warmup=1
        )
        figure.details.append(
            "not judged: the Factur-X e-invoice (the same PDF, its EN 16931 XML written, checked against "
            f"the XSD and attached) {PER_ROUND / einvoice_round:,.0f}/s, "
            f"{(PER_ROUND / einvoice_round) / (PER_ROUND / bare_again):.2f} x the bare document"
        )
    return title, [figure]


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))

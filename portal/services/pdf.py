"""PDF invoices, receipts and quotes with fpdf2 (pure pip, no system libraries).

The amounts are the stored integers of the detail objects, formatted with `format_money` in the client's
locale, so the PDF says exactly what the page says.

Font: fpdf2 ships no TTF font, so the PDF uses the core Helvetica font with the Windows-1252 encoding
(Latin-1 plus the euro sign, typographic quotes, dashes and the bullet): "Émile", "Zürich", "€", "£" and
"¥" print as they are. Any other character is made printable by `pdf_text`: typographic spaces become
spaces (the narrow no-break space French amounts use becomes a no-break space), compatibility forms are
folded ("￥" -> "¥", "ﬁ" -> "fi"), accents outside Latin-1 are dropped ("ő" -> "o", "Ł" -> "L"), and what is
still left (Greek, Cyrillic, CJK, emoji...) prints as "?". Text is always drawn as plain text: HTML or
markup in a name or a note appears literally.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, TableCellFillMode
from fpdf.fonts import FontFace

from portal.domain.money import format_money
from portal.services.documents import InvoiceDetail, Letterhead, Party, ReceiptDetail, tax_summary
from portal.services.quotes import QuoteView

ENCODING = "windows-1252"
FONT = "Helvetica"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
DEFAULT_COLOR = (37, 99, 235)
GREY = (90, 90, 90)
PAGE_WIDTH = 180.0  # A4 minus 15 mm margins
_SPACES = {"\u202f": "\xa0", "\u2007": "\xa0", "\u2009": " ", "\u200a": " ", "\u2002": " ", "\u2003": " "}
_DROPPED = set("\u200b\u200c\u200d\u200e\u200f\u061c\ufeff")
_FALLBACK = {"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2044": "/", "\t": " ", "\r": ""}
_FALLBACK.update(zip("ŁłĐđĦħıŦŧŊŋ", "LlDdHhiTtNn", strict=True))  # letters without a decomposition


class _Line(Protocol):
    date: date | None
    description: str
    quantity: str
    unit_price_minor: int
    tax_name: str
    tax_rate: str
    net_minor: int


def _encodable(text: str) -> bool:
    try:
        text.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def pdf_text(text: str) -> str:
    """`text` as the PDF prints it: unchanged within Windows-1252, else folded, stripped or '?'."""
    out: list[str] = []
    for ch in text or "":
        if ch in _DROPPED:
            continue
        ch = _SPACES.get(ch) or _FALLBACK.get(ch, ch)
        if _encodable(ch):
            out.append(ch)
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if _encodable(folded):
            out.append(folded)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(bare if bare and _encodable(bare) else "?")
    return "".join(out)


def _rgb(color: str) -> tuple[int, int, int]:
    """'#2563eb' or '#26e' -> (37, 99, 235); anything else -> the default blue."""
    value = (color or "").strip().lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    try:
        if len(value) != 6:
            raise ValueError(value)
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        return DEFAULT_COLOR


def _ink_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """White text on a dark bar, black on a light one."""
    red, green, blue = rgb
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 160 else (255, 255, 255)


def logo_file(logo_path: str) -> Path | None:
    """The logo as a PNG or JPEG file ('/static/...' or a file path), or None (missing, SVG, other)."""
    if not logo_path:
        return None
    if logo_path.startswith("/static/"):
        candidate = (STATIC_DIR / logo_path.removeprefix("/static/")).resolve()
        if not candidate.is_relative_to(STATIC_DIR):
            return None
    else:
        candidate = Path(logo_path)
    try:
        with candidate.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    return candidate if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")) else None


def _day(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else ""


class _Document(FPDF):
    """A4 page with the organization's footer and page numbers on every page."""

    def __init__(self, org: Letterhead, title: str, *, compress: bool) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.core_fonts_encoding = ENCODING
        self.org = org
        self.set_compression(compress)
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=24)
        self.set_title(pdf_text(title))
        self.set_author(pdf_text(org.name))
        self.set_creator("Billing Portal")
        self.add_page()

    def footer(self) -> None:
        self.set_y(-20)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        if self.org.footer:
            text = " · ".join(line.strip() for line in self.org.footer.splitlines() if line.strip())
            self.multi_cell(PAGE_WIDTH, 3.8, pdf_text(text), align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(PAGE_WIDTH, 4, f"Page {self.page_no()} of {{nb}}", align="C")

    # -- small drawing helpers ----------------------------------------------------------------------
    def text_block(self, text: str, *, width: float, size: float = 9, bold: bool = False, grey: bool = False):
        """Multi-line plain text at the current position."""
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*(GREY if grey else (0, 0, 0)))
        self.multi_cell(width, size * 0.45, pdf_text(text), new_x="LEFT", new_y="NEXT")

    def pair(self, label: str, value: str, *, bold: bool = False, label_width: float = 130) -> None:
        """A right-aligned label and amount, for totals."""
        self.set_x(self.l_margin)
        self.set_font(FONT, "B" if bold else "", 11 if bold else 9.5)
        self.set_text_color(0, 0, 0)
        self.cell(label_width, 6, pdf_text(label), align="R")
        self.cell(PAGE_WIDTH - label_width, 6, pdf_text(value), align="R", new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        """A small section heading."""
        self.ln(3)
        self.set_font(FONT, "B", 10)
        self.set_text_color(0, 0, 0)
        self.cell(PAGE_WIDTH, 6, pdf_text(text), new_x="LMARGIN", new_y="NEXT")


def _letterhead(pdf: _Document) -> None:
    """Logo on the left (when there is a PNG or JPEG), name and address on the right."""
    org, top = pdf.org, pdf.t_margin
    bottom = top
    logo = logo_file(org.logo_path)
    if logo is not None:
        try:
            info = pdf.image(str(logo), x=pdf.l_margin, y=top, h=16)
            bottom = top + info.rendered_height
        except Exception:  # a damaged image file: the document is still worth having
            bottom = top
    pdf.set_xy(pdf.l_margin + 70, top)
    pdf.set_font(FONT, "B", 14)
    pdf.set_text_color(0, 0, 0)
    pdf.multi_cell(110, 6.5, pdf_text(org.name), align="R", new_x="LEFT", new_y="NEXT")
    if org.address:
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(110, 4.2, pdf_text(org.address), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_y(max(bottom, pdf.get_y()) + 5)


def _title_bar(pdf: _Document, title: str, right: str) -> None:
    """A bar in the theme colour with the document's name and, on the right, the key figure."""
    color = _rgb(pdf.org.theme_color)
    pdf.set_fill_color(*color)
    pdf.set_text_color(*_ink_on(color))
    pdf.set_x(pdf.l_margin)
    pdf.set_font(FONT, "B", 15)
    pdf.cell(PAGE_WIDTH / 2, 12, " " + pdf_text(title), fill=True)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(PAGE_WIDTH / 2, 12, pdf_text(right) + " ", fill=True, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(5)


def _parties(pdf: _Document, caption: str, client: Party, facts: Sequence[tuple[str, str]]) -> None:
    """The client on the left, the document's facts (number, dates, status) on the right."""
    top = pdf.get_y()
    pdf.set_xy(pdf.l_margin, top)
    pdf.text_block(caption, width=95, size=8, bold=True, grey=True)
    pdf.text_block(client.name, width=95, size=10.5, bold=True)
    for extra in (client.company, client.address, client.email):
        if extra:
            pdf.text_block(extra, width=95, size=9)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    for label, value in facts:
        pdf.set_x(pdf.l_margin + 100)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*GREY)
        pdf.cell(35, 5, pdf_text(label))
        pdf.set_font(FONT, "B", 9)
        pdf.set_text_color(0, 0, 0)
        pdf.cell(45, 5, pdf_text(value), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _table(pdf: _Document, headings: Sequence[str], rows: Sequence[Sequence[str]], widths, aligns) -> None:
    """A table with a tinted heading row; long descriptions wrap."""
    color = _rgb(pdf.org.theme_color)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(210, 210, 210)
    pdf.set_fill_color(255, 255, 255)  # the table takes its default cell background from the current fill
    with pdf.table(
        col_widths=widths,
        width=PAGE_WIDTH,
        text_align=aligns,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", color=_ink_on(color), fill_color=color),
        cell_fill_color=(246, 247, 249),
        cell_fill_mode=TableCellFillMode.ROWS,
        line_height=5,
        padding=1.2,
        markdown=False,
    ) as table:
        table.row([pdf_text(h) for h in headings])
        for row in rows:
            table.row([pdf_text(cell) for cell in row])
    pdf.ln(3)


def _line_rows(lines: Sequence[_Line], currency: str, locale: str) -> list[list[str]]:
    return [
        [
            _day(line.date),
            line.description,
            line.quantity,
            format_money(line.unit_price_minor, currency, locale),
            f"{line.tax_name} {line.tax_rate}%".strip(),
            format_money(line.net_minor, currency, locale),
        ]
        for line in lines
    ]


LINE_HEADINGS = ("Date", "Description", "Qty", "Unit price", "Tax", "Amount")
LINE_WIDTHS = (22, 66, 14, 27, 23, 28)
LINE_ALIGNS = ("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")


def _notes(pdf: _Document, title: str, text: str) -> None:
    if text.strip():
        pdf.heading(title)
        pdf.text_block(text, width=PAGE_WIDTH, size=9)


def _finish(pdf: _Document) -> bytes:
    return bytes(pdf.output())


def invoice_pdf(detail: InvoiceDetail, *, compress: bool = True) -> bytes:
    """The invoice as a PDF (`compress=False` keeps the page text searchable, for tests)."""
    money = lambda amount: format_money(amount, detail.currency, detail.locale)  # noqa: E731
    pdf = _Document(detail.organization, detail.title, compress=compress)
    _letterhead(pdf)
    _title_bar(pdf, "INVOICE", f"Amount due {money(detail.amount_due_minor)}")
    facts = [("Invoice number", detail.number), ("Issued", _day(detail.issue_date))]
    facts += [
        ("Due", _day(detail.due_date)),
        ("Status", detail.display_status.replace("_", " ").capitalize()),
    ]
    _parties(pdf, "BILL TO", detail.client, facts)
    rows = _line_rows(detail.lines, detail.currency, detail.locale)
    _table(pdf, LINE_HEADINGS, rows, LINE_WIDTHS, LINE_ALIGNS)
    pdf.pair("Subtotal", money(detail.subtotal_minor))
    for tax in detail.tax_by_rate:
        pdf.pair(tax.label, money(tax.tax_minor))
    pdf.pair("Total", money(detail.total_minor), bold=True)
    for paid in detail.payments:
        label = f"Paid {_day(paid.date)} · {paid.method}" + (f" · {paid.reference}" if paid.reference else "")
        pdf.pair(label, money(-paid.amount_minor))
    for credit in detail.credits:
        pdf.pair(f"Credit applied {_day(credit.date)}", money(-credit.amount_minor))
    for back in detail.refunds:
        pdf.pair(f"Refunded {_day(back.date)}", money(back.amount_minor))
    pdf.pair("Amount due", money(detail.amount_due_minor), bold=True)
    _notes(pdf, "Notes", detail.notes)
    if detail.amount_due_minor > 0 and detail.organization.bank_details.strip():
        pdf.heading("Pay by bank transfer")
        pdf.text_block(detail.organization.bank_details, width=PAGE_WIDTH, size=9)
        pdf.text_block(f"Reference: {detail.number}", width=PAGE_WIDTH, size=9, bold=True)
    return _finish(pdf)


def receipt_pdf(detail: ReceiptDetail, *, compress: bool = True) -> bytes:
    """The receipt of a payment as a PDF."""
    money = lambda amount: format_money(amount, detail.currency, detail.locale)  # noqa: E731
    pdf = _Document(detail.organization, detail.title, compress=compress)
    _letterhead(pdf)
    _title_bar(pdf, "RECEIPT", f"Received {money(detail.amount_minor)}")
    facts = [("Receipt number", detail.number), ("Date received", _day(detail.date))]
    facts += [("Method", detail.method)]
    if detail.reference:
        facts.append(("Reference", detail.reference))
    facts.append(("Status", detail.status_label))
    _parties(pdf, "RECEIVED FROM", detail.client, facts)
    if detail.settled:
        rows = [[f"Invoice {s.number}", money(s.amount_minor)] for s in detail.settled]
        _table(pdf, ("Applied to", "Amount"), rows, (140, 40), ("LEFT", "RIGHT"))
    pdf.pair("Amount received", money(detail.amount_minor), bold=True)
    if detail.credit_created_minor:
        pdf.pair("Added to your credit", money(detail.credit_created_minor))
    for refund in detail.refunds:
        label = f"Refunded {_day(refund.date)}" + (f" · {refund.reason}" if refund.reason else "")
        pdf.pair(label, money(-refund.amount_minor))
    if detail.refunded_minor:
        pdf.pair("Kept", money(detail.kept_minor), bold=True)
    pdf.ln(4)
    pdf.text_block("Thank you for your payment.", width=PAGE_WIDTH, size=10)
    return _finish(pdf)


def quote_pdf(
    view: QuoteView, *, organization: Letterhead, client: Party, locale: str = "en", compress: bool = True
) -> bytes:
    """An estimate or proposal as a PDF (lines, taxes, total, validity and terms)."""
    money = lambda amount: format_money(amount, view.currency, locale)  # noqa: E731
    pdf = _Document(organization, view.label, compress=compress)
    _letterhead(pdf)
    _title_bar(pdf, view.kind.upper(), f"Total {money(view.total_minor)}")
    facts = [("Number", view.number), ("Issued", _day(view.issue_date))]
    if view.valid_until:
        facts.append(("Valid until", _day(view.valid_until)))
    facts.append(("Status", view.status.capitalize()))
    _parties(pdf, "PREPARED FOR", client, facts)
    if view.title:
        pdf.text_block(view.title, width=PAGE_WIDTH, size=11, bold=True)
        pdf.ln(2)
    _table(pdf, LINE_HEADINGS, _line_rows(view.lines, view.currency, locale), LINE_WIDTHS, LINE_ALIGNS)
    pdf.pair("Subtotal", money(view.subtotal_minor))
    for tax in tax_summary(view.lines):
        pdf.pair(tax.label, money(tax.tax_minor))
    pdf.pair("Total", money(view.total_minor), bold=True)
    _notes(pdf, "Terms", view.terms)
    return _finish(pdf)

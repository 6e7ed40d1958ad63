"""PDF invoices, receipts and quotes with fpdf2 (pure pip, no system libraries).

The amounts are the stored integers of the detail objects, formatted with `format_money` in the client's
locale, so the PDF says exactly what the page says.

Fonts (`pdf_fonts`): the PDF embeds Lato (Latin, Greek, Cyrillic) and, when a text needs it, Noto Sans
CJK (Chinese, Japanese), subsets of both, so "Zażółć gęślą jaźń", "Ελληνικά", "Русский", "東京" print and
copy as they are. `pdf_text` makes the rest printable: tabs become spaces, zero-width and direction
marks are dropped, a character none of the fonts has is folded to one that is ("ﬃ" is in Lato; a
mathematical bold letter becomes the plain one) and else printed as "?" (Arabic and Hebrew, which need
shaping and right-to-left layout; emoji). Text is always drawn as plain text: HTML or markup in a name
or a note appears literally.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Protocol

from fpdf import FPDF
from fpdf.enums import OutputIntentSubType
from fpdf.output import PDFICCProfile
from PIL import ImageCms

from portal import i18n
from portal.billing import pdf_fonts
from portal.billing.documents import (
    InvoiceDetail,
    Letterhead,
    Party,
    ReceiptDetail,
    mention_notes,
    tax_summary,
)
from portal.billing.quotes import QuoteView
from portal.core.organization import UPLOADS_URL, uploaded_file
from portal.domain.mentions import party_numbers
from portal.domain.money import format_money
from portal.domain.presentation import InvoicePresentation, TotalRow, sheet
from portal.domain.presentation import totals as totals_rows
from portal.domain.status import label as status_label
from portal.domain.status import local_label
from portal.i18n import N_, translate

FONT = pdf_fonts.CORE
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
DEFAULT_COLOR = (37, 99, 235)
GREY = (90, 90, 90)
PAGE_WIDTH = 180.0  # A4 minus 15 mm margins
_DROPPED = set("\u200b\u200c\u200d\u200e\u200f\u061c\ufeff")
_FALLBACK = {"\t": " ", "\r": ""}


class _Line(Protocol):
    date: date | None
    description: str
    quantity: str
    unit_price_minor: int
    tax_name: str
    tax_rate: str
    net_minor: int


def pdf_text(text: str) -> str:
    """`text` as the PDF prints it: unchanged where the fonts have every character, else folded or '?'."""
    if text.isascii() and "\t" not in text and "\r" not in text:  # nearly always: nothing to change
        return text
    out: list[str] = []
    for ch in text or "":
        if ch in _DROPPED:
            continue
        ch = _FALLBACK.get(ch, ch)
        if not ch or ch == "\n" or pdf_fonts.covers(ch):
            out.append(ch)
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if folded and all(map(pdf_fonts.covers, folded)):
            out.append(folded)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(bare if bare and all(map(pdf_fonts.covers, bare)) else "?")
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
    """The PNG or JPEG behind '/uploads/...', '/static/...' or a file path, or None (missing, SVG, other)."""
    if not logo_path:
        return None
    if logo_path.startswith(UPLOADS_URL):
        candidate = uploaded_file(logo_path)
        if candidate is None:
            return None
    elif logo_path.startswith("/static/"):
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


def _day(value: date | None, locale: str = "en") -> str:
    """'05 Nov 2026' / '05 nov. 2026'."""
    return i18n.format_date(value, locale) if value else ""


class _Document(FPDF):
    """A4 page with the organization's footer and page numbers on every page."""

    def __init__(self, org: Letterhead, title: str, *, compress: bool, locale: str = "en") -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        pdf_fonts.add_core(self)
        self.org = org
        self.locale = locale
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
            self.lines(pdf_text(text), width=PAGE_WIDTH, height=3.8, align="C")
            self.set_x(self.l_margin)
        page = translate("Page {page} of {pages}", self.locale, page=self.page_no(), pages="{nb}")
        self.cell(PAGE_WIDTH, 4, page, align="C")

    def normalize_text(self, text: str) -> str:
        """fpdf2 calls this with every string it draws or measures: the fallback fonts join here."""
        if not text.isascii():
            pdf_fonts.use_fallbacks_for(self, text, self.font_style)
        return super().normalize_text(text)

    def cell(self, *args, **kwargs):
        """fpdf2's cell; with fallback fonts, the page's font is set first, outside the cell's graphics
        state: fpdf2 2.8.9 sets it inside that state when a cell starts in a fallback font, and takes it
        as set for the cells after, which then drew (and copied) in whatever font the state restored."""
        if self._fallback_font_ids and not self.current_font_is_set_on_page:
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))
        return super().cell(*args, **kwargs)

    def get_fallback_font(self, char: str, style: str = "") -> str | None:
        """The face that draws a character the core family lacks (added to the document on first use)."""
        return pdf_fonts.fallback_for(self, char, style)

    # -- small drawing helpers ----------------------------------------------------------------------
    def wrap(self, text: str, width: float) -> list[str]:
        """`text` as the lines that fit a cell `width` wide in the current font: its own line breaks, then
        breaks between words (a word wider than the cell is cut). Each width is measured once, so this
        costs in proportion to the text (fpdf2's `multi_cell` measures each line again for every
        character it adds: most of a document's time went there)."""
        room = width - 2 * self.c_margin
        space = self.width_of(" ")
        out: list[str] = []
        for paragraph in text.split("\n"):
            if self.width_of(paragraph) <= room:
                out.append(paragraph)
                continue
            line, used = "", 0.0
            for word in paragraph.split(" "):
                size = self.width_of(word)
                if line and used + space + size <= room:
                    line, used = f"{line} {word}", used + space + size
                    continue
                if line:
                    out.append(line)
                while size > room and len(word) > 1:  # a word wider than the cell: cut it
                    cut = len(word) - 1
                    while cut > 1 and self.width_of(word[:cut]) > room:
                        cut -= 1
                    out.append(word[:cut])
                    word = word[cut:]
                    size = self.width_of(word)
                line, used = word, size
            out.append(line)
        return out

    def width_of(self, text: str) -> float:
        """The width of `text` in the current font (fpdf2's `get_string_width` builds styled fragments
        for every call; the font's own widths are all a plain text needs)."""
        if not text.isascii() and not pdf_fonts.core_chars().issuperset(text):
            return self.get_string_width(text)  # measured across the fallback fonts
        return self.current_font.get_text_width(text, self.font_size_pt, None)[1] / self.k

    def lines(self, text: str, *, width: float, height: float, align: str = "L") -> None:
        """Text wrapped to `width`, one cell per line, from the current position down (x kept)."""
        for line in self.wrap(text, width):
            self.cell(width, height, line, align=align, new_x="LEFT", new_y="NEXT")

    def text_block(self, text: str, *, width: float, size: float = 9, bold: bool = False, grey: bool = False):
        """Multi-line plain text at the current position."""
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*(GREY if grey else (0, 0, 0)))
        self.lines(pdf_text(text), width=width, height=size * 0.45)

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


def letterhead_identity(org: Letterhead, locale: str) -> list[str]:
    """The lines under the organization's address: its legal name (when not its name) and form, then its
    register and VAT numbers; each line only when it has something."""
    legal = [part for part in (org.legal_name if org.legal_name != org.name else "", org.legal_form) if part]
    numbers = party_numbers(org.company_id, org.vat_number, org.country, locale)
    return [" · ".join(parts) for parts in (legal, numbers) if parts]


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
    pdf.lines(pdf_text(org.name), width=110, height=6.5, align="R")
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*GREY)
    if org.address:
        pdf.lines(pdf_text(org.address), width=110, height=4.2, align="R")
    for line in letterhead_identity(org, pdf.locale):
        pdf.lines(pdf_text(line), width=110, height=4.2, align="R")
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
    numbers = party_numbers(client.company_id, client.vat_number, client.country, pdf.locale)
    for extra in (client.company, client.address, client.email, " · ".join(numbers)):
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


TABLE_LINE = 5.0  # mm per line of text in a table cell
TABLE_PADDING = 1.2  # mm around a cell's text
TABLE_STRIPE = (246, 247, 249)  # the background of every other row
TABLE_RULE = (210, 210, 210)  # the lines between rows


def _table(pdf: _Document, headings: Sequence[str], rows: Sequence[Sequence[str]], widths, aligns) -> None:
    """A table with a heading row in the theme colour, every other row tinted and a rule between rows;
    long texts wrap. Drawn with one `cell` per line of text: fpdf2's own `table()` lays every cell out
    twice with `multi_cell`, which cost most of a document's time."""
    color = _rgb(pdf.org.theme_color)
    aligns = [{"LEFT": "L", "RIGHT": "R", "CENTER": "C"}.get(str(a).upper(), "L") for a in aligns]
    margin, pdf.c_margin = pdf.c_margin, 0  # a cell's text is inset by the padding alone
    pdf.set_draw_color(*TABLE_RULE)
    pdf.set_font(FONT, "B", 9)
    heading = _wrapped(pdf, headings, widths)
    _table_row(pdf, heading, widths, aligns, fill=color, ink=_ink_on(color))
    for n, row in enumerate(rows):
        pdf.set_font(FONT, "", 9)
        cells = _wrapped(pdf, row, widths)
        if _height(cells) > pdf.page_break_trigger - pdf.get_y():
            pdf.add_page()  # the row goes to the next page, under the headings again
            pdf.set_font(FONT, "B", 9)
            _table_row(pdf, heading, widths, aligns, fill=color, ink=_ink_on(color))
            pdf.set_font(FONT, "", 9)
        _table_row(pdf, cells, widths, aligns, fill=TABLE_STRIPE if n % 2 == 0 else None, ink=(0, 0, 0))
        if n < len(rows) - 1:
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + sum(widths), pdf.get_y())
    pdf.c_margin = margin
    pdf.set_text_color(0, 0, 0)
    pdf.set_x(pdf.l_margin)
    pdf.ln(3)


def _wrapped(pdf: _Document, cells: Sequence[str], widths: Sequence[float]) -> list[list[str]]:
    """Each cell's text as the lines it takes in its column (current font)."""
    return [pdf.wrap(pdf_text(cell), w - 2 * TABLE_PADDING) for cell, w in zip(cells, widths, strict=True)]


def _height(cells: Sequence[Sequence[str]]) -> float:
    return max(len(lines) for lines in cells) * TABLE_LINE + 2 * TABLE_PADDING


def _table_row(
    pdf: _Document,
    cells: Sequence[Sequence[str]],
    widths: Sequence[float],
    aligns: Sequence[str],
    *,
    fill: tuple[int, int, int] | None,
    ink: tuple[int, int, int],
) -> None:
    """One row at the current height, in the current font: its background, then each cell's lines,
    centred in the row's height."""
    height = _height(cells)
    top, x = pdf.get_y(), pdf.l_margin
    if fill is not None:
        pdf.set_fill_color(*fill)
        pdf.rect(x, top, sum(widths), height, style="F")
    pdf.set_text_color(*ink)
    for lines, width, align in zip(cells, widths, aligns, strict=True):
        first = top + (height - len(lines) * TABLE_LINE) / 2
        for k, line in enumerate(lines):
            if line:
                pdf.set_xy(x + TABLE_PADDING, first + k * TABLE_LINE)
                pdf.cell(width - 2 * TABLE_PADDING, TABLE_LINE, line, align=align)
        x += width
    pdf.set_xy(pdf.l_margin, top + height)


def _line_rows(lines: Sequence[_Line], currency: str, locale: str) -> list[list[str]]:
    return [
        [
            _day(line.date, locale),
            line.description,
            line.quantity,
            format_money(line.unit_price_minor, currency, locale),
            f"{line.tax_name} {line.tax_rate}%".strip(),
            format_money(line.net_minor, currency, locale),
        ]
        for line in lines
    ]


LINE_HEADINGS = (N_("Date"), N_("Description"), N_("Qty"), N_("Unit price"), N_("Tax"), N_("Amount"))
LINE_WIDTHS = (22, 66, 14, 27, 23, 28)
QUOTE_KINDS = {"estimate": N_("ESTIMATE"), "proposal": N_("PROPOSAL")}
LINE_ALIGNS = ("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
PRESENTATION_WIDTHS = {
    "date": 20,
    "description": 0,  # takes what the others leave
    "quantity": 11,
    "unit_price": 23,
    "net": 23,
    "tax_rate": 20,
    "tax": 20,
    "gross": 23,
}


def _notes(pdf: _Document, title: str, text: str) -> None:
    if text.strip():
        pdf.heading(title)
        pdf.text_block(text, width=PAGE_WIDTH, size=9)


def _finish(pdf: _Document) -> bytes:
    return bytes(pdf.output())


def _presentation(pdf: _Document, presentation: InvoicePresentation, locale: str) -> None:
    """The invoice's lines and totals block, as every view of the invoice shows them."""
    _lines_table(pdf, presentation, locale)
    _totals(pdf, totals_rows(presentation, locale))


def _lines_table(pdf: _Document, presentation: InvoicePresentation, locale: str) -> None:
    """The lines table of an invoice's presentation (or a credit note's)."""
    written = sheet(presentation, locale)
    keys = [c.key for c in written.columns]
    widths = [PRESENTATION_WIDTHS[key] for key in keys]
    widths[keys.index("description")] += PAGE_WIDTH - sum(widths)
    aligns = ["RIGHT" if c.numeric else "LEFT" for c in written.columns]
    rows = [[row[key] for key in keys] for row in written.rows]
    _table(pdf, [c.label for c in written.columns], rows, widths, aligns)


def _totals(pdf: _Document, rows: Sequence[TotalRow]) -> None:
    for row in rows:
        pdf.pair(row.label, row.amount, bold=row.strong)


def _applied(pdf: _Document, detail: InvoiceDetail, locale: str) -> None:
    """Each payment, use of credit and refund behind the totals, with its date."""
    money = lambda amount: format_money(amount, detail.currency, locale)  # noqa: E731
    rows = [
        [
            _day(paid.date, locale),
            translate(paid.method, locale) + (f" · {paid.reference}" if paid.reference else ""),
            money(paid.amount_minor),
        ]
        for paid in detail.payments
    ]
    rows += [
        [_day(credit.date, locale), translate("Credit applied", locale), money(credit.amount_minor)]
        for credit in detail.credits
    ]
    rows += [
        [_day(back.date, locale), translate("Refunded", locale), money(-back.amount_minor)]
        for back in detail.refunds
    ]
    if rows:
        pdf.heading(translate("Payments and credit applied", locale))
        headings = [translate(h, locale) for h in ("Date", "Description", "Amount")]
        _table(pdf, headings, rows, (30, 110, 40), ("LEFT", "LEFT", "RIGHT"))


@cache
def _srgb() -> bytes:
    """An sRGB ICC profile (LittleCMS's, through Pillow: 588 bytes)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _srgb_output_intent(pdf: _Document) -> None:
    """The colours are sRGB: the output intent PDF/A asks of a document drawn in DeviceRGB."""
    pdf.add_output_intent(
        OutputIntentSubType.PDFA,
        output_condition_identifier="sRGB IEC61966-2.1",
        registry_name="http://www.color.org",
        dest_output_profile=PDFICCProfile(_srgb(), n=3, alternate="DeviceRGB"),
        info="sRGB IEC61966-2.1",
    )


def invoice_pdf(detail: InvoiceDetail, *, compress: bool = True, archival: bool = False) -> bytes:
    """The invoice as a PDF in the client's locale (`compress=False` keeps the text searchable, for tests;
    `archival` adds the sRGB output intent that PDF/A asks for, for the Factur-X e-invoice)."""
    locale = detail.locale
    money = lambda amount: format_money(amount, detail.currency, locale)  # noqa: E731
    day = lambda value: _day(value, locale)  # noqa: E731
    title = translate("Invoice {number}", locale, number=detail.number)
    pdf = _Document(detail.organization, title, compress=compress, locale=locale)
    if archival:
        _srgb_output_intent(pdf)
    _letterhead(pdf)
    _title_bar(
        pdf,
        translate("INVOICE", locale),
        translate("Amount due {amount}", locale, amount=money(detail.amount_due_minor)),
    )
    facts = [
        (translate("Invoice number", locale), detail.number),
        (translate("Issued", locale), day(detail.issue_date)),
    ]
    facts += [
        (translate("Due", locale), day(detail.due_date)),
        (translate("Status", locale), local_label(detail.display_status, locale)),
    ]
    _parties(pdf, translate("BILL TO", locale), detail.client, facts)
    _presentation(pdf, detail.presentation, locale)
    _applied(pdf, detail, locale)
    _notes(pdf, translate("Notes", locale), detail.notes)
    if detail.amount_due_minor > 0 and detail.organization.bank_details.strip():
        pdf.heading(translate("Pay by bank transfer", locale))
        pdf.text_block(detail.organization.bank_details, width=PAGE_WIDTH, size=9)
        pdf.text_block(
            translate("Reference: {reference}", locale, reference=detail.number),
            width=PAGE_WIDTH,
            size=9,
            bold=True,
        )
    _mentions(pdf, detail)
    return _finish(pdf)


def _mentions(pdf: _Document, detail: InvoiceDetail) -> None:
    lines = [text for _code, text in mention_notes(detail)]
    if lines:
        pdf.ln(4)
        pdf.text_block("\n".join(lines), width=PAGE_WIDTH, size=7.5, grey=True)


def receipt_pdf(detail: ReceiptDetail, *, compress: bool = True) -> bytes:
    """The receipt of a payment as a PDF, in the client's locale."""
    locale = detail.locale
    money = lambda amount: format_money(amount, detail.currency, locale)  # noqa: E731
    title = translate("Receipt {number}", locale, number=detail.number)
    pdf = _Document(detail.organization, title, compress=compress, locale=locale)
    _letterhead(pdf)
    _title_bar(
        pdf,
        translate("RECEIPT", locale),
        translate("Received {amount}", locale, amount=money(detail.amount_minor)),
    )
    facts = [
        (translate("Receipt number", locale), detail.number),
        (translate("Date received", locale), _day(detail.date, locale)),
    ]
    facts += [(translate("Method", locale), translate(detail.method, locale))]
    if detail.reference:
        facts.append((translate("Reference", locale), detail.reference))
    facts.append((translate("Status", locale), translate(detail.status_label, locale)))
    _parties(pdf, translate("RECEIVED FROM", locale), detail.client, facts)
    if detail.settled:
        rows = [
            [translate("Invoice {number}", locale, number=s.number), money(s.amount_minor)]
            for s in detail.settled
        ]
        _table(
            pdf,
            (translate("Applied to", locale), translate("Amount", locale)),
            rows,
            (140, 40),
            ("LEFT", "RIGHT"),
        )
    pdf.pair(translate("Amount received", locale), money(detail.amount_minor), bold=True)
    if detail.credit_created_minor:
        pdf.pair(translate("Added to your credit", locale), money(detail.credit_created_minor))
    for refund in detail.refunds:
        label = translate("Refunded {date}", locale, date=_day(refund.date, locale))
        pdf.pair(label + (f" · {refund.reason}" if refund.reason else ""), money(-refund.amount_minor))
    if detail.refunded_minor:
        pdf.pair(translate("Kept", locale), money(detail.kept_minor), bold=True)
    for settled in detail.settled:
        if settled.presentation is not None:
            pdf.heading(translate("Invoice {number} now stands as follows:", locale, number=settled.number))
            _totals(pdf, totals_rows(settled.presentation, locale))
    pdf.ln(4)
    pdf.text_block(translate("Thank you for your payment.", locale), width=PAGE_WIDTH, size=10)
    return _finish(pdf)


def quote_pdf(
    view: QuoteView, *, organization: Letterhead, client: Party, locale: str = "en", compress: bool = True
) -> bytes:
    """An estimate or proposal as a PDF (lines, taxes, total, validity and terms)."""
    money = lambda amount: format_money(amount, view.currency, locale)  # noqa: E731
    pdf = _Document(organization, view.label, compress=compress, locale=locale)
    _letterhead(pdf)
    kind = translate(QUOTE_KINDS[view.kind], locale) if view.kind in QUOTE_KINDS else view.kind.upper()
    _title_bar(pdf, kind, translate("Total {amount}", locale, amount=money(view.total_minor)))
    facts = [
        (translate("Number", locale), view.number),
        (translate("Issued", locale), _day(view.issue_date, locale)),
    ]
    if view.valid_until:
        facts.append((translate("Valid until", locale), _day(view.valid_until, locale)))
    facts.append((translate("Status", locale), translate(status_label(view.display_status), locale)))
    if view.decision_date is not None:  # approved, declined or expired: the decision and its day
        facts.append((translate("Decided", locale), _day(view.decision_date, locale)))
    _parties(pdf, translate("PREPARED FOR", locale), client, facts)
    if view.decision_comment:
        _notes(pdf, translate("Client's comment", locale), view.decision_comment)
    if view.title:
        pdf.text_block(view.title, width=PAGE_WIDTH, size=11, bold=True)
        pdf.ln(2)
    headings = [translate(h, locale) for h in LINE_HEADINGS]
    _table(pdf, headings, _line_rows(view.lines, view.currency, locale), LINE_WIDTHS, LINE_ALIGNS)
    pdf.pair(translate("Subtotal", locale), money(view.subtotal_minor))
    for tax in tax_summary(view.lines):
        pdf.pair(tax.label, money(tax.tax_minor))
    pdf.pair(translate("Total", locale), money(view.total_minor), bold=True)
    _notes(pdf, translate("Terms", locale), view.terms)
    return _finish(pdf)

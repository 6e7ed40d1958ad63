"""Email templates: blocks (paragraphs, a button, a details table, a quoted note) rendered into one HTML
and one plain-text body with the organization's logo and colour.

Escaping happens here and only here: every value that reaches HTML goes through `html.escape` (names,
notes, descriptions, translated sentences, URLs), so a client called `<script>` is shown as text.
Translated sentences are escaped *before* their values are put in, so a value can be made bold without
letting the value itself carry markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from portal.i18n import normalize_locale, translate
from portal.mail.templates import layout

DEFAULT_COLOR = "#2563eb"
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _multiline(value: str) -> str:
    """User text with its line breaks kept: escaped, then each newline becomes <br>."""
    return "<br>\n".join(_e(line) for line in value.strip().splitlines())


def safe_color(value: str) -> str:
    """The colour if it is '#rrggbb', else the default (a theme colour never injects CSS)."""
    return value if _HEX_COLOR.match(value or "") else DEFAULT_COLOR


def on_color(color: str) -> str:
    """Black or white, whichever reads better on `color` (WCAG relative luminance)."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    color = safe_color(color)
    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#111827" if luminance > 0.45 else "#ffffff"


def _is_web_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


@dataclass(frozen=True)
class Brand:
    """What the organization puts on every email."""

    name: str
    color: str
    logo_url: str
    address: str = ""


@dataclass(frozen=True)
class Piece:
    """A sentence in both forms: plain text, and HTML that is already escaped."""

    text: str
    html: str


def phrase(message: str, locale: str, /, *, strong: Sequence[str] = (), **values: Any) -> Piece:
    """Translate `message` (marked with N_ by the caller) and fill in `values`; those named in `strong`
    are bold in HTML. The translated sentence and every value are escaped separately."""
    pattern = translate(message, locale)  # no values: the translated pattern, placeholders intact
    text = pattern.format(**values) if values else pattern
    markup = {name: _e(value) for name, value in values.items()}
    markup.update({name: f"<strong>{markup[name]}</strong>" for name in strong if name in markup})
    return Piece(text, _e(pattern).format(**markup) if values else _e(pattern))


def words(value: str) -> Piece:
    """User text (a description, a note) as it is: escaped for HTML, line breaks kept."""
    return Piece(value.strip(), _multiline(value))


@dataclass(frozen=True)
class Paragraph:
    piece: Piece


@dataclass(frozen=True)
class Button:
    """A call to action; the URL is also written out for mail programs that hide buttons."""

    label: str
    url: str
    fallback: str  # e.g. "If the button does not work, open this address:"


@dataclass(frozen=True)
class Details:
    """Label/value rows (invoice number, amount, due date...)."""

    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Note:
    """User text quoted under a label (the invoice's notes, a decline reason)."""

    label: str
    content: str


@dataclass(frozen=True)
class Table:
    """A table with titled columns (an invoice's lines): `numeric` columns are right-aligned; in plain text
    each row is its first cell, then the others as 'Title: value'."""

    headings: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: Sequence[bool] = ()


Block = Paragraph | Button | Details | Note | Table


@dataclass(frozen=True)
class Content:
    """One email's words, before layout."""

    locale: str
    subject: str
    heading: str
    blocks: Sequence[Block]
    footer: Sequence[str] = field(default_factory=tuple)


def _block_html(block: Block, brand: Brand) -> str:
    color = safe_color(brand.color)
    if isinstance(block, Paragraph):
        return layout.PARAGRAPH.substitute(content=block.piece.html)
    if isinstance(block, Button):
        if not _is_web_url(block.url):  # never a javascript: or data: href
            return layout.PARAGRAPH.substitute(content=f"{_e(block.label)}: {_e(block.url)}")
        return layout.BUTTON.substitute(
            color=color,
            on_color=on_color(color),
            muted=layout.MUTED,
            url=_e(block.url),
            label=_e(block.label),
            fallback=_e(block.fallback),
            url_text=_e(block.url),
        )
    if isinstance(block, Table):
        return _table_html(block)
    if isinstance(block, Details):
        rows = "\n".join(
            layout.DETAIL_ROW.substitute(muted=layout.MUTED, label=_e(label), value=_e(value))
            for label, value in block.rows
        )
        return layout.DETAILS.substitute(rows=rows)
    return layout.NOTE.substitute(
        color=color, muted=layout.MUTED, label=_e(block.label), content=_multiline(block.content)
    )


def _table_html(block: Table) -> str:
    def align(index: int) -> str:
        return "right" if index < len(block.numeric) and block.numeric[index] else "left"

    head = "".join(
        layout.TABLE_HEAD.substitute(muted=layout.MUTED, align=align(i), content=_e(title))
        for i, title in enumerate(block.headings)
    )
    cells = (
        "".join(layout.TABLE_CELL.substitute(align=align(i), content=_e(cell)) for i, cell in enumerate(row))
        for row in block.rows
    )
    body = "\n".join(f"<tr>{row}</tr>" for row in cells)
    return layout.TABLE.substitute(head=head, rows=body)


def _table_text(block: Table) -> str:
    out = []
    for row in block.rows:
        first, *rest = row
        pairs = [f"{title}: {cell}" for title, cell in zip(block.headings[1:], rest, strict=False) if cell]
        out.append(f"{first}\n  " + " · ".join(pairs) if pairs else first)
    return "\n".join(out)


def _block_text(block: Block) -> str:
    if isinstance(block, Table):
        return _table_text(block)
    if isinstance(block, Paragraph):
        return block.piece.text
    if isinstance(block, Button):
        return f"{block.label}:\n{block.url}"
    if isinstance(block, Details):
        width = max((len(label) for label, _ in block.rows), default=0)
        return "\n".join(f"{label + ':':<{width + 1}}  {value}" for label, value in block.rows)
    quoted = "\n".join(f"> {line}" for line in block.content.strip().splitlines())
    return f"{block.label}\n{quoted}"


def render_html(content: Content, brand: Brand) -> str:
    """The HTML body: logo and name on the theme colour, the blocks, the footer."""
    color = safe_color(brand.color)
    sentences = [b.piece.text for b in content.blocks if isinstance(b, Paragraph)]
    first = sentences[1] if len(sentences) > 1 else "".join(sentences)  # past the greeting
    footer = [brand.name, *brand.address.strip().splitlines(), *content.footer]
    return layout.PAGE.substitute(
        lang=_e(normalize_locale(content.locale)),
        title=_e(content.subject),
        preheader=_e(first),
        font=layout.FONT,
        color=color,
        on_color=on_color(color),
        muted=layout.MUTED,
        logo_url=_e(brand.logo_url),
        org_name=_e(brand.name),
        heading=_e(content.heading),
        body="\n".join(_block_html(block, brand) for block in content.blocks),
        footer="\n".join(layout.FOOTER_LINE.substitute(content=_e(line)) for line in footer if line.strip()),
    )


def render_text(content: Content, brand: Brand) -> str:
    """The plain-text body: the same words, links written out."""
    footer = [brand.name, *brand.address.strip().splitlines(), *content.footer]
    return layout.TEXT.substitute(
        org_name=brand.name,
        rule="=" * max(len(brand.name), 3),
        heading=content.heading,
        body="\n\n".join(_block_text(block) for block in content.blocks),
        signature_dash="-- ",
        footer="\n".join(line for line in footer if line.strip()),
    )


__all__ = [
    "Block",
    "Brand",
    "Button",
    "Content",
    "Details",
    "Note",
    "Paragraph",
    "Piece",
    "Table",
    "on_color",
    "phrase",
    "render_html",
    "render_text",
    "safe_color",
    "words",
]

"""The text the portal's PDFs draw, read back as a reader would copy it: through each embedded font's
ToUnicode map (pypdf parses the PDF and its content streams, compressed or not).

`pdf_strings` gives one string per text object: fpdf2 draws each cell (a label, an amount, a line of a
wrapped description) as one, so a cell that mixes fonts (Latin and Japanese) still reads as one string.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from pypdf.generic import ContentStream, IndirectObject

_PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")


def _to_unicode(font) -> dict[int, str] | None:
    """code -> text from a Type0 font's ToUnicode CMap (fpdf2 writes bfchar pairs), or None."""
    if isinstance(font, IndirectObject):
        font = font.get_object()
    if "/ToUnicode" not in font:
        return None
    cmap = font["/ToUnicode"].get_object().get_data()
    pairs = _PAIR.findall(cmap)
    return {int(code, 16): bytes.fromhex(text.decode()).decode("utf-16-be") for code, text in pairs}


def _decode(raw, mapping: dict[int, str] | None) -> str:
    data = bytes(raw.original_bytes)  # a byte string or one pypdf took for text: the bytes as drawn
    if mapping is None:  # a core font: one byte a character, Windows-1252
        return data.decode("cp1252")
    codes = (int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    return "".join(mapping.get(code, "\ufffd") for code in codes)


def pdf_strings(data: bytes) -> list[str]:
    """The strings drawn on every page, one per text object, in drawing order."""
    reader = PdfReader(io.BytesIO(data))
    found: list[str] = []
    for page in reader.pages:
        resources = page["/Resources"].get_object()
        fonts = {name: _to_unicode(font) for name, font in resources.get("/Font", {}).items()}
        font: dict[int, str] | None = None
        saved: list[dict[int, str] | None] = []  # the font is part of the graphics state that q and Q keep
        current: list[str] = []
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"q":
                saved.append(font)
            elif operator == b"Q":
                font = saved.pop()
            elif operator == b"BT":
                current = []
            elif operator == b"Tf":
                font = fonts.get(operands[0])
            elif operator == b"Tj":
                current.append(_decode(operands[0], font))
            elif operator == b"TJ":
                current += [_decode(part, font) for part in operands[0] if not isinstance(part, (int, float))]
            elif operator == b"ET" and current:
                found.append("".join(current))
    return found


def pdf_text(data: bytes) -> str:
    """All drawn text, one text object a line."""
    return "\n".join(pdf_strings(data))


def embedded_fonts(data: bytes) -> list[str]:
    """The base names of the fonts embedded in the PDF (a font file inside: FontFile2 or FontFile3)."""
    reader = PdfReader(io.BytesIO(data))
    names = []
    for page in reader.pages:
        for font in page["/Resources"].get_object().get("/Font", {}).values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                if "/FontFile2" in descriptor or "/FontFile3" in descriptor:
                    names.append(str(font["/BaseFont"]))
    return sorted(set(names))

"""The fonts the PDFs embed (issue 16): a name in Latin, Greek, Cyrillic, Chinese or Japanese prints as is.

The faces come from Python packages, so no system font is needed (OFL 1.1 both):
- Lato 2.015 (`fontpkg-lato`), Regular and Bold: Latin (Polish, Czech, Hungarian, Romanian, Turkish,
  Vietnamese...), Greek and Cyrillic;
- Noto Sans CJK JP (`noto-cjk-sans-jp-regular`, `-bold`): Chinese and Japanese (kana and every unified
  ideograph, drawn the Japanese way where regions differ), Korean, full-width forms.

A document starts with one family, `CORE`: Lato cut down once per process to the characters nearly
every document uses (ASCII, Latin-1, Latin Extended-A, punctuation, currency signs). The rest of Lato
(`sans`) and Noto Sans CJK (`cjk`) join as fpdf2 fallback fonts only when a string needs them
(`use_fallbacks_for`, `fallback_for`), each face (regular or bold) on its first use: fpdf2 subsets and
embeds every font a document has, and once it has fallback fonts it looks at every string character by
character. A character none of the faces has prints as "?" (`covers` tells).

Speed: fpdf2's `add_font` parses the font file for each document, and its subsetting at `output()` reads
the tables again: about 115 ms a document with the two Lato faces as shipped. Here each face is read once
per process: the table-stripped font is kept as bytes and its parsed `TTFFont` (widths, character map) as
a template; a document gets a copy of the template with its own subset map, font descriptor and
fontTools object, read lazily over the same bytes (fpdf2's subsetting changes that object in place).
That leans on the fields of fpdf2's `TTFFont` (2.8.9); tests/services/billing/test_pdf_scripts.py renders
every face. A Latin invoice costs about 28 ms (10 ms with the core Helvetica it replaced); a CJK face
about 0.3 s more per document that uses it, and 1-2 s to prepare once per process.
"""

from __future__ import annotations

import copy
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import fontpkg_lato
import noto_cjk_sans_jp_bold
import noto_cjk_sans_jp_regular
from fontTools import subset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

CORE = "core"  # the family every document starts with (set_font(CORE, "B") for bold)
SANS = "sans"  # all of Lato
CJK = "cjk"  # Noto Sans CJK
_CORE_RANGES = (
    (0x20, 0x7E),  # ASCII
    (0xA0, 0x17F),  # Latin-1 and Latin Extended-A (Polish, Czech, Hungarian, Baltic, Turkish...)
    (0x218, 0x21B),  # Romanian Ș ș Ț ț
    (0x2000, 0x206F),  # spaces (French amounts group with a narrow no-break space), dashes, quotes...
    (0x20A0, 0x20CF),  # currency signs
    (0x2116, 0x2116),  # №
    (0x2122, 0x2122),  # ™
    (0x2212, 0x2212),  # minus sign
)
# Tables no PDF viewer reads from an embedded font (fpdf2 drops most of them while subsetting, but only
# after reading them): shaping, kerning, device metrics, vertical metrics, signatures.
_UNUSED_TABLES = [
    "GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "kern", "hdmx", "LTSH", "VDMX", "DSIG", "meta", "gasp",
    "vhea", "vmtx", "VORG", "FFTM",
]  # fmt: skip


def _lato(name: str) -> Callable[[], Path]:
    return lambda: Path(fontpkg_lato.ROOT) / "files" / name


@dataclass(frozen=True)
class _Face:
    family: str
    style: str  # "" or "B"
    file: Callable[[], Path]
    core: bool = False  # cut down to _CORE_RANGES
    subset: bool = True  # rewritten by fontTools' subsetter (else only tables dropped: a CJK font has 65,535
    # glyphs, which the subsetter takes seconds to rewrite)


_FACES = {
    (CORE, ""): _Face(CORE, "", _lato("Lato-Regular.ttf"), core=True),
    (CORE, "B"): _Face(CORE, "B", _lato("Lato-Bold.ttf"), core=True),
    (SANS, ""): _Face(SANS, "", _lato("Lato-Regular.ttf")),
    (SANS, "B"): _Face(SANS, "B", _lato("Lato-Bold.ttf")),
    (CJK, ""): _Face(CJK, "", lambda: Path(noto_cjk_sans_jp_regular.FONT_PATH), subset=False),
    (CJK, "B"): _Face(CJK, "B", lambda: Path(noto_cjk_sans_jp_bold.FONT_PATH), subset=False),
}
_FALLBACKS = (SANS, CJK)  # in the order fpdf2 tries them


def face_file(family: str, style: str = "") -> Path:
    """The font file a family's face is read from (the bench gives it to fpdf2's own `add_font`)."""
    return _FACES[family, style].file()


@dataclass(frozen=True)
class _Prepared:
    data: bytes  # the font file as each document reads it
    template: TTFFont  # parsed once; never embedded itself


def _stripped(face: _Face) -> bytes:
    """The face without the tables a PDF does not use, with one Unicode character map; the core faces cut
    down to _CORE_RANGES. Glyph names are kept in `post` (else fontTools derives them from the character
    map on every read)."""
    if not face.subset:
        font = TTFont(face.file(), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
        for tag in _UNUSED_TABLES:
            if tag in font:
                del font[tag]
        font["cmap"].tables = [t for t in font["cmap"].tables if (t.platformID, t.platEncID) == (3, 10)]
        return _saved(font)
    font = TTFont(face.file(), recalcBBoxes=False, recalcTimestamp=False)
    options = subset.Options()
    options.drop_tables += _UNUSED_TABLES
    options.layout_features = []
    options.hinting = False  # PDF viewers rasterize with their own hinting
    options.notdef_outline = True
    options.glyph_names = True
    options.name_IDs = ["*"]
    cmap = font.getBestCmap()
    wanted = [c for low, high in _CORE_RANGES for c in range(low, high + 1)] if face.core else list(cmap)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for c in wanted if c in cmap])
    subsetter.subset(font)
    font.getGlyphOrder()
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    font["cmap"].tables = [t for t in font["cmap"].tables if (t.platformID, t.platEncID) == (3, 1)]
    return _saved(font)


def _saved(font: TTFont) -> bytes:
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


_PREPARING = threading.Lock()  # PDFs are drawn in worker threads: each face is prepared once
_READY: dict[tuple[str, str], _Prepared] = {}


def _prepared(family: str, style: str) -> _Prepared:
    key = (family, style)
    if key not in _READY:
        with _PREPARING:
            if key not in _READY:
                face = _FACES[key]
                data = _stripped(face)
                template = TTFFont(FPDF(), io.BytesIO(data), f"{family}{style}", style)  # type: ignore[arg-type]
                template.ttfont.close()
                if family == SANS:  # not the core subset's name: a viewer may take 2 subsets of 1 name for 1
                    template.name += "Extended"
                _READY[key] = _Prepared(data, template)
    return _READY[key]


def _attach(pdf: FPDF, family: str, style: str) -> None:
    """The face in `pdf` as `add_font` would put it there, without parsing the font again."""
    prepared = _prepared(family, style)
    font = copy.copy(prepared.template)
    font.i = len(pdf.fonts) + 1
    font.ttfont = TTFont(io.BytesIO(prepared.data), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    font.desc = copy.copy(prepared.template.desc)  # fpdf2 names and numbers it for this document
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font
    if font.is_cff and font.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")  # as add_font does for a CFF font


def add_core(pdf: FPDF) -> None:
    """The family every document starts with, regular and bold."""
    _attach(pdf, CORE, "")
    _attach(pdf, CORE, "B")


@cache
def core_chars() -> frozenset[str]:
    """The characters the core family draws."""
    return frozenset(map(chr, _prepared(CORE, "").template.cmap))


@cache
def _chars(family: str) -> frozenset[str]:
    """The characters a fallback family draws (read from its character map only: the CJK font itself
    is parsed when a document needs it)."""
    face = _FACES[family, ""]
    with TTFont(face.file(), lazy=True) as font:
        return frozenset(map(chr, font.getBestCmap()))


def covers(char: str) -> bool:
    """Whether one of the faces draws `char`."""
    return char in core_chars() or any(char in _chars(family) for family in _FALLBACKS)


def fallback_for(pdf: FPDF, char: str, style: str = "") -> str | None:
    """The font (key) that draws `char` in `style` when the core family does not, added to `pdf` on first
    use (fpdf2 asks through `FPDF.get_fallback_font`), or None when no face has it."""
    style = "B" if "B" in style else ""
    for family in _FALLBACKS:
        if char in _chars(family):
            if family + style not in pdf.fonts:
                _attach(pdf, family, style)
                present = [f for f in _FALLBACKS if f in pdf.fonts or f + "B" in pdf.fonts]
                pdf.set_fallback_fonts(present, exact_match=True)
            return family + style
    return None


def use_fallbacks_for(pdf: FPDF, text: str, style: str) -> None:
    """Adds to `pdf` the fallback faces that `text` needs in `style`: from then on fpdf2 looks at each
    character of each string to choose its font (`fallback_for` adds the faces of other styles)."""
    for char in set(text) - core_chars():
        fallback_for(pdf, char, style)

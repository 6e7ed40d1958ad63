"""The invoice PDF's lines table, drawn line by line by the portal (not fpdf2's table): long texts wrap
inside their column without losing a word, a long invoice continues on the next page under the headings
again, and the layout is the same in French."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import documents, invoices, pdf
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Client
from tests.pdf_reading import pdf_strings
from tests.services.conftest import World

_PAGE = re.compile(rb"/Type /Page\b")
LONG = (
    "Content migration from the old site, including redirects for every old address, image compression "
    "and a check of every internal link"
)


async def _invoice(world: World, lines: list[LineDraft], client_id: int | None = None) -> bytes:
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=lines,
        due_date=today() + timedelta(days=14),
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    return pdf.invoice_pdf(detail, compress=False)


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_a_long_description_wraps_in_its_column_and_keeps_every_word(world: World, locale: str) -> None:
    await Client.filter(id=world.alice_id).update(locale=locale)
    data = await _invoice(
        world, [LineDraft(LONG, Decimal(12), 8_500), LineDraft("Domain renewal", Decimal(1), 1_500)]
    )
    strings = pdf_strings(data)

    first = next(n for n, s in enumerate(strings) if s.startswith("Content migration"))
    wrapped = strings[first : first + 6]
    assert len([s for s in wrapped if s in LONG]) >= 3  # several lines, none of them the whole text
    joined = " ".join(s for s in wrapped if s in LONG)
    assert joined == LONG
    assert "Domain renewal" in strings  # the next row follows


async def test_a_long_invoice_continues_on_the_next_page_under_the_headings(world: World) -> None:
    lines = [LineDraft(f"Task {n:02d} " + "word " * (n % 9), Decimal(1), 1_000 + n) for n in range(60)]
    data = await _invoice(world, lines)
    strings = pdf_strings(data)

    assert len(_PAGE.findall(data)) >= 3
    assert strings.count("Description") == len(_PAGE.findall(data))  # the headings on every page of lines
    tasks = [s.split()[1] for s in strings if s.startswith("Task ")]
    assert tasks == [f"{n:02d}" for n in range(60)]  # every line once, in order


async def test_a_word_wider_than_its_column_is_cut_not_lost(world: World) -> None:
    word = "Supercalifragilisticexpialidocious" * 3
    data = await _invoice(world, [LineDraft(word, Decimal(1), 1_000)])
    strings = pdf_strings(data)

    first = next(n for n, s in enumerate(strings) if word.startswith(s) and len(s) > 5)
    pieces = []
    for s in strings[first:]:
        if "".join(pieces) == word:
            break
        pieces.append(s)
    assert "".join(pieces) == word and len(pieces) > 1

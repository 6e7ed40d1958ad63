"""Gapless, per-year document numbers (INV-2026-0001), safe with several processes."""

from __future__ import annotations

from datetime import date

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.db.models import NumberSequence


def render_number(pattern: str, *, year: int, seq: int) -> str:
    """Fill `{YYYY}` and `{seq}` / `{seq:04}` in a number pattern."""
    return pattern.replace("{YYYY}", f"{year:04d}").format(seq=seq)


async def next_number(*, kind: str, pattern: str, on: date) -> str:
    """Take the next number of a sequence; call inside the transaction that stores the document."""
    name = f"{kind}:{on.year}"
    if not await NumberSequence.exists(name=name):
        try:
            async with in_transaction():  # a savepoint: a lost race must not abort the outer transaction
                await NumberSequence.create(name=name, next_value=1)
        except IntegrityError:
            pass  # another process created it first
    row = await NumberSequence.select_for_update().get(name=name)
    seq = row.next_value
    row.next_value = seq + 1
    await row.save(update_fields=["next_value"])
    return render_number(pattern, year=on.year, seq=seq)

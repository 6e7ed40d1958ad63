"""Gapless document numbers (INV-2026-0001), safe with several processes.

A number pattern is literal text with placeholders: `{YYYY}` (2026), `{YY}` (26), `{MM}` (05) and exactly
one `{seq}` or `{seq:0N}` (the sequence, zero-padded to N digits). A pattern with a year restarts its
sequence every year (`invoice:2026`); one without a year never restarts (`invoice`), so that the numbers
of two years cannot collide.
"""

from __future__ import annotations

import re
from datetime import date

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.db.models import NumberSequence
from portal.domain.errors import InvalidInput
from portal.i18n import _

PATTERN_MAX_LENGTH = 60
"""The length of Organization.invoice_number_pattern and of Invoice.number."""
_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"^seq(?::0(\d{1,2}))?$")
_DATE_PLACEHOLDERS = ("YYYY", "YY", "MM")
_MAX_PADDING = 12


def _seq_width(token: str) -> int | None:
    """0 for `{seq}`, N for `{seq:0N}`, None for anything else."""
    match = _SEQ.match(token)
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 0


def render_number(pattern: str, *, year: int, seq: int, month: int = 1) -> str:
    """Fill `{YYYY}`, `{YY}`, `{MM}`, `{seq}` and `{seq:0N}` in a number pattern (other text stays)."""
    values = {"YYYY": f"{year:04d}", "YY": f"{year % 100:02d}", "MM": f"{month:02d}"}

    def fill(match: re.Match[str]) -> str:
        token = match.group(1)
        if token in values:
            return values[token]
        width = _seq_width(token)
        if width is None:
            return match.group(0)
        return f"{seq:0{width}d}" if width else str(seq)

    return _TOKEN.sub(fill, pattern)


def validate_pattern(pattern: str) -> str:
    """The pattern, stripped, or InvalidInput (field `number_pattern`) saying what is wrong with it."""
    text = (pattern or "").strip()

    def bad(message: str) -> InvalidInput:
        return InvalidInput(message, field="number_pattern")

    if not text:
        raise bad(_("Enter a number pattern, for example INV-{YYYY}-{seq:04}."))
    if any(not ch.isprintable() for ch in text):
        raise bad(_("The number pattern cannot contain tabs, line breaks or other control characters."))
    seqs = 0
    for match in _TOKEN.finditer(text):
        token = match.group(1)
        if token in _DATE_PLACEHOLDERS:
            continue
        width = _seq_width(token)
        if width is None:
            if token.startswith("seq"):
                raise bad(_("Write the sequence as {seq} or {seq:0N}, for example {seq:04} for 0001."))
            raise bad(
                _(
                    "Unknown placeholder {token}. The placeholders are {placeholders}.",
                    token=match.group(0),
                    placeholders="{YYYY} {YY} {MM} {seq} {seq:0N}",
                )
            )
        if token != "seq" and not 1 <= width <= _MAX_PADDING:
            raise bad(_("The sequence can be padded to 1 to {most} digits.", most=_MAX_PADDING))
        seqs += 1
    if "{" in _TOKEN.sub("", text) or "}" in _TOKEN.sub("", text):
        raise bad(_("Braces can only surround a placeholder such as {YYYY} or {seq}."))
    if seqs == 0:
        raise bad(_("The number pattern must contain {seq} (or {seq:0N}), the sequence number."))
    if seqs > 1:
        raise bad(_("The number pattern can contain the sequence only once."))
    longest = render_number(text, year=2099, month=12, seq=10**_MAX_PADDING - 1)
    if len(text) > PATTERN_MAX_LENGTH or len(longest) > PATTERN_MAX_LENGTH:
        raise bad(_("The number pattern is too long ({most} characters at most).", most=PATTERN_MAX_LENGTH))
    return text


def sequence_name(kind: str, pattern: str, on: date) -> str:
    """`invoice:2026` for a pattern with a year (restarts each year), else `invoice` (never restarts)."""
    yearly = "{YYYY}" in pattern or "{YY}" in pattern
    return f"{kind}:{on.year}" if yearly else kind


async def next_number(*, kind: str, pattern: str, on: date) -> str:
    """Take the next number of a sequence; call inside the transaction that stores the document."""
    name = sequence_name(kind, pattern, on)
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
    return render_number(pattern, year=on.year, month=on.month, seq=seq)


async def peek_next_number(*, kind: str, pattern: str, on: date) -> str:
    """The number `next_number` would give now, without taking it (for the settings page's example)."""
    row = await NumberSequence.get_or_none(name=sequence_name(kind, pattern, on))
    return render_number(pattern, year=on.year, month=on.month, seq=row.next_value if row else 1)

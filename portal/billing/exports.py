"""CSV exports for the accountant: invoices, payments, refunds, credit entries and credit notes of a date
range.

One file per kind, written with the standard library's `csv` module and streamed batch by batch: rows are
read in keyset batches (`id > last id ... LIMIT n`), so a range of 200,000 invoices never sits in memory
as one list. Machine values are not localised: dates are ISO 8601, amounts are decimal strings in the
currency's own precision (JPY 0 decimals, EUR 2, KWD 3, from our ISO 4217 table, never floats) with the
currency code in its own column. Money in is positive; refunds (money paid back) are negative, and credit
entries keep their sign (positive adds credit, negative uses it); credit notes are negative (each cancels
what its invoice claimed, which the invoices file still lists, marked void). Text that people typed (names,
references, notes) is neutralised against spreadsheet formula injection as OWASP recommends: a cell
starting with = + - @ or a tab or carriage return gets a leading single quote.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.functions import Sum

from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.db.models import Allocation, CreditEntry, CreditNote, Invoice, Payment, Refund
from portal.domain.errors import InvalidFields, InvalidInput
from portal.domain.money import to_decimal
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.i18n import N_, _

BATCH_SIZE = 1000
BOM = "\ufeff"  # spreadsheet programs read the file as UTF-8 only with it (accents in client names)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
KINDS: dict[str, str] = {
    "invoices": N_("Invoices"),
    "payments": N_("Payments"),
    "refunds": N_("Refunds"),
    "credit": N_("Credit entries"),
    "credit-notes": N_("Credit notes"),
}
RECEIVED = (PaymentStatus.succeeded, PaymentStatus.refunded, PaymentStatus.partially_refunded)

HEADERS: dict[str, tuple[str, ...]] = {
    "invoices": (
        "invoice_id",
        "number",
        "status",
        "issue_date",
        "due_date",
        "client_id",
        "client_name",
        "client_company",
        "currency",
        "subtotal",
        "tax",
        "total",
        "amount_paid",
        "amount_due",
        "amount_credited",  # by the credit notes of refunds (a void's credit note: status "void")
    ),
    "payments": (
        "payment_id",
        "received_on",
        "client_id",
        "client_name",
        "currency",
        "amount",
        "amount_refunded",
        "method",
        "source",
        "status",
        "reference",
        "invoice_number",
        "gateway_payment_id",
    ),
    "refunds": (
        "refund_id",
        "refunded_at",
        "payment_id",
        "client_id",
        "client_name",
        "currency",
        "amount",
        "reason",
        "gateway_refund_id",
    ),
    "credit": (
        "entry_id",
        "created_at",
        "client_id",
        "client_name",
        "currency",
        "amount",
        "reason",
        "note",
        "payment_id",
        "invoice_number",
        "refund_id",
    ),
    "credit-notes": (
        "credit_note_id",
        "number",
        "issue_date",
        "invoice_number",
        "client_id",
        "client_name",
        "client_company",
        "currency",
        "subtotal",
        "tax",
        "total",
        "reason",
        "note",
    ),
}


@dataclass(frozen=True)
class Export:
    """An export ready to stream: the file's name and its text, one chunk per batch of rows."""

    kind: str
    filename: str
    date_from: date
    date_to: date
    chunks: AsyncIterator[str]


def safe_text(value: Any) -> str:
    """A typed text as a CSV cell that no spreadsheet runs as a formula ('=1+1' -> "'=1+1")."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def amount_text(amount_minor: int, currency: str) -> str:
    """Minor units as a plain decimal string in the currency's precision (1234 KWD -> '1.234')."""
    return str(to_decimal(int(amount_minor), currency))


def _iso(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="seconds")
    return value.isoformat()


def _day(text: str | date | None, field: str, errors: dict[str, str]) -> date | None:
    if isinstance(text, date):
        return text
    cleaned = (text or "").strip()
    if not cleaned:
        errors[field] = _("Enter a date as YYYY-MM-DD, or pick one.")
        return None
    try:
        return date.fromisoformat(cleaned.replace("/", "-"))
    except ValueError:
        errors[field] = _("'{value}' is not a date: enter it as YYYY-MM-DD, or pick one.", value=cleaned)
        return None


def check_range(date_from: str | date | None, date_to: str | date | None) -> tuple[date, date]:
    """Both dates of an export (both included), or InvalidFields naming each wrong one."""
    errors: dict[str, str] = {}
    start = _day(date_from, "date_from", errors)
    end = _day(date_to, "date_to", errors)
    if start is not None and end is not None and start > end:
        errors["date_to"] = _(
            "The end date ({end}) is before the start date ({start}); choose an end on or after the start.",
            end=end.isoformat(),
            start=start.isoformat(),
        )
    if errors:
        raise InvalidFields(errors)
    assert start is not None and end is not None
    return start, end


def check_kind(kind: str) -> str:
    """One of the four kinds of export, or InvalidInput."""
    if kind not in KINDS:
        raise InvalidInput(
            _("There is no export called '{kind}'; choose invoices, payments, refunds or credit.", kind=kind),
            field="kind",
        )
    return kind


def filename_for(kind: str, start: date, end: date) -> str:
    """'payments-2026-11-01-to-2026-11-30.csv'."""
    return f"{kind}-{start.isoformat()}-to-{end.isoformat()}.csv"


async def open_export(
    *, actor: Actor, kind: str, date_from: str | date | None, date_to: str | date | None
) -> Export:
    """Staff: check the request, record it in the audit trail, and return the export to stream."""
    require_staff(actor)
    check_kind(kind)
    start, end = check_range(date_from, date_to)
    await audit.record(
        actor=actor,
        action="export.download",
        subject=f"export:{kind}",
        details={"kind": kind, "from": start.isoformat(), "to": end.isoformat()},
    )
    return Export(
        kind=kind,
        filename=filename_for(kind, start, end),
        date_from=start,
        date_to=end,
        chunks=csv_chunks(kind, start, end),
    )


def _csv(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerows(rows)
    return out.getvalue()


async def csv_chunks(
    kind: str, start: date, end: date, *, batch_size: int = BATCH_SIZE
) -> AsyncIterator[str]:
    """The file's text: the byte-order mark and the header, then one chunk per batch of rows."""
    yield BOM + _csv([HEADERS[kind]])
    async for rows in export_rows(kind, start, end, batch_size=batch_size):
        yield _csv(rows)


async def export_rows(
    kind: str, start: date, end: date, *, batch_size: int = BATCH_SIZE
) -> AsyncIterator[list[list[str]]]:
    """The rows of an export, in keyset batches of at most `batch_size` (by id, the order of recording)."""
    fetch = _FETCHERS[check_kind(kind)]
    last_id = 0
    while True:
        batch = await fetch(start, end, last_id, batch_size)
        if not batch:
            return
        last_id = int(batch[-1][0])
        yield batch
        if len(batch) < batch_size:
            return


def _moments(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC moments from the start of `start` to the start of the day after `end` (both days included)."""
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


async def _invoices(start: date, end: date, after: int, limit: int) -> list[list[str]]:
    """Issued invoices (not drafts) by issue date; what was paid is summed for the batch in one query."""
    found = (
        await Invoice.filter(id__gt=after, issue_date__gte=start, issue_date__lte=end)
        .exclude(status=InvoiceStatus.draft)
        .order_by("id")
        .limit(limit)
        .values(
            "id",
            "number",
            "status",
            "issue_date",
            "due_date",
            "client_id",
            "client__name",
            "client__company",
            "currency",
            "subtotal_minor",
            "tax_minor",
            "total_minor",
        )
    )
    ids = [row["id"] for row in found]
    paid_rows = (
        await Allocation.filter(invoice_id__in=ids)
        .group_by("invoice_id", "credit_note_id")
        .annotate(paid=Sum("amount_minor"))
        .values("invoice_id", "credit_note_id", "paid")
        if ids
        else []
    )
    paid: dict[int, int] = defaultdict(int)
    credited: dict[int, int] = defaultdict(int)
    for placed in paid_rows:
        into = credited if placed["credit_note_id"] else paid
        into[placed["invoice_id"]] += int(placed["paid"] or 0)
    rows = []
    for row in found:
        currency, total = row["currency"], int(row["total_minor"])
        received, cancelled = paid[row["id"]], credited[row["id"]]
        due = total - received - cancelled if row["status"] == InvoiceStatus.open else 0
        status = "void" if row["status"] == InvoiceStatus.deleted else str(row["status"])
        rows.append(
            [
                str(row["id"]),
                safe_text(row["number"]),
                status,
                _iso(row["issue_date"]),
                _iso(row["due_date"]),
                str(row["client_id"]),
                safe_text(row["client__name"]),
                safe_text(row["client__company"]),
                currency,
                amount_text(row["subtotal_minor"], currency),
                amount_text(row["tax_minor"], currency),
                amount_text(total, currency),
                amount_text(received, currency),
                amount_text(due, currency),
                amount_text(cancelled, currency),
            ]
        )
    return rows


async def _payments(start: date, end: date, after: int, limit: int) -> list[list[str]]:
    """Money received (pending and failed attempts left out), by the day it was received."""
    found = (
        await Payment.filter(
            id__gt=after, received_on__gte=start, received_on__lte=end, status__in=list(RECEIVED)
        )
        .order_by("id")
        .limit(limit)
        .values(
            "id",
            "received_on",
            "client_id",
            "client__name",
            "currency",
            "amount_minor",
            "refunded_minor",
            "method",
            "source",
            "status",
            "reference",
            "invoice__number",
            "gateway_payment_id",
        )
    )
    return [
        [
            str(row["id"]),
            _iso(row["received_on"]),
            str(row["client_id"] or ""),
            safe_text(row["client__name"]),
            row["currency"],
            amount_text(row["amount_minor"], row["currency"]),
            amount_text(row["refunded_minor"], row["currency"]),
            str(row["method"]),
            str(row["source"]),
            str(row["status"]),
            safe_text(row["reference"]),
            safe_text(row["invoice__number"]),
            safe_text(row["gateway_payment_id"]),
        ]
        for row in found
    ]


async def _refunds(start: date, end: date, after: int, limit: int) -> list[list[str]]:
    """Money paid back, by the moment it was refunded (UTC days), as negative amounts."""
    first, past = _moments(start, end)
    found = (
        await Refund.filter(id__gt=after, created_at__gte=first, created_at__lt=past)
        .order_by("id")
        .limit(limit)
        .values(
            "id",
            "created_at",
            "payment_id",
            "payment__client_id",
            "payment__client__name",
            "currency",
            "amount_minor",
            "reason",
            "gateway_refund_id",
        )
    )
    return [
        [
            str(row["id"]),
            _iso(row["created_at"]),
            str(row["payment_id"]),
            str(row["payment__client_id"] or ""),
            safe_text(row["payment__client__name"]),
            row["currency"],
            amount_text(-int(row["amount_minor"]), row["currency"]),
            safe_text(row["reason"]),
            safe_text(row["gateway_refund_id"]),
        ]
        for row in found
    ]


async def _credit(start: date, end: date, after: int, limit: int) -> list[list[str]]:
    """The credit ledger, signed as stored, by the moment of the entry (UTC days)."""
    first, past = _moments(start, end)
    found = (
        await CreditEntry.filter(id__gt=after, created_at__gte=first, created_at__lt=past)
        .order_by("id")
        .limit(limit)
        .values(
            "id",
            "created_at",
            "client_id",
            "client__name",
            "currency",
            "amount_minor",
            "reason",
            "note",
            "payment_id",
            "invoice__number",
            "refund_id",
        )
    )
    return [
        [
            str(row["id"]),
            _iso(row["created_at"]),
            str(row["client_id"]),
            safe_text(row["client__name"]),
            row["currency"],
            amount_text(row["amount_minor"], row["currency"]),
            str(row["reason"]),
            safe_text(row["note"]),
            str(row["payment_id"] or ""),
            safe_text(row["invoice__number"]),
            str(row["refund_id"] or ""),
        ]
        for row in found
    ]


async def _credit_notes(start: date, end: date, after: int, limit: int) -> list[list[str]]:
    """Credit notes by issue date, their amounts negative (each cancels what its invoice claimed)."""
    found = (
        await CreditNote.filter(id__gt=after, issue_date__gte=start, issue_date__lte=end)
        .order_by("id")
        .limit(limit)
        .values(
            "id",
            "number",
            "issue_date",
            "invoice__number",
            "client_id",
            "client__name",
            "client__company",
            "currency",
            "subtotal_minor",
            "tax_minor",
            "total_minor",
            "reason",
            "note",
        )
    )
    return [
        [
            str(row["id"]),
            safe_text(row["number"]),
            _iso(row["issue_date"]),
            safe_text(row["invoice__number"]),
            str(row["client_id"]),
            safe_text(row["client__name"]),
            safe_text(row["client__company"]),
            row["currency"],
            amount_text(-row["subtotal_minor"], row["currency"]),
            amount_text(-row["tax_minor"], row["currency"]),
            amount_text(-row["total_minor"], row["currency"]),
            str(row["reason"]),
            safe_text(row["note"]),
        ]
        for row in found
    ]


_FETCHERS: dict[str, Callable[[date, date, int, int], Any]] = {
    "invoices": _invoices,
    "payments": _payments,
    "refunds": _refunds,
    "credit": _credit,
    "credit-notes": _credit_notes,
}

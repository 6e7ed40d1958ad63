"""A client's statement of account for a period: per currency, the opening balance, every invoice, payment,
refund and credit movement of the period with the running balance, the closing balance, and an aging of
what is still open at the period's end.

Everything is worked out from the ledger rows (DESIGN.md section 2), in integer minor units, one currency
at a time. What the client owes on a day is

    the totals of its issued invoices (open or paid; drafts and void invoices never count)
    - the allocations made to them - its credit ledger,

each row dated as an accountant would date it: an invoice by its issue date, everything a payment did
(its allocations and the credit it created) by the day the money was received, anything else (a refund,
a use of credit, an adjustment) by the day it was recorded. So the closing balance of a statement is what
the ledger says the client owes minus its credit on the period's last day, and the opening balance is the
same on the day before the period starts.

A payment's line is what it did in the ledger (a payment that could not be placed and was flagged for
review moved no money for the client and is not on the statement); a refund's line is what it took back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from portal import i18n
from portal.billing.documents import Letterhead, Party, letterhead, receipt_number
from portal.core.actors import Actor, check_client_access
from portal.core.clock import today
from portal.db.models import (
    Allocation,
    Client,
    CreditEntry,
    CreditNote,
    Invoice,
    Payment,
    PaymentMethod,
    Refund,
)
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import InvoiceStatus
from portal.i18n import N_, _
from portal.payments.methods import method_label

NOT_FOUND = N_("That client does not exist.")
COUNTED = (InvoiceStatus.open, InvoiceStatus.paid)
EARLIEST = date(2000, 1, 1)
BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
BUCKET_LABELS = {
    "current": N_("Current"),
    "1_30": N_("1-30 days"),
    "31_60": N_("31-60 days"),
    "61_90": N_("61-90 days"),
    "over_90": N_("Over 90 days"),
}
CREDIT_REASONS = {  # the same words as the client's history
    "overpayment": N_("Overpayment"),
    "adjustment": N_("Adjustment"),
    "refund_to_credit": N_("Refund to credit"),
    "payment_unmatched": N_("Unmatched payment"),
    "purchase": N_("Credit purchase"),
}
_ORDER = {
    "invoice": 0,
    "payment": 1,
    "credit_applied": 2,
    "refund": 3,
    "credit_note": 4,
    "credit": 5,
    "other": 6,
}


def bucket_of(days_past_due: int) -> str:
    """The aging bucket of an amount `days_past_due` days after its due date (0 or less is current)."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1_30"
    if days_past_due <= 60:
        return "31_60"
    if days_past_due <= 90:
        return "61_90"
    return "over_90"


# -- what a statement holds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementLine:
    """One movement of the period. `amount_minor` is what it did to the balance (+ the client owes more,
    - less; 0 for a use of credit, which moves money from the credit to an invoice)."""

    date: date
    kind: str  # invoice | payment | refund | credit | credit_applied | other
    description: str
    amount_minor: int
    balance_minor: int
    invoice_id: int | None = None
    payment_id: int | None = None


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice still (partly) open on the period's last day."""

    invoice_id: int
    number: str
    issue_date: date
    due_date: date
    days_past_due: int
    open_minor: int

    @property
    def bucket(self) -> str:
        """Its aging bucket."""
        return bucket_of(self.days_past_due)


@dataclass(frozen=True)
class CurrencyBlock:
    """The statement in one currency."""

    currency: str
    opening_minor: int
    invoiced_minor: int  # invoices issued in the period
    paid_minor: int  # payments received in the period (positive: it lowers the balance)
    refunded_minor: int  # money given back in the period (positive: it raises the balance)
    credit_minor: int  # other credit movements (adjustments): their effect on the balance
    closing_minor: int
    credit_at_end_minor: int  # the credit ledger on the last day
    lines: list[StatementLine]
    open_invoices: list[OpenInvoice]
    balance_now_minor: int  # what the client owes today minus its credit (the pay link's condition)

    @property
    def aging(self) -> dict[str, int]:
        """What is open on the last day, per bucket (every bucket present, in order)."""
        totals = dict.fromkeys(BUCKETS, 0)
        for item in self.open_invoices:
            totals[item.bucket] += item.open_minor
        return totals

    @property
    def open_minor(self) -> int:
        """Everything open on invoices on the last day."""
        return sum(item.open_minor for item in self.open_invoices)

    @property
    def unapplied_minor(self) -> int:
        """Credit and money received but not on an invoice yet: open invoices minus this is the balance."""
        return self.open_minor - self.closing_minor


@dataclass(frozen=True)
class Statement:
    """A statement of account: who, the period, one block per currency."""

    client_id: int
    client_name: str
    start: date
    end: date
    blocks: list[CurrencyBlock]

    def block(self, currency: str) -> CurrencyBlock | None:
        """The block of one currency, if the statement has one."""
        return next((b for b in self.blocks if b.currency == currency), None)

    @property
    def closing(self) -> dict[str, int]:
        """The closing balance per currency."""
        return {b.currency: b.closing_minor for b in self.blocks}


@dataclass(frozen=True)
class StatementDocument:
    """What the statement PDF needs: the statement, the letterhead, the client block and its locale."""

    statement: Statement
    organization: Letterhead
    client: Party
    locale: str

    @property
    def filename(self) -> str:
        """'statement-Ada-Lovelace-2026-01-01-2026-12-03.pdf'."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", self.statement.client_name).strip("-.") or "client"
        s = self.statement
        return f"statement-{name}-{s.start.isoformat()}-{s.end.isoformat()}.pdf"


# -- periods ------------------------------------------------------------------------------------------
def default_period(on: date | None = None) -> tuple[date, date]:
    """This year so far: from 1 January to today (the opening balance carries everything before)."""
    day = on or today()
    return date(day.year, 1, 1), day


def parse_period(start: str | None, end: str | None) -> tuple[date, date]:
    """'YYYY-MM-DD' texts (either may be empty: this year so far) as a checked period."""
    first, last = default_period()
    try:
        begin = date.fromisoformat(start) if start else first
    except ValueError:
        raise InvalidInput(_("Enter the start date as YYYY-MM-DD."), field="start") from None
    try:
        finish = date.fromisoformat(end) if end else last
    except ValueError:
        raise InvalidInput(_("Enter the end date as YYYY-MM-DD."), field="end") from None
    check_period(begin, finish)
    return begin, finish


def check_period(start: date, end: date) -> None:
    """A period starts on or before it ends, not before 2000, and ends today at the latest."""
    if end > today():
        raise InvalidInput(_("The end date cannot be in the future."), field="end")
    if start > end:
        raise InvalidInput(_("The start date must be on or before the end date."), field="start")
    if start < EARLIEST:
        raise InvalidInput(_("The start date cannot be before 2000."), field="start")


# -- the ledger, dated ----------------------------------------------------------------------------------
@dataclass
class _Group:
    """The ledger rows of one event (an invoice, a payment, a refund, a use of credit, an adjustment)."""

    kind: str
    ref: int
    currency: str
    day: date
    effect: int = 0  # on the balance
    used: int = 0  # credit moved to an invoice (credit_applied)
    invoice_ids: list[int] = field(default_factory=list)


def _day(value: datetime) -> date:
    return value.date()


async def _rows(client_id: int) -> dict[str, Any]:
    invoices = await Invoice.filter(client_id=client_id, status__in=list(COUNTED)).values(
        "id", "number", "currency", "issue_date", "due_date", "total_minor"
    )
    allocations = await Allocation.filter(
        invoice__client_id=client_id, invoice__status__in=list(COUNTED)
    ).values(
        "id",
        "invoice_id",
        "amount_minor",
        "currency",
        "payment_id",
        "refund_id",
        "credit_entry_id",
        "credit_note_id",
        "created_at",
    )
    credit_note_ids = sorted({r["credit_note_id"] for r in allocations if r["credit_note_id"]})
    credit_notes = (
        {
            r["id"]: r
            for r in await CreditNote.filter(id__in=credit_note_ids).values("id", "number", "issue_date")
        }
        if credit_note_ids
        else {}
    )
    credits = await CreditEntry.filter(client_id=client_id).values(
        "id", "currency", "amount_minor", "reason", "note", "payment_id", "refund_id", "created_at"
    )
    payment_ids = {r["payment_id"] for r in [*allocations, *credits] if r["payment_id"]}
    payments = (
        {p.id: p for p in await Payment.filter(id__in=sorted(payment_ids)).prefetch_related("payment_method")}
        if payment_ids
        else {}
    )
    refund_ids = {r["refund_id"] for r in [*allocations, *credits] if r["refund_id"]}
    refunds = (
        {
            r["id"]: r
            for r in await Refund.filter(id__in=sorted(refund_ids)).values(
                "id", "payment_id", "created_at", "reason"
            )
        }
        if refund_ids
        else {}
    )
    return {
        "invoices": {r["id"]: r for r in invoices},
        "allocations": allocations,
        "credits": credits,
        "credit_by_id": {r["id"]: r for r in credits},
        "payments": payments,
        "refunds": refunds,
        "credit_notes": credit_notes,
    }


def _groups(rows: dict[str, Any]) -> list[_Group]:
    """Every ledger row of the client in the event it belongs to, with the event's day and effect."""
    groups: dict[tuple[str, int, str], _Group] = {}
    payments: dict[int, Payment] = rows["payments"]
    refunds: dict[int, dict] = rows["refunds"]

    def group(kind: str, ref: int, currency: str, day: date) -> _Group:
        key = (kind, ref, currency)
        if key not in groups:
            groups[key] = _Group(kind, ref, currency, day)
        return groups[key]

    def source(row: dict) -> tuple[str, int, date]:
        if row.get("credit_note_id") and row["credit_note_id"] in rows["credit_notes"]:
            return (
                "credit_note",
                row["credit_note_id"],
                rows["credit_notes"][row["credit_note_id"]]["issue_date"],
            )
        if row["refund_id"]:
            refund = refunds.get(row["refund_id"])
            return "refund", row["refund_id"], _day(refund["created_at"] if refund else row["created_at"])
        if row["payment_id"] and row["payment_id"] in payments:
            return "payment", row["payment_id"], payments[row["payment_id"]].received_on
        return "", 0, _day(row["created_at"])

    for inv in rows["invoices"].values():
        group("invoice", inv["id"], inv["currency"], inv["issue_date"]).effect += inv["total_minor"]
    applied = {row["credit_entry_id"] for row in rows["allocations"] if row["credit_entry_id"]}
    for row in rows["allocations"]:
        kind, ref, day = source(row)
        if not kind:
            kind, ref = (
                ("credit_applied", row["credit_entry_id"]) if row["credit_entry_id"] else ("other", row["id"])
            )
        target = group(kind, ref, row["currency"], day)
        target.effect -= row["amount_minor"]
        target.invoice_ids.append(row["invoice_id"])
        if kind == "credit_applied":
            target.used += row["amount_minor"]
    for row in rows["credits"]:
        kind, ref, day = source(row)
        if not kind:
            kind, ref = ("credit_applied", row["id"]) if row["id"] in applied else ("credit", row["id"])
        group(kind, ref, row["currency"], day).effect -= row["amount_minor"]
    return sorted(groups.values(), key=lambda g: (g.day, _ORDER[g.kind], g.ref))


def _describe(g: _Group, rows: dict[str, Any]) -> str:
    """What a line says, in the current locale."""
    numbers = [rows["invoices"][i]["number"] or _("Draft {id}", id=i) for i in dict.fromkeys(g.invoice_ids)]
    on = ", ".join(numbers)
    if g.kind == "invoice":
        return _("Invoice {number}", number=rows["invoices"][g.ref]["number"] or _("Draft {id}", id=g.ref))
    if g.kind == "payment":
        payment: Payment = rows["payments"][g.ref]
        saved: PaymentMethod | None = payment.payment_method
        text = _(
            "Payment {receipt} · {method}",
            receipt=receipt_number(g.ref),
            method=method_label(payment.method, saved),
        )
        if payment.reference:
            text += f" · {payment.reference}"
        return text + (f" ({on})" if on else "")
    if g.kind == "refund":
        refund = rows["refunds"].get(g.ref)
        text = (
            _("Refund of payment {receipt}", receipt=receipt_number(refund["payment_id"]))
            if refund
            else _("Refund")
        )
        if refund and refund["reason"]:
            text += f" · {_(refund['reason'])}"
        return text + (f" ({on})" if on else "")
    if g.kind == "credit_note":
        return _("Credit note {number}", number=rows["credit_notes"][g.ref]["number"]) + (
            f" ({on})" if on else ""
        )
    if g.kind == "credit_applied":
        amount = format_money(g.used, g.currency, i18n.get_locale())
        return _("Credit of {amount} used on {invoices}", amount=amount, invoices=on or "-")
    if g.kind == "credit":
        entry = rows["credit_by_id"].get(g.ref)
        if entry is None:
            return _("Credit")
        reason = _(CREDIT_REASONS.get(entry["reason"], entry["reason"].replace("_", " ").capitalize()))
        label = _("Credit added") if entry["amount_minor"] > 0 else _("Credit removed")
        return " · ".join(part for part in (label, reason, entry["note"]) if part)
    return _("Adjustment on {invoices}", invoices=on or "-")


def _open_at(rows: dict[str, Any], currency: str, end: date) -> list[OpenInvoice]:
    """Invoices issued by `end` with what was still open on them that day, oldest due first."""
    placed: dict[int, int] = defaultdict(int)
    payments, refunds = rows["payments"], rows["refunds"]
    for row in rows["allocations"]:
        if row["currency"] != currency:
            continue
        if row["refund_id"] and row["refund_id"] in refunds:
            day = _day(refunds[row["refund_id"]]["created_at"])
        elif row["payment_id"] and row["payment_id"] in payments:
            day = payments[row["payment_id"]].received_on
        else:
            day = _day(row["created_at"])
        if day <= end:
            placed[row["invoice_id"]] += row["amount_minor"]
    items = []
    for inv in rows["invoices"].values():
        if inv["currency"] != currency or inv["issue_date"] > end:
            continue
        left = inv["total_minor"] - placed[inv["id"]]
        if left > 0:
            items.append(
                OpenInvoice(
                    invoice_id=inv["id"],
                    number=inv["number"] or _("Draft {id}", id=inv["id"]),
                    issue_date=inv["issue_date"],
                    due_date=inv["due_date"],
                    days_past_due=(end - inv["due_date"]).days,
                    open_minor=left,
                )
            )
    return sorted(items, key=lambda i: (i.due_date, i.invoice_id))


def _credit_at(rows: dict[str, Any], currency: str, end: date) -> int:
    payments = rows["payments"]
    total = 0
    for row in rows["credits"]:
        if row["currency"] != currency:
            continue
        if row["payment_id"] in payments and not row["refund_id"]:
            day = payments[row["payment_id"]].received_on
        else:
            day = _day(row["created_at"])
        if day <= end:
            total += row["amount_minor"]
    return total


def _block(
    currency: str, groups: list[_Group], rows: dict[str, Any], start: date, end: date
) -> CurrencyBlock | None:
    mine = [g for g in groups if g.currency == currency]
    opening = sum(g.effect for g in mine if g.day < start)
    during = [g for g in mine if start <= g.day <= end]
    if not during and opening == 0:
        return None
    balance, lines = opening, []
    totals = defaultdict(int)
    for g in during:
        balance += g.effect
        totals[g.kind] += g.effect
        lines.append(
            StatementLine(
                date=g.day,
                kind=g.kind,
                description=_describe(g, rows),
                amount_minor=g.effect,
                balance_minor=balance,
                invoice_id=g.ref
                if g.kind == "invoice"
                else (g.invoice_ids[0] if len(set(g.invoice_ids)) == 1 else None),
                payment_id=g.ref if g.kind == "payment" else None,
            )
        )
    return CurrencyBlock(
        currency=currency,
        opening_minor=opening,
        invoiced_minor=totals["invoice"],
        paid_minor=-totals["payment"],
        refunded_minor=totals["refund"],
        credit_minor=totals["credit"] + totals["credit_applied"] + totals["credit_note"] + totals["other"],
        closing_minor=balance,
        credit_at_end_minor=_credit_at(rows, currency, end),
        lines=lines,
        open_invoices=_open_at(rows, currency, end),
        balance_now_minor=sum(g.effect for g in mine),
    )


async def build_statement(*, actor: Actor, client_id: int, start: date, end: date) -> Statement:
    """The statement of one client for `start`..`end` (both included), its words in the current locale;
    a client sees only its own."""
    check_client_access(actor, client_id, message=NOT_FOUND)
    check_period(start, end)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_(NOT_FOUND))
    rows = await _rows(client_id)
    groups = _groups(rows)
    currencies = sorted({g.currency for g in groups}, key=lambda c: (c != client.currency, c))
    blocks = [b for c in currencies if (b := _block(c, groups, rows, start, end)) is not None]
    return Statement(client_id=client.id, client_name=client.name, start=start, end=end, blocks=blocks)


async def statement_document(*, actor: Actor, client_id: int, start: date, end: date) -> StatementDocument:
    """The statement for its PDF, in the client's language (the same access as the page)."""
    check_client_access(actor, client_id, message=NOT_FOUND)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_(NOT_FOUND))
    locale = client.locale or "en"
    with i18n.locale_scope(locale):
        statement = await build_statement(actor=actor, client_id=client_id, start=start, end=end)
    party = Party(
        name=client.name, company=client.company, email=client.email, address=client.billing_address
    )
    return StatementDocument(statement, await letterhead(), party, locale)

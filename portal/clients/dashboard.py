"""The client's to-do list: what to pay (invoices and credit requests), cards about to expire.

A client may have a thousand open invoices: the dashboard shows the oldest due few (`payables` with a
`limit`), counts and sums them all in the database (`open_summary`), and pages through the rest
(`open_invoices_page`); what a page costs does not grow with what the client owes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.expressions import RawSQL
from tortoise.functions import Count, Sum

from portal.billing import invoices
from portal.core.actors import Actor, check_client_access
from portal.core.clock import today
from portal.core.paging import Page, bounds
from portal.db.models import CreditRequest, Invoice
from portal.domain.status import CreditRequestStatus, InvoiceStatus
from portal.i18n import _
from portal.payments import methods
from portal.payments.methods import MethodRow

# what the open invoices of a group still owe: their totals less what is allocated to each
_DUE = f'"total_minor" - {invoices.ALLOCATED}'
OWED = f"SUM({_DUE})"
# the part of it that "Pay all" leaves out: the invoices of a recurring billing request, which must start a
# subscription when paid (the rule of `payments.pay_all_ledger.payable_invoices`); an invoice of no request
# (nearly all of them) is passed over by its NULL before any subquery runs
RECURRING_OWED = (
    'SUM(CASE WHEN "billing_request_id" IS NOT NULL AND EXISTS (SELECT 1 FROM "billing_request" b '
    """WHERE b."id" = "invoice"."billing_request_id" AND b."billing_type" = 'recurring') """
    f"THEN {_DUE} ELSE 0 END)"
)


@dataclass(frozen=True)
class Payable:
    """Something the client can pay now: an open invoice or a pending credit request."""

    purpose: str  # invoice | credit_request
    id: int
    number: str
    title: str
    issue_date: date
    due_date: date | None
    currency: str
    amount_due_minor: int
    awaiting_transfer: bool = False  # the client said a bank transfer is on its way

    @property
    def is_overdue(self) -> bool:
        """Past its due date and still unpaid."""
        return self.due_date is not None and self.due_date < today()

    @property
    def status(self) -> str:
        """'awaiting_transfer', 'overdue', 'open' or 'pending' (credit requests)."""
        if self.awaiting_transfer:
            return "awaiting_transfer"
        if self.is_overdue:
            return "overdue"
        return "open" if self.purpose == "invoice" else "pending"


@dataclass(frozen=True)
class OpenSummary:
    """Everything the client has to pay, counted and summed by the database."""

    invoices: int  # open invoices
    requests: int  # pending credit requests
    totals: dict[str, int]  # owed per currency, both kinds together
    payable: dict[str, int]  # of which "Pay all" pays (not a recurring request's invoice)

    @property
    def count(self) -> int:
        """Open invoices and pending credit requests."""
        return self.invoices + self.requests


async def open_summary(*, actor: Actor, client_id: int) -> OpenSummary:
    """How many open invoices and pending credit requests, and what is owed per currency: two aggregate
    statements (the invoices less their allocations, the credit requests), whatever the number of rows."""
    check_client_access(actor, client_id)
    requested = (
        await CreditRequest.filter(client_id=client_id, status=CreditRequestStatus.pending)
        .annotate(n=Count("id"), owed=Sum("amount_minor"))
        .group_by("currency")
        .values("currency", "n", "owed")
    )
    return _summary(await _invoiced(client_id), requested)


async def _invoiced(client_id: int) -> list[dict]:
    """The client's open invoices per currency: how many, and what they still owe (one statement)."""
    return (
        await Invoice.filter(client_id=client_id, status=InvoiceStatus.open)
        .annotate(n=Count("id"), owed=RawSQL(OWED), recurring=RawSQL(RECURRING_OWED))
        .group_by("currency")
        .values("currency", "n", "owed", "recurring")
    )


def _summary(invoiced: list[dict], requested: list[dict]) -> OpenSummary:
    """The summary of per-currency rows (`currency`, `n`, `owed`, for invoices also `recurring`: owed on
    recurring requests' invoices) of open invoices and credit requests."""
    totals: dict[str, int] = {}
    payable: dict[str, int] = {}
    for row in invoiced + requested:
        totals[row["currency"]] = totals.get(row["currency"], 0) + int(row["owed"] or 0)
        part = int(row["owed"] or 0) - int(row.get("recurring") or 0)  # a credit request: all of it
        payable[row["currency"]] = payable.get(row["currency"], 0) + part
    return OpenSummary(
        invoices=sum(int(row["n"]) for row in invoiced),
        requests=sum(int(row["n"]) for row in requested),
        totals=dict(sorted(totals.items())),
        payable=payable,
    )


@dataclass(frozen=True)
class ToDo:
    """What My Billing's to-do shows of what to pay: everything counted and summed, the first few listed."""

    summary: OpenSummary
    items: list[Payable]  # the pending credit requests and the oldest due invoices, earliest due first


async def todo(*, actor: Actor, client_id: int, limit: int) -> ToDo:
    """`open_summary` and `payables(limit=...)` in three statements instead of four: the pending credit
    requests are read once, listed whole and summed here."""
    check_client_access(actor, client_id)
    requests = await _request_payables(client_id)
    invoiced = await _invoiced(client_id)
    shown = _invoice_payables(await invoices.summary_rows(invoices.open_query(client_id).limit(limit)))
    requested: dict[str, dict] = {}
    for item in requests:
        row = requested.setdefault(item.currency, {"currency": item.currency, "n": 0, "owed": 0})
        row["n"] += 1
        row["owed"] += item.amount_due_minor
    items = sorted(requests + shown, key=lambda p: (p.due_date or date.max, p.id))
    return ToDo(_summary(invoiced, list(requested.values())), items)


def _invoice_payables(rows: list[dict]) -> list[Payable]:
    """The rows as payables, marked when the client said a bank transfer is on its way."""
    title = _("Invoice {number}")  # translated once, filled in for each row
    return [
        Payable(
            "invoice",
            row["id"],
            row["number"],
            title.format(number=row["number"]),
            row["issue_date"],
            row["due_date"],
            row["currency"],
            row["amount_due_minor"],
            row["awaiting_transfer"],
        )
        for row in rows
    ]


async def _request_payables(client_id: int) -> list[Payable]:
    requests = CreditRequest.filter(client_id=client_id, status=CreditRequestStatus.pending).order_by("id")
    fields = ("id", "description", "created_at", "due_date", "currency", "amount_minor")
    rows = await requests.values_list(*fields, "awaiting_transfer_since")  # plain values, no models
    untitled = _("Credit request")
    return [
        Payable(
            "credit_request",
            id_,
            f"CR-{id_}",
            description or untitled,
            created_at.date(),
            due_date,
            currency,
            amount_minor,
            awaiting_since is not None,
        )
        for id_, description, created_at, due_date, currency, amount_minor, awaiting_since in rows
    ]


async def payables(*, actor: Actor, client_id: int, limit: int | None = None) -> list[Payable]:
    """Pending credit requests, then open invoices, the earliest due first; with `limit`, the credit
    requests and the `limit` oldest due invoices only (one statement for those, whatever the count)."""
    check_client_access(actor, client_id)
    query = invoices.open_query(client_id)
    if limit is not None:
        query = query.limit(limit)
    items = await _request_payables(client_id) + _invoice_payables(await invoices.summary_rows(query))
    return sorted(items, key=lambda p: (p.due_date or date.max, p.id))


async def open_invoices_page(*, actor: Actor, client_id: int, page: int, page_size: int) -> Page[Payable]:
    """One page of the client's open invoices, oldest due first, and how many there are in all."""
    check_client_access(actor, client_id)
    page, page_size = bounds(page, page_size)
    query = invoices.open_query(client_id)
    total = await query.count()
    rows = await invoices.summary_rows(query.offset((page - 1) * page_size).limit(page_size))
    return Page(_invoice_payables(rows), total, page, page_size)


async def expiring_cards(*, actor: Actor, client_id: int) -> list[MethodRow]:
    """Saved cards to replace: expired, or in their last month within the next 30 days (one rule with the
    payment methods section's badge: `methods.expiry_state`)."""
    on = today()
    cards = await methods.payment_methods(actor=actor, client_id=client_id)
    return [m for m in cards if any(methods.expiry_state(m.exp_month, m.exp_year, on=on))]

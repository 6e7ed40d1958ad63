"""The client's to-do list: what to pay (invoices and credit requests), cards about to expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portal.db.models import CreditRequest
from portal.domain.status import CreditRequestStatus
from portal.services import clients, invoices
from portal.services.actors import Actor, check_client_access
from portal.services.clients import MethodRow
from portal.services.clock import today

EXPIRY_WARNING_DAYS = 30


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

    @property
    def is_overdue(self) -> bool:
        """Past its due date and still unpaid."""
        return self.due_date is not None and self.due_date < today()

    @property
    def status(self) -> str:
        """'overdue', 'open' or 'pending' (credit requests)."""
        if self.is_overdue:
            return "overdue"
        return "open" if self.purpose == "invoice" else "pending"


async def payables(*, actor: Actor, client_id: int) -> list[Payable]:
    """Open invoices and pending credit requests, the earliest due first."""
    check_client_access(actor, client_id)
    items = [
        Payable(
            "invoice",
            i.id,
            i.number,
            f"Invoice {i.number}",
            i.issue_date,
            i.due_date,
            i.currency,
            i.amount_due_minor,
        )
        for i in await invoices.open_invoices(actor=actor, client_id=client_id)
    ]
    for credit in await CreditRequest.filter(
        client_id=client_id, status=CreditRequestStatus.pending
    ).order_by("id"):
        items.append(
            Payable(
                "credit_request",
                credit.id,
                f"CR-{credit.id}",
                credit.description or "Credit request",
                credit.created_at.date(),
                credit.due_date,
                credit.currency,
                credit.amount_minor,
            )
        )
    return sorted(items, key=lambda p: (p.due_date or date.max, p.id))


def totals_by_currency(items: list[Payable]) -> dict[str, int]:
    """What is owed in each currency."""
    totals: dict[str, int] = {}
    for item in items:
        totals[item.currency] = totals.get(item.currency, 0) + item.amount_due_minor
    return dict(sorted(totals.items()))


def _expiry_end(method: MethodRow) -> date | None:
    if not method.exp_month or not method.exp_year:
        return None
    first_of_next = date(method.exp_year + method.exp_month // 12, method.exp_month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)  # a card works until the end of its expiry month


async def expiring_cards(
    *, actor: Actor, client_id: int, within_days: int = EXPIRY_WARNING_DAYS
) -> list[MethodRow]:
    """Saved cards that expire within the next 30 days (or already have)."""
    limit = today() + timedelta(days=within_days)
    return [
        m
        for m in await clients.payment_methods(actor=actor, client_id=client_id)
        if (end := _expiry_end(m)) is not None and end <= limit
    ]

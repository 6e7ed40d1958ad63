"""The client's to-do list: what to pay (invoices and credit requests), cards about to expire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from portal.billing import invoices
from portal.core.actors import Actor, check_client_access
from portal.core.clock import today
from portal.db.models import CreditRequest
from portal.domain.status import CreditRequestStatus
from portal.i18n import _
from portal.payments import methods
from portal.payments.methods import MethodRow


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
    title = _("Invoice {number}")  # translated once, filled in for each of possibly a thousand invoices
    items = [  # straight from the rows (a client may have a thousand open invoices)
        Payable(
            "invoice",
            row["id"],
            row["number"],
            title.format(number=row["number"]),
            row["issue_date"],
            row["due_date"],
            row["currency"],
            row["amount_due_minor"],
        )
        for row in await invoices.summary_rows(invoices.open_query(client_id))
    ]
    for credit in await CreditRequest.filter(
        client_id=client_id, status=CreditRequestStatus.pending
    ).order_by("id"):
        items.append(
            Payable(
                "credit_request",
                credit.id,
                f"CR-{credit.id}",
                credit.description or _("Credit request"),
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


async def expiring_cards(*, actor: Actor, client_id: int) -> list[MethodRow]:
    """Saved cards to replace: expired, or in their last month within the next 30 days (one rule with the
    payment methods section's badge: `methods.expiry_state`)."""
    on = today()
    cards = await methods.payment_methods(actor=actor, client_id=client_id)
    return [m for m in cards if any(methods.expiry_state(m.exp_month, m.exp_year, on=on))]

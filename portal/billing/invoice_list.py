"""The console's invoice list: one page of invoices, filtered, with what is still due on each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.expressions import Q

from portal.core.actors import Actor, require_staff
from portal.core.clock import today
from portal.core.paging import Page, bounds, client_matches, fetch
from portal.db.models import Invoice
from portal.domain.errors import InvalidInput
from portal.domain.money import normalize_currency
from portal.domain.status import InvoiceStatus
from portal.i18n import _
from portal.payments.ledger import allocated_by_invoice

PAGE_SIZE = 25
STATUS_FILTERS = ("", "draft", "open", "paid", "deleted")


# -- the list ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InvoiceRow:
    """An invoice as the console list shows it."""

    id: int
    number: str
    client_id: int
    client_name: str
    status: str  # draft | open | overdue | paid | deleted
    currency: str
    issue_date: date
    due_date: date
    total_minor: int
    amount_due_minor: int


@dataclass(frozen=True)
class InvoicePage(Page[InvoiceRow]):
    """One page of the invoice list, and the currencies the filter offers."""

    currencies: list[str]


async def list_invoices(
    *,
    actor: Actor,
    status: str = "",
    search: str = "",
    currency: str = "",
    overdue: bool = False,
    client_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> InvoicePage:
    """Staff: invoices newest first, filtered by status, client or number, currency, overdue; one page."""
    require_staff(actor)
    if status not in STATUS_FILTERS:
        raise InvalidInput(_("Choose a status from the list."), field="status")
    page, page_size = bounds(page, page_size)
    query = Invoice.filter(status=status) if status else Invoice.exclude(status=InvoiceStatus.deleted)
    if currency:
        query = query.filter(currency=normalize_currency(currency))
    if overdue:
        query = query.filter(status=InvoiceStatus.open, due_date__lt=today())
    if client_id is not None:
        query = query.filter(client_id=client_id)
    if term := search.strip():
        query = query.filter(Q(number__icontains=term) | client_matches(term))
    query = query.prefetch_related("client")
    invoices, total = await fetch(query, page, page_size, "-issue_date", "-id")
    allocated = await allocated_by_invoice([inv.id for inv in invoices])
    rows = [
        InvoiceRow(
            id=inv.id,
            number=inv.number or _("Draft {id}", id=inv.id),
            client_id=inv.client_id,
            client_name=inv.client.name,
            status="overdue" if inv.status == InvoiceStatus.open and inv.due_date < today() else inv.status,
            currency=inv.currency,
            issue_date=inv.issue_date,
            due_date=inv.due_date,
            total_minor=inv.total_minor,
            amount_due_minor=inv.total_minor - allocated.get(inv.id, 0),
        )
        for inv in invoices
    ]
    used = await Invoice.all().distinct().order_by("currency").values_list("currency", flat=True)
    return InvoicePage(rows, total, page, page_size, sorted(set(used)))

"""The console overview: what is owed, what came in, what happened, what needs attention.

Receivables are SQL aggregates (the open invoices' totals, and the allocations on them, per currency with
the overdue part beside them) and the payments one more: no invoice, allocation or payment row is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.expressions import Case, RawSQL, When
from tortoise.functions import Count, Sum

from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.audit import AuditRow
from portal.core.clock import now_utc, today
from portal.db.models import Allocation, BillingRequest, Invoice, Payment
from portal.domain.status import BillingRequestStatus, InvoiceStatus, PaymentStatus

CHART_DAYS = 30
EXPIRING_HOURS = 6
LIST_LIMIT = 20
RECEIVED_STATUSES = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)


@dataclass(frozen=True)
class Receivable:
    """What clients owe in one currency: everything open, and the part of it that is overdue."""

    currency: str
    open_minor: int
    open_count: int
    overdue_minor: int
    overdue_count: int


@dataclass(frozen=True)
class DailyPayments:
    """Payments received per day and currency (minor units); `days` runs oldest to today."""

    days: list[date]
    series: dict[str, list[int]]  # currency -> one total per day, aligned with `days`

    @property
    def empty(self) -> bool:
        """True when nothing came in during the period."""
        return not any(any(values) for values in self.series.values())


@dataclass(frozen=True)
class ExpiringRequest:
    """A pending billing request whose payment link runs out soon."""

    id: int
    client_id: int | None
    email: str
    description: str
    amount_minor: int
    currency: str
    expires_at: datetime


@dataclass(frozen=True)
class ReviewPayment:
    """A payment the portal could not place by itself (flagged for review)."""

    id: int
    client_id: int | None
    client_name: str
    amount_minor: int
    currency: str
    received_on: date
    note: str


@dataclass(frozen=True)
class Overview:
    """Everything the overview page shows."""

    receivables: list[Receivable]
    payments: DailyPayments
    activity: list[AuditRow]
    expiring_requests: list[ExpiringRequest]
    needs_review: list[ReviewPayment]


async def receivables(*, actor: Actor) -> list[Receivable]:
    """Open and overdue amounts due per currency (staff only), as the ledger defines them: the open
    invoices' totals minus their allocations (payments, credit applied, refunds as negative rows).

    Two SQL aggregates, each grouped by currency and by whether the invoice is past due: the open invoices'
    totals and counts, and the allocations on them (a join, summed by the database). No row is loaded."""
    require_staff(actor)
    on = today()
    # 1 and 0 written into the SQL: as bound parameters PostgreSQL would not know their type
    invoice_late = Case(When(due_date__lt=on, then=RawSQL("1")), default=RawSQL("0"))
    allocation_late = Case(When(invoice__due_date__lt=on, then=RawSQL("1")), default=RawSQL("0"))
    totals = (
        await Invoice.filter(status=InvoiceStatus.open)
        .annotate(late=invoice_late)
        .group_by("currency", "late")
        .annotate(count=Count("id"), total=Sum("total_minor"))
        .values("currency", "late", "count", "total")
    )
    allocated = (
        await Allocation.filter(invoice__status=InvoiceStatus.open)
        .annotate(late=allocation_late)
        .group_by("invoice__currency", "late")
        .annotate(total=Sum("amount_minor"))
        .values("invoice__currency", "late", "total")
    )
    sums: dict[str, list[int]] = {}  # currency -> [open, open count, overdue, overdue count]

    def add(currency: str, late: object, amount: object, count: object = 0) -> None:
        found = sums.setdefault(currency, [0, 0, 0, 0])
        found[0] += int(amount or 0)
        found[1] += int(count or 0)
        if int(late or 0):
            found[2] += int(amount or 0)
            found[3] += int(count or 0)

    for row in totals:
        add(row["currency"], row["late"], row["total"], row["count"])
    for row in allocated:  # an allocation lowers what is due on the invoice it settles, in its currency
        add(row["invoice__currency"], row["late"], -int(row["total"] or 0))
    return [Receivable(currency, *found) for currency, found in sorted(sums.items())]


async def payments_by_day(*, actor: Actor, days: int = CHART_DAYS) -> DailyPayments:
    """Money received per day and currency over the last `days` days, today included (staff only)."""
    require_staff(actor)
    days = max(1, min(int(days), 366))
    last = today()
    first = last - timedelta(days=days - 1)
    rows = (
        await Payment.filter(
            status__in=list(RECEIVED_STATUSES), received_on__gte=first, received_on__lte=last
        )
        .group_by("received_on", "currency")
        .annotate(total=Sum("amount_minor"))
        .values("received_on", "currency", "total")
    )
    span = [first + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(span)}
    series: dict[str, list[int]] = {}
    for row in rows:
        day = row["received_on"]
        if isinstance(day, datetime):
            day = day.date()
        elif isinstance(day, str):
            day = date.fromisoformat(day[:10])
        values = series.setdefault(row["currency"], [0] * days)
        values[index[day]] += int(row["total"] or 0)
    return DailyPayments(days=span, series=dict(sorted(series.items())))


async def expiring_requests(*, actor: Actor, within_hours: int = EXPIRING_HOURS) -> list[ExpiringRequest]:
    """Pending billing requests that expire within the next hours, the soonest first (staff only)."""
    require_staff(actor)
    now = now_utc()
    rows = (
        await BillingRequest.filter(
            status=BillingRequestStatus.pending,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(hours=within_hours),
        )
        .order_by("expires_at", "id")
        .limit(LIST_LIMIT)
    )
    return [
        ExpiringRequest(
            id=r.id,
            client_id=r.client_id,
            email=r.email,
            description=r.description,
            amount_minor=r.amount_minor,
            currency=r.currency,
            expires_at=r.expires_at,
        )
        for r in rows
        if r.expires_at is not None
    ]


async def payments_needing_review(*, actor: Actor) -> list[ReviewPayment]:
    """Payments flagged for review, the newest first (staff only)."""
    require_staff(actor)
    rows = (
        await Payment.filter(needs_review=True)
        .order_by("-created_at", "-id")
        .limit(LIST_LIMIT)
        .prefetch_related("client")
    )
    return [
        ReviewPayment(
            id=p.id,
            client_id=p.client_id,
            client_name=p.client.name if p.client else "",
            amount_minor=p.amount_minor,
            currency=p.currency,
            received_on=p.received_on,
            note=p.review_note,
        )
        for p in rows
    ]


async def get_overview(*, actor: Actor, activity_limit: int = 10) -> Overview:
    """The whole overview page in one call (staff only)."""
    require_staff(actor)
    return Overview(
        receivables=await receivables(actor=actor),
        payments=await payments_by_day(actor=actor),
        activity=await audit.recent(actor=actor, limit=activity_limit),
        expiring_requests=await expiring_requests(actor=actor),
        needs_review=await payments_needing_review(actor=actor),
    )

"""A client's history: paid invoices, payments and receipts, refunds, the credit ledger, decided estimates
and proposals, and who from the agency viewed the portal as the client (impersonation
sessions). Newest first, each list capped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, TypeVar

from tortoise.expressions import Q
from tortoise.functions import Sum

from portal import i18n
from portal.billing import credit_notes
from portal.billing.credit_notes import CreditNoteSummary
from portal.billing.documents import RECEIPT_STATUSES, invoice_number
from portal.billing.quotes import DecidedQuote, decided_quotes
from portal.core.actors import Actor, check_client_access
from portal.core.clock import now_utc
from portal.db.models import CreditEntry, ImpersonationSession, Invoice, Payment, Refund
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.i18n import N_, _
from portal.payments.methods import method_label

LIMIT = 100
T = TypeVar("T")

CREDIT_REASONS = {
    "overpayment": N_("Overpayment"),
    "adjustment": N_("Adjustment"),
    "applied_to_invoice": N_("Used on an invoice"),
    "refund_to_credit": N_("Refund to credit"),
    "payment_unmatched": N_("Unmatched payment"),
    "purchase": N_("Credit purchase"),
    "refunded": N_("Taken back by a refund"),
}
PAYMENT_STATUSES = {
    "pending": N_("Processing"),
    "failed": N_("Failed"),
    "refunded": N_("Refunded"),
    "partially_refunded": N_("Partially refunded"),
}


def payment_status_label(status: str) -> str:
    """A payment's status in the current locale: 'Paid' agrees with a payment ('Payé', not 'Payée')."""
    if status == "succeeded":
        return i18n.pgettext("payment", "Paid")
    return _(PAYMENT_STATUSES.get(status, status.replace("_", " ").capitalize()))


@dataclass(frozen=True)
class Section(Generic[T]):
    """One list of the history: the newest `LIMIT` items and how many there are in all."""

    items: list[T]
    total: int

    @property
    def truncated(self) -> bool:
        """True when older items are not shown."""
        return self.total > len(self.items)


@dataclass(frozen=True)
class PaidInvoice:
    """An invoice that is paid."""

    id: int
    number: str
    paid_on: date | None
    total_minor: int
    currency: str


@dataclass(frozen=True)
class PaymentEntry:
    """A payment: when, how, how much, where it stands, and its receipt when it has one."""

    id: int
    date: date
    method: str
    amount_minor: int
    currency: str
    status: str
    status_label: str
    receipt_id: int | None


@dataclass(frozen=True)
class RefundEntry:
    """Money given back."""

    id: int
    payment_id: int
    date: date
    amount_minor: int
    currency: str
    reason: str


@dataclass(frozen=True)
class CreditLedgerEntry:
    """One credit ledger row with the balance of its currency after it."""

    id: int
    date: date
    reason: str
    note: str
    invoice_number: str
    amount_minor: int  # positive adds credit, negative uses it
    currency: str
    balance_minor: int


@dataclass(frozen=True)
class AccessEntry:
    """A time someone from the agency viewed the portal as this client."""

    id: int
    admin_name: str
    admin_email: str
    started_at: datetime
    ended_at: datetime | None
    expires_at: datetime
    reason: str

    @property
    def ended(self) -> str:
        """'Mar 12, 2027, 10:04 AM UTC', 'Ended automatically on ...' or 'In progress' (current locale)."""
        if self.ended_at is not None and self.ended_at < self.expires_at:
            return i18n.format_datetime(self.ended_at)
        if self.expires_at <= now_utc():
            return _("Ended automatically on {moment}", moment=i18n.format_datetime(self.expires_at))
        return _("In progress (ends automatically at {time} UTC)", time=i18n.format_time(self.expires_at))


@dataclass(frozen=True)
class History:
    """Everything the history page lists."""

    client_id: int
    paid_invoices: Section[PaidInvoice]
    payments: Section[PaymentEntry]
    refunds: Section[RefundEntry]
    credit: Section[CreditLedgerEntry]
    access: Section[AccessEntry]
    quotes: Section[DecidedQuote]
    credit_notes: Section[CreditNoteSummary]


async def _paid_invoices(client_id: int, limit: int) -> Section[PaidInvoice]:
    query = Invoice.filter(client_id=client_id, status=InvoiceStatus.paid)
    rows = await query.order_by("-paid_at", "-id").limit(limit)
    items = [
        PaidInvoice(
            i.id, invoice_number(i), i.paid_at.date() if i.paid_at else None, i.total_minor, i.currency
        )
        for i in rows
    ]
    return Section(items, await query.count())


async def _payments(client_id: int, limit: int) -> Section[PaymentEntry]:
    # an abandoned checkout (pending, never charged) is not a payment the client made
    abandoned = Q(
        status=PaymentStatus.pending, gateway_checkout_id__isnull=False, gateway_payment_id__isnull=True
    )
    query = Payment.filter(Q(client_id=client_id) & ~abandoned)
    rows = await query.order_by("-received_on", "-id").limit(limit).prefetch_related("payment_method")
    items = [
        PaymentEntry(
            id=p.id,
            date=p.received_on,
            method=method_label(p.method, p.payment_method),
            amount_minor=p.amount_minor,
            currency=p.currency,
            status=p.status,
            status_label=payment_status_label(p.status),
            receipt_id=p.id if p.status in RECEIPT_STATUSES else None,
        )
        for p in rows
    ]
    return Section(items, await query.count())


async def _refunds(client_id: int, limit: int) -> Section[RefundEntry]:
    query = Refund.filter(payment__client_id=client_id)
    rows = await query.order_by("-created_at", "-id").limit(limit)
    items = [
        RefundEntry(r.id, r.payment_id, r.created_at.date(), r.amount_minor, r.currency, r.reason)
        for r in rows
    ]
    return Section(items, await query.count())


async def _credit(client_id: int, limit: int) -> Section[CreditLedgerEntry]:
    """The newest ledger rows; each balance is worked back from today's balance of its currency."""
    query = CreditEntry.filter(client_id=client_id)
    sums = await query.group_by("currency").annotate(total=Sum("amount_minor")).values("currency", "total")
    balance = {row["currency"]: int(row["total"] or 0) for row in sums}
    rows = await query.order_by("-id").limit(limit).prefetch_related("invoice")
    items = []
    for row in rows:
        items.append(
            CreditLedgerEntry(
                id=row.id,
                date=row.created_at.date(),
                reason=_(CREDIT_REASONS.get(row.reason, row.reason.replace("_", " ").capitalize())),
                note=row.note,
                invoice_number=invoice_number(row.invoice) if row.invoice else "",
                amount_minor=row.amount_minor,
                currency=row.currency,
                balance_minor=balance[row.currency],
            )
        )
        balance[row.currency] -= row.amount_minor
    return Section(items, await query.count())


async def _access(client_id: int, limit: int) -> Section[AccessEntry]:
    query = ImpersonationSession.filter(client_id=client_id)
    rows = await query.order_by("-started_at", "-id").limit(limit).prefetch_related("admin")
    items = [
        AccessEntry(
            id=s.id,
            admin_name=s.admin.full_name or s.admin.email,
            admin_email=s.admin.email,
            started_at=s.started_at,
            ended_at=s.ended_at,
            expires_at=s.expires_at,
            reason=s.reason,
        )
        for s in rows
    ]
    return Section(items, await query.count())


async def get_history(*, actor: Actor, client_id: int, limit: int = LIMIT) -> History:
    """A client's billing and access history, newest first (clients see only their own)."""
    check_client_access(actor, client_id)
    limit = max(1, min(limit, LIMIT))
    return History(
        client_id=client_id,
        paid_invoices=await _paid_invoices(client_id, limit),
        payments=await _payments(client_id, limit),
        refunds=await _refunds(client_id, limit),
        credit=await _credit(client_id, limit),
        access=await _access(client_id, limit),
        quotes=Section(*await decided_quotes(actor=actor, client_id=client_id, limit=limit)),
        credit_notes=Section(*await credit_notes.latest_of_client(client_id=client_id, limit=limit)),
    )

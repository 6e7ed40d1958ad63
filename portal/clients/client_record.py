"""One client's record for the console: the header and every list about the client, newest first.

Each list holds the newest `limit` rows and how many there are in all; the count is only asked for when
the list is full. About twenty small queries whatever the size of the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from portal.billing import credit_notes
from portal.billing.credit_notes import CreditNoteSummary
from portal.billing.documents import invoice_number
from portal.billing.quotes import display_status, quote_number
from portal.clients.history import CREDIT_REASONS, Section
from portal.core import audit as audit_trail
from portal.core.actors import Actor, require_staff
from portal.core.clock import today
from portal.db.models import (
    AuditEntry,
    BillingRequest,
    Client,
    CreditEntry,
    CreditRequest,
    Invoice,
    OutboxEmail,
    Payment,
    PaymentMethod,
    Quote,
    Refund,
    Subscription,
    User,
)
from portal.domain.errors import NotFound
from portal.domain.status import InvoiceStatus, OutboxStatus, Role, brand_label, local_label
from portal.i18n import _
from portal.payments.ledger import allocated_by_invoice
from portal.payments.methods import method_label, subscription_name
from portal.subscriptions.client_subscriptions import interval_label

LIMIT = 50
MAX_LIMIT = 200
M = TypeVar("M")


@dataclass(frozen=True)
class Header:
    """Who the client is and where its account stands."""

    id: int
    name: str
    company: str
    email: str
    currency: str
    locale: str
    billing_address: str
    avatar_path: str
    reminders_enabled: bool
    archived: bool
    auto_charge: bool
    auto_charge_consent_at: datetime | None
    credit: dict[str, int]  # currency -> credit available
    login: str  # none | invited (no password yet) | active | disabled
    login_email: str
    company_id: str = ""
    vat_number: str = ""
    vat_check: str = ""  # what VIES said: "" (not asked) | valid | invalid | unchecked
    vat_checked_at: datetime | None = None

    @property
    def initials(self) -> str:
        """Up to two initials for an avatar without a picture."""
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"


@dataclass(frozen=True)
class InvoiceItem:
    id: int
    number: str
    status: str
    currency: str
    issue_date: date
    due_date: date
    total_minor: int
    amount_due_minor: int | None  # None for drafts and deleted invoices
    overdue: bool


@dataclass(frozen=True)
class QuoteItem:
    id: int
    kind: str  # estimate | proposal
    number: str
    title: str
    status: str
    currency: str
    total_minor: int
    issue_date: date
    valid_until: date | None


@dataclass(frozen=True)
class BillingRequestItem:
    id: int
    description: str
    email: str
    status: str
    currency: str
    amount_minor: int
    billing_type: str
    sent_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class CreditRequestItem:
    id: int
    description: str
    status: str
    currency: str
    amount_minor: int
    due_date: date | None
    created_at: datetime


@dataclass(frozen=True)
class SubscriptionItem:
    id: int
    name: str
    status: str
    currency: str
    amount_minor: int
    interval: str
    period_end: datetime | None
    cancel_at_period_end: bool
    method: str


@dataclass(frozen=True)
class MethodItem:
    id: int
    label: str  # 'Visa •••• 4242 (12/2028)'
    kind: str
    gateway: str
    is_default: bool
    expired: bool


@dataclass(frozen=True)
class CreditItem:
    id: int
    at: datetime
    reason: str
    note: str
    invoice_number: str
    amount_minor: int
    currency: str
    balance_minor: int


@dataclass(frozen=True)
class RefundItem:
    id: int
    at: datetime
    amount_minor: int
    currency: str
    reason: str


@dataclass(frozen=True)
class PaymentItem:
    id: int
    received_on: date
    method: str
    source: str
    reference: str
    status: str
    currency: str
    amount_minor: int
    refunded_minor: int
    refunds: list[RefundItem] = field(default_factory=list)


@dataclass(frozen=True)
class EmailItem:
    id: int
    kind: str
    to: str
    subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str

    @property
    def failed(self) -> bool:
        """Given up on after its retries: it will never arrive."""
        return self.status == OutboxStatus.failed


@dataclass(frozen=True)
class AuditItem:
    id: int
    at: datetime
    who: str
    action: str
    subject: str
    details: dict[str, Any]
    sentence: str = ""  # what happened, in the reader's language, with amounts as money and records named
    details_text: str = ""  # the remaining details in words


@dataclass(frozen=True)
class ClientRecord:
    """Everything the console's client page shows."""

    header: Header
    invoices: Section[InvoiceItem]
    credit_notes: Section[CreditNoteSummary]
    quotes: Section[QuoteItem]
    billing_requests: Section[BillingRequestItem]
    credit_requests: Section[CreditRequestItem]
    subscriptions: Section[SubscriptionItem]
    methods: Section[MethodItem]
    credit: Section[CreditItem]
    payments: Section[PaymentItem]
    emails: Section[EmailItem]
    audit: Section[AuditItem]
    failed_emails: int  # every permanently failed email, not only those in the list


async def _newest(query: QuerySet[M], limit: int, *order: str) -> tuple[list[M], int]:
    """The first `limit` rows in `order` and the total (counted only when the page is full)."""
    rows = await query.order_by(*order).limit(limit)
    total = len(rows) if len(rows) < limit else await query.count()
    return rows, total


async def get_client_record(*, actor: Actor, client_id: int, limit: int = LIMIT) -> ClientRecord:
    """Staff: one client's header and lists (the newest `limit` rows of each)."""
    require_staff(actor)
    limit = max(1, min(limit, MAX_LIMIT))
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("That client does not exist."))
    balances = await _balances(client_id)
    return ClientRecord(
        header=await _header(client, balances),
        invoices=await _invoices(client_id, limit),
        credit_notes=Section(*await credit_notes.latest_of_client(client_id=client_id, limit=limit)),
        quotes=await _quotes(client_id, limit),
        billing_requests=await _billing_requests(client_id, limit),
        credit_requests=await _credit_requests(client_id, limit),
        subscriptions=await _subscriptions(client_id, limit),
        methods=await _methods(client_id, limit),
        credit=await _credit(client_id, limit, balances),
        payments=await _payments(client_id, limit),
        emails=await _emails(client_id, limit),
        audit=await _audit(client_id, limit),
        failed_emails=await OutboxEmail.filter(client_id=client_id, status=OutboxStatus.failed).count(),
    )


async def _balances(client_id: int) -> dict[str, int]:
    rows = (
        await CreditEntry.filter(client_id=client_id)
        .group_by("currency")
        .annotate(total=Sum("amount_minor"))
        .values("currency", "total")
    )
    return {row["currency"]: int(row["total"] or 0) for row in rows}


async def _header(client: Client, balances: dict[str, int]) -> Header:
    user = await User.filter(client_id=client.id, role=Role.client).order_by("id").first()
    if user is None:
        login = "none"
    elif not user.is_active:
        login = "disabled"
    else:
        login = "active" if user.password_hash else "invited"
    return Header(
        id=client.id,
        name=client.name,
        company=client.company,
        email=client.email,
        currency=client.currency,
        locale=client.locale,
        billing_address=client.billing_address,
        avatar_path=client.avatar_path,
        reminders_enabled=client.reminders_enabled,
        archived=client.archived,
        auto_charge=client.auto_charge,
        auto_charge_consent_at=client.auto_charge_consent_at,
        credit={currency: amount for currency, amount in sorted(balances.items()) if amount},
        login=login,
        login_email=user.email if user else "",
        company_id=client.company_id,
        vat_number=client.vat_number,
        vat_check=client.vat_check,
        vat_checked_at=client.vat_checked_at,
    )


async def _invoices(client_id: int, limit: int) -> Section[InvoiceItem]:
    rows, total = await _newest(Invoice.filter(client_id=client_id), limit, "-issue_date", "-id")
    allocated = await allocated_by_invoice([i.id for i in rows if i.status in _DUE_STATUSES])
    day = today()
    items = [
        InvoiceItem(
            id=i.id,
            number=invoice_number(i),
            status=i.status,
            currency=i.currency,
            issue_date=i.issue_date,
            due_date=i.due_date,
            total_minor=i.total_minor,
            amount_due_minor=i.total_minor - allocated.get(i.id, 0) if i.status in _DUE_STATUSES else None,
            overdue=i.status == InvoiceStatus.open and i.due_date < day,
        )
        for i in rows
    ]
    return Section(items, total)


_DUE_STATUSES = (InvoiceStatus.open, InvoiceStatus.paid)


async def _quotes(client_id: int, limit: int) -> Section[QuoteItem]:
    rows, total = await _newest(Quote.filter(client_id=client_id), limit, "-issue_date", "-id")
    items = [
        QuoteItem(
            id=q.id,
            kind=q.kind,
            number=quote_number(q.number, q.status, q.id),
            title=q.title,
            status=display_status(q.status, q.valid_until),  # a sent quote past its date has expired
            currency=q.currency,
            total_minor=q.total_minor,
            issue_date=q.issue_date,
            valid_until=q.valid_until,
        )
        for q in rows
    ]
    return Section(items, total)


async def _billing_requests(client_id: int, limit: int) -> Section[BillingRequestItem]:
    rows, total = await _newest(BillingRequest.filter(client_id=client_id), limit, "-created_at", "-id")
    items = [
        BillingRequestItem(
            id=r.id,
            description=r.description,
            email=r.email,
            status=r.status,
            currency=r.currency,
            amount_minor=r.amount_minor,
            billing_type=r.billing_type,
            sent_at=r.sent_at,
            expires_at=r.expires_at,
        )
        for r in rows
    ]
    return Section(items, total)


async def _credit_requests(client_id: int, limit: int) -> Section[CreditRequestItem]:
    rows, total = await _newest(CreditRequest.filter(client_id=client_id), limit, "-created_at", "-id")
    items = [
        CreditRequestItem(
            id=r.id,
            description=r.description,
            status=r.status,
            currency=r.currency,
            amount_minor=r.amount_minor,
            due_date=r.due_date,
            created_at=r.created_at,
        )
        for r in rows
    ]
    return Section(items, total)


async def _subscriptions(client_id: int, limit: int) -> Section[SubscriptionItem]:
    query = Subscription.filter(client_id=client_id).prefetch_related("plan", "payment_method")
    rows, total = await _newest(query, limit, "-created_at", "-id")
    items = [
        SubscriptionItem(
            id=s.id,
            name=subscription_name(s),
            status=s.status,
            currency=s.currency,
            amount_minor=s.amount_minor,
            interval=interval_label(s.interval, s.interval_count),
            period_end=s.current_period_end,
            cancel_at_period_end=s.cancel_at_period_end,
            method=_method_label(s.payment_method) if s.payment_method_id and s.payment_method else "",
        )
        for s in rows
    ]
    return Section(items, total)


def _method_label(method: PaymentMethod) -> str:
    """'Visa •••• 4242 (12/2028)', 'Bank transfer •••• 6789'."""
    name = brand_label(method.brand) or local_label(method.kind)
    expiry = f" ({method.exp_month:02d}/{method.exp_year})" if method.exp_month and method.exp_year else ""
    return f"{name} •••• {method.last4}{expiry}" if method.last4 else f"{name}{expiry}"


def _expired(method: PaymentMethod, day: date) -> bool:
    if not method.exp_month or not method.exp_year:
        return False
    return (method.exp_year, method.exp_month) < (day.year, day.month)


async def _methods(client_id: int, limit: int) -> Section[MethodItem]:
    query = PaymentMethod.filter(client_id=client_id, detached_at__isnull=True)
    rows, total = await _newest(query, limit, "-is_default", "-id")
    day = today()
    items = [
        MethodItem(
            id=m.id,
            label=_method_label(m),
            kind=m.kind,
            gateway=m.gateway,
            is_default=m.is_default,
            expired=_expired(m, day),
        )
        for m in rows
    ]
    return Section(items, total)


async def _credit(client_id: int, limit: int, balances: dict[str, int]) -> Section[CreditItem]:
    """The newest ledger rows; each balance is worked back from today's balance of its currency."""
    query = CreditEntry.filter(client_id=client_id).prefetch_related("invoice")
    rows, total = await _newest(query, limit, "-id")
    balance = dict(balances)
    items = []
    for row in rows:
        items.append(
            CreditItem(
                id=row.id,
                at=row.created_at,
                reason=_(CREDIT_REASONS.get(row.reason, row.reason.replace("_", " ").capitalize())),
                note=row.note,
                invoice_number=invoice_number(row.invoice) if row.invoice_id and row.invoice else "",
                amount_minor=row.amount_minor,
                currency=row.currency,
                balance_minor=balance.get(row.currency, 0),
            )
        )
        balance[row.currency] = balance.get(row.currency, 0) - row.amount_minor
    return Section(items, total)


async def _payments(client_id: int, limit: int) -> Section[PaymentItem]:
    query = Payment.filter(client_id=client_id).prefetch_related("payment_method")
    rows, total = await _newest(query, limit, "-received_on", "-id")
    refunds: dict[int, list[RefundItem]] = {}
    if rows:
        for r in await Refund.filter(payment_id__in=[p.id for p in rows]).order_by("created_at", "id"):
            refunds.setdefault(r.payment_id, []).append(
                RefundItem(r.id, r.created_at, r.amount_minor, r.currency, r.reason)
            )
    items = [
        PaymentItem(
            id=p.id,
            received_on=p.received_on,
            method=method_label(p.method, p.payment_method if p.payment_method_id else None),
            source=p.source,
            reference=p.reference,
            status=p.status,
            currency=p.currency,
            amount_minor=p.amount_minor,
            refunded_minor=p.refunded_minor,
            refunds=refunds.get(p.id, []),
        )
        for p in rows
    ]
    return Section(items, total)


async def _emails(client_id: int, limit: int) -> Section[EmailItem]:
    rows, total = await _newest(OutboxEmail.filter(client_id=client_id), limit, "-created_at", "-id")
    items = [
        EmailItem(
            id=e.id,
            kind=e.kind,
            to=e.to_address,
            subject=e.subject,
            status=e.status,
            created_at=e.created_at,
            sent_at=e.sent_at,
            attempts=e.attempts,
            last_error=e.last_error,
        )
        for e in rows
    ]
    return Section(items, total)


async def _audit(client_id: int, limit: int) -> Section[AuditItem]:
    query = AuditEntry.filter(on_behalf_of_id=client_id).prefetch_related("actor", "on_behalf_of")
    rows, total = await _newest(query, limit, "-at", "-id")
    described = await audit_trail.describe_entries(rows)
    items = [
        AuditItem(
            id=a.id,
            at=a.at,
            who=(a.actor.full_name or a.actor.email) if a.actor_id and a.actor else _("System"),
            action=a.action,
            subject=a.subject,
            details=dict(a.details or {}),
            sentence=row.sentence,
            details_text=row.details,
        )
        for a, row in zip(rows, described, strict=True)
    ]
    return Section(items, total)

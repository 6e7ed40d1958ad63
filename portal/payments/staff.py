"""Staff use cases around money asked for and received: the billing requests list and its payment links,
what the record-payment dialog shows, and charging one of a client's stored methods from the console."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.expressions import Q

from portal.billing import invoices
from portal.clients import profiles
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import now_utc, today
from portal.core.paging import Page, bounds, fetch
from portal.db.models import BillingRequest, Client, Invoice, Payment, PaymentMethod
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import BillingRequestStatus, InvoiceStatus, PaymentStatus
from portal.i18n import _, get_locale
from portal.payments import links, online
from portal.payments.gateways import selector

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MODES = ("sandbox", "test", "live")
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,120}$")


# -- billing requests -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BillingRequestRow:
    """A billing request as the console lists it; `status` is what it is now (a pending request whose
    24 hours are over is 'expired' even before the expiry job has run)."""

    id: int
    client_id: int | None
    client_name: str
    email: str
    description: str
    amount_minor: int
    currency: str
    billing_type: str
    interval: str | None
    status: str
    mode: str
    sent_at: datetime | None
    expires_at: datetime | None
    seconds_left: int | None

    @property
    def can_delete(self) -> bool:
        """Only a pending request can be deleted."""
        return self.status == BillingRequestStatus.pending

    @property
    def can_copy_link(self) -> bool:
        """A payment link is handed out only while the request can be paid."""
        return self.status == BillingRequestStatus.pending


@dataclass(frozen=True)
class BillingRequestPage(Page[BillingRequestRow]):
    """One page of the billing requests list."""


def _status_filter(status: str, now: datetime) -> Q:
    """Requests that are `status` now (pending ones past their expiry count as expired)."""
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    if status == BillingRequestStatus.pending:
        return Q(status=BillingRequestStatus.pending) & live
    if status == BillingRequestStatus.expired:
        return Q(status=BillingRequestStatus.expired) | Q(
            status=BillingRequestStatus.pending, expires_at__lte=now
        )
    return Q(status=status)


def _row(request: BillingRequest, names: dict[int, str], now: datetime) -> BillingRequestRow:
    status = request.status
    left: int | None = None
    if status == BillingRequestStatus.pending and request.expires_at is not None:
        left = int((request.expires_at - now).total_seconds())
        if left <= 0:
            status, left = BillingRequestStatus.expired, None
    return BillingRequestRow(
        id=request.id,
        client_id=request.client_id,
        client_name=names.get(request.client_id or 0, ""),
        email=request.email,
        description=request.description,
        amount_minor=request.amount_minor,
        currency=request.currency,
        billing_type=request.billing_type,
        interval=request.interval,
        status=str(status),
        mode=request.mode,
        sent_at=request.sent_at,
        expires_at=request.expires_at,
        seconds_left=left,
    )


async def list_billing_requests(
    *,
    actor: Actor,
    status: str = "",
    mode: str = "",
    search: str = "",
    client_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> BillingRequestPage:
    """Staff: billing requests, newest first, filtered by status, mode, email and client, page by page."""
    require_staff(actor)
    if status and status not in {s.value for s in BillingRequestStatus}:
        raise InvalidInput(_("Choose a status from the list."), field="status")
    if mode and mode not in MODES:
        raise InvalidInput(_("Choose sandbox, test or live."), field="mode")
    page, page_size = bounds(page, page_size, MAX_PAGE_SIZE)
    now = now_utc()
    query = BillingRequest.all()
    if status:
        query = query.filter(_status_filter(status, now))
    if mode:
        query = query.filter(mode=mode)
    if term := search.strip():
        query = query.filter(email__icontains=term)
    if client_id is not None:
        query = query.filter(client_id=client_id)
    found, total = await fetch(query, page, page_size, "-created_at", "-id")
    ids = {r.client_id for r in found if r.client_id}
    names = dict(await Client.filter(id__in=list(ids)).values_list("id", "name")) if ids else {}
    rows = [_row(r, names, now) for r in found]
    return BillingRequestPage(rows=rows, total=total, page=page, page_size=page_size)


async def billing_request_link(*, actor: Actor, request_id: int) -> str:
    """Staff: a payment link for a pending request, valid until the request expires (a new link each time:
    only the hash of a link is kept, so an earlier one cannot be shown again)."""
    require_staff(actor)
    request = await BillingRequest.get_or_none(id=request_id)
    if request is None or request.status == BillingRequestStatus.deleted:
        raise NotFound(_("That billing request does not exist."))
    if request.status == BillingRequestStatus.paid:
        raise Conflict(_("This billing request is already paid."))
    expires = request.expires_at
    if request.status == BillingRequestStatus.expired or expires is None or expires <= now_utc():
        raise Conflict(_("This billing request has expired. Send a new one instead."))
    token = await links.issue(purpose="billing_request", target_id=request.id, expires_at=expires)
    await audit.record(
        actor=actor,
        action="billing_request.link",
        subject=f"billing_request:{request.id}",
        client_id=request.client_id,
    )
    return links.url_for(token)


# -- the record-payment dialog ------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenInvoice:
    """An invoice a payment can go to."""

    id: int
    number: str
    currency: str
    due_date: date
    amount_due_minor: int

    @property
    def is_overdue(self) -> bool:
        """Past its due date."""
        return self.due_date < today()


@dataclass(frozen=True)
class StoredMethod:
    """A saved payment method, masked ('Visa •••• 4242 (12/2028)')."""

    id: int
    label: str
    is_default: bool


@dataclass(frozen=True)
class PaymentContext:
    """What the record-payment dialog offers for one client."""

    client_id: int
    client_name: str
    currency: str
    invoices: list[OpenInvoice]
    methods: list[StoredMethod]
    gateway_mode: str

    def due_in(self, currency: str) -> int:
        """What is due on the open invoices of one currency."""
        return sum(i.amount_due_minor for i in self.invoices if i.currency == currency)

    @property
    def currencies(self) -> list[str]:
        """The client's own currency first, then those of its open invoices."""
        seen = [self.currency]
        seen += sorted({i.currency for i in self.invoices} - {self.currency})
        return seen


async def payment_context(*, actor: Actor, client_id: int) -> PaymentContext:
    """Staff: a client's open invoices (oldest due first) and stored methods, for recording a payment."""
    require_staff(actor)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("That client does not exist."))
    open_items = await invoices.open_invoices(actor=actor, client_id=client_id)
    methods = await profiles.payment_methods(actor=actor, client_id=client_id)
    return PaymentContext(
        client_id=client.id,
        client_name=client.name,
        currency=client.currency,
        invoices=[
            OpenInvoice(i.id, i.number, i.currency, i.due_date, i.amount_due_minor)
            for i in open_items
            if i.amount_due_minor > 0
        ],
        methods=[StoredMethod(m.id, m.label, m.is_default) for m in methods],
        gateway_mode=await selector.current_mode(),
    )


@dataclass(frozen=True)
class ChargeOutcome:
    """What staff are told after charging a stored method."""

    status: str  # succeeded | failed | processing
    message: str
    payment_id: int | None
    amount_minor: int
    currency: str
    duplicate: bool = False

    @property
    def succeeded(self) -> bool:
        """The money was received."""
        return self.status == "succeeded"


def _charge_key(invoice_id: int, idempotency_key: str) -> str:
    if not _KEY.match(idempotency_key or ""):
        raise InvalidInput(_("This form has expired. Close it and open it again."), field="idempotency_key")
    return f"invoice:{invoice_id}:console:{idempotency_key}"


async def _method_label(payment: Payment) -> str:
    method = (
        await PaymentMethod.get_or_none(id=payment.payment_method_id) if payment.payment_method_id else None
    )
    if method is None:
        return _("the saved card")
    return f"{method.brand.replace('_', ' ').title() or _('Card')} •••• {method.last4}"


async def _outcome_of(payment: Payment, *, duplicate: bool) -> ChargeOutcome:
    """Say what happened to a charge in plain words."""
    amount = format_money(payment.amount_minor, payment.currency, get_locale())
    if payment.status in (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded):
        status = "succeeded"
        message = _("{amount} was charged to {method}.", amount=amount, method=await _method_label(payment))
    elif payment.status == PaymentStatus.failed:
        status = "failed"
        reason = payment.failure_message or _("The bank gave no reason.")
        message = _("The charge was declined: {reason}", reason=reason)
    else:
        status = "processing"
        message = _(
            "The charge of {amount} is being processed. The invoice updates when the bank answers.",
            amount=amount,
        )
    return ChargeOutcome(status, message, payment.id, payment.amount_minor, payment.currency, duplicate)


async def charge_stored_method(
    *, actor: Actor, client_id: int, invoice_id: int, method_id: int, idempotency_key: str
) -> ChargeOutcome:
    """Staff: charge what is due on one of the client's invoices to one of its stored methods.

    `idempotency_key` is made once per dialog opening (and again after a decline): the same key charges
    once, however often it is sent, and a repeat is answered with the first charge's outcome.
    """
    require_staff(actor)
    key = _charge_key(invoice_id, idempotency_key)
    if (done := await Payment.get_or_none(idempotency_key=key)) is not None:
        return await _outcome_of(done, duplicate=True)
    invoice = await Invoice.get_or_none(id=invoice_id, client_id=client_id)
    if invoice is None or invoice.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
        raise NotFound(_("That invoice does not exist."))
    if not await PaymentMethod.exists(id=method_id, client_id=client_id, detached_at__isnull=True):
        raise InvalidInput(_("Choose one of the client's saved payment methods."), field="method")
    try:
        result = await online.pay_with_saved_method(
            actor=actor, purpose="invoice", target_id=invoice_id, method_id=method_id, idempotency_key=key
        )
    except Conflict:
        if (done := await Payment.get_or_none(idempotency_key=key)) is not None:  # a double click raced us
            return await _outcome_of(done, duplicate=True)
        raise
    if result.payment_id is None:  # pragma: no cover - every charge writes its payment first
        raise Conflict(result.message)
    payment = await Payment.get(id=result.payment_id)
    outcome = await _outcome_of(payment, duplicate=False)
    await audit.record(
        actor=actor,
        action="payment.charge_saved_method",
        subject=f"payment:{payment.id}",
        client_id=client_id,
        details={
            "invoice_id": invoice_id,
            "method_id": method_id,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "outcome": outcome.status,
        },
    )
    return outcome

"""Staff use cases around money asked for and received: the billing requests list and its payment links,
what the record-payment dialog shows, and charging one of a client's stored methods from the console."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from portal.billing import invoices
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import today
from portal.db.models import Client, Invoice, Payment, PaymentMethod
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import BillingType, InvoiceStatus, PaymentStatus, brand_label
from portal.i18n import _, get_locale
from portal.payments import charges, recurring_from_credit
from portal.payments.gateways import selector
from portal.payments.methods import payment_methods

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,120}$")


# -- the record-payment dialog ------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenInvoice:
    """An invoice a payment can go to."""

    id: int
    number: str
    currency: str
    due_date: date
    amount_due_minor: int
    recurring: bool = False  # raised for a recurring billing request: paid only when named, and whole

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
    renews_on: str = ""  # the default card a recurring request's subscription would renew on ('' if none)

    def due_in(self, currency: str) -> int:
        """What an offline payment to the oldest due first settles in one currency (a recurring request's
        invoice is paid only when chosen by name: it starts a subscription)."""
        return sum(i.amount_due_minor for i in self.invoices if i.currency == currency and not i.recurring)

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
    methods = await payment_methods(actor=actor, client_id=client_id)
    recurring = set(
        await Invoice.filter(
            client_id=client_id,
            status=InvoiceStatus.open,
            billing_request__billing_type=BillingType.recurring,
        ).values_list("id", flat=True)
    )
    card = await recurring_from_credit.renewal_card(client_id) if recurring else None
    return PaymentContext(
        client_id=client.id,
        client_name=client.name,
        currency=client.currency,
        invoices=[
            OpenInvoice(i.id, i.number, i.currency, i.due_date, i.amount_due_minor, i.id in recurring)
            for i in open_items
            if i.amount_due_minor > 0
        ],
        methods=[StoredMethod(m.id, m.label, m.is_default) for m in methods],
        gateway_mode=await selector.current_mode(),
        renews_on=recurring_from_credit.card_label(card) if card else "",
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
    return f"{brand_label(method.brand) or _('Card')} •••• {method.last4}"


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
        result = await charges.pay_with_saved_method(
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

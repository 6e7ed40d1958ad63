"""The money ledger: offline payments, credit balances and adjustments, allocation to invoices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, check_client_access, require_staff
from portal.core.clock import now_utc, today
from portal.db.models import Allocation, BillingRequest, Client, CreditEntry, Invoice, Payment, PaymentMethod
from portal.domain.allocation import OpenItem, allocate
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import format_money, normalize_currency
from portal.domain.status import (
    BillingRequestStatus,
    CreditReason,
    InvoiceStatus,
    OfflineMethod,
    PaymentSource,
    PaymentStatus,
    invoice_status_after,
)
from portal.events import Event, publish
from portal.i18n import _, get_locale
from portal.payments import recurring_from_credit
from portal.payments.gateways.protocol import GatewayError
from portal.payments.receipts import queue_offline_receipt, receipt_issued

log = logging.getLogger(__name__)

REFERENCE_MAX_LENGTH = 200
"""The length of Payment.reference."""


@dataclass(frozen=True)
class PaymentResult:
    """What a recorded payment did: which invoices it settled and how much became credit."""

    payment_id: int
    allocations: list[tuple[int, int]]
    credit_minor: int
    duplicate: bool = False
    subscription_started: bool | None = None  # a recurring request's subscription: None when none


class OverpaymentNeedsConfirmation(Conflict):
    """More than is due was entered: `credit_minor` would become credit, which needs an explicit yes."""

    def __init__(self, credit_minor: int, currency: str) -> None:
        extra = format_money(credit_minor, currency, get_locale())
        super().__init__(
            _("This is {extra} more than is due. Confirm that {extra} becomes credit.", extra=extra)
        )
        self.credit_minor = credit_minor
        self.currency = currency


async def credit_balances(*, actor: Actor, client_id: int) -> dict[str, int]:
    """Credit available per currency (the sum of the credit ledger)."""
    check_client_access(actor, client_id)
    rows = (
        await CreditEntry.filter(client_id=client_id)
        .group_by("currency")
        .annotate(total=Sum("amount_minor"))
        .values("currency", "total")
    )
    return {row["currency"]: int(row["total"] or 0) for row in rows if row["total"]}


async def credit_balance(client_id: int, currency: str) -> int:
    """A client's credit in one currency: the sum of its credit ledger (internal: no permission check)."""
    total = (
        await CreditEntry.filter(client_id=client_id, currency=currency)
        .annotate(total=Sum("amount_minor"))
        .first()
        .values_list("total", flat=True)
    )
    return int(total or 0)


async def adjust_credit(*, actor: Actor, client_id: int, amount_minor: int, currency: str, note: str) -> int:
    """Add (or with a negative amount, remove) credit, with a required reason; never below zero."""
    require_staff(actor)
    currency = normalize_currency(currency)
    if amount_minor == 0:
        raise InvalidInput(_("The amount cannot be zero."), field="amount")
    if not note.strip():
        raise InvalidInput(_("Give a reason for the adjustment."), field="note")
    async with in_transaction():
        client = await Client.select_for_update().get_or_none(id=client_id)
        if client is None:
            raise NotFound(_("That client does not exist."))
        balance = await credit_balance(client_id, currency)
        if balance + amount_minor < 0:
            raise Conflict(
                _(
                    "The client has only {amount} of credit.",
                    amount=format_money(balance, currency, get_locale()),
                )
            )
        entry = await CreditEntry.create(
            client_id=client_id,
            currency=currency,
            amount_minor=amount_minor,
            reason=CreditReason.adjustment,
            note=note.strip(),
            created_by_id=actor.user_id,
        )
        await audit.record(
            actor=actor,
            action="credit.adjust",
            subject=f"credit:{entry.id}",
            client_id=client_id,
            details={"amount_minor": amount_minor, "currency": currency},
        )
    await publish(Event("credit.changed", client_id=client_id, data={"credit_entry_id": entry.id}))
    return entry.id


async def lock_open_items(client_id: int, currency: str) -> dict[int, tuple[Invoice, int]]:
    """Open invoices of a client in one currency, locked, with what is due on each."""
    invoices = await Invoice.select_for_update().filter(
        client_id=client_id, currency=currency, status=InvoiceStatus.open
    )
    allocated = await allocated_by_invoice([inv.id for inv in invoices])
    return {inv.id: (inv, inv.total_minor - allocated.get(inv.id, 0)) for inv in invoices}


async def apply_allocations(
    *, open_items: dict[int, tuple[Invoice, int]], plan: list[tuple[int, int]], currency: str, **source: int
) -> None:
    """Write allocation rows and move each settled invoice to paid (inside the caller's transaction)."""
    for invoice_id, amount in plan:
        invoice, due = open_items[invoice_id]
        await Allocation.create(invoice_id=invoice_id, amount_minor=amount, currency=currency, **source)
        allocated = invoice.total_minor - due + amount
        new_status = invoice_status_after(invoice.total_minor, allocated, InvoiceStatus(invoice.status))
        if new_status != invoice.status:
            invoice.status = new_status
            invoice.paid_at = now_utc() if new_status == InvoiceStatus.paid else None
            await invoice.save(update_fields=["status", "paid_at", "updated_at"])
            if new_status == InvoiceStatus.paid and invoice.billing_request_id:
                # however the invoice of a billing request gets paid, the request is paid too
                await BillingRequest.filter(
                    id=invoice.billing_request_id, status=BillingRequestStatus.pending
                ).update(status=BillingRequestStatus.paid, paid_at=now_utc())


async def record_offline_payment(
    *,
    actor: Actor,
    client_id: int,
    amount_minor: int,
    currency: str,
    method: str,
    received_on: date,
    reference: str = "",
    invoice_id: int | None = None,
    overpayment_to_credit: bool = False,
    idempotency_key: str | None = None,
) -> PaymentResult:
    """Record an offline payment: settle the oldest due first (or one invoice), the rest becomes credit."""
    require_staff(actor)
    currency = normalize_currency(currency)
    try:
        method = OfflineMethod(method)
    except ValueError as exc:
        raise InvalidInput(_("Choose how the payment was made."), field="method") from exc
    if amount_minor <= 0:
        raise InvalidInput(_("The amount must be greater than zero."), field="amount")
    if received_on > today():
        raise InvalidInput(_("The payment date cannot be in the future."), field="received_on")
    if len(reference.strip()) > REFERENCE_MAX_LENGTH:
        raise InvalidInput(
            _("The reference is too long ({max} characters at most).", max=REFERENCE_MAX_LENGTH),
            field="reference",
        )
    if idempotency_key and (existing := await Payment.get_or_none(idempotency_key=idempotency_key)):
        return await _recorded_before(existing)
    try:
        return await _record_offline(
            actor=actor,
            client_id=client_id,
            amount_minor=amount_minor,
            currency=currency,
            method=method,
            received_on=received_on,
            reference=reference,
            invoice_id=invoice_id,
            overpayment_to_credit=overpayment_to_credit,
            idempotency_key=idempotency_key,
        )
    except IntegrityError:
        # the same form submitted twice at once: the other submission recorded it
        if idempotency_key and (existing := await Payment.get_or_none(idempotency_key=idempotency_key)):
            return await _recorded_before(existing)
        raise


async def _record_offline(
    *,
    actor: Actor,
    client_id: int,
    amount_minor: int,
    currency: str,
    method: OfflineMethod,
    received_on: date,
    reference: str,
    invoice_id: int | None,
    overpayment_to_credit: bool,
    idempotency_key: str | None,
) -> PaymentResult:
    async with in_transaction():
        client = await Client.select_for_update().get_or_none(id=client_id)
        if client is None:
            raise NotFound(_("That client does not exist."))
        if idempotency_key and (existing := await Payment.get_or_none(idempotency_key=idempotency_key)):
            return PaymentResult(existing.id, [], 0, duplicate=True)
        open_items = await lock_open_items(client_id, currency)
        if invoice_id is not None and invoice_id not in open_items:
            raise InvalidInput(
                _("That invoice is not open for this client in this currency."), field="invoice"
            )
        recurring = await recurring_from_credit.recurring_requests(open_items)
        renewal = await _renewal(open_items, invoice_id, recurring, amount_minor)
        items = [  # oldest first passes over a recurring request's invoice: only naming it pays it
            OpenItem(id=inv.id, due_date=inv.due_date, amount_due_minor=due, issued_at=inv.issue_date)
            for inv, due in open_items.values()
            if inv.id == invoice_id or inv.billing_request_id not in recurring
        ]
        plan = allocate(amount_minor, items, target_id=invoice_id)
        if plan.remainder_minor and not overpayment_to_credit:
            raise OverpaymentNeedsConfirmation(plan.remainder_minor, currency)
        payment = await Payment.create(
            client_id=client_id,
            amount_minor=amount_minor,
            currency=currency,
            status=PaymentStatus.succeeded,
            source=PaymentSource.offline,
            method=method,
            reference=reference.strip(),
            received_on=received_on,
            recorded_by_id=actor.user_id,
            idempotency_key=idempotency_key,
        )
        await apply_allocations(
            open_items=open_items, plan=plan.allocations, currency=currency, payment_id=payment.id
        )
        if plan.remainder_minor:
            await CreditEntry.create(
                client_id=client_id,
                currency=currency,
                amount_minor=plan.remainder_minor,
                reason=CreditReason.overpayment,
                payment_id=payment.id,
                created_by_id=actor.user_id,
            )
        details: dict[str, object] = {"amount_minor": amount_minor, "currency": currency, "method": method}
        if renewal is not None:
            request, card = renewal
            details["subscription_id"] = await recurring_from_credit.add_subscription(
                request=request, method=card
            )
        await audit.record(
            actor=actor,
            action="payment.record_offline",
            subject=f"payment:{payment.id}",
            client_id=client_id,
            details=details,
        )
        await queue_offline_receipt(payment)  # the client's receipt, when the organization sends them
    await publish(Event("payment.recorded", client_id=client_id, data={"payment_id": payment.id}))
    await receipt_issued(payment.id)
    started = await _start(renewal[0].id) if renewal is not None else None
    return PaymentResult(payment.id, plan.allocations, plan.remainder_minor, subscription_started=started)


async def _renewal(
    open_items: dict[int, tuple[Invoice, int]], invoice_id: int | None, recurring: set[int], amount: int
) -> tuple[BillingRequest, PaymentMethod] | None:
    """When the payment names a recurring request's invoice: the request and the card its subscription
    will renew on. Refused without such a card, or for less than is due (the request is paid whole)."""
    if invoice_id is None:
        return None
    invoice, due = open_items[invoice_id]
    if invoice.billing_request_id not in recurring:
        return None
    card = await recurring_from_credit.renewal_card(invoice.client_id)
    if card is None:
        needs_card = _(recurring_from_credit.OFFLINE_NEEDS_CARD, number=invoice.number)
        raise InvalidInput(needs_card, field="invoice")
    if amount < due:
        raise InvalidInput(
            _(
                recurring_from_credit.OFFLINE_PAID_WHOLE,
                due=format_money(due, invoice.currency, get_locale()),
                number=invoice.number,
            ),
            field="amount",
        )
    return await BillingRequest.get(id=invoice.billing_request_id), card


async def _start(request_id: int) -> bool:
    """Start the subscription the payment paid for (True when it runs); if the gateway fails it stays
    incomplete, and submitting the same payment again (same idempotency key) tries again."""
    try:
        await recurring_from_credit.start_subscription(request_id=request_id)
    except GatewayError as exc:
        log.warning("subscription of billing request %s paid offline not started: %s", request_id, exc)
        return False
    return True


async def _recorded_before(payment: Payment) -> PaymentResult:
    """The answer to a payment submitted again: the first one's, after retrying any subscription it paid
    for that the gateway did not start."""
    started = None
    request_ids = await Allocation.filter(
        payment_id=payment.id, invoice__billing_request_id__isnull=False
    ).values_list("invoice__billing_request_id", flat=True)
    for request_id in set(request_ids):
        if await recurring_from_credit.recurring_request_of(request_id) is not None:
            started = await _start(request_id)
    return PaymentResult(payment.id, [], 0, duplicate=True, subscription_started=started)


async def allocated_by_invoice(invoice_ids: Sequence[int]) -> dict[int, int]:
    """Sum of allocations per invoice (one query)."""
    if not invoice_ids:
        return {}
    rows = (
        await Allocation.filter(invoice_id__in=list(invoice_ids))
        .group_by("invoice_id")
        .annotate(total=Sum("amount_minor"))
        .values("invoice_id", "total")
    )
    return {row["invoice_id"]: int(row["total"] or 0) for row in rows}


async def amount_due(invoice: Invoice) -> int:
    """What is still due on one invoice: its total minus its allocations."""
    return invoice.total_minor - (await allocated_by_invoice([invoice.id])).get(invoice.id, 0)

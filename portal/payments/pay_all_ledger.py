"""Paying everything due at once, the ledger side: which documents of one currency are due (open invoices
and pending credit requests), and how a settled pay-everything payment is placed on them, oldest due first,
with its one receipt listing each document.

Used by `settlement` (which settles a `pay_all` payment exactly once, whoever reports it) and by `pay_all`
(the use cases). It imports neither, so that both can import it.

An invoice of a recurring billing request is not paid here: paying it must start its subscription with the
card it will renew on, so it is paid on its own (Pay now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tortoise.expressions import Q, Subquery
from tortoise.functions import Coalesce, Count, Sum

from portal.core.clock import now_utc
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    Client,
    CreditEntry,
    CreditRequest,
    Invoice,
    Payment,
    PaymentMethod,
    User,
)
from portal.domain.allocation import OpenItem, allocate_documents
from portal.domain.status import CreditReason, CreditRequestStatus, InvoiceStatus
from portal.mail import pay_all_emails
from portal.mail.outbox import enqueue
from portal.payments import recurring_from_credit
from portal.payments.ledger import apply_allocations, lock_open_items

PAY_ALL = "pay_all"
"""The purpose of a payment that pays everything due in one currency."""


@dataclass(frozen=True)
class DueDocument:
    """One document a pay-everything payment pays: an open invoice or a pending credit request."""

    purpose: str  # invoice | credit_request
    id: int
    number: str  # the invoice number, or CR-<id>
    title: str  # the credit request's description ("" for invoices)
    issue_date: date
    due_date: date
    amount_due_minor: int


@dataclass(frozen=True)
class DueTotals:
    """How many documents are due in one currency and what they add up to, counted by the database."""

    invoices: int
    requests: int
    total_minor: int

    @property
    def count(self) -> int:
        """Invoices and credit requests together."""
        return self.invoices + self.requests


def payable_invoices(client_id: int, currency: str) -> Q:
    """The open invoices of a client in one currency that paying everything pays (not those of a recurring
    billing request)."""
    return Q(client_id=client_id, currency=currency, status=InvoiceStatus.open) & (
        Q(billing_request_id=None) | Q(billing_request__billing_type="one_time")
    )


def _pending_requests(client_id: int, currency: str) -> Q:
    return Q(client_id=client_id, currency=currency, status=CreditRequestStatus.pending)


async def due_totals(client_id: int, currency: str) -> DueTotals:
    """Count and sum what is due in `currency`: three aggregate statements whatever the number of rows."""
    invoiced = (
        await Invoice.filter(payable_invoices(client_id, currency))
        .annotate(n=Count("id"), owed=Sum("total_minor"))
        .group_by("currency")
        .values("n", "owed")
    )
    invoice_ids = Invoice.filter(payable_invoices(client_id, currency)).values_list("id", flat=True)
    paid = (
        await Allocation.filter(invoice_id__in=Subquery(invoice_ids))
        .annotate(paid=Sum("amount_minor"))
        .group_by("currency")
        .values_list("paid", flat=True)
    )
    requested = (
        await CreditRequest.filter(_pending_requests(client_id, currency))
        .annotate(n=Count("id"), owed=Sum("amount_minor"))
        .group_by("currency")
        .values("n", "owed")
    )
    owed = sum(int(row["owed"] or 0) for row in invoiced + requested) - sum(int(p or 0) for p in paid)
    return DueTotals(sum(int(r["n"]) for r in invoiced), sum(int(r["n"]) for r in requested), owed)


async def due_invoices(client_id: int, currency: str, *, offset: int, limit: int) -> list[DueDocument]:
    """One page of the invoices paying everything pays, oldest due first (one statement)."""
    rows = (
        await Invoice.filter(payable_invoices(client_id, currency))
        .order_by("due_date", "issue_date", "id")
        .offset(offset)
        .limit(limit)
        .annotate(allocated=Coalesce(Sum("allocations__amount_minor"), 0))
        .group_by("id")
        .values("id", "number", "issue_date", "due_date", "total_minor", "allocated")
    )
    return [
        DueDocument(
            "invoice",
            row["id"],
            row["number"] or "",
            "",
            row["issue_date"],
            row["due_date"],
            row["total_minor"] - int(row["allocated"]),
        )
        for row in rows
    ]


async def due_requests(client_id: int, currency: str) -> list[DueDocument]:
    """The pending credit requests paying everything pays, oldest due first."""
    requests = await CreditRequest.filter(_pending_requests(client_id, currency)).order_by("id")
    docs = [
        DueDocument(
            "credit_request",
            credit.id,
            f"CR-{credit.id}",
            credit.description,
            credit.created_at.date(),
            credit.due_date or credit.created_at.date(),
            credit.amount_minor,
        )
        for credit in requests
    ]
    return sorted(docs, key=lambda d: (d.due_date, d.id))


# -- settling -------------------------------------------------------------------------------------
async def place(payment: Payment) -> None:
    """Place a settled pay-everything payment (inside settlement's transaction, the client locked): on what
    is due in its currency now, oldest due first; a credit request only when the money covers it whole;
    the rest becomes credit (flagged for review, as an overpayment). Then queue its one receipt."""
    client_id = payment.client_id
    assert client_id is not None
    open_items = await lock_open_items(client_id, payment.currency)
    recurring = await recurring_from_credit.recurring_requests(open_items)
    excluded = {inv.id for inv, _due in open_items.values() if inv.billing_request_id in recurring}
    requests = await CreditRequest.select_for_update().filter(_pending_requests(client_id, payment.currency))
    docs: list[tuple[str, Invoice | CreditRequest]] = [
        ("invoice", inv) for inv_id, (inv, _due) in open_items.items() if inv_id not in excluded
    ]
    docs += [("credit_request", credit) for credit in requests]
    items: list[OpenItem] = []
    for index, (_kind, doc) in enumerate(docs):
        if isinstance(doc, Invoice):
            due, due_date, issued = open_items[doc.id][1], doc.due_date, doc.issue_date
        else:
            issued = doc.created_at.date()
            due, due_date = doc.amount_minor, doc.due_date or issued
        items.append(OpenItem(id=index, due_date=due_date, amount_due_minor=max(due, 0), issued_at=issued))
    whole = frozenset(i for i, (kind, _doc) in enumerate(docs) if kind == "credit_request")
    plan = allocate_documents(payment.amount_minor, items, whole=whole)
    paid: list[tuple[str, str, int]] = []  # (document label, amount) for the receipt, in payment order
    invoice_plan: list[tuple[int, int]] = []
    for index, amount in plan.allocations:
        doc = docs[index][1]
        if isinstance(doc, Invoice):
            invoice_plan.append((doc.id, amount))
            paid.append(("invoice", doc.number or "", amount))
            continue
        doc.status, doc.paid_at = CreditRequestStatus.paid, now_utc()
        await doc.save(update_fields=["status", "paid_at"])
        await CreditEntry.create(
            client_id=client_id,
            currency=payment.currency,
            amount_minor=amount,
            reason=CreditReason.purchase,
            payment_id=payment.id,
            note=f"CR-{doc.id}",
        )
        paid.append(("credit_request", doc.description or f"CR-{doc.id}", amount))
    await apply_allocations(
        open_items=open_items, plan=invoice_plan, currency=payment.currency, payment_id=payment.id
    )
    if plan.remainder_minor:
        await CreditEntry.create(
            client_id=client_id,
            currency=payment.currency,
            amount_minor=plan.remainder_minor,
            reason=CreditReason.overpayment,
            payment_id=payment.id,
        )
        note = "More than was due when it arrived: the rest became credit."  # staff's note, in English
        await Payment.filter(id=payment.id).update(needs_review=True, review_note=note)
    await _queue_receipt(payment, paid, plan.remainder_minor)


async def _queue_receipt(payment: Payment, paid: list[tuple[str, str, int]], credited_minor: int) -> None:
    client = await Client.get(id=payment.client_id)
    saved = None
    if payment.payment_method_id:
        saved = await PaymentMethod.get_or_none(id=payment.payment_method_id)
    email = pay_all_emails.receipt(
        org=await get_organization(),
        payment=payment,
        client=client,
        saved_method=saved,
        documents=paid,
        credited_minor=credited_minor,
        can_sign_in=await User.exists(client_id=client.id, is_active=True),
    )
    await enqueue(
        kind="receipt",
        to=client.email,
        client_id=client.id,
        dedupe_key=f"receipt:payment:{payment.id}",
        subject=email.subject,
        text=email.text,
        html=email.html,
    )

"""Scheduled mail: payment reminders for open invoices, and the follow-up of failed subscription renewals.

Reminders follow the organization's schedule (`reminder_offsets`, days relative to the due date: -3 is
three days before, 0 the day itself, 7 a week after). Each (invoice, offset) is sent once: the
`ReminderSent` row is written in the same transaction as the email, under the table's unique
(invoice, offset_days) constraint, so a second run or a second process finds it and sends nothing. The
invoice row is claimed first with `select_for_update(skip_locked=True)` (PostgreSQL; a no-op on SQLite,
where the unique constraint alone is the guard).

A day the job did not run is caught up with the latest offset whose day has come, not with every missed
one, and only within `CATCH_UP_DAYS`: turning reminders on does not mail every old unpaid invoice.
Offsets whose day falls before the invoice's issue date are skipped (an invoice issued two days before
its due date gets no "due in three days" reminder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import Invoice, OutboxEmail, Payment, ReminderSent, Subscription
from portal.domain.status import InvoiceStatus, PaymentStatus, SubscriptionStatus
from portal.mail import invoice_emails, payment_emails
from portal.mail.outbox import enqueue
from portal.payments import links
from portal.payments.ledger import allocated_by_invoice, amount_due

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7
MAX_OFFSET_DAYS = 365
PAID_STATUSES = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)


@dataclass
class ReminderReport:
    """What one reminder run did."""

    sent: int = 0
    already_sent: int = 0  # another run or process had sent this (invoice, offset) already
    candidates: int = 0  # open invoices with a reminder day that has come
    failed: int = 0  # could not be sent this run (logged); the next run tries again


def clean_offsets(raw: object) -> list[int]:
    """The schedule as sorted unique whole days within a year of the due date; anything else is ignored."""
    if not isinstance(raw, list | tuple):
        return []
    found = {v for v in raw if isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_OFFSET_DAYS}
    return sorted(found)


def offset_due(*, due_date: date, issue_date: date, offsets: Sequence[int], on: date) -> int | None:
    """The latest offset whose day (due date + offset) has come by `on`, within the catch-up window and
    not before the issue date; None when no reminder is due."""
    due = [
        offset
        for offset in offsets
        if issue_date <= due_date + timedelta(days=offset) <= on
        and (on - (due_date + timedelta(days=offset))).days <= CATCH_UP_DAYS
    ]
    return max(due) if due else None


async def send_due_reminders(*, on: date | None = None) -> ReminderReport:
    """Queue today's reminders (one per invoice at most, each (invoice, offset) once); safe to run again."""
    report = ReminderReport()
    org = await get_organization()
    offsets = clean_offsets(org.reminder_offsets)
    if not org.reminders_enabled or not offsets:
        return report
    on = on or today()
    candidates = await Invoice.filter(
        status=InvoiceStatus.open,
        billing_request_id=None,  # a billing request expires after 24 hours instead
        client__reminders_enabled=True,
        client__archived=False,
        due_date__gte=on - timedelta(days=max(offsets) + CATCH_UP_DAYS),
        due_date__lte=on - timedelta(days=min(offsets)),
    ).order_by("due_date", "id")
    plan = [
        (inv, offset)
        for inv in candidates
        if (offset := offset_due(due_date=inv.due_date, issue_date=inv.issue_date, offsets=offsets, on=on))
        is not None
    ]
    allocated = await allocated_by_invoice([inv.id for inv, _ in plan])
    sent_before = await _sent_offsets(inv.id for inv, _ in plan)
    for invoice, offset in plan:
        if invoice.total_minor - allocated.get(invoice.id, 0) <= 0:
            continue
        report.candidates += 1
        if any(o >= offset for o in sent_before.get(invoice.id, ())):
            report.already_sent += 1
            continue
        try:
            done = await _send_one(invoice.id, offset, on)
        except Exception:  # one invoice's problem (its transaction rolled back) must not stop the others
            log.exception("reminder for invoice %d (offset %d) not sent", invoice.id, offset)
            report.failed += 1
            continue
        if done:
            report.sent += 1
        else:
            report.already_sent += 1
    return report


async def _sent_offsets(invoice_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(invoice_ids)
    found: dict[int, list[int]] = {}
    if ids:
        for row in await ReminderSent.filter(invoice_id__in=ids).values("invoice_id", "offset_days"):
            found.setdefault(row["invoice_id"], []).append(row["offset_days"])
    return found


async def _send_one(invoice_id: int, offset: int, on: date) -> bool:
    """Claim the invoice, record the reminder and queue its email in one transaction; False when someone
    else has it or had sent it, or it is no longer open with something due."""
    async with in_transaction():
        invoice = (
            await Invoice.select_for_update(skip_locked=True)
            .filter(id=invoice_id, status=InvoiceStatus.open)
            .prefetch_related("client")
            .first()
        )
        if invoice is None or await amount_due(invoice) <= 0:
            return False
        if await ReminderSent.filter(invoice_id=invoice_id, offset_days__gte=offset).exists():
            return False
        try:
            async with in_transaction():  # a savepoint: the unique pair is the once-only guard
                await ReminderSent.create(invoice_id=invoice_id, offset_days=offset)
        except IntegrityError:
            return False
        token = await links.issue(
            purpose="invoice", target_id=invoice.id, expires_at=links.invoice_link_expiry(invoice.due_date)
        )
        email = invoice_emails.reminder(
            org=await get_organization(),
            invoice=invoice,
            client=invoice.client,
            link=links.url_for(token),
            amount_due_minor=await amount_due(invoice),
            on=on,
        )
        await enqueue(
            kind="reminder",
            to=invoice.client.email,
            client_id=invoice.client_id,
            dedupe_key=f"reminder:{invoice.id}:{offset}",
            subject=email.subject,
            text=email.text,
            html=email.html,
        )
        await audit.record(
            actor=None,
            action="invoice.reminder",
            subject=f"invoice:{invoice.id}",
            client_id=invoice.client_id,
            details={"offset_days": offset, "stage": invoice_emails.reminder_stage(invoice.due_date, on)},
        )
    return True


# -- failed subscription renewals ---------------------------------------------------------------------
async def _renewal_failure_key(sub: Subscription) -> str:
    """One key per unpaid period: it changes only when a renewal is paid (the latest paid renewal's id),
    so the gateway's retries within a period (the sandbox retries daily, Stripe on its schedule) find
    the same key and the client is told once."""
    last = (
        await Payment.filter(invoice__subscription_id=sub.id, status__in=PAID_STATUSES)
        .order_by("-id")
        .first()
    )
    return f"subscription_payment_failed:{sub.id}:{f'payment-{last.id}' if last else 'start'}"


async def queue_renewal_failed(*, subscription_id: int, reason: str = "") -> bool:
    """Queue 'subscription payment failed' (inside the caller's transaction) unless this period's has
    been queued already; True when it was queued now."""
    sub = await Subscription.get(id=subscription_id).prefetch_related("client")
    key = await _renewal_failure_key(sub)
    if await OutboxEmail.exists(dedupe_key=key):
        return False
    email = payment_emails.subscription_payment_failed(
        org=await get_organization(), subscription=sub, client=sub.client, reason=reason
    )
    queued = await enqueue(
        kind="subscription_payment_failed",
        to=sub.client.email,
        client_id=sub.client_id,
        dedupe_key=key,
        subject=email.subject,
        text=email.text,
        html=email.html,
    )
    return queued is not None


async def follow_up_failed_renewals() -> int:
    """Every past-due subscription whose client has not been told in this period is told now (the
    webhook normally does it; this catches an event that never came or failed); returns how many."""
    told = 0
    for sub_id in await Subscription.filter(status=SubscriptionStatus.past_due).values_list("id", flat=True):
        async with in_transaction():
            sub = (
                await Subscription.select_for_update(skip_locked=True)
                .filter(id=sub_id, status=SubscriptionStatus.past_due)
                .first()
            )
            if sub is not None and await queue_renewal_failed(subscription_id=sub.id):
                told += 1
    return told

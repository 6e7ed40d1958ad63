"""Scheduled mail: payment reminders for open invoices, and the follow-up of failed subscription renewals.

Reminders follow the organization's schedule (`reminder_offsets`, days relative to the due date: -3 is
three days before, 0 the day itself, 7 a week after). Each (invoice, offset) is sent once: the
`ReminderSent` row is written in the same transaction as the email, under the table's unique
(invoice, offset_days) constraint (`INSERT ... ON CONFLICT DO NOTHING RETURNING`: only the pairs inserted
now get their email), so a second run or a second process finds it and sends nothing. The invoices are
claimed first with `select_for_update(skip_locked=True)` (PostgreSQL; a no-op on SQLite, where the unique
constraint alone is the guard). The work goes in batches of `BATCH_SIZE` invoices, each with the same
few statements however many reminders it sends.

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
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    Invoice,
    Organization,
    OutboxEmail,
    Payment,
    PaymentLink,
    ReminderSent,
    Subscription,
)
from portal.domain.status import InvoiceStatus, PaymentStatus, SubscriptionStatus
from portal.mail import invoice_emails, payment_emails
from portal.mail.outbox import enqueue, enqueue_many, queued
from portal.payments import links
from portal.payments.ledger import allocated_by_invoice

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7
BATCH_SIZE = 500  # invoices read per batch; each batch costs the same statements however many it sends
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


async def send_due_reminders(*, on: date | None = None, batch_size: int = BATCH_SIZE) -> ReminderReport:
    """Queue today's reminders (one per invoice at most, each (invoice, offset) once); safe to run again.

    The open invoices whose reminder window has come are read `batch_size` at a time, oldest due first
    (keyset paging on the due date and id, by the (status, due_date) index), and each batch costs the
    same few statements however many reminders it sends: four reads (the window's invoices as plain
    values, what is allocated to them, the reminders sent already, then the invoices that get a reminder
    in full with their clients), then one transaction that claims the invoices, records the reminders,
    and stores the links, the emails and the audit entries, each in one statement.
    """
    report = ReminderReport()
    org = await get_organization()
    offsets = clean_offsets(org.reminder_offsets)
    if not org.reminders_enabled or not offsets:
        return report
    on = on or today()
    after: tuple[date, int] | None = None
    while True:
        batch = await _candidates(on=on, offsets=offsets, after=after, limit=batch_size)
        if batch:
            await _send_batch(org, batch, offsets=offsets, on=on, report=report)
            after = (batch[-1]["due_date"], batch[-1]["id"])
        if len(batch) < batch_size:
            return report


async def _candidates(
    *, on: date, offsets: Sequence[int], after: tuple[date, int] | None, limit: int
) -> list[dict[str, Any]]:
    """The next `limit` open invoices whose due date lies in the reminder window, as the values that
    decide whether one gets a reminder (most do not: sent already, or paid)."""
    query = Invoice.filter(
        status=InvoiceStatus.open,
        billing_request_id=None,  # a billing request expires after 24 hours instead
        client__reminders_enabled=True,
        client__archived=False,
        due_date__gte=on - timedelta(days=max(offsets) + CATCH_UP_DAYS),
        due_date__lte=on - timedelta(days=min(offsets)),
    )
    if after is not None:
        query = query.filter(Q(due_date__gt=after[0]) | Q(due_date=after[0], id__gt=after[1]))
    return (
        await query.order_by("due_date", "id")
        .limit(limit)
        .values("id", "due_date", "issue_date", "total_minor")
    )


@dataclass
class _Reminder:
    invoice: Invoice
    offset: int
    link: PaymentLink
    email: OutboxEmail
    stage: str


async def _send_batch(
    org: Organization,
    batch: list[dict[str, Any]],
    *,
    offsets: Sequence[int],
    on: date,
    report: ReminderReport,
) -> None:
    plan = [
        (row, offset)
        for row in batch
        if (
            offset := offset_due(
                due_date=row["due_date"], issue_date=row["issue_date"], offsets=offsets, on=on
            )
        )
        is not None
    ]
    allocated = await allocated_by_invoice([row["id"] for row, _ in plan])
    sent_before = await _sent_offsets(row["id"] for row, _ in plan)
    chosen: dict[int, tuple[int, int]] = {}  # invoice id: (offset, amount due)
    for row, offset in plan:
        due = row["total_minor"] - allocated.get(row["id"], 0)
        if due <= 0:
            continue
        report.candidates += 1
        if any(o >= offset for o in sent_before.get(row["id"], ())):
            report.already_sent += 1
            continue
        chosen[row["id"]] = (offset, due)
    if not chosen:
        return
    ready: list[_Reminder] = []
    for invoice in (
        await Invoice.filter(id__in=list(chosen)).order_by("due_date", "id").select_related("client")
    ):
        offset, due = chosen[invoice.id]
        try:
            ready.append(_prepare(org, invoice, offset=offset, amount_due_minor=due, on=on))
        except Exception:  # one invoice's problem must not stop the others: nothing of it is stored
            log.exception("reminder for invoice %d (offset %d) not sent", invoice.id, offset)
            report.failed += 1
    if not ready:
        return
    try:
        sent = await _store(ready)
    except Exception:  # the batch's transaction rolled back: nothing of it is stored, the next run retries
        log.exception("reminders for %d invoices not sent", len(ready))
        report.failed += len(ready)
        return
    report.sent += sent
    report.already_sent += len(ready) - sent


def _prepare(
    org: Organization, invoice: Invoice, *, offset: int, amount_due_minor: int, on: date
) -> _Reminder:
    """The reminder's link and email, built before anything is stored."""
    (token,), (link,) = links.new_invoice_links([(invoice.id, links.invoice_link_expiry(invoice.due_date))])
    email = invoice_emails.reminder(
        org=org,
        invoice=invoice,
        client=invoice.client,
        link=links.url_for(token),
        amount_due_minor=amount_due_minor,
        on=on,
    )
    row = queued(
        kind="reminder",
        to=invoice.client.email,
        client_id=invoice.client_id,
        dedupe_key=f"reminder:{invoice.id}:{offset}",
        subject=email.subject,
        text=email.text,
        html=email.html,
    )
    return _Reminder(invoice, offset, link, row, invoice_emails.reminder_stage(invoice.due_date, on))


async def _store(ready: list[_Reminder]) -> int:
    """One transaction: claim the invoices still open (rows another process holds are skipped), record
    each (invoice, offset) unless it is recorded already, then store the links, emails and audit entries
    of the reminders recorded now; returns how many."""
    async with in_transaction() as connection:
        held = await (
            Invoice.select_for_update(skip_locked=True)
            .filter(id__in=[r.invoice.id for r in ready], status=InvoiceStatus.open)
            .only("id")
        )
        open_ids = {inv.id for inv in held}
        claimable = [r for r in ready if r.invoice.id in open_ids]
        recorded = await _record(connection, [(r.invoice.id, r.offset) for r in claimable])
        mine = [r for r in claimable if (r.invoice.id, r.offset) in recorded]
        if mine:
            await PaymentLink.bulk_create([r.link for r in mine])
            await enqueue_many([r.email for r in mine])
            await audit.record_system_many(
                action="invoice.reminder",
                entries=[
                    (
                        f"invoice:{r.invoice.id}",
                        r.invoice.client_id,
                        {"offset_days": r.offset, "stage": r.stage},
                    )
                    for r in mine
                ],
            )
    return len(mine)


async def _record(connection: BaseDBAsyncClient, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Insert the (invoice, offset) rows in one statement; the ones inserted now (a pair recorded before,
    by an earlier run or another process, is left alone by the unique key). This is the once-only guard."""
    if not pairs:
        return set()
    postgres = connection.capabilities.dialect == "postgres"
    stamp = now_utc()
    values, params = [], []
    for n, (invoice_id, offset) in enumerate(sorted(pairs)):  # one order everywhere: no deadlock
        values.append(f"(${3 * n + 1}, ${3 * n + 2}, ${3 * n + 3})" if postgres else "(?, ?, ?)")
        params += [invoice_id, offset, stamp]
    rows = await connection.execute_query_dict(
        'INSERT INTO "reminder_sent" ("invoice_id", "offset_days", "sent_at") VALUES '
        + ", ".join(values)
        + ' ON CONFLICT ("invoice_id", "offset_days") DO NOTHING RETURNING "invoice_id", "offset_days"',
        params,
    )
    return {(int(row["invoice_id"]), int(row["offset_days"])) for row in rows}


async def _sent_offsets(invoice_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(invoice_ids)
    found: dict[int, list[int]] = {}
    if ids:
        for row in await ReminderSent.filter(invoice_id__in=ids).values("invoice_id", "offset_days"):
            found.setdefault(row["invoice_id"], []).append(row["offset_days"])
    return found


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

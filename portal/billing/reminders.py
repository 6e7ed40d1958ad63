"""Scheduled mail: payment reminders for open invoices, and the follow-up of failed subscription renewals.

Reminders follow the organization's schedule (`reminder_offsets`, days relative to the due date: -3 is
three days before, 0 the day itself, 7 a week after). Each (invoice, offset) is sent once: the
`ReminderSent` row is written in the same transaction as the queued email, under the table's unique
(invoice, offset_days) constraint (`INSERT ... ON CONFLICT DO NOTHING RETURNING`: only the pairs inserted
now get their email), so a second run or a second process finds it and queues nothing. The database
chooses the invoices, in batches of `BATCH_SIZE`, each one read and three writes however many it sends.

The email itself is written when the outbox worker sends it (`write_reminder`), seconds later: with the
amount due and a payment link of that moment, and not at all if the invoice was paid in between.

A day the job did not run is caught up with the latest offset whose day has come, not with every missed
one, and only within `CATCH_UP_DAYS`: turning reminders on does not mail every old unpaid invoice.
Offsets whose day falls before the invoice's issue date are skipped (an invoice issued two days before
its due date gets no "due in three days" reminder).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    Invoice,
    OutboxEmail,
    Payment,
    Subscription,
)
from portal.domain.status import InvoiceStatus, PaymentStatus, SubscriptionStatus
from portal.mail import invoice_emails, payment_emails
from portal.mail.outbox import enqueue, enqueue_many, queued
from portal.mail.worker import Written, register_writer
from portal.payments import links
from portal.payments.ledger import allocated_by_invoice

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7
BATCH_SIZE = 500  # invoices read per batch; each batch costs the same statements however many it sends
MAX_OFFSET_DAYS = 365
PAID_STATUSES = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)
KIND = "reminder"


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


async def send_due_reminders(*, on: date | None = None, batch_size: int = BATCH_SIZE) -> ReminderReport:
    """Queue today's reminders (one per invoice at most, each (invoice, offset) once); safe to run again.

    Each batch is one read and one transaction of three writes, however many reminders it sends: the
    database picks the next `batch_size` invoices due for a reminder (open, something still due, the
    latest offset whose day has come and no reminder at it or a later one yet; keyset paging on the due
    date and id), then records the (invoice, offset) pairs, queues the emails and writes the audit entries.
    The emails are written when they are sent (`write_reminder`): with the amount due and a fresh payment
    link of that moment, or not at all when the invoice has been paid meanwhile.
    """
    report = ReminderReport()
    org = await get_organization()
    offsets = clean_offsets(org.reminder_offsets)
    if not org.reminders_enabled or not offsets:
        return report
    on = on or today()
    after: tuple[date, int] | None = None
    while True:
        batch = await _due(on=on, offsets=offsets, after=after, limit=batch_size)
        report.candidates += len(batch)
        if batch:
            await _send_batch(batch, on=on, report=report)
            after = (batch[-1].due_date, batch[-1].invoice_id)
        if len(batch) < batch_size:
            return report


@dataclass(frozen=True)
class _Due:
    invoice_id: int
    client_id: int
    email: str
    due_date: date
    offset: int


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def _due(*, on: date, offsets: Sequence[int], after: tuple[date, int] | None, limit: int) -> list[_Due]:
    """The next `limit` invoices due for a reminder on `on`, oldest due first, in one statement."""
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value if postgres or not isinstance(value, date) else value.isoformat())
        return f"${len(params)}" if postgres else "?"

    def shifted(days: int) -> str:  # the due date moved by a whole number of days
        return f'(i."due_date" + {int(days)})' if postgres else f"date(i.\"due_date\", '{int(days):+d} days')"

    # the latest offset whose day has come, within the catch-up window and not before the issue date
    cases = " ".join(
        f'WHEN i."due_date" BETWEEN {param(on - timedelta(days=o + CATCH_UP_DAYS))} '
        f'AND {param(on - timedelta(days=o))} AND i."issue_date" <= {shifted(o)} THEN {int(o)}'
        for o in sorted(offsets, reverse=True)
    )
    window = (
        f'i."due_date" BETWEEN {param(on - timedelta(days=max(offsets) + CATCH_UP_DAYS))} '
        f"AND {param(on - timedelta(days=min(offsets)))}"
    )
    keyset = ""
    if after is not None:
        day, last = after
        keyset = (
            f' AND (i."due_date" > {param(day)} OR (i."due_date" = {param(day)} AND i."id" > {param(last)}))'
        )
    rows = await connection.execute_query_dict(
        f"""SELECT * FROM (
            SELECT i."id", i."client_id", c."email", i."due_date", CASE {cases} END AS "offset_days",
                   i."total_minor" - (SELECT COALESCE(SUM(a."amount_minor"), 0) FROM "allocation" a
                                      WHERE a."invoice_id" = i."id") AS "due"
            FROM "invoice" i JOIN "client" c ON c."id" = i."client_id"
            WHERE i."status" = 'open' AND i."billing_request_id" IS NULL
              AND c."reminders_enabled" AND NOT c."archived" AND {window}{keyset}
        ) d
        WHERE d."due" > 0 AND d."offset_days" IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM "reminder_sent" r
                          WHERE r."invoice_id" = d."id" AND r."offset_days" >= d."offset_days")
        ORDER BY d."due_date", d."id" LIMIT {int(limit)}""",
        params,
    )
    return [
        _Due(int(r["id"]), int(r["client_id"]), str(r["email"]), _day(r["due_date"]), int(r["offset_days"]))
        for r in rows
    ]


async def _send_batch(batch: list[_Due], *, on: date, report: ReminderReport) -> None:
    """One transaction: record each (invoice, offset) unless another run has, then queue the emails and
    write the audit entries of the ones recorded now. A failure stores nothing: the next run retries."""
    try:
        async with in_transaction() as connection:
            if connection.capabilities.dialect == "postgres":
                # the commit does not wait for its disk flush (PostgreSQL's WAL writer makes it durable within
                # a fraction of a second): a crash in that instant forgets the whole batch and the next run
                # queues it again, so no reminder is lost; an email already sent from it by then goes twice,
                # as one sent just before a crash that kept the worker from marking it sent always could
                await connection.execute_query("SET LOCAL synchronous_commit TO OFF")
            recorded = await _record(connection, [(d.invoice_id, d.offset) for d in batch])
            mine = [d for d in batch if (d.invoice_id, d.offset) in recorded]
            if mine:
                await enqueue_many(
                    [
                        queued(
                            kind=KIND,
                            to=d.email,
                            client_id=d.client_id,
                            dedupe_key=f"reminder:{d.invoice_id}:{d.offset}",
                            subject="",
                            text="",
                            values={"invoice": d.invoice_id, "offset": d.offset, "on": on.isoformat()},
                        )
                        for d in mine
                    ],
                    connection=connection,
                )
                await audit.record_system_many(
                    connection=connection,
                    action="invoice.reminder",
                    entries=[
                        (
                            f"invoice:{d.invoice_id}",
                            d.client_id,
                            {"offset_days": d.offset, "stage": invoice_emails.reminder_stage(d.due_date, on)},
                        )
                        for d in mine
                    ],
                )
    except Exception:  # the batch's transaction rolled back: nothing of it is stored, the next run retries
        log.exception("reminders for %d invoices not queued", len(batch))
        report.failed += len(batch)
        return
    report.sent += len(mine)
    report.already_sent += len(batch) - len(mine)


async def write_reminder(row: OutboxEmail) -> Written | None:
    """A queued reminder, written as it is sent: the amount due now and a fresh payment link, or nothing
    when the invoice is no longer open or nothing is due on it."""
    values = row.values or {}
    invoice = await Invoice.get_or_none(id=int(values["invoice"])).select_related("client")
    if invoice is None or invoice.status != InvoiceStatus.open:
        return None
    due = invoice.total_minor - (await allocated_by_invoice([invoice.id])).get(invoice.id, 0)
    if due <= 0:
        return None
    token = await links.issue(
        purpose="invoice", target_id=invoice.id, expires_at=links.invoice_link_expiry(invoice.due_date)
    )
    email = invoice_emails.reminder(
        org=await get_organization(),
        invoice=invoice,
        client=invoice.client,
        link=links.url_for(token),
        amount_due_minor=due,
        on=date.fromisoformat(str(values["on"])),
    )
    return Written(email.subject, email.text, email.html)


register_writer(KIND, write_reminder)


async def _record(connection: BaseDBAsyncClient, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Insert the (invoice, offset) rows in one statement; the ones inserted now (a pair recorded before,
    by an earlier run or another process, is left alone by the unique key). This is the once-only guard."""
    if not pairs:
        return set()
    stamp = now_utc()
    ordered = sorted(pairs)  # one order everywhere: no deadlock
    head = 'INSERT INTO "reminder_sent" ("invoice_id", "offset_days", "sent_at") '
    tail = ' ON CONFLICT ("invoice_id", "offset_days") DO NOTHING RETURNING "invoice_id", "offset_days"'
    if connection.capabilities.dialect == "postgres":  # two arrays unnested: one plan for any batch size
        pairs_sql = 'SELECT p."i", p."o", $3 FROM unnest($1::int[], $2::int[]) AS p("i", "o") ORDER BY 1, 2'
        sql = head + pairs_sql + tail
        params: list[object] = [[i for i, _ in ordered], [o for _, o in ordered], stamp]
    else:
        sql = head + "VALUES " + ", ".join("(?, ?, ?)" for _ in ordered) + tail
        params = [value for invoice_id, offset in ordered for value in (invoice_id, offset, stamp)]
    rows = await connection.execute_query_dict(sql, params)
    return {(int(row["invoice_id"]), int(row["offset_days"])) for row in rows}


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

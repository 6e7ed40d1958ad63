"""Reminders and billing-request expiry over many rows: they work in batches whose cost in SQL statements
does not grow with how much each batch sends, reach every row once, and stay once-only when several runs
overlap (on PostgreSQL: several connections at once, as several processes would)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from tortoise.log import db_client_logger

from portal.billing import billing_requests, invoices, reminders
from portal.billing.invoices import LineDraft
from portal.core.clock import advance, set_now
from portal.db.models import (
    AuditEntry,
    BillingRequest,
    CreditNote,
    Invoice,
    OutboxEmail,
    PaymentLink,
    ReminderSent,
)
from portal.mail.worker import flush_outbox
from tests.services.conftest import World
from tests.smtp_sink import SmtpSink

pytest_plugins = ["tests.conftest_smtp"]

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
DUE = date(2026, 11, 16)


class _Statements(logging.Handler):
    """The statements the database clients execute (each execute_* call logs its statement once)."""

    EXECUTORS = frozenset({"execute_insert", "execute_many", "execute_query", "execute_query_dict"})

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.funcName in self.EXECUTORS:
            self.sql.append(str(record.args[0] if record.args else record.msg))


@contextmanager
def statements() -> Iterator[_Statements]:
    counter = _Statements()
    level = db_client_logger.level
    db_client_logger.addHandler(counter)
    db_client_logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        db_client_logger.removeHandler(counter)
        db_client_logger.setLevel(level)


@pytest.fixture
async def frozen(world: World, smtp_sink: SmtpSink) -> AsyncIterator[World]:
    set_now(NOW)
    try:
        yield world
    finally:
        set_now(None)


def on_day(day: date) -> None:
    set_now(datetime.combine(day, time(9, 30), tzinfo=UTC))


async def open_invoices(world: World, count: int, *, due: date = DUE) -> list[int]:
    return [
        await invoices.create_invoice(
            actor=world.staff,
            client_id=world.alice_id if n % 2 else world.bob_id,
            lines=[LineDraft(f"Work {n}", Decimal(1), 10_000 + n, Decimal(0))],
            due_date=due,
        )
        for n in range(count)
    ]


async def test_a_reminder_run_in_small_batches_reminds_every_invoice_once(frozen: World) -> None:
    ids = await open_invoices(frozen, 12)
    on_day(DUE)

    first = await reminders.send_due_reminders(batch_size=5)  # batches of 5, 5 and 2
    second = await reminders.send_due_reminders(batch_size=5)

    assert (first.sent, first.already_sent, first.failed) == (12, 0, 0)
    assert (second.sent, second.candidates) == (0, 0)  # the database finds every one reminded
    assert sorted(await ReminderSent.filter(offset_days=0).values_list("invoice_id", flat=True)) == ids
    await flush_outbox()  # the worker writes each reminder as it sends it
    rows = await OutboxEmail.filter(kind="reminder")
    assert sorted(r.dedupe_key for r in rows) == sorted(f"reminder:{i}:0" for i in ids)
    assert all(r.subject.startswith("Invoice ") and r.subject.endswith(" is due today") for r in rows)
    assert {r.to_address for r in rows} == {"alice@x.test", "bob@x.test"}
    assert await PaymentLink.filter(invoice_id__in=ids, purpose="invoice").count() >= 12
    assert await AuditEntry.filter(action="invoice.reminder").count() == 12
    for row in rows:  # each email's link opens its own invoice
        assert "/pay/" in row.text_body


async def test_a_reminder_batch_costs_the_same_statements_whether_it_sends_one_or_many(frozen: World) -> None:
    await open_invoices(frozen, 3)
    on_day(DUE)
    with statements() as one_batch:
        assert (await reminders.send_due_reminders(batch_size=4)).sent == 3

    later = DUE + timedelta(days=40)  # the first three are out of this day's window
    set_now(NOW + timedelta(days=40))
    await open_invoices(frozen, 11, due=later)
    on_day(later)
    with statements() as three_batches:
        assert (await reminders.send_due_reminders(batch_size=4)).sent == 11

    per_batch = len(one_batch.sql) - 1  # the organization is read once per run
    assert per_batch <= 9, one_batch.sql
    assert len(three_batches.sql) == 1 + 3 * per_batch, three_batches.sql


async def test_overlapping_reminder_runs_send_each_reminder_once(frozen: World) -> None:
    ids = await open_invoices(frozen, 9)
    on_day(DUE)

    reports = await asyncio.gather(*(reminders.send_due_reminders(batch_size=4) for _ in range(3)))

    assert sum(r.sent for r in reports) == 9 and sum(r.failed for r in reports) == 0
    assert await ReminderSent.all().count() == 9
    assert await OutboxEmail.filter(kind="reminder").count() == 9
    assert await AuditEntry.filter(action="invoice.reminder").count() == 9
    assert sorted(await ReminderSent.all().values_list("invoice_id", flat=True)) == ids


async def test_a_batch_that_cannot_be_stored_leaves_nothing_and_the_next_run_sends_it(
    frozen: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_invoices(frozen, 3)
    on_day(DUE)

    async def broken(rows: object) -> None:
        raise RuntimeError("outbox table locked")

    monkeypatch.setattr(reminders, "enqueue_many", broken)
    report = await reminders.send_due_reminders()
    assert (report.sent, report.failed) == (0, 3)
    assert (
        await ReminderSent.all().count() == 0
        and await AuditEntry.filter(action="invoice.reminder").count() == 0
    )

    monkeypatch.undo()
    assert (await reminders.send_due_reminders()).sent == 3
    assert await OutboxEmail.filter(kind="reminder").count() == 3


async def _requests(world: World, count: int) -> list[int]:
    ids = []
    for n in range(count):
        sent = await billing_requests.create_billing_request(
            actor=world.staff,
            client_id=world.alice_id if n % 2 else world.bob_id,
            email=f"payer{n}@x.test",
            currency="USD",
            amount_minor=2_000 + n,
            success_url="https://a.test/ok",
            cancel_url="https://a.test/no",
            billing_type="one_time",
            description=f"Deposit {n}",
        )
        ids.append(sent.id)
    return ids


async def test_expiry_in_small_batches_expires_every_request_and_tells_each_payer_once(frozen: World) -> None:
    ids = await _requests(frozen, 7)
    advance(timedelta(hours=25))

    assert await billing_requests.expire_due(batch_size=3) == 7
    assert await billing_requests.expire_due(batch_size=3) == 0

    assert await BillingRequest.filter(id__in=ids, status="expired").count() == 7
    assert await Invoice.filter(billing_request_id__in=ids).exclude(status="deleted").count() == 0
    emails = await OutboxEmail.filter(kind="billing_request_expired")
    assert sorted(e.to_address for e in emails) == sorted(f"payer{n}@x.test" for n in range(7))


async def test_an_expiry_batch_costs_the_same_statements_whether_it_expires_one_or_many(
    frozen: World,
) -> None:
    """Per batch a fixed number of statements, plus, per voided invoice, the credit note that cancels it
    (issue 16 item 5: a numbered invoice is never simply deleted), a fixed number each too."""
    await _requests(frozen, 1)
    advance(timedelta(hours=25))
    assert await billing_requests.expire_due() == 1  # the credit notes' number sequence starts
    await _requests(frozen, 1)
    advance(timedelta(hours=25))
    with statements() as one:
        assert await billing_requests.expire_due(batch_size=4) == 1

    await _requests(frozen, 2)
    advance(timedelta(hours=25))
    with statements() as two:
        assert await billing_requests.expire_due(batch_size=4) == 2

    await _requests(frozen, 11)
    advance(timedelta(hours=25))
    with statements() as three_batches:
        assert await billing_requests.expire_due(batch_size=4) == 11

    per_credit_note = len(two.sql) - len(one.sql)
    per_batch = len(one.sql) - 1 - per_credit_note  # the organization is read once per run
    assert per_batch <= 6, "\n".join(one.sql)
    assert per_credit_note <= 8, "\n".join(two.sql)
    assert len(three_batches.sql) == 1 + 3 * per_batch + 11 * per_credit_note, three_batches.sql
    assert await CreditNote.filter(reason="void").count() == 15


async def test_overlapping_expiry_runs_expire_each_request_once(frozen: World) -> None:
    await _requests(frozen, 10)
    advance(timedelta(hours=25))

    counts = await asyncio.gather(*(billing_requests.expire_due(batch_size=3) for _ in range(3)))

    assert sum(counts) == 10
    assert await OutboxEmail.filter(kind="billing_request_expired").count() == 10

"""Reminders, expiry, renewals and the job runner, on a clock the tests move (`portal.core.clock`).

The schedule is the organization's (`reminder_offsets`, days relative to the due date); every job is run
twice where it matters, because running again must never send anything more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from tortoise.exceptions import IntegrityError

from portal import jobs
from portal.billing import billing_requests, invoices, reminders
from portal.billing.invoices import LineDraft
from portal.core import clock
from portal.core.clock import advance, now_utc, set_now, today
from portal.core.organization import get_organization
from portal.db.models import (
    BillingRequest,
    Client,
    GatewayCustomer,
    Invoice,
    OutboxEmail,
    PaymentMethod,
    ReminderSent,
    Subscription,
)
from portal.mail import compose, invoice_emails
from portal.mail.worker import flush_outbox
from portal.payments import ledger
from tests.services.conftest import World
from tests.services.payment_fixtures import DECLINES_ON_CHARGE, VISA, add_card, sandbox
from tests.smtp_sink import SmtpSink

pytest_plugins = ["tests.conftest_smtp"]

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # a Monday morning
DUE = date(2026, 11, 16)


@pytest.fixture
async def frozen(world: World, smtp_sink: SmtpSink) -> AsyncIterator[World]:
    """The world with the clock stopped at NOW (given back to the real clock afterwards), and an SMTP sink
    for the outbox worker, which writes each reminder as it sends it."""
    set_now(NOW)
    try:
        yield world
    finally:
        set_now(None)


def on_day(day: date) -> None:
    set_now(datetime.combine(day, time(9, 30), tzinfo=UTC))


async def invoice(
    world: World, amount: int = 10_000, *, due: date = DUE, client_id: int | None = None, **extra: object
) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=[LineDraft("Work", Decimal(1), amount, Decimal(0))],
        due_date=due,
        **extra,  # type: ignore[arg-type]
    )


async def sent_reminders() -> list[OutboxEmail]:
    """The reminders as the outbox worker wrote and sent them (it writes each one when it sends it)."""
    await flush_outbox()
    return await OutboxEmail.filter(kind="reminder").order_by("id")


async def reminder_subjects() -> list[str]:
    return [row.subject for row in await sent_reminders()]


async def offsets_sent(invoice_id: int) -> list[int]:
    return sorted(r.offset_days for r in await ReminderSent.filter(invoice_id=invoice_id))


# -- the clock --------------------------------------------------------------------------------------
def test_the_clock_can_be_stopped_moved_and_given_back() -> None:
    try:
        set_now(datetime(2030, 1, 1, 23, 0))  # naive: taken as UTC
        assert now_utc() == datetime(2030, 1, 1, 23, 0, tzinfo=UTC) and today() == date(2030, 1, 1)
        assert advance(timedelta(hours=2)) == datetime(2030, 1, 2, 1, 0, tzinfo=UTC)
        assert today() == date(2030, 1, 2)
        with clock.frozen_at(datetime(2031, 5, 5, tzinfo=UTC)):
            assert today() == date(2031, 5, 5)
        assert today() == date(2030, 1, 2)
    finally:
        set_now(None)
    assert abs(now_utc() - datetime.now(UTC)) < timedelta(seconds=5)


# -- reminders --------------------------------------------------------------------------------------
async def test_each_reminder_goes_out_once_on_its_day(frozen: World) -> None:
    invoice_id = await invoice(frozen)
    number = (await Invoice.get(id=invoice_id)).number
    sent_on: dict[date, int] = {}

    day = NOW.date()
    while day <= date(2026, 11, 30):
        on_day(day)
        first = await reminders.send_due_reminders()
        second = await reminders.send_due_reminders()  # the same day again: nothing more
        assert second.sent == 0
        if first.sent:
            sent_on[day] = first.sent
        day += timedelta(days=1)

    assert sent_on == {date(2026, 11, 13): 1, date(2026, 11, 16): 1, date(2026, 11, 23): 1}
    assert await offsets_sent(invoice_id) == [-3, 0, 7]
    assert await reminder_subjects() == [
        f"Reminder: invoice {number} is due on Nov 16, 2026",
        f"Invoice {number} is due today",
        f"Overdue: invoice {number} was due on Nov 16, 2026",
    ]
    rows = await OutboxEmail.filter(kind="reminder")
    assert {r.to_address for r in rows} == {"alice@x.test"} and all(
        r.client_id == frozen.alice_id for r in rows
    )


async def test_missed_days_are_caught_up_with_only_the_latest_reminder(frozen: World) -> None:
    late = await invoice(frozen)  # the job does not run from the 2nd until the 17th
    on_day(date(2026, 11, 17))

    report = await reminders.send_due_reminders()

    assert report.sent == 1
    assert await offsets_sent(late) == [0]  # the 13th's (-3) is skipped, not sent as well
    day = date(2026, 11, 17)
    while day <= date(2026, 11, 30):  # from then on it runs daily: the -3 one never comes late
        on_day(day)
        await reminders.send_due_reminders()
        day += timedelta(days=1)
    assert await offsets_sent(late) == [0, 7]
    assert [s.split(":")[0] for s in await reminder_subjects()] == ["Overdue", "Overdue"]


async def test_a_long_stretch_without_runs_sends_one_reminder_not_three(frozen: World) -> None:
    late = await invoice(frozen)
    on_day(date(2026, 11, 24))

    assert (await reminders.send_due_reminders()).sent == 1
    assert (await reminders.send_due_reminders()).sent == 0

    assert await offsets_sent(late) == [7]
    assert len(await reminder_subjects()) == 1


async def test_a_reminder_caught_up_after_the_due_date_is_worded_as_overdue(frozen: World) -> None:
    invoice_id = await invoice(frozen)
    on_day(date(2026, 11, 17))  # the due-date reminder, one day late

    assert (await reminders.send_due_reminders()).sent == 1

    assert await offsets_sent(invoice_id) == [0]
    (row,) = await sent_reminders()
    assert row.subject.startswith("Overdue: ") and "still unpaid" in row.text_body


async def test_a_client_who_opted_out_gets_no_reminders(frozen: World) -> None:
    await Client.filter(id=frozen.alice_id).update(reminders_enabled=False)
    await invoice(frozen)
    bobs = await invoice(frozen, 5_000, client_id=frozen.bob_id)

    on_day(DUE)
    assert (await reminders.send_due_reminders()).sent == 1

    (row,) = await OutboxEmail.filter(kind="reminder")
    assert row.to_address == "bob@x.test"
    assert await ReminderSent.filter(invoice__client_id=frozen.alice_id).count() == 0
    assert await offsets_sent(bobs) == [0]


async def test_a_paid_invoice_gets_no_reminder_and_a_part_paid_one_asks_for_the_rest(frozen: World) -> None:
    paid = await invoice(frozen, 10_000)
    part = await invoice(frozen, 10_000)
    for invoice_id, amount in ((paid, 10_000), (part, 4_000)):
        await ledger.record_offline_payment(
            actor=frozen.staff,
            client_id=frozen.alice_id,
            amount_minor=amount,
            currency="USD",
            method="bank_transfer",
            received_on=NOW.date(),
            invoice_id=invoice_id,
        )
    assert (await Invoice.get(id=paid)).status == "paid"

    on_day(DUE)
    assert (await reminders.send_due_reminders()).sent == 1

    assert await offsets_sent(paid) == []
    (row,) = await sent_reminders()
    assert "$60.00" in row.text_body and (await Invoice.get(id=part)).number in row.subject


async def test_no_reminders_when_the_organization_turned_them_off(frozen: World) -> None:
    org = await get_organization()
    org.reminders_enabled = False
    await org.save()
    await invoice(frozen)

    on_day(DUE)
    assert (await reminders.send_due_reminders()).sent == 0
    assert await OutboxEmail.filter(kind="reminder").count() == 0


async def test_the_organizations_own_schedule_is_followed(frozen: World) -> None:
    org = await get_organization()
    org.reminder_offsets = [14, 1, "bad", 1]  # unsorted, repeated, one value that is not a day
    await org.save()
    invoice_id = await invoice(frozen)

    days = []
    for day in (DUE, DUE + timedelta(days=1), DUE + timedelta(days=2), DUE + timedelta(days=14)):
        on_day(day)
        if (await reminders.send_due_reminders()).sent:
            days.append(day)

    assert days == [DUE + timedelta(days=1), DUE + timedelta(days=14)]
    assert await offsets_sent(invoice_id) == [1, 14]


async def test_drafts_billing_request_invoices_and_long_overdue_invoices_are_not_reminded(
    frozen: World,
) -> None:
    await invoice(frozen, send=False)  # a draft
    await billing_requests.create_billing_request(  # its invoice is due tomorrow; it expires instead
        actor=frozen.staff,
        client_id=frozen.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_minor=2_000,
        success_url="https://a.test/ok",
        cancel_url="https://a.test/no",
        billing_type="one_time",
    )
    await invoice(frozen, issue_date=date(2026, 8, 1), due=date(2026, 8, 31))  # overdue for two months

    for day in (NOW.date(), NOW.date() + timedelta(days=1), NOW.date() + timedelta(days=2)):
        on_day(day)
        assert (await reminders.send_due_reminders()).sent == 0
    assert await ReminderSent.all().count() == 0


async def test_a_reminder_day_before_the_invoice_existed_is_skipped(frozen: World) -> None:
    short = await invoice(frozen, due=NOW.date() + timedelta(days=2))  # issued two days before it is due
    exact = await invoice(frozen, due=NOW.date() + timedelta(days=3))  # its -3 day is today

    assert (await reminders.send_due_reminders()).sent == 1
    on_day(NOW.date() + timedelta(days=2))
    assert (await reminders.send_due_reminders()).sent == 1

    assert await offsets_sent(short) == [0]
    assert await offsets_sent(exact) == [-3]


async def test_a_reminder_that_cannot_be_written_is_retried_and_the_others_go_out(
    frozen: World, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = await invoice(frozen)
    fine = await invoice(frozen, client_id=frozen.bob_id)
    await flush_outbox()  # the invoice emails themselves
    real = invoice_emails.reminder

    def reminder(*, invoice: Invoice, **kwargs: object) -> compose.Email:
        if invoice.id == broken:
            raise RuntimeError("template exploded")
        return real(invoice=invoice, **kwargs)  # type: ignore[arg-type]

    on_day(DUE)
    monkeypatch.setattr(invoice_emails, "reminder", reminder)
    assert (await reminders.send_due_reminders()).sent == 2
    report = await flush_outbox()

    assert (report.sent, report.retried) == (1, 1)
    assert [m.rcpt_tos for m in smtp_sink.messages if "due today" in str(m.message["Subject"])] == [
        ("bob@x.test",)
    ]
    left = await OutboxEmail.get(dedupe_key=f"reminder:{broken}:0")
    assert (left.status, left.subject) == ("queued", "") and "template exploded" in left.last_error

    monkeypatch.setattr(invoice_emails, "reminder", real)
    assert (await flush_outbox(now=now_utc() + timedelta(minutes=2))).sent == 1
    assert (await OutboxEmail.get(id=left.id)).status == "sent"
    assert (await reminders.send_due_reminders()).sent == 0  # recorded once, sent once
    assert await offsets_sent(broken) == [0] and await offsets_sent(fine) == [0]


async def test_a_reminder_for_an_invoice_paid_before_it_is_sent_is_not_sent(frozen: World) -> None:
    invoice_id = await invoice(frozen)
    await flush_outbox()
    on_day(DUE)
    assert (await reminders.send_due_reminders()).sent == 1
    await ledger.record_offline_payment(
        actor=frozen.staff,
        client_id=frozen.alice_id,
        amount_minor=10_000,
        currency="USD",
        method="bank_transfer",
        received_on=DUE,
        invoice_id=invoice_id,
    )

    report = await flush_outbox()

    row = await OutboxEmail.get(kind="reminder")
    assert report.skipped == 1 and (row.status, row.subject) == ("skipped", "")


async def test_the_database_refuses_a_second_row_for_the_same_invoice_and_offset(frozen: World) -> None:
    invoice_id = await invoice(frozen)
    await ReminderSent.create(invoice_id=invoice_id, offset_days=0)

    with pytest.raises(IntegrityError):
        await ReminderSent.create(invoice_id=invoice_id, offset_days=0)


async def test_two_runs_at_the_same_moment_send_one_reminder(frozen: World) -> None:
    invoice_id = await invoice(frozen)
    on_day(DUE)

    first, second = await asyncio.gather(reminders.send_due_reminders(), reminders.send_due_reminders())

    assert first.sent + second.sent == 1
    assert await OutboxEmail.filter(kind="reminder").count() == 1
    assert await offsets_sent(invoice_id) == [0]


async def test_a_reminder_day_delivers_one_email_over_smtp(frozen: World, smtp_sink: SmtpSink) -> None:
    invoice_id = await invoice(frozen)
    await flush_outbox()  # the invoice email itself
    number = (await Invoice.get(id=invoice_id)).number
    on_day(DUE - timedelta(days=3))

    await jobs.run_all_once()
    await jobs.run_all_once()

    reminders_received = [m for m in smtp_sink.messages if "Reminder" in str(m.message["Subject"])]
    assert [str(m.message["Subject"]) for m in reminders_received] == [
        f"Reminder: invoice {number} is due on Nov 16, 2026"
    ]
    assert reminders_received[0].rcpt_tos == ("alice@x.test",)


# -- billing request expiry -------------------------------------------------------------------------
async def _request(world: World) -> billing_requests.SentRequest:
    return await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="payer@alice.test",
        currency="USD",
        amount_minor=2_000,
        success_url="https://a.test/ok",
        cancel_url="https://a.test/no",
        billing_type="one_time",
        description="Rush fee",
    )


async def test_a_billing_request_expires_after_24_hours_and_the_payer_is_told_once(
    frozen: World, smtp_sink: SmtpSink
) -> None:
    sent = await _request(frozen)

    advance(timedelta(hours=23, minutes=59))
    assert await billing_requests.expire_due() == 0
    assert (await BillingRequest.get(id=sent.id)).status == "pending"

    advance(timedelta(minutes=2))
    await jobs.run_all_once()
    await jobs.run_all_once()
    assert await billing_requests.expire_due() == 0

    request = await BillingRequest.get(id=sent.id)
    assert request.status == "expired"
    assert (await Invoice.get(id=sent.invoice_id)).status == "deleted"
    expired = [m for m in smtp_sink.messages if "has expired" in str(m.message["Subject"])]
    assert len(expired) == 1 and expired[0].rcpt_tos == ("payer@alice.test",)
    assert await OutboxEmail.filter(kind="billing_request_expired", status="sent").count() == 1


async def test_a_paid_billing_request_never_expires(frozen: World) -> None:
    sent = await _request(frozen)
    await BillingRequest.filter(id=sent.id).update(status="paid", paid_at=now_utc())

    advance(timedelta(days=3))
    assert await billing_requests.expire_due() == 0

    assert (await BillingRequest.get(id=sent.id)).status == "paid"
    assert await OutboxEmail.filter(kind="billing_request_expired").count() == 0


# -- renewals ---------------------------------------------------------------------------------------
async def _subscription(world: World, card: str) -> Subscription:
    """A monthly sandbox subscription charged to `card`, mirrored in our table as the app does."""
    method_id = await add_card(world, card)
    method = await PaymentMethod.get(id=method_id)
    customer = await GatewayCustomer.get(client_id=world.alice_id, gateway="sandbox")
    info = await sandbox().create_subscription(
        customer_ref=customer.ref,
        method_ref=method.gateway_ref,
        amount_minor=4_900,
        currency="USD",
        interval="month",
        description="Care plan",
        idempotency_key=f"test-sub:{method_id}",
        metadata={},
        trial_end=now_utc() + timedelta(days=30),
    )
    return await Subscription.create(
        client_id=world.alice_id,
        description="Care plan",
        amount_minor=4_900,
        currency="USD",
        interval="month",
        status="active",
        payment_method_id=method_id,
        gateway="sandbox",
        gateway_ref=info.ref,
        current_period_start=now_utc(),
        current_period_end=info.current_period_end,
    )


async def _use_card(sub: Subscription, world: World, card: str) -> None:
    method_id = await add_card(world, card, default=False)
    method = await PaymentMethod.get(id=method_id)
    await sandbox().update_subscription_method(ref=sub.gateway_ref, method_ref=method.gateway_ref)


async def _renew() -> dict[str, int]:
    counts = await jobs.run_job(jobs.job("renew subscriptions"))
    assert counts is not None
    return counts


async def failure_emails() -> int:
    return await OutboxEmail.filter(kind="subscription_payment_failed").count()


async def test_a_failed_renewal_is_emailed_once_per_period_however_often_it_is_retried(frozen: World) -> None:
    sub = await _subscription(frozen, DECLINES_ON_CHARGE)
    assert sub.current_period_end is not None
    set_now(sub.current_period_end + timedelta(hours=1))

    assert await _renew() == {"renewals charged": 1, "failure emails": 0}  # the webhook told them
    assert (await Subscription.get(id=sub.id)).status == "past_due"
    assert await failure_emails() == 1

    for _day in range(3):  # the sandbox retries every day; still the same unpaid period
        advance(timedelta(days=1))
        assert (await _renew())["renewals charged"] == 1
    assert await failure_emails() == 1

    await _use_card(sub, frozen, VISA)  # the client updates the card: the next try is paid
    advance(timedelta(days=1))
    await _renew()
    paid = await Subscription.get(id=sub.id)
    assert paid.status == "active"
    assert await Invoice.filter(subscription_id=sub.id, status="paid").count() == 1

    await _use_card(sub, frozen, DECLINES_ON_CHARGE)  # a month later the card declines again
    assert paid.current_period_end is not None
    set_now(paid.current_period_end + timedelta(hours=1))
    await _renew()
    assert (await Subscription.get(id=sub.id)).status == "past_due"
    assert await failure_emails() == 2  # a new period, a new email


async def test_the_follow_up_tells_a_past_due_client_whose_failure_event_was_missed(frozen: World) -> None:
    sub = await _subscription(frozen, VISA)
    await Subscription.filter(id=sub.id).update(status="past_due")  # as a subscription.updated event does

    assert (await _renew())["failure emails"] == 1
    assert (await _renew())["failure emails"] == 0

    (row,) = await OutboxEmail.filter(kind="subscription_payment_failed")
    assert row.to_address == "alice@x.test" and "/billing" in row.text_body


# -- the runner -------------------------------------------------------------------------------------
async def test_each_job_run_logs_one_line_with_its_counts_and_a_second_run_does_nothing(
    frozen: World, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    await invoice(frozen)
    await _request(frozen)
    on_day(DUE)
    caplog.set_level(logging.DEBUG, logger="portal.jobs")

    first = await jobs.run_all_once()

    lines = [r for r in caplog.records if r.name == "portal.jobs"]
    assert [r.getMessage().split(":")[0] for r in lines] == [f"job {job.name}" for job in jobs.JOBS]
    assert first["send queued email"] == {"sent": 2, "retried": 0, "failed": 0}  # invoice + request
    assert first["expire billing requests"] == {"expired": 1}
    assert first["send payment reminders"] == {"sent": 1, "already sent": 0, "failed": 0}
    assert "job send payment reminders: sent 1, already sent 0, failed 0" in caplog.text
    caplog.clear()

    second = await jobs.run_all_once()

    assert second["expire billing requests"] == {"expired": 0}
    assert second["send payment reminders"] == {"sent": 0, "already sent": 0, "failed": 0}
    assert second["send queued email"] == {"sent": 2, "retried": 0, "failed": 0}  # reminder + expiry
    third = await jobs.run_all_once()
    assert third["send queued email"] == {"sent": 0, "retried": 0, "failed": 0}
    assert len(smtp_sink.messages) == 4


async def test_a_failing_job_is_logged_and_does_not_stop_the_others(
    frozen: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(billing_requests, "expire_due", broken)
    caplog.set_level(logging.INFO, logger="portal.jobs")

    results = await jobs.run_all_once()

    assert results["expire billing requests"] is None
    assert results["send payment reminders"] == {"sent": 0, "already sent": 0, "failed": 0}
    assert "job expire billing requests failed" in caplog.text and "database went away" in caplog.text


async def test_the_runner_starts_a_loop_per_job_and_stops_them(
    frozen: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    def fake(name: str) -> Callable[[], object]:
        async def run() -> dict[str, int]:
            ran.append(name)
            return {"done": 0}

        return run

    monkeypatch.setattr(jobs, "JOBS", [jobs.Job(n, fake(n), 3600.0) for n in ("a", "b")])  # type: ignore[arg-type]
    runner = jobs.JobRunner()
    runner.start()
    for _ in range(50):
        if len(ran) == 2:
            break
        await asyncio.sleep(0.01)
    await runner.stop()

    assert sorted(ran) == ["a", "b"] and runner.tasks == []


async def test_every_job_runs_at_the_interval_set_for_tests(
    frozen: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    async def run() -> dict[str, int]:
        ran.append("x")
        return {"done": 0}

    monkeypatch.setenv("JOBS_INTERVAL_SECONDS", "0.01")
    monkeypatch.setattr(jobs, "JOBS", [jobs.Job("x", run, 3600.0)])
    runner = jobs.JobRunner()
    runner.start()
    for _ in range(100):
        if len(ran) >= 3:
            break
        await asyncio.sleep(0.01)
    await runner.stop()

    assert len(ran) >= 3  # not once an hour

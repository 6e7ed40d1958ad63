"""Mail: real SMTP conversations between the outbox worker (aiosmtplib) and an aiosmtpd sink on loopback.

The emails are the ones the app queues (`outbox.enqueue`, `create_billing_request`); the worker's clock is
passed as `now` so that retries and leases can be checked without waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from portal.billing import billing_requests
from portal.core import vault
from portal.core.clock import now_utc
from portal.core.organization import get_organization
from portal.db.models import Organization, OutboxEmail
from portal.mail import worker
from portal.mail.outbox import enqueue
from portal.mail.transport import MailError, SmtpConfig, send_test_email, smtp_config
from portal.mail.worker import FlushReport, flush_outbox
from tests.services.conftest import World
from tests.smtp_sink import DEFAULT_FROM, SmtpSink

pytest_plugins = ["tests.conftest_smtp"]

ORG = "Acme Studio"
CUSTOM_USER, CUSTOM_PASSWORD = "mailer@acme.test", "s3cret-Pa55word"


async def org_named(name: str = ORG) -> Organization:
    org = await get_organization()
    org.name = name
    await org.save()
    return org


async def use_custom_smtp(sink: SmtpSink, *, password: str = CUSTOM_PASSWORD) -> Organization:
    """Switch the organization to its own SMTP server (the sink), the password encrypted at rest."""
    org = await org_named()
    org.smtp_mode = "custom"
    org.smtp_host, org.smtp_port, org.smtp_tls = sink.host, sink.port, "none"
    org.smtp_username, org.smtp_password_enc = CUSTOM_USER, vault.encrypt(password)
    org.smtp_from, org.smtp_reply_to = "invoices@acme.test", "accounts@acme.test"
    await org.save()
    return org


async def queue(n: int = 1, **extra: str) -> list[OutboxEmail]:
    ids = [
        await enqueue(
            kind="test",
            to=f"client{i}@example.test",
            subject=f"Message {i}",
            text=f"Body {i}",
            **extra,
        )
        for i in range(n)
    ]
    return [await OutboxEmail.get(id=i) for i in ids]


def counts(report: FlushReport) -> tuple[int, int, int]:
    return report.sent, report.retried, report.failed


async def test_a_queued_email_is_delivered_with_its_headers_and_bodies(db: str, smtp_sink: SmtpSink) -> None:
    await org_named()
    (row,) = await queue(html="<p>Body <b>0</b></p>", reply_to="owner@acme.test")

    assert counts(await flush_outbox()) == (1, 0, 0)

    (got,) = smtp_sink.messages
    message = got.message
    assert message["From"].addresses[0].display_name == ORG
    assert message["From"].addresses[0].addr_spec == DEFAULT_FROM
    assert message["To"] == "client0@example.test"
    assert message["Reply-To"] == "owner@acme.test"
    assert message["Subject"] == "Message 0"
    assert message["Message-ID"] == row.message_id
    assert message["Date"] is not None
    assert message.get_body(("plain",)).get_content().strip() == "Body 0"
    assert message.get_body(("html",)).get_content().strip() == "<p>Body <b>0</b></p>"
    assert got.mail_from == DEFAULT_FROM and got.rcpt_tos == ("client0@example.test",)
    assert got.login is None
    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts, row.last_error, row.next_attempt_at) == ("sent", 1, "", None)
    assert row.sent_at is not None
    assert counts(await flush_outbox()) == (0, 0, 0)
    assert len(smtp_sink.messages) == 1


async def test_a_billing_request_email_carries_its_payment_link(world: World, smtp_sink: SmtpSink) -> None:
    await org_named()
    sent = await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_minor=12_500,
        success_url="https://acme.test/thanks",
        cancel_url="https://acme.test/cancel",
        billing_type="one_time",
        description="Logo design",
    )

    assert counts(await flush_outbox()) == (1, 0, 0)

    (got,) = smtp_sink.messages
    assert got.rcpt_tos == ("alice@x.test",)
    assert got.message["Subject"] == f"{ORG} requests $125.00"
    body = got.message.get_body(("plain",)).get_content()
    assert sent.link in body and "/pay/" in sent.link
    assert "Logo design" in body
    row = await OutboxEmail.get(kind="billing_request")
    assert row.client_id == world.alice_id and row.status == "sent"


async def test_custom_smtp_is_used_instead_of_the_default_and_logs_in(
    db: str, smtp_sink: SmtpSink, make_smtp_sink: Callable[..., SmtpSink], caplog: pytest.LogCaptureFixture
) -> None:
    custom = make_smtp_sink(username=CUSTOM_USER, password=CUSTOM_PASSWORD)
    await use_custom_smtp(custom)
    (row,) = await queue()
    caplog.set_level(logging.DEBUG)

    config = await smtp_config()
    assert (config.host, config.port, config.username, config.password) == (
        custom.host,
        custom.port,
        CUSTOM_USER,
        CUSTOM_PASSWORD,
    )
    assert CUSTOM_PASSWORD not in repr(config)
    assert counts(await flush_outbox()) == (1, 0, 0)

    assert smtp_sink.messages == []
    (got,) = custom.messages
    assert got.login == CUSTOM_USER
    assert got.mail_from == "invoices@acme.test"
    assert str(got.message["From"]) == f"{ORG} <invoices@acme.test>"
    assert got.message["Reply-To"] == "accounts@acme.test"  # the row has none: the organization's
    assert got.message["Message-ID"] == row.message_id
    assert CUSTOM_PASSWORD not in caplog.text


async def test_a_wrong_password_is_a_permanent_failure_with_a_clear_message(
    db: str, make_smtp_sink: Callable[..., SmtpSink], caplog: pytest.LogCaptureFixture
) -> None:
    custom = make_smtp_sink(username=CUSTOM_USER, password=CUSTOM_PASSWORD)
    await use_custom_smtp(custom, password="not-the-password")
    rows = await queue(2)
    caplog.set_level(logging.DEBUG)
    t0 = now_utc()

    assert counts(await flush_outbox(now=t0)) == (0, 0, 2)

    for row in rows:
        row = await OutboxEmail.get(id=row.id)
        assert row.status == "failed" and row.attempts == 1 and row.next_attempt_at is None
        assert row.last_error.startswith("The mail server refused the username or password (535 ")
        assert "Authentication credentials invalid" in row.last_error
    assert custom.messages == [] and custom.auth_failures >= 2  # aiosmtplib tries PLAIN, then LOGIN
    assert counts(await flush_outbox(now=t0 + timedelta(days=1))) == (0, 0, 0)
    assert "not-the-password" not in caplog.text
    assert "refused the username or password" in caplog.text


async def test_a_451_is_retried_later_and_delivered_exactly_once(db: str, smtp_sink: SmtpSink) -> None:
    (row,) = await queue()
    smtp_sink.refuse_next(1, code=451)
    t0 = now_utc()

    assert counts(await flush_outbox(now=t0)) == (0, 1, 0)
    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at == t0 + timedelta(minutes=1)
    assert "451 4.3.0" in row.last_error
    assert smtp_sink.messages == []

    assert counts(await flush_outbox(now=t0 + timedelta(seconds=30))) == (0, 0, 0)  # not due yet
    assert counts(await flush_outbox(now=t0 + timedelta(minutes=2))) == (1, 0, 0)
    assert counts(await flush_outbox(now=t0 + timedelta(hours=1))) == (0, 0, 0)

    assert smtp_sink.message_ids() == [row.message_id]
    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")


@pytest.mark.parametrize("stage", ["data", "rcpt"])
async def test_a_550_fails_at_once_and_is_not_retried(db: str, smtp_sink: SmtpSink, stage: str) -> None:
    (row,) = await queue()
    smtp_sink.refuse_next(1, code=550, stage=stage)  # type: ignore[arg-type]
    t0 = now_utc()

    assert counts(await flush_outbox(now=t0)) == (0, 0, 1)

    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, None)
    assert "550 5.7.1 Message rejected by the test sink" in row.last_error
    assert counts(await flush_outbox(now=t0 + timedelta(days=2))) == (0, 0, 0)
    assert smtp_sink.messages == [] and smtp_sink.refused == 1


async def test_temporary_failures_back_off_then_fail_after_eight_attempts(
    db: str, smtp_sink: SmtpSink
) -> None:
    (row,) = await queue()
    smtp_sink.refuse_next(8, code=451)
    at, waits = now_utc(), []

    for attempt in range(1, 8):
        assert counts(await flush_outbox(now=at)) == (0, 1, 0)
        row = await OutboxEmail.get(id=row.id)
        assert (row.status, row.attempts) == ("queued", attempt)
        assert row.next_attempt_at is not None
        waits.append(row.next_attempt_at - at)
        at = row.next_attempt_at
    assert [w // timedelta(minutes=1) for w in waits] == [1, 5, 15, 60, 240, 240, 240]

    assert counts(await flush_outbox(now=at)) == (0, 0, 1)
    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts) == ("failed", 8)
    assert "451" in row.last_error
    assert smtp_sink.messages == []


async def test_one_failing_email_does_not_stop_the_others(db: str, smtp_sink: SmtpSink) -> None:
    rows = await queue(3)
    smtp_sink.refuse_next(1, code=550)

    assert counts(await flush_outbox()) == (2, 0, 1)

    statuses = [(await OutboxEmail.get(id=r.id)).status for r in rows]
    assert statuses == ["failed", "sent", "sent"]
    assert smtp_sink.message_ids() == [rows[1].message_id, rows[2].message_id]


async def test_a_crash_after_sending_resends_at_most_once_with_the_same_message_id(
    db: str, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = await queue()
    t0 = now_utc()

    async def process_died(*args: object) -> None:
        raise RuntimeError("the process died before recording the send")

    with monkeypatch.context() as patch:
        patch.setattr(worker, "_mark_sent", process_died)
        assert counts(await flush_outbox(now=t0)) == (0, 0, 0)
    crashed = await OutboxEmail.get(id=row.id)
    assert crashed.status == "sending" and crashed.sent_at is None  # delivered, but not recorded
    assert smtp_sink.message_ids() == [row.message_id]

    # another process looks while the first one may still be sending: hands off
    assert counts(await flush_outbox(now=t0 + timedelta(minutes=5))) == (0, 0, 0)
    # ten minutes later the row is considered abandoned: one resend, same Message-ID
    assert counts(await flush_outbox(now=t0 + timedelta(minutes=11))) == (1, 0, 0)
    assert counts(await flush_outbox(now=t0 + timedelta(hours=5))) == (0, 0, 0)

    ids = smtp_sink.message_ids()
    assert set(ids) == {row.message_id} and len(ids) <= 2
    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_row_left_sending_on_its_last_attempt_fails_instead_of_resending(
    db: str, smtp_sink: SmtpSink
) -> None:
    (row,) = await queue()
    old = now_utc() - timedelta(hours=1)
    await OutboxEmail.filter(id=row.id).update(status="sending", attempts=8, next_attempt_at=old)

    assert counts(await flush_outbox()) == (0, 0, 1)

    row = await OutboxEmail.get(id=row.id)
    assert row.status == "failed" and "interrupted" in row.last_error
    assert smtp_sink.messages == []


async def test_two_concurrent_flushes_deliver_each_email_once(db: str, smtp_sink: SmtpSink) -> None:
    rows = await queue(12)

    first, second = await asyncio.gather(flush_outbox(), flush_outbox())

    assert first.sent + second.sent == 12
    assert first.retried + second.retried + first.failed + second.failed == 0
    assert sorted(smtp_sink.message_ids()) == sorted(r.message_id for r in rows)
    assert await OutboxEmail.filter(status="sent", attempts=1).count() == 12


async def test_send_test_email_reports_success(db: str, smtp_sink: SmtpSink) -> None:
    await org_named()

    answer = await send_test_email(to="me@acme.test", config=await smtp_config())

    assert answer == "Test email sent to me@acme.test."
    (got,) = smtp_sink.messages
    assert got.rcpt_tos == ("me@acme.test",)
    assert got.message["Subject"] == f"Test email from {ORG}"
    assert str(got.message["From"]) == f"{ORG} <{DEFAULT_FROM}>"


async def test_send_test_email_failures_show_the_servers_answer(
    db: str, make_smtp_sink: Callable[..., SmtpSink]
) -> None:
    custom = make_smtp_sink(username=CUSTOM_USER, password=CUSTOM_PASSWORD)
    await use_custom_smtp(custom, password="wrong")

    with pytest.raises(MailError) as refused:
        await send_test_email(to="me@acme.test", config=await smtp_config())
    assert refused.value.permanent
    assert str(refused.value) == (
        "The mail server refused the username or password (535 5.7.8 Authentication credentials invalid)."
    )

    custom.refuse_next(1, code=550)
    with pytest.raises(MailError) as rejected:
        await send_test_email(to="me@acme.test", config=await smtp_config_with_password(CUSTOM_PASSWORD))
    assert rejected.value.permanent
    assert "550 5.7.1 Message rejected by the test sink" in str(rejected.value)

    port = custom.port
    custom.stop()
    closed = SmtpConfig("127.0.0.1", port, "", "", "billing@acme.test", tls="none")
    with pytest.raises(MailError) as unreachable:
        await send_test_email(to="me@acme.test", config=closed)
    assert not unreachable.value.permanent
    assert f"127.0.0.1:{port}" in str(unreachable.value)


async def smtp_config_with_password(password: str) -> SmtpConfig:
    org = await get_organization()
    org.smtp_password_enc = vault.encrypt(password)
    await org.save()
    return await smtp_config()


async def test_custom_smtp_without_a_host_leaves_the_mail_queued(db: str, smtp_sink: SmtpSink) -> None:
    org = await org_named()
    org.smtp_mode, org.smtp_host = "custom", ""
    await org.save()
    (row,) = await queue()

    assert counts(await flush_outbox()) == (0, 0, 0)

    row = await OutboxEmail.get(id=row.id)
    assert (row.status, row.attempts) == ("queued", 0)
    assert smtp_sink.messages == []  # never silently sent through the default server instead


# -- composed emails through the same guarantees -----------------------------------------------------
async def _composed_invoice(world: World) -> OutboxEmail:
    from decimal import Decimal

    from portal.billing import invoices
    from portal.billing.invoices import LineDraft
    from portal.core.clock import today

    await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Retainer", Decimal(1), 80_000, Decimal(0))],
        due_date=today() + timedelta(days=14),
    )
    return await OutboxEmail.get(kind="invoice")


async def test_a_composed_invoice_email_is_retried_after_one_refusal_and_arrives_once(
    world: World, smtp_sink: SmtpSink
) -> None:
    await org_named()
    row = await _composed_invoice(world)
    assert row.html_body and row.text_body and row.client_id == world.alice_id
    smtp_sink.refuse_next(1, code=451)
    t0 = now_utc()

    assert counts(await flush_outbox(now=t0)) == (0, 1, 0)
    assert counts(await flush_outbox(now=t0 + timedelta(minutes=2))) == (1, 0, 0)
    assert counts(await flush_outbox(now=t0 + timedelta(days=1))) == (0, 0, 0)

    (got,) = smtp_sink.messages
    assert got.message_id == row.message_id and smtp_sink.refused == 1
    assert got.message["Subject"] == row.subject and "$800.00" in row.subject
    assert "/pay/" in got.message.get_body(("plain",)).get_content()
    assert 'href="' in got.message.get_body(("html",)).get_content()


async def test_a_refused_recipient_leaves_the_clients_email_failed_with_the_servers_answer(
    world: World, smtp_sink: SmtpSink
) -> None:
    row = await _composed_invoice(world)
    smtp_sink.refuse_next(1, code=550, stage="rcpt")

    assert counts(await flush_outbox()) == (0, 0, 1)

    failed = await OutboxEmail.filter(client_id=world.alice_id, status="failed").get()
    assert failed.id == row.id and failed.attempts == 1
    assert failed.last_error == (
        "The mail server refused the recipient (550 5.7.1 Message rejected by the test sink)."
    )


async def test_a_composed_email_uses_the_custom_server_and_the_organizations_reply_to(
    world: World, smtp_sink: SmtpSink, make_smtp_sink: Callable[..., SmtpSink]
) -> None:
    custom = make_smtp_sink(username=CUSTOM_USER, password=CUSTOM_PASSWORD)
    await use_custom_smtp(custom)
    row = await _composed_invoice(world)

    assert counts(await flush_outbox()) == (1, 0, 0)

    assert smtp_sink.messages == []
    (got,) = custom.messages
    assert got.login == CUSTOM_USER and got.message_id == row.message_id
    assert str(got.message["From"]) == f"{ORG} <invoices@acme.test>"
    assert got.message["Reply-To"] == "accounts@acme.test"


async def test_the_default_server_sends_without_a_reply_to_of_its_own(
    world: World, smtp_sink: SmtpSink
) -> None:
    await org_named()
    await _composed_invoice(world)

    assert counts(await flush_outbox()) == (1, 0, 0)

    (got,) = smtp_sink.messages
    assert got.message["Reply-To"] is None and got.login is None
    assert str(got.message["From"]) == f"{ORG} <{DEFAULT_FROM}>"


async def test_the_email_is_written_in_the_business_transaction_and_rolls_back_with_it(
    world: World, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.core import audit
    from portal.db.models import BillingRequest, Invoice

    async def audit_fails(**_: object) -> None:
        assert await OutboxEmail.filter(kind="billing_request").exists()  # queued, inside the transaction
        raise RuntimeError("the audit write failed")

    monkeypatch.setattr(audit, "record", audit_fails)  # fails after the email was queued
    with pytest.raises(RuntimeError, match="audit write failed"):
        await billing_requests.create_billing_request(
            actor=world.staff,
            client_id=world.alice_id,
            email="alice@x.test",
            currency="USD",
            amount_minor=12_500,
            success_url="https://acme.test/thanks",
            cancel_url="https://acme.test/cancel",
            billing_type="one_time",
        )

    assert await BillingRequest.all().count() == 0 and await Invoice.all().count() == 0
    assert await OutboxEmail.all().count() == 0
    assert counts(await flush_outbox()) == (0, 0, 0)
    assert smtp_sink.messages == []


async def test_a_long_subject_with_line_breaks_is_queued_as_one_line_and_delivered(
    db: str, smtp_sink: SmtpSink
) -> None:
    subject = "Acme: we could not charge your card for " + "Rush\nfee " * 80

    row_id = await enqueue(kind="test", to="a@x.test", subject=subject, text="Body")

    row = await OutboxEmail.get(id=row_id)
    assert len(row.subject) == 300 and "\n" not in row.subject and row.subject.endswith("…")
    assert row.subject.startswith("Acme: we could not charge your card for Rush fee Rush fee")
    assert counts(await flush_outbox()) == (1, 0, 0)
    (got,) = smtp_sink.messages
    assert " ".join(str(got.message["Subject"]).split()) == row.subject  # folded on the wire, unfolded here

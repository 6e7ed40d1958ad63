"""Fault tests: the gateway, the database, the mail server and the process itself fail at the worst moment.

(a) The gateway charges and then the connection drops: the payer clicks again, nothing is charged twice,
    and reconciliation records exactly one payment. (A single lost answer, reconciled once:
    `tests/services/test_payments.py::test_reconciliation_records_a_charge_whose_answer_was_lost_exactly_once`.)
(b) The database fails in the middle of a webhook, after the handler has written part of its work: nothing
    of it is left (no allocation, receipt, invoice, payment or number taken), the event is kept unprocessed
    with its error, and the redelivered event is processed once.
(c) The mail server is down for a while (nothing listens, then it accepts but never answers): every email
    is retried with growing waits and none is given up; when the server is back each arrives exactly once.
    (451 answers: `tests/services/test_mail.py`.)
(d) The process running the outbox is killed (SIGKILL) while a message is at the SMTP server: the next run,
    after the lease, finishes the work. Every row ends sent, each message arrives at most twice, and a
    second arrival carries the same Message-ID.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from tortoise import connections

from portal.db.models import (
    Allocation,
    Invoice,
    NumberSequence,
    OutboxEmail,
    Payment,
    SandboxObject,
    Subscription,
    WebhookEvent,
)
from portal.domain.errors import Conflict
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.mail import transport, worker
from portal.mail.outbox import enqueue
from portal.mail.worker import flush_outbox
from portal.payments.gateway import GatewayError, GatewayEvent
from portal.services import gateway_events, payments, plans, reconcile
from portal.services.clock import now_utc
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox
from tests.services.test_console_roles import _everything
from tests.smtp_sink import Received, SmtpSink
from tests.support import ROOT, child_env

pytest_plugins = ["tests.conftest_smtp"]


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


# -- (a) the gateway times out after charging -------------------------------------------------------
async def test_a_charge_whose_answer_was_lost_is_not_repeated_by_a_second_click(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 4300)
    real = sandbox()
    real._emit = None  # the charge's own event is lost too: only reconciliation can tell

    class TimesOutAfterCharging:
        """The bank took the money, then the connection dropped before we heard back."""

        name = key = "sandbox"

        async def charge(self, **kwargs: Any) -> Any:
            await real.charge(**kwargs)
            raise GatewayError("timed out", retryable=True)

    first = await payments.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=TimesOutAfterCharging()
    )  # type: ignore[arg-type]
    assert first.status == "processing"
    for _ in range(2):  # the payer clicks again, impatient, with the real gateway answering now
        with pytest.raises(Conflict):
            await payments.pay_with_saved_method(
                actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=real
            )
    assert await SandboxObject.filter(kind="payment_intent").count() == 1  # charged once

    reports = [await reconcile.reconcile(gateway=real) for _ in range(2)]
    assert reports[0].settled == [first.payment_id] and reports[1].settled == []
    assert await Payment.filter(status=PaymentStatus.succeeded).count() == 1
    assert sum(a.amount_minor for a in await Allocation.all()) == 4300
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid


# -- (b) the database fails in the middle of a webhook ------------------------------------------------
async def _database_fails() -> None:
    """A real error from the database, on the connection of the transaction in progress."""
    await connections.get("default").execute_query("SELECT no_such_column FROM payment")


def _fail_after(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` does its real work (its writes), then the database fails."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        await function(*args, **kwargs)
        await _database_fails()

    return wrapper


async def _all_but(*models: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but those of `models` (by model name)."""
    state = await _everything()
    return {name: rows for name, rows in state.items() if name not in models}


async def test_a_payment_event_that_fails_half_way_leaves_nothing_and_succeeds_once_redelivered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 6400)
    quiet = sandbox()
    quiet._emit = None  # we deliver the event ourselves
    outcome = await payments.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=quiet
    )
    payment = await Payment.get(id=outcome.payment_id)
    # our side as it is when only the gateway knows: the payment pending, the invoice open
    await Allocation.all().delete()
    await OutboxEmail.filter(kind="receipt").delete()
    await Payment.filter(id=payment.id).update(status="pending")
    await Invoice.filter(id=invoice_id).update(status="open", paid_at=None)
    event = GatewayEvent(
        id="evt_db_down", type="payment_intent.succeeded", data={"id": payment.gateway_payment_id}
    )
    before = await _all_but("WebhookEvent")

    with monkeypatch.context() as patch:  # the receipt is written, then the database fails
        patch.setattr(payments, "_queue_receipt", _fail_after(payments._queue_receipt))
        with pytest.raises(Exception, match=r"no_such_column|no such column"):
            await gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox())

    assert await _all_but("WebhookEvent") == before, "part of the event's work was left behind"
    row = await WebhookEvent.get(event_id="evt_db_down")
    assert row.processed_at is None and "no_such_column" in row.error.replace(" ", "_")
    assert await gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox()) == "processed"
    assert await gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox()) == "duplicate"
    assert [a.amount_minor for a in await Allocation.all()] == [6400]
    assert await OutboxEmail.filter(kind="receipt").count() == 1
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid


async def test_a_renewal_event_that_fails_half_way_takes_no_invoice_number_and_succeeds_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = await add_card(world)
    plan = await plans.create_plan(actor=world.staff, name="Care", price="30", currency="USD")
    started = await plans.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan.id, method_id=card, idempotency_key="faults"
    )
    assert started.ok, started.message
    sub = await Subscription.get(id=started.subscription_id)
    before = await _all_but("WebhookEvent", "SandboxObject")
    numbers = await NumberSequence.all().values_list("name", "next_value")

    with monkeypatch.context() as patch:  # the renewal's invoice and payment are written, then it fails
        patch.setattr(gateway_events, "apply_allocations", _fail_after(gateway_events.apply_allocations))
        with pytest.raises(Exception, match=r"no_such_column|no such column"):
            await sandbox().renew_due(now=sub.current_period_end)

    assert await _all_but("WebhookEvent", "SandboxObject") == before, "part of the renewal was left"
    assert await NumberSequence.all().values_list("name", "next_value") == numbers
    failed = await WebhookEvent.get(type="invoice.paid")
    assert failed.processed_at is None and failed.error
    redelivered = GatewayEvent(
        id=failed.event_id, type=failed.type, data=failed.payload["data"], created=failed.payload["created"]
    )
    assert (
        await gateway_events.ingest(provider="sandbox", event=redelivered, gateway=sandbox()) == "processed"
    )
    assert (
        await gateway_events.ingest(provider="sandbox", event=redelivered, gateway=sandbox()) == "duplicate"
    )
    renewals = await Invoice.filter(subscription_id=sub.id).order_by("id")
    assert len(renewals) == 2 and renewals[-1].status == InvoiceStatus.paid
    first, second = (int(i.number.rsplit("-", 1)[-1]) for i in renewals)  # type: ignore[union-attr]
    assert second == first + 1  # no number lost to the failed attempt
    assert await Payment.filter(invoice_id=renewals[-1].id, status=PaymentStatus.succeeded).count() == 1


# -- (c) the mail server is down for a while ------------------------------------------------------------
def _closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word (a hung mail server)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_mail_queued_while_the_server_is_down_is_retried_and_delivered_once(
    db: str, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "TIMEOUT", 0.2)  # a hung server is given up on quickly
    ids = [await enqueue(kind="test", to=f"c{n}@x.test", subject=f"S{n}", text=f"B{n}") for n in range(3)]
    rows = [await OutboxEmail.get(id=i) for i in ids]
    at, waits = now_utc(), []
    async with _silent_server() as hung:
        for port in (_closed_port(), _closed_port(), hung, hung):  # refused twice, then no answer twice
            monkeypatch.setenv("SMTP_PORT", str(port))
            report = await flush_outbox(now=at)
            assert (report.sent, report.retried, report.failed) == (0, 3, 0)
            states = await OutboxEmail.filter(id__in=ids).order_by("id")
            assert {(r.status, r.attempts) for r in states} == {("queued", len(waits) + 1)}
            assert states[0].next_attempt_at is not None
            waits.append(states[0].next_attempt_at - at)
            at = states[0].next_attempt_at
    assert waits == [timedelta(minutes=m) for m in worker.BACKOFF_MINUTES[:4]]
    assert smtp_sink.messages == []

    monkeypatch.setenv("SMTP_PORT", str(smtp_sink.port))  # the server is back
    assert (await flush_outbox(now=at)).sent == 3
    assert (await flush_outbox(now=at + timedelta(days=1))).total == 0
    assert sorted(smtp_sink.message_ids()) == sorted(r.message_id for r in rows)
    assert {r.status for r in await OutboxEmail.filter(id__in=ids)} == {"sent"}


# -- (d) the process is killed during a job ---------------------------------------------------------------
class HoldingSink(SmtpSink):
    """A sink that keeps the first message's DATA answer back until released (the sender waits for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.holding = True

    def _store(self, received: Received) -> None:
        super()._store(received)
        if self.holding:
            self.holding = False
            self.arrived.set()
            self.release.wait(timeout=60)


@pytest.fixture
def holding_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[HoldingSink]:
    sink = HoldingSink().start()
    monkeypatch.setenv("SMTP_HOST", sink.host)
    monkeypatch.setenv("SMTP_PORT", str(sink.port))
    monkeypatch.setenv("SMTP_TLS", "none")
    monkeypatch.setenv("SMTP_USERNAME", "")
    monkeypatch.setenv("SMTP_PASSWORD", "")
    try:
        yield sink
    finally:
        sink.release.set()  # the sink's loop must run again to stop
        sink.stop()


FLUSH_ONCE = """
import asyncio, os
from tortoise import Tortoise
from portal.db.config import tortoise_config
from portal.mail.worker import flush_outbox

async def main():
    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"]))
    try:
        print(await flush_outbox(), flush=True)
    finally:
        await Tortoise.close_connections()

asyncio.run(main())
"""


async def test_an_outbox_run_killed_mid_send_is_finished_by_the_next_run_once(
    db: str, holding_sink: HoldingSink
) -> None:
    ids = [await enqueue(kind="test", to=f"c{n}@x.test", subject=f"S{n}", text=f"B{n}") for n in range(3)]
    rows = {r.id: r for r in await OutboxEmail.filter(id__in=ids)}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FLUSH_ONCE,
        cwd=ROOT,
        env=child_env(DATABASE_URL=db),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        arrived = await asyncio.to_thread(holding_sink.arrived.wait, 60)
        if not arrived:
            child.kill()
            _out, err = await child.communicate()
            pytest.fail(f"no message reached the server: {err.decode()[-2000:]}")
        child.send_signal(signal.SIGKILL)  # while the server holds its answer: claimed, sent, not marked
        assert await asyncio.wait_for(child.wait(), 30) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        holding_sink.release.set()

    left = await OutboxEmail.filter(id__in=ids).order_by("id")
    assert [(r.status, r.attempts) for r in left] == [("sending", 1), ("queued", 0), ("queued", 0)]
    lease_end = left[0].next_attempt_at
    assert lease_end is not None

    now = now_utc()
    assert (await flush_outbox(now=now)).sent == 2  # the others; the killed one is still leased
    assert (await flush_outbox(now=lease_end - timedelta(seconds=1))).total == 0
    assert (await flush_outbox(now=lease_end + timedelta(seconds=1))).sent == 1
    assert (await flush_outbox(now=lease_end + timedelta(days=1))).total == 0

    arrivals = holding_sink.message_ids()
    for row in rows.values():
        count = arrivals.count(row.message_id)
        assert 1 <= count <= 2, (row.id, count)
    assert len(arrivals) == 4  # the killed one twice, under the same Message-ID
    assert {r.status for r in await OutboxEmail.filter(id__in=ids)} == {"sent"}

"""Fault tests: the gateway, the database, the mail server and the process itself fail at the worst moment.

(a) The gateway charges and then the connection drops: the payer clicks again, and that click settles the
    charge it asks the gateway about, without charging twice; reconciliation finds nothing left to do. (A
    single lost answer, reconciled once:
    `tests/services/payments/test_payments.py::test_reconciliation_records_a_charge_whose_answer_was_lost_exactly_once`.)
(a2) The process dies between writing the pending payment and calling the gateway (killed for real, and
    simulated against the sandbox and the Stripe emulator), or just after the gateway charged: the retry
    asks the gateway about that attempt at once and pays exactly once.
(b) The database fails in the middle of a webhook, after the handler has written part of its work: nothing
    of it is left (no allocation, receipt, invoice, payment or number taken), the event is kept unprocessed
    with its error, and the redelivered event is processed once.
(c) The mail server is down for a while (nothing listens, then it accepts but never answers): every email
    is retried with growing waits and none is given up; when the server is back each arrives exactly once.
    (451 answers: `tests/services/mail/test_mail.py`.)
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
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from tortoise import connections

from portal import gateway_events
from portal.core import clock
from portal.core.clock import now_utc
from portal.db.models import (
    Allocation,
    GatewayCustomer,
    Invoice,
    NumberSequence,
    OutboxEmail,
    Payment,
    PaymentMethod,
    SandboxObject,
    Subscription,
    WebhookEvent,
)
from portal.domain.errors import Conflict
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.mail import transport, worker
from portal.mail.outbox import enqueue
from portal.mail.worker import flush_outbox
from portal.payments import charges as charges_module
from portal.payments import reconcile, settlement
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError, GatewayEvent
from portal.subscriptions import plans, subscribe
from tests.services.conftest import World
from tests.services.payment_fixtures import DECLINES_ON_CHARGE, add_card, invoice_for, sandbox
from tests.services.test_console_roles import _everything
from tests.smtp_sink import Received, SmtpSink
from tests.stripe_emulator import StripeEmulator
from tests.support import ROOT, child_env

pytest_plugins = ["tests.conftest_smtp", "tests.conftest_stripe"]


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

    first = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=TimesOutAfterCharging()
    )  # type: ignore[arg-type]
    assert first.status == "processing"
    # the payer clicks again, impatient, with the real gateway answering now: the earlier attempt is asked
    # about at once (the same create call under the same key) and settled, not charged again
    second = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=real
    )
    assert (second.status, second.payment_id) == ("succeeded", first.payment_id)
    assert second.message == (
        "Your earlier payment of $43.00 with Visa •••• 4242 went through, so nothing more was charged. "
        "Thank you!"
    )
    with pytest.raises(Conflict, match="already paid"):
        await charges_module.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=real
        )
    assert await SandboxObject.filter(kind="payment_intent").count() == 1  # charged once

    reports = [await reconcile.reconcile(gateway=real) for _ in range(2)]
    assert reports[0].settled == [] and reports[1].settled == []  # nothing left for it to repair
    assert await Payment.filter(status=PaymentStatus.succeeded).count() == 1
    assert sum(a.amount_minor for a in await Allocation.all()) == 4300
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid


# -- (a2) the process dies between the pending payment and the gateway's answer ---------------------------
class ProcessDied(BaseException):
    """The process ends here: nothing after this point of the request runs (not even `except Exception`)."""


class DiesAtTheCharge:
    """The real gateway, except that the process dies at the charge: before the call reaches the gateway,
    or (`charged`) just after the gateway took the money, before its answer is written down."""

    def __init__(self, real: Any, *, charged: bool) -> None:
        self.real, self.charged = real, charged

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def charge(self, **kwargs: Any) -> Any:
        if self.charged:
            await self.real.charge(**kwargs)
        raise ProcessDied


WHEN = pytest.mark.parametrize("charged", [False, True], ids=["before the charge", "after the charge"])


async def _paid_once(invoice_id: int, payment_id: int, amount: int) -> None:
    """One payment, succeeded, allocated once to the invoice, now paid, with one receipt."""
    (payment,) = await Payment.all()
    assert (payment.id, payment.status, payment.amount_minor) == (payment_id, PaymentStatus.succeeded, amount)
    assert [a.amount_minor for a in await Allocation.all()] == [amount]
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    assert await OutboxEmail.filter(kind="receipt").count() == 1


async def _dies_paying(world: World, invoice_id: int, gateway: Any, **kwargs: Any) -> Payment:
    """Pay Now in a process that dies at the charge; the pending payment it leaves behind."""
    with pytest.raises(ProcessDied):
        await charges_module.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=gateway, **kwargs
        )
    (pending,) = await Payment.all()
    assert (pending.status, pending.gateway_payment_id) == (PaymentStatus.pending, None)
    return pending


@WHEN
async def test_a_retry_after_the_process_died_at_the_charge_asks_the_gateway_and_pays_once(
    world: World, charged: bool
) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 5100)
    real = sandbox()
    real._emit = None  # the gateway's event dies with the process too
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(real, charged=charged))
    assert await SandboxObject.filter(kind="payment_intent").count() == (1 if charged else 0)

    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )  # at once: no wait for reconciliation

    assert (retry.status, retry.payment_id) == ("succeeded", pending.id)
    assert retry.message == (
        "Your earlier payment of $51.00 with Visa •••• 4242 went through, so nothing more was charged. "
        "Thank you!"
    )
    (intent,) = await SandboxObject.filter(kind="payment_intent")  # one charge at the gateway
    assert intent.idempotency_key == f"payment_intent:invoice:{invoice_id}:attempt:1"
    assert (intent.data["status"], intent.data["amount"]) == ("succeeded", 5100)
    assert intent.data["metadata"]["portal_payment_id"] == str(pending.id)
    await _paid_once(invoice_id, pending.id, 5100)
    assert (await Payment.get(id=pending.id)).gateway_payment_id == intent.object_id
    with pytest.raises(Conflict, match="already paid"):
        await charges_module.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
        )
    assert (await reconcile.reconcile(gateway=sandbox())).settled == []
    assert await SandboxObject.filter(kind="payment_intent").count() == 1


DIES_AT_THE_CHARGE = """
import asyncio, os
from tortoise import Tortoise
from portal.db.config import tortoise_config
from portal.domain.status import Role
from portal.payments import charges as payments
from portal.payments.gateways import selector as gateways
from portal.core.actors import Actor

async def main():
    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"]))
    gateway = gateways.sandbox()
    gateway._emit = None  # the gateway's answer and its event die with this process
    charge = gateway.charge

    async def charge_and_hang(**kwargs):
        if os.environ["CHARGE_FIRST"] == "1":
            await charge(**kwargs)
        print("at the charge", flush=True)
        await asyncio.Event().wait()  # SIGKILL arrives here

    gateway.charge = charge_and_hang
    actor = Actor(
        user_id=int(os.environ["USER_ID"]), role=Role.client, email="alice@x.test", name="Alice",
        client_id=int(os.environ["CLIENT_ID"]),
    )
    await payments.pay_with_saved_method(
        actor=actor, purpose="invoice", target_id=int(os.environ["INVOICE_ID"]), gateway=gateway
    )

asyncio.run(main())
"""


@WHEN
async def test_a_process_killed_between_the_pending_payment_and_the_gateway_leaves_a_retry_that_pays_once(
    db: str, world: World, charged: bool
) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 2700)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        DIES_AT_THE_CHARGE,
        cwd=ROOT,
        env=child_env(
            DATABASE_URL=db,
            USER_ID=str(world.alice.user_id),
            CLIENT_ID=str(world.alice_id),
            INVOICE_ID=str(invoice_id),
            CHARGE_FIRST="1" if charged else "0",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        if line.strip() != b"at the charge":
            child.kill()
            _out, err = await child.communicate()
            pytest.fail(f"the child never reached the charge: {err.decode()[-2000:]}")
        (pending,) = await Payment.all()  # written and committed before the gateway call
        assert (pending.status, pending.gateway_payment_id) == (PaymentStatus.pending, None)
        child.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), 30) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert await SandboxObject.filter(kind="payment_intent").count() == (1 if charged else 0)

    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )

    assert (retry.status, retry.payment_id) == ("succeeded", pending.id)
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    await _paid_once(invoice_id, pending.id, 2700)


async def test_a_retry_on_the_same_card_that_declines_says_so_and_another_card_then_pays(
    world: World,
) -> None:
    declining = await add_card(world, DECLINES_ON_CHARGE)
    invoice_id = await invoice_for(world, 800)
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(sandbox(), charged=False))

    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, method_id=declining, gateway=sandbox()
    )
    assert (retry.status, retry.payment_id) == ("failed", pending.id)
    assert retry.message == "Your card was declined. Please use another card or contact your bank."
    assert await SandboxObject.filter(kind="payment_intent").count() == 1  # that card was tried once
    assert (await Payment.get(id=pending.id)).status == PaymentStatus.failed

    visa = await add_card(world, default=False)
    paid = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, method_id=visa, gateway=sandbox()
    )
    assert paid.status == "succeeded" and paid.payment_id != pending.id
    assert await SandboxObject.filter(kind="payment_intent").count() == 2
    assert [a.amount_minor for a in await Allocation.all()] == [800]


async def test_an_earlier_attempt_declined_on_its_card_lets_a_retry_on_another_card_pay_in_the_same_click(
    world: World,
) -> None:
    await add_card(world, DECLINES_ON_CHARGE)
    visa = await add_card(world, default=False)
    invoice_id = await invoice_for(world, 650)
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(sandbox(), charged=False))

    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, method_id=visa, gateway=sandbox()
    )
    assert retry.status == "succeeded" and retry.payment_id != pending.id
    assert (await Payment.get(id=pending.id)).status == PaymentStatus.failed
    statuses = sorted(o.data["status"] for o in await SandboxObject.filter(kind="payment_intent"))
    assert statuses == ["requires_payment_method", "succeeded"]
    assert [a.amount_minor for a in await Allocation.all()] == [650]


async def test_an_earlier_attempt_that_goes_through_is_the_payment_even_when_the_retry_names_another_card(
    world: World,
) -> None:
    await add_card(world)
    mastercard = await add_card(world, "5555555555554444", default=False)
    invoice_id = await invoice_for(world, 1200)
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(sandbox(), charged=False))

    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, method_id=mastercard, gateway=sandbox()
    )
    assert (retry.status, retry.payment_id) == ("succeeded", pending.id)
    assert "with Visa •••• 4242 went through, so nothing more was charged" in retry.message
    (intent,) = await SandboxObject.filter(kind="payment_intent")
    assert (
        intent.data["payment_method"] == (await PaymentMethod.get(id=pending.payment_method_id)).gateway_ref
    )
    await _paid_once(invoice_id, pending.id, 1200)


async def test_a_new_card_checkout_after_a_death_at_the_charge_settles_that_attempt_instead(
    world: World,
) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 990)
    real = sandbox()
    real._emit = None  # the gateway's event dies with the process too
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(real, charged=True))
    outcome = await charges_module.start_checkout(
        actor=world.alice,
        purpose="invoice",
        target_id=invoice_id,
        success_url="https://portal.example/billing?paid=1",
        cancel_url="https://portal.example/billing",
        gateway=sandbox(),
    )
    assert (outcome.status, outcome.payment_id) == ("succeeded", pending.id)
    assert outcome.redirect_url == "https://portal.example/billing?paid=1"
    assert await SandboxObject.filter(kind="checkout_session").count() == 0
    await _paid_once(invoice_id, pending.id, 990)


async def test_a_checkout_whose_page_was_never_made_does_not_block_the_next_click(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 1500)

    class DiesBeforeTheCheckout(DiesAtTheCharge):
        async def create_checkout(self, **kwargs: Any) -> Any:
            raise ProcessDied

    with pytest.raises(ProcessDied):
        await charges_module.start_checkout(
            actor=world.alice,
            purpose="invoice",
            target_id=invoice_id,
            success_url="https://portal.example/ok",
            cancel_url="https://portal.example/no",
            gateway=DiesBeforeTheCheckout(sandbox(), charged=False),
        )
    (orphan,) = await Payment.all()
    assert (orphan.status, orphan.gateway_checkout_id) == (PaymentStatus.pending, None)

    paid = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    assert paid.status == "succeeded" and paid.payment_id != orphan.id
    orphan = await Payment.get(id=orphan.id)
    assert (orphan.status, orphan.failure_message) == (
        PaymentStatus.failed,
        "The payment did not reach the bank.",
    )
    assert [a.amount_minor for a in await Allocation.all()] == [1500]


async def test_when_the_gateway_cannot_answer_about_the_earlier_attempt_nothing_is_charged_and_it_says_why(
    world: World,
) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 700)
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(sandbox(), charged=False))

    class Unreachable(DiesAtTheCharge):
        async def charge(self, **kwargs: Any) -> Any:
            raise GatewayError("the bank could not be reached", retryable=True)

    with pytest.raises(Conflict) as caught:
        await charges_module.pay_with_saved_method(
            actor=world.alice,
            purpose="invoice",
            target_id=invoice_id,
            gateway=Unreachable(sandbox(), charged=False),
        )
    assert caught.value.message == (
        "An earlier attempt to pay this could not be confirmed with the bank yet (the bank could not be "
        "reached). Nothing more was charged: please try again in a moment."
    )
    assert (await Payment.get(id=pending.id)).status == PaymentStatus.pending
    assert await Payment.all().count() == 1 and await SandboxObject.filter(kind="payment_intent").count() == 0
    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    assert (retry.status, retry.payment_id) == ("succeeded", pending.id)


@WHEN
async def test_an_attempt_older_than_the_gateways_memory_of_keys_is_looked_up_never_sent_again(
    world: World, charged: bool
) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 3300)
    real = sandbox()
    real._emit = None
    pending = await _dies_paying(world, invoice_id, DiesAtTheCharge(real, charged=charged))
    clock.set_now(now_utc() + charges_module.KEY_LIFETIME + timedelta(minutes=1))
    try:
        retry = await charges_module.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
        )
    finally:
        clock.set_now(None)
    intents = await SandboxObject.filter(kind="payment_intent")
    assert len(intents) == 1
    assert retry.status == "succeeded"
    if charged:  # found in the gateway's list and settled
        assert retry.payment_id == pending.id
        await _paid_once(invoice_id, pending.id, 3300)
    else:  # never reached the gateway: closed, and this click is a new attempt with a key of its own
        assert retry.payment_id != pending.id
        assert intents[0].idempotency_key == f"payment_intent:invoice:{invoice_id}:attempt:2"
        assert (await Payment.get(id=pending.id)).status == PaymentStatus.failed
        assert [a.amount_minor for a in await Allocation.all()] == [3300]


@pytest.fixture
async def stripe_in_use(
    stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """The app configured with the emulator's key (Stripe test mode) instead of the sandbox."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_emulator.api_key)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.base_url)
    gateway = await selector.current_gateway()
    assert gateway.name == "stripe"
    try:
        yield gateway
    finally:
        await selector.forget_cached()


@WHEN
async def test_with_stripe_a_retry_after_the_process_died_at_the_charge_pays_once(
    world: World, stripe_emulator: StripeEmulator, stripe_in_use: Any, charged: bool
) -> None:
    run = uuid.uuid4().hex  # the emulator lives for the whole run and remembers idempotency keys
    customer = await stripe_in_use.create_customer(
        email="alice@x.test", name="Alice Archer", idempotency_key=f"t:{run}:customer"
    )
    await GatewayCustomer.create(client_id=world.alice_id, gateway=stripe_in_use.key, ref=customer)
    card = await stripe_in_use.save_method(
        customer_ref=customer, method="pm_card_visa", idempotency_key=f"t:{run}:card"
    )
    await PaymentMethod.create(
        client_id=world.alice_id,
        gateway=stripe_in_use.key,
        gateway_ref=card.ref,
        kind="card",
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        is_default=True,
    )
    invoice_id = await invoice_for(world, 6200)

    def charges() -> list[dict[str, Any]]:
        return stripe_emulator.retrieve(f"/v1/payment_intents?customer={customer}")["data"]

    pending = await _dies_paying(
        world,
        invoice_id,
        DiesAtTheCharge(stripe_in_use, charged=charged),
        idempotency_key=f"t:{run}:invoice:{invoice_id}:attempt:1",
    )
    assert len(charges()) == (1 if charged else 0)

    retry = await charges_module.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=stripe_in_use
    )

    assert (retry.status, retry.payment_id) == ("succeeded", pending.id)
    (intent,) = charges()  # one PaymentIntent at Stripe, for our one payment
    assert (intent["status"], intent["amount"]) == ("succeeded", 6200)
    assert intent["metadata"]["portal_payment_id"] == str(pending.id)
    await _paid_once(invoice_id, pending.id, 6200)
    assert (await Payment.get(id=pending.id)).gateway_payment_id == intent["id"]


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
    outcome = await charges_module.pay_with_saved_method(
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
        patch.setattr(settlement, "_queue_receipt", _fail_after(settlement._queue_receipt))
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
    started = await subscribe.subscribe(
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

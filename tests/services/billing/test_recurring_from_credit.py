"""A recurring billing request paid from credit (issue 15 item 5): with a default card the subscription
starts on it (credit pays the first period, the gateway renews from the end of it); without one credit is
not offered and the reason is said; never Paid without a subscription."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portal.billing import billing_requests
from portal.core.clock import now_utc
from portal.db.models import AuditEntry, BillingRequest, CreditEntry, Invoice, SandboxObject, Subscription
from portal.domain.errors import Conflict, InvalidInput
from portal.domain.status import BillingRequestStatus, InvoiceStatus, SubscriptionStatus
from portal.payments import credit_payments, ledger
from portal.payments.gateways.protocol import GatewayError
from portal.payments.gateways.sandbox import SandboxGateway
from portal.payments.recurring_from_credit import StartFailed
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card

NEEDS_CARD = (
    "Recurring requests need a saved card to renew on: add a card and make it the default, "
    "or pay this request with a card."
)


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Stripe key from the environment: the sandbox is the gateway."""
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


async def _recurring(world: World, amount: str = "30.00") -> billing_requests.SentRequest:
    return await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_text=amount,
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="recurring",
        interval="month",
        description="Website care",
    )


async def _credit(world: World, amount: int) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=amount, currency="USD", note="Prepaid"
    )


async def _unchanged(sent: billing_requests.SentRequest) -> tuple:
    return (
        (await BillingRequest.get(id=sent.id)).status,
        (await Invoice.get(id=sent.invoice_id)).status,
        await CreditEntry.all().count(),
        await Subscription.all().count(),
    )


async def test_paying_from_credit_starts_the_subscription_on_the_default_card(world: World) -> None:
    card_id = await add_card(world)
    await _credit(world, 5000)
    sent = await _recurring(world)

    offer = await credit_payments.credit_offer(actor=world.alice, invoice_id=sent.invoice_id)
    assert offer.recurring and offer.usable and offer.max_minor == 3000
    assert offer.renews_on == "Visa •••• 4242"  # said before the client confirms

    used = await credit_payments.pay_from_credit(
        actor=world.alice, invoice_id=sent.invoice_id, idempotency_key="client-credit-1"
    )

    assert used == 3000
    assert (await BillingRequest.get(id=sent.id)).status == BillingRequestStatus.paid
    assert (await Invoice.get(id=sent.invoice_id)).status == InvoiceStatus.paid
    assert await ledger.credit_balance(world.alice_id, "USD") == 2000
    [sub] = await Subscription.filter(billing_request_id=sent.id)
    assert (sub.status, sub.payment_method_id, sub.amount_minor, sub.currency, sub.interval) == (
        SubscriptionStatus.active,
        card_id,
        3000,
        "USD",
        "month",
    )
    assert sub.current_period_end is not None
    assert sub.current_period_end - now_utc() > timedelta(days=29)  # the gateway renews after this period
    at_gateway = await SandboxObject.get(object_id=sub.gateway_ref)
    assert at_gateway.data["amount"] == 3000
    [audited] = await AuditEntry.filter(action="credit.apply")
    assert audited.details["subscription_id"] == sub.id and audited.details["method_id"] == card_id


async def test_staff_paying_it_from_credit_starts_it_too_once_under_a_double_click(world: World) -> None:
    await add_card(world)
    await _credit(world, 3000)
    sent = await _recurring(world)

    async def click() -> int:
        return await credit_payments.pay_from_credit(
            actor=world.staff, invoice_id=sent.invoice_id, idempotency_key="staff-opening-1"
        )

    assert await asyncio.gather(click(), click()) == [3000, 3000]
    assert await CreditEntry.filter(amount_minor__lt=0).count() == 1
    assert await Subscription.filter(billing_request_id=sent.id, status="active").count() == 1
    assert await SandboxObject.filter(kind="subscription").count() == 1
    assert await ledger.credit_balance(world.alice_id, "USD") == 0


async def test_without_a_default_card_credit_is_not_offered_and_the_reason_is_said(world: World) -> None:
    await add_card(world, default=False)  # a saved card, but not the one to renew on
    await _credit(world, 5000)
    sent = await _recurring(world)
    before = await _unchanged(sent)

    offer = await credit_payments.credit_offer(actor=world.alice, invoice_id=sent.invoice_id)
    assert (offer.usable, offer.reason, offer.max_minor) == (False, NEEDS_CARD, 0)
    with pytest.raises(Conflict) as caught:
        await credit_payments.pay_from_credit(actor=world.alice, invoice_id=sent.invoice_id)
    assert caught.value.message == NEEDS_CARD
    with pytest.raises(Conflict):
        await credit_payments.pay_from_credit(actor=world.staff, invoice_id=sent.invoice_id)

    assert await _unchanged(sent) == before  # never Paid without a subscription
    assert before[:2] == (BillingRequestStatus.pending, InvoiceStatus.open)


async def test_a_recurring_request_is_paid_whole_from_credit(world: World) -> None:
    await add_card(world)
    await _credit(world, 2000)
    sent = await _recurring(world)
    offer = await credit_payments.credit_offer(actor=world.alice, invoice_id=sent.invoice_id)
    assert (
        offer.reason == "A recurring request is paid whole: $30.00 is due and there is only $20.00 of credit."
    )
    before = await _unchanged(sent)
    with pytest.raises(InvalidInput) as caught:
        await credit_payments.pay_from_credit(actor=world.alice, invoice_id=sent.invoice_id)
    assert caught.value.message == offer.reason
    await _credit(world, 5000)
    with pytest.raises(InvalidInput) as caught:
        await credit_payments.pay_from_credit(
            actor=world.alice, invoice_id=sent.invoice_id, amount_minor=1000
        )
    assert caught.value.message == "A recurring request is paid whole: use $30.00 of credit."
    assert (await _unchanged(sent))[:2] == before[:2] and await Subscription.all().count() == 0


async def test_a_gateway_failure_leaves_it_incomplete_and_pressing_again_starts_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_card(world)
    await _credit(world, 3000)
    sent = await _recurring(world)
    real = SandboxGateway.create_subscription
    calls = {"n": 0}

    async def flaky(self: SandboxGateway, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise GatewayError("the payment service is busy")
        return await real(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SandboxGateway, "create_subscription", flaky)
    with pytest.raises(StartFailed) as caught:
        await credit_payments.pay_from_credit(
            actor=world.staff, invoice_id=sent.invoice_id, idempotency_key="flaky-opening"
        )
    assert "the payment service is busy" in caught.value.message
    [sub] = await Subscription.filter(billing_request_id=sent.id)
    assert sub.status == SubscriptionStatus.incomplete  # a subscription to start, never nothing

    again = await credit_payments.pay_from_credit(
        actor=world.staff, invoice_id=sent.invoice_id, idempotency_key="flaky-opening"
    )
    assert again == 3000
    assert (await Subscription.get(id=sub.id)).status == SubscriptionStatus.active
    assert await CreditEntry.filter(amount_minor__lt=0).count() == 1  # credit used once


async def test_a_one_time_request_is_paid_from_credit_as_any_invoice(world: World) -> None:
    await _credit(world, 5000)
    sent = await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_text="30.00",
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="one_time",
    )
    assert await credit_payments.pay_from_credit(actor=world.alice, invoice_id=sent.invoice_id) == 3000
    assert (await BillingRequest.get(id=sent.id)).status == BillingRequestStatus.paid
    assert await Subscription.all().count() == 0

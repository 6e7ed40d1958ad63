"""A recurring billing request paid from credit (issue 15 item 5): with a default card the subscription
starts on it (credit pays the first period, the gateway renews from the end of it); without one credit is
not offered and the reason is said; never Paid without a subscription."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portal.billing import billing_requests
from portal.core.clock import now_utc
from portal.db.models import (
    AuditEntry,
    BillingRequest,
    CreditEntry,
    Invoice,
    Payment,
    SandboxObject,
    Subscription,
)
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


# -- paid offline (cash, transfer, cheque) -------------------------------------------------------------
async def _offline(world: World, amount: int, *, invoice_id: int | None, key: str = "offline-1", **kw):
    return await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=amount,
        currency="USD",
        method="cash",
        received_on=now_utc().date(),
        invoice_id=invoice_id,
        idempotency_key=key,
        **kw,
    )


async def test_cash_for_a_recurring_request_starts_its_subscription_on_the_default_card(world: World) -> None:
    card_id = await add_card(world)
    sent = await _recurring(world)

    result = await _offline(world, 3000, invoice_id=sent.invoice_id)

    assert result.subscription_started is True and result.allocations == [(sent.invoice_id, 3000)]
    assert (await BillingRequest.get(id=sent.id)).status == BillingRequestStatus.paid
    [sub] = await Subscription.filter(billing_request_id=sent.id)
    assert (sub.status, sub.payment_method_id, sub.amount_minor) == (SubscriptionStatus.active, card_id, 3000)
    assert sub.current_period_end is not None and sub.current_period_end - now_utc() > timedelta(days=29)
    [audited] = await AuditEntry.filter(action="payment.record_offline")
    assert audited.details["subscription_id"] == sub.id

    again = await _offline(world, 3000, invoice_id=sent.invoice_id)  # the same dialog, pressed again
    assert again.duplicate and again.payment_id == result.payment_id
    assert (
        await Subscription.all().count() == 1 and await SandboxObject.filter(kind="subscription").count() == 1
    )


async def test_without_a_default_card_cash_for_a_recurring_request_is_refused_with_the_reason(
    world: World,
) -> None:
    await add_card(world, default=False)
    sent = await _recurring(world)
    number = (await Invoice.get(id=sent.invoice_id)).number
    before = await _unchanged(sent)

    with pytest.raises(InvalidInput) as caught:
        await _offline(world, 3000, invoice_id=sent.invoice_id)

    assert caught.value.field == "invoice"
    assert caught.value.message == (
        f"{number} is a recurring request: it renews on the client's default card, and the client has "
        "none. Charge a card for it instead, or ask the client to add a card first."
    )
    assert await _unchanged(sent) == before  # never Paid without a subscription
    assert before[:2] == (BillingRequestStatus.pending, InvoiceStatus.open)


async def test_part_of_a_recurring_request_in_cash_is_refused(world: World) -> None:
    await add_card(world)
    sent = await _recurring(world)
    number = (await Invoice.get(id=sent.invoice_id)).number
    before = await _unchanged(sent)
    with pytest.raises(InvalidInput) as caught:
        await _offline(world, 1000, invoice_id=sent.invoice_id)
    assert (caught.value.field, caught.value.message) == (
        "amount",
        f"A recurring request is paid whole: record $30.00 for {number}.",
    )
    assert await _unchanged(sent) == before


async def test_oldest_first_passes_over_a_recurring_requests_invoice(world: World) -> None:
    await add_card(world)
    sent = await _recurring(world)  # due first: created before the one-time request below
    one_time = await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_text="20.00",
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="one_time",
    )

    result = await _offline(world, 5000, invoice_id=None, overpayment_to_credit=True)

    assert result.allocations == [(one_time.invoice_id, 2000)] and result.credit_minor == 3000
    assert (await BillingRequest.get(id=sent.id)).status == BillingRequestStatus.pending
    assert (await Invoice.get(id=sent.invoice_id)).status == InvoiceStatus.open
    assert await Subscription.all().count() == 0 and result.subscription_started is None


async def test_a_gateway_failure_after_cash_leaves_it_incomplete_and_pressing_again_starts_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_card(world)
    sent = await _recurring(world)
    real = SandboxGateway.create_subscription
    calls = {"n": 0}

    async def flaky(self: SandboxGateway, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise GatewayError("the payment service is busy")
        return await real(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SandboxGateway, "create_subscription", flaky)
    first = await _offline(world, 3000, invoice_id=sent.invoice_id, key="flaky-cash")
    assert first.subscription_started is False
    [sub] = await Subscription.filter(billing_request_id=sent.id)
    assert sub.status == SubscriptionStatus.incomplete  # a subscription to start, never nothing

    again = await _offline(world, 3000, invoice_id=sent.invoice_id, key="flaky-cash")
    assert (again.duplicate, again.payment_id, again.subscription_started) == (True, first.payment_id, True)
    assert (await Subscription.get(id=sub.id)).status == SubscriptionStatus.active
    assert await Payment.filter(source="offline").count() == 1  # the money recorded once

"""Saved cards (add via the sandbox setup page or Stripe Checkout in setup mode, default, delete) and a
client's subscriptions (change card, cancel at period end, resume)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta

import pytest

from portal import gateway_events
from portal.core.clock import now_utc, today
from portal.db.models import (
    AuditEntry,
    Client,
    GatewayCustomer,
    PaymentMethod,
    Plan,
    SandboxObject,
    Subscription,
)
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import SubscriptionStatus
from portal.events import Event, subscribe
from portal.payments import methods
from portal.payments.gateways import selector
from portal.payments.gateways.sandbox import SandboxGateway
from portal.payments.gateways.stripe_gateway import StripeGateway
from portal.subscriptions import client_subscriptions
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card
from tests.stripe_emulator import EmulatorError, StripeEmulator, sign_payload

pytest_plugins = ["tests.conftest_stripe"]

MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
DECLINED = "4000000000000002"
WEBHOOK_SECRET = "whsec_methods_test"
REFUSAL = (
    "This card pays your subscription “Website Care”. Switch that subscription to another card first "
    "(Manage → Change payment method)."
)


@pytest.fixture(autouse=True)
def portal_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal's public address, and no Stripe key from the environment (the sandbox is in use)."""
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


@pytest.fixture
def published() -> Iterator[list[Event]]:
    """Every subscription.changed and payment_method.changed event published during the test."""
    seen: list[Event] = []
    stops = [subscribe(name, seen.append) for name in ("subscription.changed", "payment_method.changed")]
    yield seen
    for stop in stops:
        stop()


async def _sandbox_object(ref: str) -> dict:
    return (await SandboxObject.get(object_id=ref)).data


async def _subscribe(
    method_id: int, *, name: str = "Website Care", status: str = SubscriptionStatus.active
) -> int:
    """A sandbox subscription charged to a saved card, mirrored like the app does."""
    method = await PaymentMethod.get(id=method_id)
    gateway = SandboxGateway()
    customer = (await GatewayCustomer.get(client_id=method.client_id, gateway="sandbox")).ref
    info = await gateway.create_subscription(
        customer_ref=customer,
        method_ref=method.gateway_ref,
        amount_minor=4900,
        currency="USD",
        interval="month",
        description=name,
        idempotency_key=f"t:sub:{uuid.uuid4().hex}",
        metadata={},
    )
    plan = await Plan.create(name=name, amount_minor=4900, currency="USD", interval="month")
    sub = await Subscription.create(
        client_id=method.client_id,
        plan=plan,
        description=name,
        amount_minor=4900,
        currency="USD",
        interval="month",
        status=status,
        payment_method_id=method.id,
        gateway="sandbox",
        gateway_ref=info.ref,
        current_period_start=now_utc(),
        current_period_end=info.current_period_end,
    )
    return sub.id


async def _actions(client_id: int) -> list[str]:
    return list(
        await AuditEntry.filter(on_behalf_of_id=client_id).order_by("id").values_list("action", flat=True)
    )


# -- adding a card in the sandbox ---------------------------------------------------------------------


async def test_sandbox_setup_page_saves_the_first_card_as_the_default(world: World) -> None:
    url = await methods.start_add_card(actor=world.alice, return_url="/billing")
    assert url.startswith("https://portal.example/sandbox/setup/cs_sbx_")
    session_id = url.rsplit("/", 1)[1]
    page = await methods.sandbox_setup_page(session_id=session_id)
    assert (page.status, page.return_url) == ("open", "https://portal.example/billing")

    result = await methods.complete_sandbox_setup(
        session_id=session_id,
        number="4242 4242 4242 4242",
        exp_month=12,
        exp_year=today().year + 2,
        cvc="123",
    )
    assert (result.ok, result.redirect_url) == (True, "https://portal.example/billing")
    [card] = await methods.list_methods(actor=world.alice, client_id=world.alice_id)
    assert (card.label, card.expiry, card.is_default) == ("Visa •••• 4242", f"12/{today().year + 2}", True)
    row = await PaymentMethod.get(id=card.id)
    customer = (await GatewayCustomer.get(client_id=world.alice_id, gateway="sandbox")).ref
    assert (row.gateway, (await _sandbox_object(row.gateway_ref))["customer"]) == ("sandbox", customer)
    assert (await _sandbox_object(customer))["default_method"] == row.gateway_ref  # at the gateway too
    assert await _actions(world.alice_id) == ["payment_method.add_started", "payment_method.add"]

    again = await methods.complete_sandbox_setup(
        session_id=session_id, number="4242424242424242", exp_month=12, exp_year=today().year + 2
    )
    assert again.ok
    assert await PaymentMethod.filter(client_id=world.alice_id).count() == 1  # a second submit saves nothing


async def test_a_declined_card_on_the_setup_page_saves_nothing_and_another_card_then_works(
    world: World,
) -> None:
    first = await add_card(world)
    url = await methods.start_add_card(actor=world.alice, return_url="https://portal.example/billing")
    session_id = url.rsplit("/", 1)[1]
    declined = await methods.complete_sandbox_setup(
        session_id=session_id, number=DECLINED, exp_month=1, exp_year=today().year + 1, cvc="123"
    )
    assert not declined.ok
    assert declined.message == "Your card was declined. Please use another card or contact your bank."
    assert await PaymentMethod.filter(client_id=world.alice_id).count() == 1
    assert (await methods.sandbox_setup_page(session_id=session_id)).status == "open"

    saved = await methods.complete_sandbox_setup(
        session_id=session_id, number=MASTERCARD, exp_month=1, exp_year=today().year + 1
    )
    assert saved.ok
    cards = await methods.list_methods(actor=world.alice, client_id=world.alice_id)
    assert [(c.label, c.is_default) for c in cards] == [
        ("Visa •••• 4242", True),
        ("Mastercard •••• 4444", False),
    ]
    assert (await PaymentMethod.get(id=first)).is_default  # a later card does not take the default


async def test_an_unknown_setup_session_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await methods.sandbox_setup_page(session_id="cs_sbx_nothing")
    # a payment checkout session is not a setup session
    checkout = await selector.sandbox().create_checkout(
        amount_minor=100,
        currency="USD",
        description="x",
        success_url="https://portal.example/",
        cancel_url="https://portal.example/",
        idempotency_key="t:checkout",
        metadata={},
    )
    with pytest.raises(NotFound):
        await methods.sandbox_setup_page(session_id=checkout.session_id)


@pytest.mark.parametrize(
    "return_url", ["https://evil.example/billing", "//evil.example/billing", "https://portal.example.evil/"]
)
async def test_add_card_returns_only_to_this_portal(world: World, return_url: str) -> None:
    with pytest.raises(InvalidInput):
        await methods.start_add_card(actor=world.alice, return_url=return_url)


async def test_staff_without_a_client_cannot_start_adding_a_card(world: World) -> None:
    with pytest.raises(Forbidden):
        await methods.start_add_card(actor=world.staff, return_url="/billing")


# -- adding a card with Stripe Checkout in setup mode ------------------------------------------------------


@pytest.fixture
async def stripe_in_use(
    stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StripeGateway]:
    """The app configured with the emulator's key (Stripe test mode) instead of the sandbox."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_emulator.api_key)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.base_url)
    gateway = await selector.current_gateway()
    assert isinstance(gateway, StripeGateway)
    try:
        yield gateway
    finally:
        await selector.forget_cached()


async def _stripe_customer(world: World, gateway: StripeGateway) -> str:
    """Alice's Stripe customer, made under a key of this test's own: the emulator lives for the whole run
    and remembers idempotency keys, and `ensure_customer`'s key (client id + account) repeats across tests."""
    ref = await gateway.create_customer(
        email="alice@x.test", name="Alice Archer", idempotency_key=f"t:{uuid.uuid4().hex}:customer"
    )
    await GatewayCustomer.create(client_id=world.alice_id, gateway=gateway.key, ref=ref)
    return ref


async def _deliver(gateway: StripeGateway, event: dict) -> str:
    """What POST /webhooks/stripe does with a signed event."""
    payload = json.dumps(event).encode()
    parsed = gateway.parse_webhook(payload=payload, signature=sign_payload(payload, WEBHOOK_SECRET))
    return await gateway_events.ingest(provider="stripe", event=parsed, gateway=gateway)


async def test_stripe_setup_checkout_and_its_webhook_add_the_card(
    world: World, stripe_emulator: StripeEmulator, stripe_in_use: StripeGateway
) -> None:
    customer = await _stripe_customer(world, stripe_in_use)
    url = await methods.start_add_card(actor=world.alice, return_url="/billing")
    session_id = url.rsplit("/", 1)[1]
    assert session_id.startswith("cs_test_")
    raw = stripe_emulator.retrieve(f"/v1/checkout/sessions/{session_id}")
    assert (raw["mode"], raw["customer"], raw["payment_method_types"]) == ("setup", customer, ["card"])
    assert raw["success_url"] == raw["cancel_url"] == "https://portal.example/billing"
    assert raw["amount_total"] is None and raw["payment_intent"] is None

    event = await asyncio.to_thread(stripe_emulator.complete_checkout, session_id)
    session = event["data"]["object"]
    assert (session["mode"], session["status"]) == ("setup", "complete")
    assert session["setup_intent"].startswith("seti_") and session["payment_intent"] is None
    assert (
        await methods.list_methods(actor=world.alice, client_id=world.alice_id) == []
    )  # not before the hook

    assert await _deliver(stripe_in_use, event) == "processed"
    assert await _deliver(stripe_in_use, event) == "duplicate"
    [card] = await methods.list_methods(actor=world.alice, client_id=world.alice_id)
    assert (card.label, card.is_default) == ("Visa •••• 4242", True)
    row = await PaymentMethod.get(id=card.id)
    assert row.gateway == "stripe:test" and row.gateway_ref.startswith("pm_")
    remote = stripe_emulator.retrieve(f"/v1/customers/{customer}")
    assert remote["invoice_settings"]["default_payment_method"] == row.gateway_ref
    assert "payment_method.add" in await _actions(world.alice_id)


async def test_stripe_setup_checkout_with_a_declined_card_adds_nothing(
    world: World, stripe_emulator: StripeEmulator, stripe_in_use: StripeGateway
) -> None:
    await _stripe_customer(world, stripe_in_use)
    url = await methods.start_add_card(actor=world.alice, return_url="/billing")
    session_id = url.rsplit("/", 1)[1]
    with pytest.raises(EmulatorError, match="402"):
        await asyncio.to_thread(stripe_emulator.complete_checkout, session_id, "pm_card_visa_chargeDeclined")
    assert stripe_emulator.retrieve(f"/v1/checkout/sessions/{session_id}")["status"] == "open"
    assert await PaymentMethod.filter(client_id=world.alice_id).count() == 0


async def test_stripe_resume_undoes_cancel_at_period_end(world: World, stripe_in_use: StripeGateway) -> None:
    gateway = stripe_in_use
    customer = await gateway.create_customer(
        email="a@x.test", name="A", idempotency_key=f"t:{uuid.uuid4().hex}:cus"
    )
    card = await gateway.save_method(
        customer_ref=customer, method="pm_card_visa", idempotency_key=f"t:{uuid.uuid4().hex}:pm"
    )
    info = await gateway.create_subscription(
        customer_ref=customer,
        method_ref=card.ref,
        amount_minor=4900,
        currency="USD",
        interval="month",
        description="Website Care",
        idempotency_key=f"t:{uuid.uuid4().hex}:sub",
        metadata={},
    )
    assert (await gateway.cancel_subscription(ref=info.ref, at_period_end=True)).cancel_at_period_end
    resumed = await gateway.resume_subscription(ref=info.ref)
    assert (resumed.status, resumed.cancel_at_period_end) == ("active", False)
    assert resumed == await gateway.retrieve_subscription(ref=info.ref)


# -- default and delete ---------------------------------------------------------------------------------


async def test_make_default_leaves_one_default_here_and_at_the_gateway(
    world: World, published: list[Event]
) -> None:
    visa = await add_card(world)
    master = await add_card(world, MASTERCARD, default=False)
    await methods.make_default(actor=world.alice, method_id=master)
    cards = await methods.list_methods(actor=world.alice, client_id=world.alice_id)
    assert [(c.id, c.is_default) for c in cards] == [(master, True), (visa, False)]
    customer = (await GatewayCustomer.get(client_id=world.alice_id, gateway="sandbox")).ref
    assert (await _sandbox_object(customer))["default_method"] == (
        await PaymentMethod.get(id=master)
    ).gateway_ref
    assert await _actions(world.alice_id) == ["payment_method.default"]
    assert [e.client_id for e in published] == [world.alice_id]

    await methods.make_default(actor=world.alice, method_id=master)  # already the default: nothing changes
    assert await _actions(world.alice_id) == ["payment_method.default"]


async def test_delete_is_refused_while_the_card_pays_a_subscription_and_allowed_after_switching(
    world: World,
) -> None:
    visa = await add_card(world)
    master = await add_card(world, MASTERCARD, default=False)
    sub_id = await _subscribe(visa)
    with pytest.raises(Conflict) as caught:
        await methods.delete_method(actor=world.alice, method_id=visa)
    assert caught.value.message == REFUSAL
    assert (await PaymentMethod.get(id=visa)).detached_at is None
    assert not (await _sandbox_object((await PaymentMethod.get(id=visa)).gateway_ref))["detached"]

    await client_subscriptions.change_method(actor=world.alice, subscription_id=sub_id, method_id=master)
    await methods.delete_method(actor=world.alice, method_id=visa)
    removed = await PaymentMethod.get(id=visa)
    assert removed.detached_at is not None and not removed.is_default
    assert (await _sandbox_object(removed.gateway_ref))["detached"]
    cards = await methods.list_methods(actor=world.alice, client_id=world.alice_id)
    assert [(c.id, c.is_default) for c in cards] == [(master, True)]  # the remaining card took the default
    customer = (await GatewayCustomer.get(client_id=world.alice_id, gateway="sandbox")).ref
    assert (await _sandbox_object(customer))["default_method"] == (
        await PaymentMethod.get(id=master)
    ).gateway_ref
    assert (await _actions(world.alice_id))[-1] == "payment_method.delete"
    with pytest.raises(NotFound):
        await methods.delete_method(actor=world.alice, method_id=visa)  # already gone


async def test_the_refusal_names_every_subscription_and_past_due_counts(world: World) -> None:
    visa = await add_card(world)
    await _subscribe(visa, name="Website Care")
    await _subscribe(visa, name="Hosting", status=SubscriptionStatus.past_due)
    await _subscribe(visa, name="Old plan", status=SubscriptionStatus.canceled)
    with pytest.raises(Conflict) as caught:
        await methods.delete_method(actor=world.alice, method_id=visa)
    assert caught.value.message == (
        "This card pays your subscriptions “Website Care” and “Hosting”. Switch those subscriptions to "
        "another card first (Manage → Change payment method)."
    )


async def test_deleting_the_default_promotes_the_newest_remaining_card(world: World) -> None:
    visa = await add_card(world)
    master = await add_card(world, MASTERCARD, default=False)
    amex = await add_card(world, AMEX, default=False)
    await methods.delete_method(actor=world.alice, method_id=visa)
    assert [
        (c.id, c.is_default) for c in await methods.list_methods(actor=world.alice, client_id=world.alice_id)
    ] == [
        (amex, True),
        (master, False),
    ]
    await methods.delete_method(actor=world.alice, method_id=master)  # not the default: the default stays
    assert (await PaymentMethod.get(id=amex)).is_default


def test_a_card_expires_soon_when_its_last_month_begins_within_30_days() -> None:
    on = date(2026, 11, 21)
    assert methods.expiry_state(12, 2026, on=on) == (True, False)  # December begins in 10 days
    assert methods.expiry_state(11, 2026, on=on) == (True, False)  # its last month
    assert methods.expiry_state(1, 2027, on=on) == (False, False)
    assert methods.expiry_state(10, 2026, on=on) == (False, True)
    assert methods.expiry_state(None, None, on=on) == (False, False)
    soon = today() + timedelta(days=20)  # the demo's Mastercard
    assert methods.expiry_state(soon.month, soon.year, on=today()) == (True, False)


# -- who may touch what ---------------------------------------------------------------------------------


async def test_a_client_cannot_touch_another_clients_methods_or_subscriptions(world: World) -> None:
    visa = await add_card(world)
    sub_id = await _subscribe(visa)
    bobs_card = await add_card(world, client_id=world.bob_id)
    bob = world.bob
    for call in (
        methods.make_default(actor=bob, method_id=visa),
        methods.delete_method(actor=bob, method_id=visa),
        methods.list_methods(actor=bob, client_id=world.alice_id),
        client_subscriptions.list_subscriptions(actor=bob, client_id=world.alice_id),
        client_subscriptions.get_subscription(actor=bob, subscription_id=sub_id),
        client_subscriptions.change_method(actor=bob, subscription_id=sub_id, method_id=bobs_card),
        client_subscriptions.cancel_at_period_end(actor=bob, subscription_id=sub_id),
        client_subscriptions.resume(actor=bob, subscription_id=sub_id),
        # nor put someone else's card on one's own subscription
        client_subscriptions.change_method(actor=world.alice, subscription_id=sub_id, method_id=bobs_card),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await PaymentMethod.get(id=visa)).detached_at is None
    sub = await Subscription.get(id=sub_id)
    assert (sub.payment_method_id, sub.cancel_at_period_end) == (visa, False)
    # staff see every client
    assert [
        v.id
        for v in await client_subscriptions.list_subscriptions(actor=world.staff, client_id=world.alice_id)
    ] == [sub_id]


# -- subscriptions --------------------------------------------------------------------------------------


async def test_subscriptions_are_listed_live_first_with_what_the_page_shows(world: World) -> None:
    visa = await add_card(world)
    old = await _subscribe(visa, name="Old plan", status=SubscriptionStatus.canceled)
    care = await _subscribe(visa, name="Website Care")
    late = await _subscribe(visa, name="Hosting", status=SubscriptionStatus.past_due)
    views = await client_subscriptions.list_subscriptions(actor=world.alice, client_id=world.alice_id)
    assert [v.id for v in views] == [care, late, old]
    first = views[0]
    assert (first.name, first.amount_minor, first.currency, first.interval_label) == (
        "Website Care",
        4900,
        "USD",
        "per month",
    )
    assert (first.status, first.method_label, first.method_id) == ("active", "Visa •••• 4242", visa)
    assert first.next_payment_on == first.period_end.date() and first.ends_on is None
    assert views[2].next_payment_on is None and not views[2].is_live
    assert client_subscriptions.interval_label("month", 3) == "every 3 months"
    assert await client_subscriptions.list_subscriptions(actor=world.bob, client_id=world.bob_id) == []


async def test_change_method_switches_the_card_here_and_at_the_gateway(
    world: World, published: list[Event]
) -> None:
    visa = await add_card(world)
    master = await add_card(world, MASTERCARD, default=False)
    sub_id = await _subscribe(visa)
    view = await client_subscriptions.change_method(
        actor=world.alice, subscription_id=sub_id, method_id=master
    )
    assert (view.method_id, view.method_label) == (master, "Mastercard •••• 4444")
    sub = await Subscription.get(id=sub_id)
    assert (await _sandbox_object(sub.gateway_ref))["method"] == (
        await PaymentMethod.get(id=master)
    ).gateway_ref
    assert await _actions(world.alice_id) == ["subscription.change_method"]
    assert [(e.name, e.client_id) for e in published] == [("subscription.changed", world.alice_id)]

    await methods.delete_method(actor=world.alice, method_id=visa)
    with pytest.raises(NotFound):  # a removed card cannot be chosen
        await client_subscriptions.change_method(actor=world.alice, subscription_id=sub_id, method_id=visa)
    await PaymentMethod.filter(id=visa).update(detached_at=None, gateway="stripe:test")
    with pytest.raises(Conflict, match="another payment account"):  # nor one of another gateway account
        await client_subscriptions.change_method(actor=world.alice, subscription_id=sub_id, method_id=visa)
    await Subscription.filter(id=sub_id).update(status=SubscriptionStatus.canceled)
    with pytest.raises(Conflict, match="already ended"):
        await client_subscriptions.change_method(actor=world.alice, subscription_id=sub_id, method_id=master)


async def test_cancel_at_period_end_then_resume(world: World, published: list[Event]) -> None:
    visa = await add_card(world)
    sub_id = await _subscribe(visa)
    period_end = (await Subscription.get(id=sub_id)).current_period_end

    view = await client_subscriptions.cancel_at_period_end(actor=world.alice, subscription_id=sub_id)
    assert view.cancel_at_period_end and view.is_live
    assert (view.ends_on, view.next_payment_on) == (period_end.date(), None)
    sub = await Subscription.get(id=sub_id)
    assert (sub.status, sub.cancel_at_period_end) == (SubscriptionStatus.active, True)
    assert (await _sandbox_object(sub.gateway_ref))["cancel_at_period_end"]
    await client_subscriptions.cancel_at_period_end(
        actor=world.alice, subscription_id=sub_id
    )  # twice: no change

    view = await client_subscriptions.resume(actor=world.alice, subscription_id=sub_id)
    assert not view.cancel_at_period_end and view.next_payment_on == period_end.date()
    assert not (await _sandbox_object(sub.gateway_ref))["cancel_at_period_end"]
    assert await _actions(world.alice_id) == ["subscription.cancel_at_period_end", "subscription.resume"]
    assert [e.name for e in published] == ["subscription.changed", "subscription.changed"]


async def test_resume_is_refused_once_the_period_has_ended(world: World) -> None:
    visa = await add_card(world)
    sub_id = await _subscribe(visa)
    await client_subscriptions.cancel_at_period_end(actor=world.alice, subscription_id=sub_id)
    await Subscription.filter(id=sub_id).update(current_period_end=now_utc() - timedelta(minutes=1))
    with pytest.raises(Conflict, match="already ended"):
        await client_subscriptions.resume(actor=world.alice, subscription_id=sub_id)
    await Subscription.filter(id=sub_id).update(status=SubscriptionStatus.canceled)
    with pytest.raises(Conflict, match="already ended"):
        await client_subscriptions.cancel_at_period_end(actor=world.alice, subscription_id=sub_id)


async def test_removing_the_last_card_switches_auto_charge_off(world: World) -> None:
    from portal.payments import charges

    card_id = await add_card(world)
    await charges.set_auto_charge(actor=world.staff, client_id=world.alice_id, enabled=True)
    await methods.delete_method(actor=world.alice, method_id=card_id)
    assert not (await Client.get(id=world.alice_id)).auto_charge
    entry = await AuditEntry.filter(action="client.auto_charge").order_by("-id").first()
    assert entry is not None and entry.details == {"enabled": False, "reason": "last card removed"}

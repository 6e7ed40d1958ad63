"""Plans (create, edit, archive, delete) and staff starting a client's subscription on the sandbox: the
first period charged once, the gateway charging the next ones, declines, retries, cancel, the list."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portal.core.clock import now_utc
from portal.db.models import (
    AuditEntry,
    Invoice,
    Payment,
    PaymentMethod,
    Plan,
    SandboxObject,
    Subscription,
)
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import InvoiceStatus, PaymentStatus, SubscriptionStatus
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError
from portal.subscriptions import client_subscriptions, plans, subscribe, subscription_list
from tests.services.conftest import World
from tests.services.payment_fixtures import DECLINES_ON_CHARGE, add_card, sandbox

MASTERCARD = "5555555555554444"


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Stripe key from the environment: the sandbox takes the payments."""
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


async def _plan(world: World, name: str = "Care", price: str = "49.00", currency: str = "USD", **kw) -> int:
    return (await plans.create_plan(actor=world.staff, name=name, price=price, currency=currency, **kw)).id


async def _actions(subject_prefix: str = "") -> list[str]:
    rows = await AuditEntry.filter(subject__startswith=subject_prefix).order_by("id")
    return [r.action for r in rows]


async def _snapshot() -> tuple:
    """Everything a refused call must leave as it was."""
    return (
        [tuple(p) for p in await Plan.all().order_by("id").values_list("name", "amount_minor", "active")],
        await Subscription.all().count(),
        await Payment.all().count(),
        await Invoice.all().count(),
        await SandboxObject.filter(kind__in=["payment_intent", "subscription"]).count(),
        await AuditEntry.all().count(),
    )


# -- plans ----------------------------------------------------------------------------------------
async def test_a_plan_is_created_from_the_price_typed_in_its_currency(world: World) -> None:
    view = await plans.create_plan(
        actor=world.staff,
        name="  Website   Care ",
        description="Updates and backups",
        price="$1,249.50",
        currency="usd",
        interval="month",
        interval_count=3,
    )
    assert (view.name, view.amount_minor, view.currency, view.interval, view.interval_count) == (
        "Website Care",
        124950,
        "USD",
        "month",
        3,
    )
    assert (view.active, view.live_subscriptions, view.period_label) == (True, 0, "every 3 months")
    yen = await plans.create_plan(
        actor=world.staff, name="Support", price="5,000", currency="JPY", interval="week"
    )
    assert (yen.amount_minor, yen.period_label) == (5000, "per week")
    euro = await plans.create_plan(
        actor=world.staff, name="Hébergement", price="1 234,50", currency="EUR", interval="year", locale="fr"
    )
    assert euro.amount_minor == 123450
    assert await _actions("plan:") == ["plan.create", "plan.create", "plan.create"]
    assert [p.name for p in await plans.list_plans(actor=world.staff)] == [
        "Hébergement",
        "Support",
        "Website Care",
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "Enter the plan's name."),
        ({"name": "x" * 201}, "name", "The name can be at most 200 characters."),
        ({"description": "x" * 2001}, "description", "The description can be at most 2000 characters."),
        ({"price": ""}, "price", "Enter an amount."),
        ({"price": "forty"}, "price", "'forty' is not a valid amount."),
        ({"price": "0"}, "price", "The price must be greater than zero."),
        ({"price": "-5"}, "price", "The amount cannot be negative."),
        ({"price": "12.345"}, "price", "USD amounts have at most 2 decimal places."),
        ({"price": "10.5", "currency": "JPY"}, "price", "JPY amounts have no decimal places."),
        ({"currency": "XYZ"}, "currency", "Unknown currency code 'XYZ'."),
        ({"currency": ""}, "currency", "Enter a currency code."),
        (
            {"interval": "fortnight"},
            "interval",
            "Choose how often the plan is billed: days, weeks, months or years.",
        ),
        ({"interval_count": 0}, "interval_count", "Enter a whole number of months from 1 to 12."),
        ({"interval_count": 13}, "interval_count", "Enter a whole number of months from 1 to 12."),
        ({"interval_count": 1.5}, "interval_count", "Enter a whole number of months from 1 to 12."),
        ({"interval_count": "two"}, "interval_count", "Enter a whole number of months from 1 to 12."),
        ({"interval_count": None}, "interval_count", "Enter a whole number of months from 1 to 12."),
        (
            {"interval": "week", "interval_count": 53},
            "interval_count",
            "Enter a whole number of weeks from 1 to 52.",
        ),
        (
            {"interval": "year", "interval_count": 2},
            "interval_count",
            "Plans billed in years renew every year: enter 1.",
        ),
        ({"name": "care"}, "name", "There is already a plan named “care”."),
    ],
)
async def test_bad_plan_input_gets_a_message_on_its_field_and_changes_nothing(
    world: World, changes: dict, field: str, message: str
) -> None:
    await _plan(world, "Care")
    other = await _plan(world, "Other")
    before = await _snapshot()
    values = {
        "name": "Hosting",
        "price": "19.00",
        "currency": "USD",
        "interval": "month",
        "interval_count": 1,
    }
    values.update(changes)
    with pytest.raises(InvalidInput) as caught:
        await plans.create_plan(actor=world.staff, **values)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert await _snapshot() == before
    with pytest.raises(InvalidInput) as caught:  # the same checks when editing
        await plans.update_plan(actor=world.staff, plan_id=other, **values)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert await _snapshot() == before


async def test_editing_a_plan_changes_it_for_new_subscriptions_only_and_is_audited(world: World) -> None:
    plan_id = await _plan(world, "Care", "49.00")
    await add_card(world)
    method = await PaymentMethod.get(client_id=world.alice_id)
    started = await subscribe.subscribe(
        actor=world.staff,
        client_id=world.alice_id,
        plan_id=plan_id,
        method_id=method.id,
        idempotency_key="k1",
    )
    assert started.ok
    view = await plans.update_plan(
        actor=world.staff,
        plan_id=plan_id,
        name="Care Plus",
        description="More",
        price="59",
        currency="USD",
        interval="month",
        interval_count=1,
    )
    assert (view.name, view.amount_minor, view.description, view.live_subscriptions) == (
        "Care Plus",
        5900,
        "More",
        1,
    )
    sub = await Subscription.get(id=started.subscription_id)
    assert (sub.amount_minor, sub.description) == (4900, "Care")  # the running subscription keeps its price
    entry = await AuditEntry.filter(action="plan.update").get()
    assert entry.details == {
        "name": {"from": "Care", "to": "Care Plus"},
        "description": {"from": "", "to": "More"},
        "amount_minor": {"from": 4900, "to": 5900},
    }
    with pytest.raises(NotFound, match="That plan does not exist"):
        await plans.update_plan(
            actor=world.staff,
            plan_id=9999,
            name="X",
            price="1",
            currency="USD",
            interval="month",
            interval_count=1,
        )


async def test_a_plan_with_a_running_subscription_can_be_archived_but_not_deleted(world: World) -> None:
    plan_id = await _plan(world, "Care")
    other_id = await _plan(world, "Hosting", "19")
    await add_card(world)
    method = await PaymentMethod.get(client_id=world.alice_id)
    assert (
        await subscribe.subscribe(
            actor=world.staff,
            client_id=world.alice_id,
            plan_id=plan_id,
            method_id=method.id,
            idempotency_key="a",
        )
    ).ok
    before = await _snapshot()
    with pytest.raises(Conflict, match="“Care” has 1 running subscription, so it cannot be deleted"):
        await plans.delete_plan(actor=world.staff, plan_id=plan_id)
    assert await _snapshot() == before

    archived = await plans.archive_plan(actor=world.staff, plan_id=plan_id)
    assert (archived.active, archived.live_subscriptions) == (False, 1)
    assert (await Subscription.get(plan_id=plan_id)).status == SubscriptionStatus.active  # it continues
    assert [p.id for p in await plans.list_plans(actor=world.staff, include_archived=False)] == [other_id]
    options = await subscribe.subscribe_options(actor=world.staff, client_id=world.bob_id)
    assert [p.name for p in options.plans] == ["Hosting"]
    await add_card(world, client_id=world.bob_id)
    bob_card = await PaymentMethod.get(client_id=world.bob_id)
    before = await _snapshot()
    with pytest.raises(InvalidInput) as caught:
        await subscribe.subscribe(
            actor=world.staff,
            client_id=world.bob_id,
            plan_id=plan_id,
            method_id=bob_card.id,
            idempotency_key="b",
        )
    assert (caught.value.field, caught.value.message) == (
        "plan",
        "“Care” is archived and no longer offered. Choose another plan.",
    )
    assert await _snapshot() == before

    restored = await plans.restore_plan(actor=world.staff, plan_id=plan_id)
    assert restored.active
    assert await _actions("plan:") == ["plan.create", "plan.create", "plan.archive", "plan.restore"]


async def test_a_plan_whose_subscriptions_ended_can_be_deleted_and_they_keep_its_name(world: World) -> None:
    plan_id = await _plan(world, "Care")
    await add_card(world)
    method = await PaymentMethod.get(client_id=world.alice_id)
    started = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=method.id, idempotency_key="a"
    )
    await client_subscriptions.cancel_now(actor=world.staff, subscription_id=started.subscription_id)
    await plans.delete_plan(actor=world.staff, plan_id=plan_id)
    assert not await Plan.exists(id=plan_id)
    [view] = await client_subscriptions.list_subscriptions(actor=world.alice, client_id=world.alice_id)
    assert (view.name, view.status) == ("Care", "canceled")
    assert "plan.delete" in await _actions("plan:")
    with pytest.raises(NotFound):
        await plans.delete_plan(actor=world.staff, plan_id=plan_id)


# -- subscribing ----------------------------------------------------------------------------------
async def test_subscribing_charges_the_first_period_once_and_the_gateway_charges_the_next(
    world: World,
) -> None:
    plan_id = await _plan(world, "Care", "49.00")
    visa = await add_card(world)
    options = await subscribe.subscribe_options(actor=world.staff, client_id=world.alice_id)
    assert [m.label for m in options.methods] == [f"Visa •••• 4242 (12/{now_utc().year + 3})"]
    assert (options.client_name, options.mode) == ("Alice Archer", "sandbox")

    result = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=visa, idempotency_key="open-1"
    )
    assert (result.status, result.ok) == ("active", True)
    assert result.message.startswith(
        "The subscription started and the first period was paid. Next payment on "
    )
    sub = await Subscription.get(id=result.subscription_id)
    assert (sub.status, sub.plan_id, sub.amount_minor, sub.currency, sub.payment_method_id) == (
        "active",
        plan_id,
        4900,
        "USD",
        visa,
    )
    assert sub.gateway == "sandbox" and sub.gateway_ref.startswith("sub_sbx_")
    assert timedelta(days=29) < sub.current_period_end - now_utc() <= timedelta(days=30)
    # the first period: an invoice for the plan, paid by one charge of the card
    invoice = await Invoice.get(subscription_id=sub.id)
    assert (invoice.total_minor, invoice.status) == (4900, InvoiceStatus.paid)
    payment = await Payment.get(invoice_id=invoice.id)
    assert (payment.status, payment.amount_minor, payment.payment_method_id) == ("succeeded", 4900, visa)
    assert payment.recorded_by_id == world.staff.user_id
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    at_gateway = (await SandboxObject.get(object_id=sub.gateway_ref)).data
    assert (at_gateway["amount"], at_gateway["interval"], at_gateway["status"]) == (4900, "month", "active")
    assert at_gateway["current_period_end"] == int(sub.current_period_end.timestamp())
    # the client sees it on their billing page
    [view] = await client_subscriptions.list_subscriptions(actor=world.alice, client_id=world.alice_id)
    assert (view.name, view.method_label, view.next_payment_on) == (
        "Care",
        "Visa •••• 4242",
        sub.current_period_end.date(),
    )
    entry = await AuditEntry.get(action="subscription.create")
    assert (entry.actor_id, entry.on_behalf_of_id, entry.subject) == (
        world.staff.user_id,
        world.alice_id,
        f"subscription:{sub.id}",
    )
    assert entry.details["first_payment_id"] == payment.id

    # nothing more is charged until the period ends; then the gateway renews it
    assert await sandbox().renew_due(now=now_utc()) == 0
    assert await sandbox().renew_due(now=sub.current_period_end) == 1
    renewals = await Invoice.filter(subscription_id=sub.id).order_by("id")
    assert [(i.total_minor, i.status) for i in renewals] == [(4900, "paid"), (4900, "paid")]


async def test_a_plan_billed_every_two_weeks_renews_after_fourteen_days(world: World) -> None:
    every_two = await _plan(world, "Biweekly", "30.00", interval="week", interval_count=2)
    visa = await add_card(world)
    result = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=every_two, method_id=visa, idempotency_key="k"
    )
    assert result.status == "active", result.message
    sub = await Subscription.get(id=result.subscription_id)
    assert timedelta(days=13) < sub.current_period_end - now_utc() <= timedelta(days=14)
    at_gateway = (await SandboxObject.get(object_id=sub.gateway_ref)).data
    assert (at_gateway["interval"], at_gateway["interval_count"]) == ("week", 2)
    assert await sandbox().renew_due(now=sub.current_period_end) == 1
    renewed = (await SandboxObject.get(object_id=sub.gateway_ref)).data
    assert renewed["current_period_end"] - at_gateway["current_period_end"] == 14 * 86400


async def test_the_same_dialog_subscribes_once_even_when_clicked_twice_at_once(world: World) -> None:
    plan_id = await _plan(world)
    visa = await add_card(world)

    async def click() -> subscribe.SubscribeResult:
        return await subscribe.subscribe(
            actor=world.staff,
            client_id=world.alice_id,
            plan_id=plan_id,
            method_id=visa,
            idempotency_key="same",
        )

    first, second = await asyncio.gather(click(), click())
    again = await click()
    assert first.subscription_id == second.subscription_id == again.subscription_id is not None
    assert {first.status, second.status, again.status} == {"active"}
    assert await Subscription.all().count() == 1
    assert await Payment.all().count() == 1
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    assert await SandboxObject.filter(kind="subscription").count() == 1
    assert await AuditEntry.filter(action="subscription.create").count() == 1
    # a new opening of the dialog is a new request: refused, the client already has this plan
    with pytest.raises(Conflict, match="Alice Archer already has a running “Care” subscription"):
        await subscribe.subscribe(
            actor=world.staff,
            client_id=world.alice_id,
            plan_id=plan_id,
            method_id=visa,
            idempotency_key="other",
        )


async def test_a_declined_first_payment_starts_nothing_and_another_card_then_works(world: World) -> None:
    plan_id = await _plan(world)
    bad = await add_card(world, DECLINES_ON_CHARGE)
    good = await add_card(world, MASTERCARD, default=False)
    result = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=bad, idempotency_key="d1"
    )
    assert (result.status, result.subscription_id) == ("declined", None)
    assert result.message == (
        "The first payment failed: Your card was declined. Please use another card or contact your bank. "
        "No subscription was started."
    )
    assert await Subscription.all().count() == 0
    assert await SandboxObject.filter(kind="subscription").count() == 0
    [invoice] = await Invoice.all()
    assert invoice.status == InvoiceStatus.deleted  # voided, never owed
    assert (await Payment.get()).status == PaymentStatus.failed
    assert await AuditEntry.filter(action="subscription.start_failed").count() == 1
    # the same key answers the same, without charging again
    replay = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=bad, idempotency_key="d1"
    )
    assert replay == result
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    assert await AuditEntry.filter(action="subscription.start_failed").count() == 1

    ok = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=good, idempotency_key="d2"
    )
    assert ok.ok
    assert (await Subscription.get(id=ok.subscription_id)).payment_method_id == good


async def test_a_charge_whose_answer_was_lost_is_finished_by_pressing_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await _plan(world)
    visa = await add_card(world)
    real = sandbox()
    real._emit = None  # the charge's own event would settle it: model a lost answer and a lost webhook

    class TimesOutAfterCharging:
        name = key = mode = "sandbox"

        async def charge(self, **kwargs):
            await real.charge(**kwargs)
            raise GatewayError("timed out", retryable=True)

        def __getattr__(self, name):
            return getattr(real, name)

    async def flaky():
        return TimesOutAfterCharging()

    monkeypatch.setattr(selector, "current_gateway", flaky)
    first = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=visa, idempotency_key="t"
    )
    assert first.status == "pending"
    assert "Press Subscribe again" in first.message
    assert (await Subscription.get(id=first.subscription_id)).status == SubscriptionStatus.incomplete
    assert (await Payment.get()).status == PaymentStatus.pending

    async def healthy():
        return real

    monkeypatch.setattr(selector, "current_gateway", healthy)
    second = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=visa, idempotency_key="t"
    )
    assert (second.status, second.subscription_id) == ("active", first.subscription_id)
    assert await SandboxObject.filter(kind="payment_intent").count() == 1  # charged once
    assert (await Payment.get()).status == PaymentStatus.succeeded


async def test_a_gateway_refusing_to_start_the_subscription_keeps_the_payment_and_retries(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = await _plan(world)
    visa = await add_card(world)
    real = sandbox()

    class RefusesSubscriptions:
        name = key = mode = "sandbox"

        async def create_subscription(self, **kwargs):
            raise GatewayError("The service is down.", retryable=True)

        def __getattr__(self, name):
            return getattr(real, name)

    async def refusing():
        return RefusesSubscriptions()

    monkeypatch.setattr(selector, "current_gateway", refusing)
    first = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=visa, idempotency_key="r"
    )
    assert first.status == "pending"
    assert first.message.startswith("The first payment was received, but the payment service did not start")

    async def healthy():
        return real

    monkeypatch.setattr(selector, "current_gateway", healthy)
    second = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=visa, idempotency_key="r"
    )
    assert second.ok and second.subscription_id == first.subscription_id
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    assert await Payment.filter(status="succeeded").count() == 1


async def test_subscribing_refuses_bad_choices_with_a_message_and_changes_nothing(world: World) -> None:
    plan_id = await _plan(world, "Care")
    visa = await add_card(world)
    bobs = await add_card(world, client_id=world.bob_id)
    debit = await PaymentMethod.create(
        client_id=world.alice_id, gateway="sandbox", gateway_ref="pm_debit", kind="direct_debit", last4="3000"
    )
    elsewhere = await PaymentMethod.create(
        client_id=world.alice_id,
        gateway="stripe:test",
        gateway_ref="pm_x",
        kind="card",
        brand="visa",
        last4="1111",
    )
    gone = await add_card(world, MASTERCARD, default=False)
    await PaymentMethod.filter(id=gone).update(detached_at=now_utc())
    options = await subscribe.subscribe_options(actor=world.staff, client_id=world.alice_id)
    assert [m.id for m in options.methods] == [visa]  # cards of the current gateway account only

    cases = [
        ({"plan_id": None}, InvalidInput, "plan", "Choose a plan."),
        ({"plan_id": 9999}, InvalidInput, "plan", "That plan does not exist."),
        ({"method_id": None}, InvalidInput, "method", "Choose the card to charge."),
        ({"method_id": bobs}, InvalidInput, "method", "Choose one of Alice Archer's saved cards."),
        ({"method_id": gone}, InvalidInput, "method", "Choose one of Alice Archer's saved cards."),
        (
            {"method_id": elsewhere.id},
            InvalidInput,
            "method",
            "This card was saved with another payment account and cannot be charged now.",
        ),
        (
            {"method_id": debit.id},
            InvalidInput,
            "method",
            "Subscriptions are charged to a card. Choose a saved card.",
        ),
        (
            {"idempotency_key": ""},
            InvalidInput,
            "idempotency_key",
            "This form has expired. Close it and open it again.",
        ),
        ({"client_id": 9999}, NotFound, None, "That client does not exist."),
    ]
    before = await _snapshot()
    for changes, error, field, message in cases:
        values = {
            "client_id": world.alice_id,
            "plan_id": plan_id,
            "method_id": visa,
            "idempotency_key": f"key-{len(str(changes))}",
        }
        values.update(changes)
        with pytest.raises(error) as caught:
            await subscribe.subscribe(actor=world.staff, **values)
        assert caught.value.message == message, changes
        assert getattr(caught.value, "field", None) == field, changes
    assert await _snapshot() == before


async def test_staff_cancel_now_or_at_period_end_is_audited_and_reaches_the_gateway(world: World) -> None:
    plan_id = await _plan(world, "Care")
    other = await _plan(world, "Hosting", "19")
    visa = await add_card(world)
    now_sub = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=plan_id, method_id=visa, idempotency_key="1"
    )
    later_sub = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=other, method_id=visa, idempotency_key="2"
    )
    with pytest.raises(Forbidden):
        await client_subscriptions.cancel_now(actor=world.alice, subscription_id=now_sub.subscription_id)
    with pytest.raises(NotFound):
        await client_subscriptions.cancel_at_period_end(
            actor=world.bob, subscription_id=later_sub.subscription_id
        )

    ended = await client_subscriptions.cancel_now(actor=world.staff, subscription_id=now_sub.subscription_id)
    assert (ended.status, ended.is_live) == ("canceled", False)
    sub = await Subscription.get(id=now_sub.subscription_id)
    assert sub.canceled_at is not None
    assert (await SandboxObject.get(object_id=sub.gateway_ref)).data["status"] == "canceled"
    with pytest.raises(Conflict, match="This subscription has already ended"):
        await client_subscriptions.cancel_now(actor=world.staff, subscription_id=sub.id)

    ending = await client_subscriptions.cancel_at_period_end(
        actor=world.admin, subscription_id=later_sub.subscription_id
    )
    assert (ending.status, ending.cancel_at_period_end) == ("active", True)
    later = await Subscription.get(id=later_sub.subscription_id)
    assert (await SandboxObject.get(object_id=later.gateway_ref)).data["cancel_at_period_end"] is True
    cancels = await AuditEntry.filter(action__startswith="subscription.cancel").order_by("id")
    assert [(e.action, e.actor_id, e.on_behalf_of_id) for e in cancels] == [
        ("subscription.cancel_now", world.staff.user_id, world.alice_id),
        ("subscription.cancel_at_period_end", world.admin.user_id, world.alice_id),
    ]


async def test_the_subscriptions_list_filters_by_status_plan_and_client_and_pages(world: World) -> None:
    care = await _plan(world, "Care")
    hosting = await _plan(world, "Hosting", "1900", currency="JPY")
    alice_card = await add_card(world)
    bob_card = await add_card(world, client_id=world.bob_id)
    a = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=care, method_id=alice_card, idempotency_key="a"
    )
    b = await subscribe.subscribe(
        actor=world.staff, client_id=world.bob_id, plan_id=hosting, method_id=bob_card, idempotency_key="b"
    )
    c = await subscribe.subscribe(  # Bob pays in JPY: a USD plan is confirmed (issue 15 item 10)
        actor=world.staff,
        client_id=world.bob_id,
        plan_id=care,
        method_id=bob_card,
        idempotency_key="c",
        confirm_currency=True,
    )
    await client_subscriptions.cancel_now(actor=world.staff, subscription_id=c.subscription_id)

    async def ids(**kw) -> list[int]:
        return [r.id for r in (await subscription_list.search_subscriptions(actor=world.staff, **kw)).rows]

    assert await ids() == [c.subscription_id, b.subscription_id, a.subscription_id]
    assert await ids(status="active") == [b.subscription_id, a.subscription_id]
    assert await ids(status="canceled") == [c.subscription_id]
    assert await ids(plan_id=care) == [c.subscription_id, a.subscription_id]
    assert await ids(search="archery") == [a.subscription_id]  # Alice's company
    assert await ids(search="BOB@x") == [c.subscription_id, b.subscription_id]
    assert await ids(plan_id=care, status="active", search="bob") == []
    page = await subscription_list.search_subscriptions(actor=world.staff, page=2, page_size=2)
    assert ([r.id for r in page.rows], page.total, page.page) == ([a.subscription_id], 3, 2)
    row = page.rows[0]
    assert (row.client_name, row.name, row.amount_minor, row.method_label, row.period_label) == (
        "Alice Archer",
        "Care",
        4900,
        "Visa •••• 4242",
        "per month",
    )
    with pytest.raises(InvalidInput) as caught:
        await subscription_list.search_subscriptions(actor=world.staff, status="paused")
    assert (caught.value.field, caught.value.message) == ("status", "Choose a status from the list.")


@pytest.mark.parametrize(
    "call",
    [
        lambda w, ids: plans.list_plans(actor=w.alice),
        lambda w, ids: plans.get_plan(actor=w.alice, plan_id=ids["plan"]),
        lambda w, ids: plans.create_plan(actor=w.alice, name="Mine", price="1", currency="USD"),
        lambda w, ids: plans.update_plan(
            actor=w.alice,
            plan_id=ids["plan"],
            name="Mine",
            price="1",
            currency="USD",
            interval="month",
            interval_count=1,
        ),
        lambda w, ids: plans.archive_plan(actor=w.alice, plan_id=ids["plan"]),
        lambda w, ids: plans.restore_plan(actor=w.alice, plan_id=ids["plan"]),
        lambda w, ids: plans.delete_plan(actor=w.alice, plan_id=ids["plan"]),
        lambda w, ids: subscription_list.search_subscriptions(actor=w.alice),
        lambda w, ids: subscription_list.get_subscription_row(actor=w.alice, subscription_id=ids["sub"]),
        lambda w, ids: subscribe.subscribe_options(actor=w.alice, client_id=w.alice_id),
        lambda w, ids: subscribe.subscribe(
            actor=w.alice,
            client_id=w.alice_id,
            plan_id=ids["plan"],
            method_id=ids["card"],
            idempotency_key="z",
        ),
        lambda w, ids: client_subscriptions.cancel_now(actor=w.alice, subscription_id=ids["sub"]),
    ],
)
async def test_a_client_cannot_use_the_plans_console(world: World, call) -> None:
    plan_id = await _plan(world, "Care")
    other = await _plan(world, "Hosting")
    card = await add_card(world)
    sub = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=other, method_id=card, idempotency_key="s"
    )
    before = await _snapshot()
    with pytest.raises(Forbidden):
        await call(world, {"plan": plan_id, "sub": sub.subscription_id, "card": card})
    assert await _snapshot() == before

"""Form rules (issue 15 item 10): every field of a form is checked at once and each wrong field says why
(billing requests, plans, subscribing, credit requests); a plan in another currency than the client's
needs an explicit confirmation; a plan's interval is a whole number of at least 1, never silently changed."""

from __future__ import annotations

import pytest

from portal.billing import billing_requests
from portal.db.models import (
    AuditEntry,
    BillingRequest,
    CreditRequest,
    Invoice,
    Payment,
    PaymentMethod,
    Plan,
    Subscription,
)
from portal.domain.errors import InvalidFields
from portal.payments import credit_requests
from portal.subscriptions import plans, subscribe
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Stripe key from the environment: the sandbox takes the payments."""
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


async def _nothing_written() -> tuple:
    return (
        await BillingRequest.all().count(),
        await Invoice.all().count(),
        await Plan.all().count(),
        await Subscription.all().count(),
        await Payment.all().count(),
        await CreditRequest.all().count(),
    )


# -- billing requests ----------------------------------------------------------------------------------
async def test_a_billing_request_with_every_field_wrong_names_every_field(world: World) -> None:
    before = await _nothing_written()
    with pytest.raises(InvalidFields) as caught:
        await billing_requests.create_billing_request(
            actor=world.staff,
            client_id=None,
            email="not an email",
            currency="XX",
            amount_text="ten",
            success_url="ftp://agency.test/ok",
            cancel_url="agency",
            billing_type="sometimes",
        )
    errors = caught.value.errors
    assert errors == {
        "client": "Choose the client this request is for.",
        "email": "Enter a valid email address, like name@example.com.",
        "currency": "XX is not a currency code we know. Use three letters, like USD or EUR.",
        "amount": "'ten' is not a valid amount.",
        "success_url": "The success URL must start with https:// or http://",
        "cancel_url": "Enter the full cancel URL, starting with https:// or http://",
        "billing_type": "Choose one-time or recurring.",
    }
    assert await _nothing_written() == before


async def test_a_client_that_does_not_exist_is_named_with_the_other_fields(world: World) -> None:
    with pytest.raises(InvalidFields) as caught:
        await billing_requests.create_billing_request(
            actor=world.staff,
            client_id=999_999,
            email="",
            currency="USD",
            amount_text="",
            success_url="https://agency.test/ok",
            cancel_url="https://agency.test/no",
            billing_type="recurring",
            interval="fortnight",
        )
    assert caught.value.errors == {
        "client": "That client does not exist. Choose one from the list.",
        "email": "Enter the email address the request goes to.",
        "amount": "Enter an amount.",
        "interval": "Choose how often a recurring request repeats.",
    }
    assert await BillingRequest.all().count() == 0


# -- plans ---------------------------------------------------------------------------------------------
async def test_a_plan_with_every_field_wrong_names_every_field(world: World) -> None:
    with pytest.raises(InvalidFields) as caught:
        await plans.create_plan(
            actor=world.staff,
            name="  ",
            description="x" * 2001,
            price="0",
            currency="USD",
            interval="month",
            interval_count=0,
        )
    assert caught.value.errors == {
        "name": "Enter the plan's name.",
        "description": "The description can be at most 2000 characters.",
        "price": "The price must be greater than zero.",
        "interval_count": "Enter a whole number of months from 1 to 12.",
    }
    with pytest.raises(InvalidFields) as caught:
        await plans.create_plan(
            actor=world.staff, name="Care", price="12", currency="ZZZ", interval="fortnight", interval_count=1
        )
    assert set(caught.value.errors) == {"currency", "interval"}
    assert await Plan.all().count() == 0


@pytest.mark.parametrize("count", [0, -2, "-2", "0", 1.5, "", None])
async def test_a_plans_interval_is_a_whole_number_of_at_least_one_never_silently_changed(
    world: World, count: object
) -> None:
    with pytest.raises(InvalidFields) as caught:
        await plans.create_plan(
            actor=world.staff, name="Care", price="49", currency="USD", interval="month", interval_count=count
        )  # type: ignore[arg-type]
    assert caught.value.errors == {"interval_count": "Enter a whole number of months from 1 to 12."}
    assert await Plan.all().count() == 0
    plan = await plans.create_plan(
        actor=world.staff, name="Care", price="49", currency="USD", interval="month", interval_count=3
    )
    with pytest.raises(InvalidFields):
        await plans.update_plan(
            actor=world.staff,
            plan_id=plan.id,
            name="Care",
            price="49",
            currency="USD",
            interval="month",
            interval_count=count,  # type: ignore[arg-type]
        )
    assert (await Plan.get(id=plan.id)).interval_count == 3  # kept, not reset to 1


async def test_a_taken_name_is_reported_with_the_other_fields(world: World) -> None:
    await plans.create_plan(actor=world.staff, name="Care", price="49", currency="USD")
    with pytest.raises(InvalidFields) as caught:
        await plans.create_plan(actor=world.staff, name="care", price="", currency="USD", interval_count=-2)
    assert caught.value.errors == {
        "name": "There is already a plan named “care”.",
        "price": "Enter an amount.",
        "interval_count": "Enter a whole number of months from 1 to 12.",
    }


# -- subscribing ---------------------------------------------------------------------------------------
async def test_a_plan_in_another_currency_needs_an_explicit_confirmation(world: World) -> None:
    await add_card(world)
    card = await PaymentMethod.get(client_id=world.alice_id)
    euro = await plans.create_plan(actor=world.staff, name="Hosting", price="19", currency="EUR")
    options = await subscribe.subscribe_options(actor=world.staff, client_id=world.alice_id)
    assert options.client_currency == "USD"
    before = await _nothing_written()
    audited = await AuditEntry.all().count()

    with pytest.raises(InvalidFields) as caught:
        await subscribe.subscribe(
            actor=world.staff,
            client_id=world.alice_id,
            plan_id=euro.id,
            method_id=card.id,
            idempotency_key="k-1",
        )
    assert caught.value.errors == {
        "confirm_currency": "This plan is billed in EUR, but Alice Archer pays in USD. "
        "Confirm that Alice Archer is charged in EUR."
    }
    assert await _nothing_written() == before and await AuditEntry.all().count() == audited  # nothing charged

    started = await subscribe.subscribe(
        actor=world.staff,
        client_id=world.alice_id,
        plan_id=euro.id,
        method_id=card.id,
        idempotency_key="k-2",
        confirm_currency=True,
    )
    assert started.ok
    [sub] = await Subscription.all()
    assert (sub.currency, sub.amount_minor) == ("EUR", 1900)


async def test_a_plan_in_the_clients_currency_needs_no_confirmation(world: World) -> None:
    await add_card(world)
    card = await PaymentMethod.get(client_id=world.alice_id)
    usd = await plans.create_plan(actor=world.staff, name="Care", price="49", currency="USD")
    started = await subscribe.subscribe(
        actor=world.staff, client_id=world.alice_id, plan_id=usd.id, method_id=card.id, idempotency_key="k-3"
    )
    assert started.ok


async def test_subscribing_without_a_plan_or_a_card_names_both(world: World) -> None:
    with pytest.raises(InvalidFields) as caught:
        await subscribe.subscribe(
            actor=world.staff, client_id=world.alice_id, plan_id=None, method_id=None, idempotency_key="k-4"
        )
    assert caught.value.errors == {"plan": "Choose a plan.", "method": "Choose the card to charge."}


async def test_a_foreign_plan_and_a_card_of_another_client_are_both_named(world: World) -> None:
    bobs = await add_card(world, client_id=world.bob_id)
    euro = await plans.create_plan(actor=world.staff, name="Hosting", price="19", currency="EUR")
    with pytest.raises(InvalidFields) as caught:
        await subscribe.subscribe(
            actor=world.staff,
            client_id=world.alice_id,
            plan_id=euro.id,
            method_id=bobs,
            idempotency_key="k-5",
        )
    assert set(caught.value.errors) == {"confirm_currency", "method"}
    assert caught.value.errors["method"] == "Choose one of Alice Archer's saved cards."


# -- credit requests -----------------------------------------------------------------------------------
async def test_a_credit_request_with_every_field_wrong_names_every_field(world: World) -> None:
    with pytest.raises(InvalidFields) as caught:
        await credit_requests.create_credit_request(
            actor=world.staff,
            client_id=world.alice_id,
            amount_text="0",
            currency="USD",
            description="x" * 301,
            due_date_text="2000-01-01",
        )
    assert caught.value.errors == {
        "amount": "The amount must be greater than zero.",
        "due_date": "The due date cannot be in the past.",
        "description": "The description is too long (300 characters at most).",
    }
    with pytest.raises(InvalidFields) as caught:
        await credit_requests.create_credit_request(
            actor=world.staff, client_id=world.alice_id, amount_text="", currency="QQ", due_date_text="soon"
        )
    assert set(caught.value.errors) == {"amount", "currency", "due_date"}
    assert await CreditRequest.all().count() == 0
    created = await credit_requests.create_credit_request(
        actor=world.staff, client_id=world.alice_id, amount_text="50.00", currency="USD", due_date_text=""
    )
    assert (await CreditRequest.get(id=created)).amount_minor == 5000

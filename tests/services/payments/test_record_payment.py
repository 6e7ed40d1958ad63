"""What the record-payment and new-credit-request dialogs call: the client's open invoices and stored
methods, charging a stored method from the console (once per dialog, a decline in plain words), offline
payments whose overpayment needs a yes, credit requests, and who may do any of it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portal.billing import invoices, staff_charges
from portal.core.clock import today
from portal.db.models import AuditEntry, CreditEntry, CreditRequest, Invoice, Payment, SandboxObject
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.payments import credit_requests, ledger
from portal.payments.ledger import OverpaymentNeedsConfirmation
from tests.services.conftest import World
from tests.services.payment_fixtures import DECLINES_ON_CHARGE, add_card, invoice_for

KEY = "dialog-key-0001"


async def _charge(world: World, invoice_id: int, method_id: int, key: str = KEY, **changes: object):
    fields = {
        "actor": world.staff,
        "client_id": world.alice_id,
        "invoice_id": invoice_id,
        "method_id": method_id,
        "idempotency_key": key,
        **changes,
    }
    return await staff_charges.charge_stored_method(**fields)  # type: ignore[arg-type]


async def _due(world: World, invoice_id: int) -> int:
    return (await invoices.get_invoice_summary(actor=world.staff, invoice_id=invoice_id)).amount_due_minor


async def test_the_context_lists_open_invoices_oldest_first_and_masked_methods(world: World) -> None:
    later = await invoice_for(world, 3000, days=20)
    sooner = await invoice_for(world, 5000, days=5)
    await invoice_for(world, 700, client_id=world.bob_id)  # another client's invoice is not offered
    visa = await add_card(world)
    context = await staff_charges.payment_context(actor=world.staff, client_id=world.alice_id)
    assert [i.id for i in context.invoices] == [sooner, later]
    assert context.due_in("USD") == 8000 and context.currencies == ["USD"]
    assert [(m.id, m.is_default) for m in context.methods] == [(visa, True)]
    assert context.methods[0].label.startswith("Visa •••• 4242")
    assert "4242424242424242" not in repr(context)
    assert context.gateway_mode == "sandbox"


async def test_charging_a_stored_card_pays_the_invoice_and_is_audited(world: World) -> None:
    invoice_id = await invoice_for(world, 4500)
    visa = await add_card(world)
    outcome = await _charge(world, invoice_id, visa)
    assert outcome.succeeded and not outcome.duplicate
    assert outcome.message == "$45.00 was charged to Visa •••• 4242."
    assert (outcome.amount_minor, outcome.currency) == (4500, "USD")
    payment = await Payment.get(id=outcome.payment_id)
    assert payment.status == PaymentStatus.succeeded and payment.recorded_by_id == world.staff.user_id
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    entry = await AuditEntry.get(action="payment.charge_saved_method")
    assert entry.details["outcome"] == "succeeded" and entry.actor_id == world.staff.user_id


async def test_the_same_dialog_charges_once_however_often_it_is_sent(world: World) -> None:
    invoice_id = await invoice_for(world, 4500)
    visa = await add_card(world)
    first, second = await asyncio.gather(_charge(world, invoice_id, visa), _charge(world, invoice_id, visa))
    again = await _charge(world, invoice_id, visa)
    assert {first.payment_id, second.payment_id, again.payment_id} == {first.payment_id}
    assert again.duplicate and again.succeeded
    assert await Payment.filter(status=PaymentStatus.succeeded).count() == 1
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    # another opening of the dialog (a new key) finds nothing left to charge
    with pytest.raises(Conflict, match="already paid"):
        await _charge(world, invoice_id, visa, key="dialog-key-0002")


async def test_a_declined_card_says_why_and_changes_nothing(world: World) -> None:
    invoice_id = await invoice_for(world, 4500)
    declining = await add_card(world, DECLINES_ON_CHARGE)
    outcome = await _charge(world, invoice_id, declining)
    assert outcome.status == "failed" and not outcome.succeeded
    assert outcome.message == (
        "The charge was declined: Your card was declined. Please use another card or contact your bank."
    )
    assert await _due(world, invoice_id) == 4500
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    # a new attempt (the dialog makes a new key after a decline) with a good card goes through
    visa = await add_card(world, default=False)
    assert (await _charge(world, invoice_id, visa, key="dialog-key-retry")).succeeded


async def test_a_charge_refuses_another_clients_invoice_or_card(world: World) -> None:
    alice_invoice = await invoice_for(world, 4500)
    bob_invoice = await invoice_for(world, 900, client_id=world.bob_id)
    alice_card = await add_card(world)
    bob_card = await add_card(world, client_id=world.bob_id)
    with pytest.raises(NotFound):
        await _charge(world, bob_invoice, alice_card)
    with pytest.raises(InvalidInput) as error:
        await _charge(world, alice_invoice, bob_card)
    assert error.value.field == "method"
    with pytest.raises(InvalidInput):
        await _charge(world, alice_invoice, alice_card, key="short")
    assert await Payment.all().count() == 0


async def test_an_offline_partial_payment_lowers_the_amount_due(world: World) -> None:
    invoice_id = await invoice_for(world, 10000)
    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=2500,
        currency="USD",
        method="cheque",
        received_on=today() - timedelta(days=1),
        reference="CHQ 118",
        invoice_id=invoice_id,
        idempotency_key="offline:console:abc",
    )
    assert result.allocations == [(invoice_id, 2500)] and result.credit_minor == 0
    assert await _due(world, invoice_id) == 7500


async def test_an_overpayment_says_how_much_would_become_credit(world: World) -> None:
    invoice_id = await invoice_for(world, 10000)
    with pytest.raises(OverpaymentNeedsConfirmation) as error:
        await ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=12500,
            currency="USD",
            method="cash",
            received_on=today(),
            invoice_id=invoice_id,
        )
    assert (error.value.credit_minor, error.value.currency) == (2500, "USD")
    assert isinstance(error.value, Conflict)
    assert await Payment.all().count() == 0 and await CreditEntry.all().count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reference": "x" * 201}, "reference"),
        ({"received_on": today() + timedelta(days=1)}, "received_on"),
        ({"method": "barter"}, "method"),
        ({"amount_minor": 0}, "amount"),
    ],
)
async def test_bad_offline_inputs_record_nothing(world: World, changes: dict, field: str) -> None:
    await invoice_for(world, 10000)
    fields = dict(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=100,
        currency="USD",
        method="cash",
        received_on=today(),
    )
    with pytest.raises(InvalidInput) as error:
        await ledger.record_offline_payment(**{**fields, **changes})
    assert error.value.field == field
    assert await Payment.all().count() == 0


async def test_a_credit_request_checks_its_description(world: World) -> None:
    with pytest.raises(InvalidInput) as error:
        await credit_requests.create_credit_request(
            actor=world.staff, client_id=world.alice_id, amount_minor=5000, description="x" * 301
        )
    assert error.value.field == "description"
    assert await CreditRequest.all().count() == 0
    created = await credit_requests.create_credit_request(
        actor=world.staff, client_id=world.alice_id, amount_minor=5000, description="Prepaid hours"
    )
    credit = await CreditRequest.get(id=created)
    assert (credit.amount_minor, credit.currency, credit.description) == (5000, "USD", "Prepaid hours")


# -- roles -----------------------------------------------------------------------------------------------
async def test_a_client_cannot_use_the_staff_payment_functions(world: World) -> None:
    invoice_id = await invoice_for(world, 4500)
    visa = await add_card(world)
    with pytest.raises(Forbidden):
        await staff_charges.payment_context(actor=world.alice, client_id=world.alice_id)
    with pytest.raises(Forbidden):
        await _charge(world, invoice_id, visa, actor=world.alice)
    with pytest.raises(Forbidden):
        await ledger.record_offline_payment(
            actor=world.alice,
            client_id=world.alice_id,
            amount_minor=100,
            currency="USD",
            method="cash",
            received_on=today(),
        )
    with pytest.raises(Forbidden):
        await credit_requests.create_credit_request(
            actor=world.alice, client_id=world.alice_id, amount_minor=100
        )
    assert await Payment.all().count() == 0 and await CreditRequest.all().count() == 0
    assert await _due(world, invoice_id) == 4500


async def test_staff_and_admins_can_use_them(world: World) -> None:
    for n, actor in enumerate((world.staff, world.admin)):
        invoice_id = await invoice_for(world, 4500)
        card = await add_card(world, default=n == 0)
        assert (await staff_charges.payment_context(actor=actor, client_id=world.alice_id)).invoices
        assert (await _charge(world, invoice_id, card, key=f"dialog-key-{n:04d}", actor=actor)).succeeded
        assert await credit_requests.create_credit_request(
            actor=actor, client_id=world.alice_id, amount_minor=100
        )
    with pytest.raises(NotFound):
        await staff_charges.payment_context(actor=world.staff, client_id=999_999)

"""Staff paying a client's invoice from the client's credit (issue 15 item 2): full or partial, what is
available and what is left said before confirming, once under a double click, amounts over the credit or
over what is due refused with the exact figure, audited with who did it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from portal.db.models import Allocation, AuditEntry, CreditEntry, Invoice
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.status import InvoiceStatus
from portal.payments import credit_payments, ledger
from tests.services.conftest import World
from tests.services.payment_fixtures import invoice_for


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Stripe key from the environment: the sandbox is the gateway."""
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


async def _give_credit(world: World, amount: int, currency: str = "USD") -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=amount, currency=currency, note="Goodwill"
    )


async def _state(invoice_id: int) -> tuple:
    """What a refused payment must leave as it was."""
    invoice = await Invoice.get(id=invoice_id)
    return (
        invoice.status,
        await ledger.amount_due(invoice),
        await CreditEntry.all().count(),
        await Allocation.all().count(),
    )


async def test_staff_pay_part_of_an_invoice_from_credit_and_see_what_is_left_first(world: World) -> None:
    await _give_credit(world, 5000)
    invoice_id = await invoice_for(world, 8000)

    offer = await credit_payments.credit_offer(actor=world.staff, invoice_id=invoice_id)
    assert (offer.credit_minor, offer.due_minor, offer.max_minor, offer.usable) == (5000, 8000, 5000, True)
    assert (offer.credit_left(3000), offer.due_left(3000)) == (2000, 5000)  # shown before confirming
    assert not offer.recurring and offer.reason is None

    used = await credit_payments.pay_from_credit(
        actor=world.staff, invoice_id=invoice_id, amount_minor=3000, idempotency_key="staff-credit-1"
    )

    assert used == 3000
    invoice = await Invoice.get(id=invoice_id)
    assert (invoice.status, await ledger.amount_due(invoice)) == (InvoiceStatus.open, 5000)
    assert await ledger.credit_balance(world.alice_id, "USD") == 2000
    entry = await CreditEntry.get(amount_minor=-3000)
    assert (entry.invoice_id, entry.created_by_id) == (invoice_id, world.staff.user_id)
    [audited] = await AuditEntry.filter(action="credit.apply")
    assert (audited.actor_id, audited.on_behalf_of_id, audited.subject) == (
        world.staff.user_id,
        world.alice_id,
        f"invoice:{invoice_id}",
    )
    assert audited.details["amount_minor"] == 3000 and audited.details["currency"] == "USD"

    rest = await credit_payments.pay_from_credit(
        actor=world.staff, invoice_id=invoice_id, idempotency_key="staff-credit-2"
    )
    assert rest == 2000  # without an amount: as much as the credit covers
    assert await ledger.amount_due(await Invoice.get(id=invoice_id)) == 3000
    assert await ledger.credit_balance(world.alice_id, "USD") == 0


async def test_staff_pay_a_whole_invoice_from_credit(world: World) -> None:
    await _give_credit(world, 9000)
    invoice_id = await invoice_for(world, 8000)
    assert await credit_payments.pay_from_credit(actor=world.staff, invoice_id=invoice_id) == 8000
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    assert await ledger.credit_balance(world.alice_id, "USD") == 1000
    after = await credit_payments.credit_offer(actor=world.staff, invoice_id=invoice_id)
    assert after.reason == "This invoice is already paid." and after.max_minor == 0


async def test_a_double_click_pays_once(world: World) -> None:
    await _give_credit(world, 5000)
    invoice_id = await invoice_for(world, 8000)

    async def click() -> int:
        return await credit_payments.pay_from_credit(
            actor=world.staff, invoice_id=invoice_id, amount_minor=2000, idempotency_key="one-opening"
        )

    answers = await asyncio.gather(click(), click())
    again = await click()  # a retry after the answer was lost

    assert answers == [2000, 2000] and again == 2000  # each answered with the one use of credit
    assert await CreditEntry.filter(amount_minor__lt=0).count() == 1
    assert await ledger.credit_balance(world.alice_id, "USD") == 3000
    assert await ledger.amount_due(await Invoice.get(id=invoice_id)) == 6000
    assert await AuditEntry.filter(action="credit.apply").count() == 1


async def test_more_than_the_credit_is_refused_with_the_exact_figure(world: World) -> None:
    await _give_credit(world, 5000)
    invoice_id = await invoice_for(world, 8000)
    before = await _state(invoice_id)
    with pytest.raises(InvalidInput) as caught:
        await credit_payments.pay_from_credit(
            actor=world.staff, invoice_id=invoice_id, amount_minor=5001, idempotency_key="too-much-1"
        )
    assert (caught.value.field, caught.value.message) == ("amount", "The client has only $50.00 of credit.")
    assert await _state(invoice_id) == before


async def test_more_than_is_due_is_refused_with_the_exact_figure(world: World) -> None:
    await _give_credit(world, 9000)
    invoice_id = await invoice_for(world, 8000)
    before = await _state(invoice_id)
    with pytest.raises(InvalidInput) as caught:
        await credit_payments.pay_from_credit(
            actor=world.staff, invoice_id=invoice_id, amount_minor=8001, idempotency_key="too-much-2"
        )
    assert (caught.value.field, caught.value.message) == (
        "amount",
        "Only $80.00 is still due on this invoice.",
    )
    assert await _state(invoice_id) == before


async def test_amounts_are_said_in_the_staff_members_language(world: World) -> None:
    await _give_credit(world, 5000)
    invoice_id = await invoice_for(world, 8000)
    french = replace(world.staff, locale="fr")
    with pytest.raises(InvalidInput) as caught:
        await credit_payments.pay_from_credit(actor=french, invoice_id=invoice_id, amount_minor=6000)
    assert "50,00" in caught.value.message  # "$50.00" as a French reader writes it


async def test_no_credit_is_said_before_anything_is_pressed(world: World) -> None:
    invoice_id = await invoice_for(world, 8000)
    offer = await credit_payments.credit_offer(actor=world.staff, invoice_id=invoice_id)
    assert (offer.usable, offer.reason) == (False, "There is no USD credit to use.")


async def test_a_client_cannot_use_another_clients_invoice_and_a_bad_key_is_refused(world: World) -> None:
    await _give_credit(world, 5000)
    invoice_id = await invoice_for(world, 8000, client_id=world.bob_id)
    with pytest.raises(NotFound):
        await credit_payments.credit_offer(actor=world.alice, invoice_id=invoice_id)
    with pytest.raises(NotFound):
        await credit_payments.pay_from_credit(actor=world.alice, invoice_id=invoice_id)
    own = await invoice_for(world, 8000)
    with pytest.raises(InvalidInput) as caught:
        await credit_payments.pay_from_credit(actor=world.staff, invoice_id=own, idempotency_key="<bad key>")
    assert caught.value.field == "idempotency_key"
    assert await CreditEntry.filter(amount_minor__lt=0).count() == 0

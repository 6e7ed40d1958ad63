"""Paying everything due at once (issue 15 item 8) and the other ways to pay from My Billing (item 3):
one payment for every open invoice and credit request of one currency, placed oldest due first, one
receipt listing each document, exactly once under double clicks and replayed webhooks; bank transfer
marks what awaits it; direct debit from My Billing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from portal import gateway_events
from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.clients import dashboard
from portal.core.clock import now_utc, today
from portal.db.models import (
    Allocation,
    CreditEntry,
    CreditRequest,
    Invoice,
    OutboxEmail,
    Payment,
)
from portal.domain.allocation import OpenItem, allocate_documents
from portal.domain.errors import Conflict, NotFound
from portal.domain.status import CreditRequestStatus, InvoiceStatus, PaymentStatus
from portal.payments import bank_transfer, charges, ledger, links, pay_all, settlement
from portal.payments.gateways.protocol import GatewayEvent
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox


async def _eur_invoice(world: World, amount: int, days: int) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Work", Decimal(1), amount, Decimal(0))],
        due_date=today() + timedelta(days=days),
        currency="EUR",
    )


async def _credit_request(world: World, amount: int, days: int, currency: str = "USD") -> int:
    credit = await CreditRequest.create(
        client_id=world.alice_id,
        description="Prepaid hours",
        amount_minor=amount,
        currency=currency,
        due_date=today() + timedelta(days=days),
    )
    return credit.id


def test_documents_are_paid_oldest_due_first_and_a_credit_request_only_whole() -> None:
    items = [
        OpenItem(id=1, due_date=today() + timedelta(days=5), amount_due_minor=300),
        OpenItem(id=2, due_date=today(), amount_due_minor=500),  # a credit request: whole or not at all
        OpenItem(id=3, due_date=today() + timedelta(days=9), amount_due_minor=400),
    ]
    plan = allocate_documents(600, items, whole=frozenset({2}))
    assert plan.allocations == [(2, 500), (1, 100)]
    plan = allocate_documents(400, items, whole=frozenset({2}))  # 2 cannot be covered: passed over
    assert plan.allocations == [(1, 300), (3, 100)]
    assert allocate_documents(2000, items, whole=frozenset({2})).remainder_minor == 800


async def test_one_payment_pays_every_invoice_and_credit_request_of_one_currency_oldest_first(
    world: World,
) -> None:
    card = await add_card(world)
    late = await invoice_for(world, 3000, days=20)
    early = await invoice_for(world, 1000, days=2)
    credit_id = await _credit_request(world, 500, days=10)
    euros = await _eur_invoice(world, 7000, days=1)
    view = await pay_all.overview(actor=world.alice, client_id=world.alice_id, currency="USD")
    assert (view.totals.total_minor, view.totals.count) == (4500, 3)
    assert [d.id for d in view.invoices.rows] == [early, late]

    outcome = await pay_all.pay_with_saved_method(
        actor=world.alice, currency="USD", expected_minor=4500, method_id=card, gateway=sandbox()
    )
    assert outcome.status == "succeeded", outcome
    payment = await Payment.get(id=outcome.payment_id)
    assert (payment.amount_minor, payment.purpose, payment.status) == (4500, "pay_all", "succeeded")
    placed = (
        await Allocation.filter(payment_id=payment.id)
        .order_by("id")
        .values_list("invoice_id", "amount_minor")
    )
    assert placed == [(early, 1000), (late, 3000)]
    assert {inv.status for inv in await Invoice.filter(id__in=[early, late])} == {InvoiceStatus.paid}
    assert (await CreditRequest.get(id=credit_id)).status == CreditRequestStatus.paid
    assert await ledger.credit_balance(world.alice_id, "USD") == 500  # what the credit request bought
    assert (await Invoice.get(id=euros)).status == InvoiceStatus.open  # another currency: untouched
    assert await Payment.filter(purpose="pay_all").count() == 1
    receipts = await OutboxEmail.filter(kind="receipt")
    assert len(receipts) == 1
    text = receipts[0].text_body
    early_number = (await Invoice.get(id=early)).number
    late_number = (await Invoice.get(id=late)).number
    assert early_number in text and late_number in text and "Prepaid hours" in text
    assert text.index(early_number) < text.index("Prepaid hours") < text.index(late_number)


async def test_a_double_confirm_pays_once(world: World) -> None:
    card = await add_card(world)
    await invoice_for(world, 1200, days=3)
    await invoice_for(world, 800, days=6)
    results = await asyncio.gather(
        *(
            pay_all.pay_with_saved_method(
                actor=world.alice, currency="USD", expected_minor=2000, method_id=card, gateway=sandbox()
            )
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    succeeded = [r for r in results if isinstance(r, charges.PayOutcome) and r.status == "succeeded"]
    assert len(succeeded) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r not in succeeded)
    assert await Payment.filter(purpose="pay_all").count() == 1
    assert await Allocation.filter(payment_id__not_isnull=True).count() == 2
    with pytest.raises(Conflict, match="Nothing is due"):  # a third click later: nothing left to pay
        await pay_all.pay_with_saved_method(
            actor=world.alice, currency="USD", expected_minor=2000, method_id=card, gateway=sandbox()
        )


async def test_a_replayed_webhook_settles_once(world: World) -> None:
    card = await add_card(world)
    first = await invoice_for(world, 2500, days=3)
    outcome = await pay_all.pay_with_saved_method(
        actor=world.alice, currency="USD", expected_minor=2500, method_id=card, gateway=sandbox()
    )
    payment = await Payment.get(id=outcome.payment_id)
    # our side back to "pending" as if only the gateway knew, then one event delivered three times at once
    await Allocation.all().delete()
    await OutboxEmail.filter(kind="receipt").delete()
    await Payment.filter(id=payment.id).update(status="pending")
    await Invoice.filter(id=first).update(status="open", paid_at=None)
    event = GatewayEvent(
        id="evt_all", type="payment_intent.succeeded", data={"id": payment.gateway_payment_id}
    )
    outcomes = await asyncio.gather(
        *(gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox()) for _ in range(3))
    )
    assert sorted(outcomes) == ["duplicate", "duplicate", "processed"]
    assert await Allocation.filter(payment_id=payment.id).count() == 1
    assert await OutboxEmail.filter(kind="receipt").count() == 1
    assert (await Invoice.get(id=first)).status == InvoiceStatus.paid


async def test_a_changed_amount_is_refused_and_money_arriving_meanwhile_becomes_credit(world: World) -> None:
    card = await add_card(world)
    first = await invoice_for(world, 1000, days=3)
    await invoice_for(world, 600, days=8)
    with pytest.raises(Conflict, match="changed"):  # the page showed another figure: nothing charged
        await pay_all.pay_with_saved_method(
            actor=world.alice, currency="USD", expected_minor=1000, method_id=card, gateway=sandbox()
        )
    assert await Payment.filter(purpose="pay_all").count() == 0
    # a hosted checkout for 1600, then staff record a payment of the first invoice before the card is used
    checkout = await pay_all.start_checkout(
        actor=world.alice,
        currency="USD",
        expected_minor=1600,
        success_url="http://127.0.0.1/billing",
        cancel_url="http://127.0.0.1/billing",
        gateway=sandbox(),
    )
    await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=1000,
        currency="USD",
        method="cash",
        received_on=today(),
        invoice_id=first,
    )
    assert await settlement.settle(payment_id=checkout.payment_id, gateway_payment_id="pi_test_all")
    payment = await Payment.get(id=checkout.payment_id)
    assert payment.amount_minor == 1600 and payment.needs_review
    assert await ledger.credit_balance(world.alice_id, "USD") == 1000  # the rest became credit
    assert await Invoice.filter(client_id=world.alice_id, status="open").count() == 0


async def test_credit_pays_the_oldest_invoices_first_as_far_as_it_goes(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=1500, currency="USD", note="Goodwill"
    )
    late = await invoice_for(world, 1000, days=9)
    early = await invoice_for(world, 1000, days=1)
    used = await pay_all.pay_from_credit(actor=world.alice, currency="USD", expected_minor=2000)
    assert used == 1500
    assert (await Invoice.get(id=early)).status == InvoiceStatus.paid
    assert await ledger.amount_due(await Invoice.get(id=late)) == 500
    assert await ledger.credit_balance(world.alice_id, "USD") == 0


async def test_bank_transfer_marks_what_awaits_it_and_it_stays_payable(world: World) -> None:
    card = await add_card(world)
    invoice_id = await invoice_for(world, 900, days=4)
    details = await bank_transfer.mark_awaiting(actor=world.alice, purpose="invoice", target_id=invoice_id)
    invoice = await Invoice.get(id=invoice_id)
    assert details.reference == invoice.number and invoice.awaiting_transfer_since is not None
    rows = await dashboard.payables(actor=world.alice, client_id=world.alice_id)
    assert [r.status for r in rows] == ["awaiting_transfer"]
    with pytest.raises(NotFound):  # another client's invoice reads as missing
        await bank_transfer.mark_awaiting(actor=world.bob, purpose="invoice", target_id=invoice_id)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, method_id=card, gateway=sandbox()
    )
    assert outcome.status == "succeeded"
    # from a payment link, and everything at once
    credit_id = await _credit_request(world, 400, days=2)
    token = await links.issue(
        purpose="credit_request", target_id=credit_id, expires_at=now_utc() + timedelta(days=7)
    )
    await links.promise_transfer(token=token)
    assert (await CreditRequest.get(id=credit_id)).awaiting_transfer_since is not None
    await _eur_invoice(world, 5000, days=3)
    all_details = await bank_transfer.mark_all_awaiting(actor=world.alice, currency="EUR")
    assert all_details.reference == f"CL-{world.alice_id}"
    assert await Invoice.filter(currency="EUR", awaiting_transfer_since__isnull=True).count() == 0


async def test_direct_debit_from_my_billing_starts_a_debit_checkout(world: World) -> None:
    invoice_id = await invoice_for(world, 2100, days=4)
    outcome = await charges.start_checkout(
        actor=world.alice,
        purpose="invoice",
        target_id=invoice_id,
        success_url="http://127.0.0.1/billing",
        cancel_url="http://127.0.0.1/billing",
        method_kind="direct_debit",
        gateway=sandbox(),
    )
    assert outcome.status == "redirect" and outcome.redirect_url
    payment = await Payment.get(id=outcome.payment_id)
    assert (payment.method, payment.status) == ("direct_debit", PaymentStatus.pending)
    everything = await pay_all.start_checkout(
        actor=world.alice,
        currency="USD",
        expected_minor=2100,
        success_url="http://127.0.0.1/billing",
        cancel_url="http://127.0.0.1/billing",
        method_kind="direct_debit",
        gateway=sandbox(),
    )
    again = await pay_all.start_checkout(
        actor=world.alice,
        currency="USD",
        expected_minor=2100,
        success_url="http://127.0.0.1/billing",
        cancel_url="http://127.0.0.1/billing",
        method_kind="direct_debit",
        gateway=sandbox(),
    )
    assert again.redirect_url == everything.redirect_url  # a second click: the same page, never two
    assert await CreditEntry.all().count() == 0


async def test_a_click_after_a_lost_answer_concludes_the_earlier_attempt_and_charges_nothing_more(
    world: World,
) -> None:
    card = await add_card(world)
    first = await invoice_for(world, 1800, days=3)
    outcome = await pay_all.pay_with_saved_method(
        actor=world.alice, currency="USD", expected_minor=1800, method_id=card, gateway=sandbox()
    )
    # as if the process died after the gateway charged: our side still pending, the invoice open
    await Allocation.all().delete()
    await OutboxEmail.filter(kind="receipt").delete()
    await Payment.filter(id=outcome.payment_id).update(status="pending")
    await Invoice.filter(id=first).update(status="open", paid_at=None)
    again = await pay_all.pay_with_saved_method(
        actor=world.alice, currency="USD", expected_minor=1800, method_id=card, gateway=sandbox()
    )
    assert again.status == "succeeded" and "nothing more was charged" in again.message
    assert await Payment.filter(purpose="pay_all").count() == 1
    assert (await Invoice.get(id=first)).status == InvoiceStatus.paid
    assert await OutboxEmail.filter(kind="receipt").count() == 1

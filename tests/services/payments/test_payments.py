"""Online payments on the sandbox gateway: exactly-once charging, declines, credit, refunds, webhooks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portal import gateway_events
from portal.billing import billing_requests, invoices
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    BillingRequest,
    Client,
    CreditEntry,
    Invoice,
    OutboxEmail,
    Payment,
    PaymentMethod,
    SandboxObject,
    Subscription,
    WebhookEvent,
)
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.payments import charges, credit_payments, ledger, methods, reconcile, refunds
from portal.payments.gateways.protocol import GatewayEvent, NewCard
from tests.services.conftest import World
from tests.services.payment_fixtures import DECLINES_ON_CHARGE, add_card, invoice_for, sandbox


async def _due(invoice_id: int, world: World) -> int:
    return (await invoices.get_invoice_summary(actor=world.staff, invoice_id=invoice_id)).amount_due_minor


async def test_paying_with_the_default_card_settles_the_invoice_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 12345)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    assert outcome.status == "succeeded"
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    payment = await Payment.get(id=outcome.payment_id)
    assert (payment.status, payment.amount_minor, payment.idempotency_key) == (
        "succeeded",
        12345,
        f"invoice:{invoice_id}:attempt:1",
    )
    assert [a.amount_minor for a in await Allocation.filter(payment_id=payment.id)] == [12345]
    # the sandbox's own payment_intent.succeeded event went through the webhook handlers: no second effect
    assert await WebhookEvent.filter(provider="sandbox", type="payment_intent.succeeded").count() == 1
    assert await OutboxEmail.filter(kind="receipt").count() == 1
    with pytest.raises(Conflict, match="already paid"):
        await charges.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
        )
    assert await SandboxObject.filter(kind="payment_intent").count() == 1


async def test_a_declined_card_leaves_the_invoice_unpaid_with_a_plain_reason(world: World) -> None:
    await add_card(world, DECLINES_ON_CHARGE)
    invoice_id = await invoice_for(world, 5000)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    assert outcome.status == "failed"
    assert outcome.message == "Your card was declined. Please use another card or contact your bank."
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    assert await _due(invoice_id, world) == 5000
    assert await Allocation.all().count() == 0
    assert (await Payment.get(id=outcome.payment_id)).failure_message == outcome.message


async def test_two_concurrent_pay_now_clicks_charge_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 777)

    async def click() -> str:
        try:
            return (
                await charges.pay_with_saved_method(
                    actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
                )
            ).status
        except Conflict as exc:
            return exc.message

    results = await asyncio.gather(click(), click(), click())
    assert results.count("succeeded") == 1, results
    assert await Payment.filter(status=PaymentStatus.succeeded).count() == 1
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    assert sum(a.amount_minor for a in await Allocation.all()) == 777


async def test_clients_cannot_pay_with_someone_elses_card_or_invoice(world: World) -> None:
    bob_card = await add_card(world, client_id=world.bob_id)
    alice_invoice = await invoice_for(world, 100)
    bob_invoice = await invoice_for(world, 100, client_id=world.bob_id)
    with pytest.raises(NotFound):
        await charges.pay_with_saved_method(
            actor=world.alice,
            purpose="invoice",
            target_id=alice_invoice,
            method_id=bob_card,
            gateway=sandbox(),
        )
    with pytest.raises(NotFound):
        await charges.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=bob_invoice, gateway=sandbox()
        )
    assert await Payment.all().count() == 0


async def test_the_same_event_three_times_at_once_is_processed_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 4200)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    payment = await Payment.get(id=outcome.payment_id)
    # reset our side to "pending" as if only the gateway knew, then deliver one event three times at once
    await Allocation.all().delete()
    await OutboxEmail.filter(kind="receipt").delete()
    await Payment.filter(id=payment.id).update(status="pending")
    await Invoice.filter(id=invoice_id).update(status="open")
    event = GatewayEvent(
        id="evt_triple", type="payment_intent.succeeded", data={"id": payment.gateway_payment_id}
    )
    outcomes = await asyncio.gather(
        *(gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox()) for _ in range(3))
    )
    assert sorted(outcomes) == ["duplicate", "duplicate", "processed"]
    assert await Allocation.all().count() == 1
    assert await OutboxEmail.filter(kind="receipt").count() == 1
    assert (await WebhookEvent.get(event_id="evt_triple")).processed_at is not None


async def test_a_late_failure_event_does_not_undo_a_success(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 900)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    ref = (await Payment.get(id=outcome.payment_id)).gateway_payment_id
    stale = GatewayEvent(id="evt_stale_fail", type="payment_intent.payment_failed", data={"id": ref})
    assert await gateway_events.ingest(provider="sandbox", event=stale, gateway=sandbox()) == "processed"
    assert (await Payment.get(id=outcome.payment_id)).status == PaymentStatus.succeeded
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid


async def test_a_failing_handler_is_retried_and_then_succeeds_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 300)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    payment = await Payment.get(id=outcome.payment_id)
    await Allocation.all().delete()
    await Payment.filter(id=payment.id).update(status="pending")
    await Invoice.filter(id=invoice_id).update(status="open")
    event = GatewayEvent(
        id="evt_flaky", type="payment_intent.succeeded", data={"id": payment.gateway_payment_id}
    )

    class Broken:
        name = key = "sandbox"

        async def retrieve_payment(self, *, payment_ref: str):
            raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await gateway_events.ingest(provider="sandbox", event=event, gateway=Broken())  # type: ignore[arg-type]
    row = await WebhookEvent.get(event_id="evt_flaky")
    assert row.processed_at is None and "database went away" in row.error
    assert await Allocation.all().count() == 0
    assert await gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox()) == "processed"
    assert await gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox()) == "duplicate"
    assert await Allocation.all().count() == 1


async def test_pay_from_credit_partly_and_the_rest_stays_due(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=3000, currency="USD", note="Prepaid"
    )
    invoice_id = await invoice_for(world, 10000)
    assert (
        await credit_payments.pay_from_credit(actor=world.alice, invoice_id=invoice_id, amount_minor=1000)
        == 1000
    )
    assert await _due(invoice_id, world) == 9000
    assert await credit_payments.pay_from_credit(actor=world.alice, invoice_id=invoice_id) == 2000
    assert await _due(invoice_id, world) == 7000
    assert await ledger.credit_balances(actor=world.alice, client_id=world.alice_id) == {}
    with pytest.raises(InvalidInput, match="no credit"):
        await credit_payments.pay_from_credit(actor=world.alice, invoice_id=invoice_id, amount_minor=1)


async def test_credit_larger_than_the_invoice_leaves_the_rest_as_credit(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=5000, currency="USD", note="Prepaid"
    )
    invoice_id = await invoice_for(world, 1200)
    assert await credit_payments.pay_from_credit(actor=world.alice, invoice_id=invoice_id) == 1200
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    assert await ledger.credit_balances(actor=world.alice, client_id=world.alice_id) == {"USD": 3800}


async def test_new_invoices_use_credit_automatically_when_the_organization_says_so(world: World) -> None:
    org = await get_organization()
    org.apply_credit_automatically = True
    await org.save()
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=400, currency="USD", note="Prepaid"
    )
    invoice_id = await invoice_for(world, 1000)
    assert await _due(invoice_id, world) == 600
    assert await ledger.credit_balances(actor=world.alice, client_id=world.alice_id) == {}


async def test_a_refund_reopens_the_invoice_and_takes_back_credit_first(world: World) -> None:
    invoice_id = await invoice_for(world, 1000)
    paid = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=1500,
        currency="USD",
        method="cash",
        received_on=today(),
        overpayment_to_credit=True,
    )
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    await refunds.refund_payment(
        actor=world.staff, payment_id=paid.payment_id, amount_minor=700, reason="Oops"
    )
    # 500 of credit is taken back first, then 200 from the invoice, which is open again
    assert await ledger.credit_balances(actor=world.staff, client_id=world.alice_id) == {}
    assert await _due(invoice_id, world) == 200
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    payment = await Payment.get(id=paid.payment_id)
    assert (payment.status, payment.refunded_minor) == (PaymentStatus.partially_refunded, 700)
    with pytest.raises(InvalidInput, match=r"At most \$8.00"):
        await refunds.refund_payment(actor=world.staff, payment_id=paid.payment_id, amount_minor=801)
    await refunds.refund_payment(actor=world.staff, payment_id=paid.payment_id, amount_minor=800)
    assert await _due(invoice_id, world) == 1000
    assert (await Payment.get(id=paid.payment_id)).status == PaymentStatus.refunded
    with pytest.raises(Forbidden):
        await refunds.refund_payment(actor=world.alice, payment_id=paid.payment_id, amount_minor=1)


async def test_an_online_refund_goes_through_the_gateway_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 2500)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    await refunds.refund_payment(
        actor=world.staff, payment_id=outcome.payment_id, amount_minor=2500, gateway=sandbox()
    )
    assert await SandboxObject.filter(kind="refund").count() == 1
    # the gateway's charge.refunded event found the refund already recorded
    assert (await Payment.get(id=outcome.payment_id)).refunded_minor == 2500
    assert await _due(invoice_id, world) == 2500


async def test_auto_charge_needs_consent_and_charges_new_invoices(world: World) -> None:
    with pytest.raises(Conflict, match="no default payment method"):
        await charges.set_auto_charge(actor=world.staff, client_id=world.alice_id, enabled=True)
    await add_card(world)
    await charges.set_auto_charge(actor=world.staff, client_id=world.alice_id, enabled=True)
    invoice_id = await invoice_for(world, 990)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    assert await OutboxEmail.filter(kind="receipt").count() == 1


async def test_a_failed_auto_charge_emails_the_client_and_keeps_the_invoice_open(world: World) -> None:
    await add_card(world, DECLINES_ON_CHARGE)
    await charges.set_auto_charge(actor=world.staff, client_id=world.alice_id, enabled=True)
    invoice_id = await invoice_for(world, 990)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    failure = await OutboxEmail.get(kind="auto_charge_failed")
    assert "declined" in failure.text_body


async def _billing_request(world: World, **changes: object) -> billing_requests.SentRequest:
    fields = dict(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_minor=2000,
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="one_time",
        description="Rush fee",
    )
    return await billing_requests.create_billing_request(**{**fields, **changes})


async def _pay_checkout(outcome: charges.PayOutcome, number: str = "4242424242424242") -> None:
    session_id = outcome.redirect_url.rsplit("/", 1)[-1]
    await sandbox().complete_checkout(session_id, card=NewCard(number, 12, today().year + 2, "123"))


async def test_a_billing_request_is_paid_through_checkout(world: World) -> None:
    sent = await _billing_request(world)
    assert "/pay/" in sent.link
    outcome = await charges.start_checkout(
        actor=None,
        purpose="billing_request",
        target_id=sent.id,
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        gateway=sandbox(),
    )
    again = await charges.start_checkout(
        actor=None,
        purpose="billing_request",
        target_id=sent.id,
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        gateway=sandbox(),
    )
    assert again.redirect_url == outcome.redirect_url  # a second click reuses the open checkout
    await _pay_checkout(outcome)
    request = await BillingRequest.get(id=sent.id)
    assert request.status == "paid" and request.paid_at is not None
    assert (await Invoice.get(id=sent.invoice_id)).status == InvoiceStatus.paid


async def test_an_expired_billing_request_cannot_be_paid(world: World) -> None:
    sent = await _billing_request(world)
    await BillingRequest.filter(id=sent.id).update(expires_at=now_utc())
    with pytest.raises(Conflict, match="expired"):
        await charges.start_checkout(
            actor=None,
            purpose="billing_request",
            target_id=sent.id,
            success_url="https://a.test",
            cancel_url="https://a.test",
            gateway=sandbox(),
        )


async def test_money_arriving_after_expiry_is_recorded_and_flagged(world: World) -> None:
    sent = await _billing_request(world)
    outcome = await charges.start_checkout(
        actor=None,
        purpose="billing_request",
        target_id=sent.id,
        success_url="https://a.test",
        cancel_url="https://a.test",
        gateway=sandbox(),
    )
    await BillingRequest.filter(id=sent.id).update(expires_at=now_utc())
    assert await billing_requests.expire_due() == 1
    await _pay_checkout(outcome)  # the payer had the checkout page open
    payment = await Payment.get(id=outcome.payment_id)
    assert payment.status == PaymentStatus.succeeded and payment.needs_review
    assert "expired" in payment.review_note
    assert await Allocation.all().count() == 0
    assert (await BillingRequest.get(id=sent.id)).status == "expired"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not an email"}, "email"),
        ({"currency": "ZZZ"}, "currency"),
        ({"amount_minor": 0}, "amount"),
        ({"success_url": "agency.test/ok"}, "success_url"),
        ({"cancel_url": "javascript:alert(1)"}, "cancel_url"),
        ({"billing_type": "sometimes"}, "billing_type"),
        ({"billing_type": "recurring", "interval": None}, "interval"),
    ],
)
async def test_billing_request_fields_are_all_required_and_checked(
    world: World, changes: dict, field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        await _billing_request(world, **changes)
    assert error.value.field == field
    assert await BillingRequest.all().count() == 0


async def test_a_recurring_request_starts_a_subscription_that_renews_into_paid_invoices(world: World) -> None:
    sent = await _billing_request(world, billing_type="recurring", interval="month", description="Retainer")
    outcome = await charges.start_checkout(
        actor=None,
        purpose="billing_request",
        target_id=sent.id,
        success_url="https://a.test",
        cancel_url="https://a.test",
        gateway=sandbox(),
    )
    await _pay_checkout(outcome)
    sub = await Subscription.get(billing_request_id=sent.id)
    assert (sub.amount_minor, sub.interval, sub.status) == (2000, "month", "active")
    assert sub.payment_method_id is not None
    # a month later the gateway renews: an invoice here, paid by that charge
    assert await sandbox().renew_due(now=sub.current_period_end) == 1
    renewal = await Invoice.get(subscription_id=sub.id)
    assert (renewal.total_minor, renewal.status) == (2000, InvoiceStatus.paid)


async def test_a_failed_renewal_marks_the_subscription_past_due_and_tells_the_client(world: World) -> None:
    sent = await _billing_request(world, billing_type="recurring", interval="week", description="Care")
    outcome = await charges.start_checkout(
        actor=None,
        purpose="billing_request",
        target_id=sent.id,
        success_url="https://a.test",
        cancel_url="https://a.test",
        gateway=sandbox(),
    )
    await _pay_checkout(outcome, DECLINES_ON_CHARGE)  # saves, then declines when charged again
    sub = await Subscription.get_or_none(billing_request_id=sent.id)
    if sub is None:  # the first charge itself declined with this card: nothing to renew
        assert (await BillingRequest.get(id=sent.id)).status == "pending"
        return
    await sandbox().renew_due(now=sub.current_period_end)
    assert (await Subscription.get(id=sub.id)).status == "past_due"
    assert await OutboxEmail.filter(kind="subscription_payment_failed").count() == 1


async def test_reconciliation_records_a_charge_whose_answer_was_lost_exactly_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 6100)
    real = sandbox()

    class TimesOutAfterCharging:
        """The bank took the money, then the connection dropped before we heard back."""

        name = key = "sandbox"

        async def charge(self, **kwargs):
            await real.charge(**kwargs)
            from portal.payments.gateways.protocol import GatewayError

            raise GatewayError("timed out", retryable=True)

    # the charge's own event would settle it: silence it to model a lost webhook too
    real._emit = None
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=TimesOutAfterCharging()
    )  # type: ignore[arg-type]
    assert outcome.status == "processing"
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    first = await reconcile.reconcile(gateway=real)
    second = await reconcile.reconcile(gateway=real)
    assert first.settled == [outcome.payment_id] and second.settled == []
    assert await Payment.filter(status=PaymentStatus.succeeded).count() == 1
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid


async def test_reconciliation_records_an_unknown_gateway_payment_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 800)
    quiet = sandbox()
    quiet._emit = None
    client = await Client.get(id=world.alice_id)
    method = await PaymentMethod.get(client_id=world.alice_id)
    await quiet.charge(
        customer_ref=await methods.ensure_customer(client=client, gateway=quiet),
        method_ref=method.gateway_ref,
        amount_minor=800,
        currency="USD",
        idempotency_key="made-in-the-dashboard",
        metadata={"purpose": "invoice", "target_id": str(invoice_id)},
    )
    reports = [await reconcile.reconcile(gateway=quiet) for _ in range(2)]
    assert len(reports[0].recorded) == 1 and reports[1].recorded == []
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    assert await CreditEntry.all().count() == 0


async def test_a_paid_credit_request_becomes_credit(world: World) -> None:
    from portal.payments import credit_requests

    await add_card(world)
    credit_id = await credit_requests.create_credit_request(
        actor=world.staff, client_id=world.alice_id, amount_minor=5000, description="Prepaid hours"
    )
    assert await OutboxEmail.filter(kind="credit_request").count() == 1
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="credit_request", target_id=credit_id, gateway=sandbox()
    )
    assert outcome.status == "succeeded"
    assert await ledger.credit_balances(actor=world.alice, client_id=world.alice_id) == {"USD": 5000}
    with pytest.raises(Conflict, match="already paid"):
        await charges.pay_with_saved_method(
            actor=world.alice, purpose="credit_request", target_id=credit_id, gateway=sandbox()
        )
    with pytest.raises(Conflict, match="unpaid"):
        await credit_requests.delete_credit_request(actor=world.staff, credit_request_id=credit_id)


async def test_a_deleted_credit_request_cannot_be_paid_and_its_link_stops_working(world: World) -> None:
    from portal.db.models import PaymentLink
    from portal.payments import credit_requests, links

    credit_id = await credit_requests.create_credit_request(
        actor=world.staff, client_id=world.alice_id, amount_minor=100
    )
    await credit_requests.delete_credit_request(actor=world.staff, credit_request_id=credit_id)
    with pytest.raises(NotFound):
        await charges.start_checkout(
            actor=None,
            purpose="credit_request",
            target_id=credit_id,
            success_url="https://a.test",
            cancel_url="https://a.test",
            gateway=sandbox(),
        )
    assert (await PaymentLink.get(credit_request_id=credit_id)).revoked_at is not None
    email = await OutboxEmail.get(kind="credit_request")
    token = email.text_body.split("/pay/")[1].split()[0]
    with pytest.raises(NotFound):
        await links.view(token=token)


async def test_an_abandoned_checkout_is_closed_by_reconciliation_after_a_day(world: World) -> None:
    from datetime import timedelta

    invoice_id = await invoice_for(world, 500)
    outcome = await charges.start_checkout(
        actor=world.alice,
        purpose="invoice",
        target_id=invoice_id,
        success_url="https://a.test",
        cancel_url="https://a.test",
        gateway=sandbox(),
    )
    assert (await reconcile.reconcile(gateway=sandbox())).failed == []  # still fresh: the payer may be typing
    await Payment.filter(id=outcome.payment_id).update(created_at=now_utc() - timedelta(hours=26))
    report = await reconcile.reconcile(gateway=sandbox(), since=now_utc() - timedelta(days=2))
    assert report.failed == [outcome.payment_id]
    assert (await Payment.get(id=outcome.payment_id)).status == PaymentStatus.failed
    again = await charges.start_checkout(
        actor=world.alice,
        purpose="invoice",
        target_id=invoice_id,
        success_url="https://a.test",
        cancel_url="https://a.test",
        gateway=sandbox(),
    )
    assert again.payment_id != outcome.payment_id


async def test_another_clients_ids_look_exactly_like_ids_that_do_not_exist(world: World) -> None:
    """Every id-taking service answers a foreign id with the same words as a missing one."""
    from portal.billing import quotes

    bob_invoice = await invoice_for(world, 100, client_id=world.bob_id)
    missing = bob_invoice + 1000

    async def message(call) -> str:
        with pytest.raises(NotFound) as caught:
            await call
        return caught.value.message

    for make in (
        lambda i: invoices.get_invoice_summary(actor=world.alice, invoice_id=i),
        lambda i: charges.pay_with_saved_method(
            actor=world.alice, purpose="invoice", target_id=i, gateway=sandbox()
        ),
        lambda i: charges.start_checkout(
            actor=world.alice,
            purpose="invoice",
            target_id=i,
            success_url="https://a.test",
            cancel_url="https://a.test",
            gateway=sandbox(),
        ),
        lambda i: credit_payments.pay_from_credit(actor=world.alice, invoice_id=i),
        lambda i: quotes.get_quote(actor=world.alice, quote_id=i),
    ):
        assert await message(make(bob_invoice)) == await message(make(missing))


async def test_an_accepted_webhook_whose_processing_fails_is_finished_once_by_the_job(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 300)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    payment = await Payment.get(id=outcome.payment_id)
    await Allocation.all().delete()
    await Payment.filter(id=payment.id).update(status="pending")
    await Invoice.filter(id=invoice_id).update(status="open")
    event = GatewayEvent(
        id="evt_later", type="payment_intent.succeeded", data={"id": payment.gateway_payment_id}
    )

    class Broken:
        name = key = "sandbox"

        async def retrieve_payment(self, *, payment_ref: str):
            raise RuntimeError("gateway unreachable")

    # the route's two steps: stored at once (the answer), processed after the answer, which fails
    assert await gateway_events.accept(provider="stripe", event=event) is True
    assert await gateway_events.accept(provider="stripe", event=event) is False  # a redelivery
    with pytest.raises(RuntimeError):
        await gateway_events.process_stored(provider="stripe", event=event, gateway=Broken())  # type: ignore[arg-type]
    row = await WebhookEvent.get(event_id="evt_later")
    assert row.processed_at is None and "gateway unreachable" in row.error and row.attempts == 1
    assert await Allocation.all().count() == 0

    # the job leaves young events to the request that accepted them, then finishes this one, once
    assert await gateway_events.process_pending(gateway=sandbox()) == 0
    await WebhookEvent.filter(id=row.id).update(received_at=now_utc() - timedelta(minutes=1))
    assert await gateway_events.process_pending(gateway=sandbox()) == 1
    assert await gateway_events.process_pending(gateway=sandbox()) == 0
    assert await Allocation.all().count() == 1
    assert (await Invoice.get(id=invoice_id)).status == "paid"

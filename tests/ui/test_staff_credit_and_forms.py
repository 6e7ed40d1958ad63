"""Issue 15 items 2 and 10 as staff use them: "Pay from credit" on the console's invoice page (credit
available and credit left shown before confirming, over-credit refused with the figure, a double click pays
once), and forms that name every wrong field at once (billing request, plan, subscribe)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui
from nicegui.events import GenericEventArguments, handle_event
from nicegui.testing import User

from portal.billing import billing_requests
from portal.db.models import (
    BillingRequest,
    Client,
    CreditEntry,
    Invoice,
    Payment,
    PaymentMethod,
    Plan,
    Subscription,
)
from portal.db.models import User as Account
from portal.domain.status import InvoiceStatus
from portal.payments import ledger
from tests.services.conftest import staff_actor
from tests.ui.conftest import sign_in


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _as_staff(user: User, path: str) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(path)


async def _ada() -> Client:
    return await Client.get(email="client@demo.test")


def _double_click(user: User, marker: str) -> None:
    """Two clicks that both arrive before the first is answered."""
    button = _element(user, marker)
    with user:
        for listener in button._event_listeners.values():
            if listener.type == "click":
                for _ in range(2):
                    handle_event(
                        listener.handler, GenericEventArguments(sender=button, client=user.client, args={})
                    )


async def test_staff_pay_part_of_an_invoice_from_credit_seeing_the_credit_left_first(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    seo = await Invoice.filter(client_id=ada.id, status=InvoiceStatus.open).order_by("due_date").first()
    assert seo is not None
    assert await ledger.credit_balance(ada.id, "USD") == 2500  # the demo's goodwill credit
    due = await ledger.amount_due(seo)
    await _as_staff(user, f"/admin/invoices/{seo.id}")
    user.find(marker="pay-from-credit").click()
    await user.should_see("Record a payment from Ada Lovelace", retries=50)
    assert _element(user, "payment-mode").value == "credit"
    await user.should_see("Credit available: $25.00", retries=50)
    assert _element(user, "credit-amount").value == "25.00"  # as much as the credit covers
    remaining = f"${(due - 2500) // 100:,}.00"
    await user.should_see(f"Credit left after this payment: $0.00. Still due on {seo.number}: {remaining}.")

    user.find(marker="credit-amount").clear().type("10")
    left = f"${(due - 1000) // 100:,}.00"
    await user.should_see(f"Credit left after this payment: $15.00. Still due on {seo.number}: {left}.")
    assert await CreditEntry.filter(amount_minor__lt=0).count() == 0  # nothing moved while typing

    user.find(marker="credit-amount").clear().type("30")
    user.find(marker="payment-submit").click()
    amount = _element(user, "credit-amount")
    await _wait_for(lambda: amount.error is not None, "the over-credit message")
    assert amount.error == "The client has only $25.00 of credit."
    assert await ledger.credit_balance(ada.id, "USD") == 2500

    user.find(marker="credit-amount").clear().type("10")
    _double_click(user, "payment-submit")
    await user.should_see(f"$10.00 of credit applied to {seo.number}. Credit left: $15.00.", retries=50)
    assert await CreditEntry.filter(amount_minor__lt=0).count() == 1  # the double click paid once
    assert await ledger.credit_balance(ada.id, "USD") == 1500
    assert await ledger.amount_due(await Invoice.get(id=seo.id)) == due - 1000
    await user.should_not_see(marker="payment-submit")


async def test_the_billing_request_form_names_every_wrong_field_at_once(user: User) -> None:
    await user.open("/login")
    before = await BillingRequest.all().count()
    await _as_staff(user, "/admin/requests/new")
    await user.should_see("New billing request")
    user.find(marker="request-email").type("nobody")
    user.find(marker="request-currency").type("XX")
    user.find(marker="request-amount").type("ten")
    user.find(marker="request-success-url").type("ftp://agency.test/ok")
    user.find(marker="request-cancel-url").type("agency")
    user.find(marker="request-send").click()
    client = _element(user, "request-client")
    await _wait_for(lambda: client.error is not None, "the field messages")
    assert client.error == "Choose the client this request is for."
    assert _element(user, "request-email").error == "Enter a valid email address, like name@example.com."
    assert _element(user, "request-currency").error == (
        "XX is not a currency code we know. Use three letters, like USD or EUR."
    )
    assert _element(user, "request-amount").error == "'ten' is not a valid amount."
    assert (
        _element(user, "request-success-url").error == "The success URL must start with https:// or http://"
    )
    assert _element(user, "request-cancel-url").error == (
        "Enter the full cancel URL, starting with https:// or http://"
    )
    await user.should_see("Please correct the fields marked in red. Nothing was sent.")
    assert await BillingRequest.all().count() == before


async def test_a_plan_billed_every_minus_two_months_is_refused_not_reset(user: User) -> None:
    await user.open("/login")
    await _as_staff(user, "/admin/plans")
    await user.should_see(marker="plans", retries=50)
    user.find(marker="plan-new").click()
    await user.should_see(marker="plan-dialog", retries=20)
    _element(user, "plan-interval-count").set_value(-2)
    user.find(marker="plan-save").click()
    count = _element(user, "plan-interval-count")
    await _wait_for(lambda: count.error is not None, "the interval message")
    assert count.error == "Enter a whole number of months from 1 to 12."
    assert _element(user, "plan-name").error == "Enter the plan's name."  # every field at once
    assert _element(user, "plan-price").error == "Enter an amount."
    assert count.value == -2  # what was typed stays, never silently 1
    _element(user, "plan-interval-count").set_value(0)
    user.find(marker="plan-name").type("Retainer")
    user.find(marker="plan-price").type("99")
    user.find(marker="plan-save").click()
    await _wait_for(lambda: _element(user, "plan-name").error is None and count.error is not None, "again")
    assert count.error == "Enter a whole number of months from 1 to 12."
    assert not await Plan.exists(name="Retainer")


async def test_subscribing_to_a_plan_in_another_currency_needs_the_tick(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    hosting = await Plan.get(name="Hosting")
    assert hosting.currency == "EUR" and ada.currency == "USD"
    before = await Subscription.filter(client_id=ada.id).count()
    await _as_staff(user, "/admin/subscriptions")
    await user.should_see(marker="subscriptions", retries=50)
    user.find(marker="subs-new").click()
    await user.should_see(marker="pick-client-dialog", retries=20)
    user.find(marker="pick-client").click()
    user.find("Ada Lovelace · client@demo.test").click()
    user.find(marker="pick-client-continue").click()
    await user.should_see(marker="subscribe-dialog", retries=50)
    user.find(marker="subscribe-plan").click()
    user.find("Hosting · €19.00 per month").click()
    tick = _element(user, "subscribe-confirm-currency")
    await _wait_for(lambda: tick.visible, "the currency question")
    user.find(marker="subscribe-confirm").click()
    await user.should_see(
        "This plan is billed in EUR, but Ada Lovelace pays in USD. "
        "Confirm that Ada Lovelace is charged in EUR.",
        retries=50,
    )
    assert await Subscription.filter(client_id=ada.id).count() == before


async def _recurring_request_for_ada(amount: str) -> int:
    """A recurring billing request sent to Ada by the demo staff member; its invoice id."""
    ada = await _ada()
    staff = await Account.get(email="staff@demo.test")
    sent = await billing_requests.create_billing_request(
        actor=staff_actor(staff.id),
        client_id=ada.id,
        email=ada.email,
        currency="USD",
        amount_text=amount,
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="recurring",
        interval="month",
        description="Retainer",
    )
    return sent.invoice_id


async def test_a_recurring_request_paid_from_credit_starts_its_subscription_on_the_default_card(
    user: User,
) -> None:
    await user.open("/login")
    invoice_id = await _recurring_request_for_ada("20.00")  # Ada has $25.00 of credit and a default Visa
    await _as_staff(user, f"/admin/invoices/{invoice_id}")
    user.find(marker="pay-from-credit").click()
    await user.should_see(
        "A recurring request: credit pays the first period, then the subscription renews on Visa •••• 4242.",
        retries=50,
    )
    assert _element(user, "credit-amount").value == "20.00"
    user.find(marker="payment-submit").click()
    await user.should_see("The subscription started; it renews on Visa •••• 4242.", retries=50)
    invoice = await Invoice.get(id=invoice_id)
    [sub] = await Subscription.filter(billing_request_id=invoice.billing_request_id)
    assert sub.status == "active" and invoice.status == InvoiceStatus.paid


async def test_without_a_default_card_credit_is_not_offered_for_a_recurring_request(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    await PaymentMethod.filter(client_id=ada.id).update(is_default=False)
    invoice_id = await _recurring_request_for_ada("20.00")
    await _as_staff(user, f"/admin/invoices/{invoice_id}")
    user.find(marker="pay-from-credit").click()
    await user.should_see(
        "Recurring requests need a saved card to renew on: add a card and make it the default, "
        "or pay this request with a card.",
        retries=50,
    )
    assert not _element(user, "payment-submit").enabled  # not offered, and the reason is said
    assert not await Subscription.filter(billing_request_id__isnull=False, client_id=ada.id).exists()
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open


async def test_cash_for_a_recurring_request_says_it_starts_the_subscription_then_starts_it(
    user: User,
) -> None:
    await user.open("/login")
    invoice_id = await _recurring_request_for_ada("20.00")
    number = (await Invoice.get(id=invoice_id)).number
    await _as_staff(user, f"/admin/invoices/{invoice_id}")
    user.find(marker="record-payment").click()
    await user.should_see(
        f"{number} is a recurring request, paid whole: $20.00 pays its first period, then the "
        "subscription renews on Visa •••• 4242.",
        retries=50,
    )
    _element(user, "payment-method").set_value("cash")
    user.find(marker="payment-submit").click()
    await user.should_see(
        "$20.00 recorded. The subscription started; it renews on Visa •••• 4242.", retries=50
    )
    invoice = await Invoice.get(id=invoice_id)
    [sub] = await Subscription.filter(billing_request_id=invoice.billing_request_id)
    assert sub.status == "active" and invoice.status == InvoiceStatus.paid


async def test_without_a_default_card_cash_for_a_recurring_request_is_refused_with_the_reason(
    user: User,
) -> None:
    await user.open("/login")
    ada = await _ada()
    await PaymentMethod.filter(client_id=ada.id).update(is_default=False)
    invoice_id = await _recurring_request_for_ada("20.00")
    number = (await Invoice.get(id=invoice_id)).number
    reason = (
        f"{number} is a recurring request: it renews on the client's default card, and the client has "
        "none. Charge a card for it instead, or ask the client to add a card first."
    )
    payments_before = await Payment.filter(client_id=ada.id).count()
    await _as_staff(user, f"/admin/invoices/{invoice_id}")
    user.find(marker="record-payment").click()
    await user.should_see(reason, retries=50)  # said before anything is pressed
    user.find(marker="payment-submit").click()
    await user.should_see("Please correct the field marked in red. Nothing was recorded.", retries=50)
    assert _element(user, "payment-allocation").error == reason
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    assert await Payment.filter(client_id=ada.id).count() == payments_before

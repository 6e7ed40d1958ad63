"""A recurring billing request's invoice in the client's Pay dialog on My Billing (issue 15 item 5): with a
default card, paying from credit says the subscription starts on that card, then pays the invoice whole and
the Subscriptions section shows it; without a saved card credit is not offered and the reason is shown
instead (the client's other invoices still offer it)."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from portal.db.models import BillingRequest, Client, Invoice, PaymentMethod, Subscription
from portal.payments import ledger
from tests.e2e.recurring_credit_seed import DESCRIPTION, recurring_request, without_saved_cards
from tests.ui.conftest import sign_in
from tests.ui.test_pay_now import _emit, _rows, _wait_for

ADA = "client@demo.test"
NEEDS_CARD = (
    "Recurring requests need a saved card to renew on: add a card and make it the default, "
    "or pay this request with a card."
)


async def _open_dialog_for(user: User, number: str) -> ui.radio:
    """Ada, signed in on My Billing, opens the Pay dialog of the invoice `number`; its ways to pay."""
    await sign_in(user, ADA)
    await user.should_see("My Billing", retries=50)
    row = next(r for r in _rows(user) if r["number"] == number)
    _emit(user, user.find(marker="open-invoices").elements.pop(), "pay", row["key"])
    await user.should_see(f"Pay invoice {number}", retries=20)
    choice = user.find(marker="pay-with").elements.pop()
    assert isinstance(choice, ui.radio)
    return choice


async def test_paying_a_recurring_request_from_credit_starts_its_subscription_on_the_default_card(
    user: User,
) -> None:
    await user.open("/login")  # start the app so the database is open
    ada = await Client.get(email=ADA)
    card = await PaymentMethod.get(client_id=ada.id, is_default=True)
    assert await ledger.credit_balance(ada.id, "USD") == 2500
    request = await recurring_request(ADA, "USD", 2000)

    choice = await _open_dialog_for(user, str(request["number"]))
    assert choice.options["credit"] == "My credit ($25.00 available)"
    await user.should_not_see(marker="credit-reason")
    choice.set_value("credit")
    # said before paying: what starts, and the card it renews on; no amount to type (it is paid whole)
    await user.should_see(
        "Paying from credit starts your subscription: $20.00 of credit pays the first period, "
        "then it renews on Visa •••• 4242."
    )
    await user.should_not_see(marker="credit-amount")
    user.find(marker="pay-confirm").click()
    await user.should_see(
        "$20.00 of credit applied. Your subscription has started; it renews on Visa •••• 4242.", retries=50
    )

    sub = await Subscription.get(billing_request_id=request["request_id"])
    assert (sub.status, sub.payment_method_id, sub.amount_minor) == ("active", card.id, 2000)
    assert (await Invoice.get(id=request["invoice_id"])).status == "paid"
    assert (await BillingRequest.get(id=request["request_id"])).status == "paid"
    assert await ledger.credit_balance(ada.id, "USD") == 500
    # the page redraws: the invoice leaves the to-do and the subscription is listed
    await _wait_for(
        lambda: all(r["number"] != request["number"] for r in _rows(user)), "the paid invoice to leave"
    )
    await user.should_see(marker=f"subscription-{sub.id}", retries=100)
    await user.should_see(DESCRIPTION)


async def test_without_a_saved_card_credit_is_not_offered_and_the_reason_is_shown(user: User) -> None:
    await user.open("/login")
    ada = await Client.get(email=ADA)
    await without_saved_cards(ADA)
    request = await recurring_request(ADA, "USD", 2000)

    choice = await _open_dialog_for(user, str(request["number"]))
    assert "credit" not in choice.options  # $25.00 of credit, but nothing to renew the subscription on
    assert list(choice.options.values()) == ["A new card", "Direct debit", "Bank transfer"]
    await user.should_see(NEEDS_CARD)
    assert (await Invoice.get(id=request["invoice_id"])).status == "open"
    assert await Subscription.filter(billing_request_id=request["request_id"]).count() == 0
    assert await ledger.credit_balance(ada.id, "USD") == 2500

    # an ordinary invoice still offers the credit, with an amount to choose and no reason
    user.find(marker="pay-close").click()
    overdue = next(r for r in _rows(user) if r["status"] == "Overdue")
    _emit(user, user.find(marker="open-invoices").elements.pop(), "pay", overdue["key"])
    await user.should_see(f"Pay invoice {overdue['number']}", retries=20)
    await _wait_for(lambda: "credit" in choice.options, "credit to be offered for an ordinary invoice")
    await user.should_not_see(NEEDS_CARD)
    choice.set_value("credit")
    await user.should_see(marker="credit-amount")
    await user.should_not_see(marker="credit-note")

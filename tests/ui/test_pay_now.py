"""Pay Now on My Billing and the public payment link, in sandbox mode, as a client sees them."""

from __future__ import annotations

import asyncio
import re

from nicegui import ui
from nicegui.events import GenericEventArguments, handle_event
from nicegui.testing import User

from portal.core.clock import now_utc
from portal.db.models import OutboxEmail, PaymentLink
from tests.ui.conftest import sign_in


def _rows(user: User) -> list[dict]:
    return user.find(marker="open-invoices").elements.pop().rows


async def _wait_for(predicate, what: str) -> None:
    for _ in range(100):
        try:
            if predicate():
                return
        except AssertionError:  # the section is being redrawn: its table is not there this instant
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _emit(user: User, element: ui.element, name: str, args: object) -> None:
    """Fire a client-side event on an element, as the browser does when the slot's button is pressed."""
    with user:
        for listener in element._event_listeners.values():
            if listener.type == name:
                handle_event(
                    listener.handler, GenericEventArguments(sender=element, client=user.client, args=args)
                )


async def _open_pay_dialog(user: User, status: str) -> dict:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    row = next(r for r in _rows(user) if r["status"] == status)
    _emit(user, user.find(marker="open-invoices").elements.pop(), "pay", row["key"])
    await user.should_see(f"Pay invoice {row['number']}", retries=20)
    return row


async def test_a_client_pays_the_overdue_invoice_with_the_default_card(user: User) -> None:
    receipts = await OutboxEmail.filter(kind="receipt").count()  # the demo's offline payment has one
    overdue = await _open_pay_dialog(user, "Overdue")
    choice = user.find(marker="pay-with").elements.pop()
    assert isinstance(choice, ui.radio)
    assert choice.options[choice.value].startswith("Visa •••• 4242")  # the default card is preselected
    await user.should_see("Sandbox: no real money moves")
    user.find(marker="pay-confirm").click()
    await user.should_see("Thank you! We received", retries=50)
    await _wait_for(lambda: len(_rows(user)) == 1, "the paid invoice to leave the list")
    assert all(r["key"] != overdue["key"] for r in _rows(user))
    assert await OutboxEmail.filter(kind="receipt").count() == receipts + 1


async def test_a_client_uses_credit_and_the_rest_stays_due(user: User) -> None:
    overdue = await _open_pay_dialog(user, "Overdue")
    user.find(marker="pay-with").elements.pop().set_value("credit")
    user.find(marker="pay-confirm").click()
    await user.should_see("$25.00 of credit applied.", retries=50)
    await _wait_for(
        lambda: next(r for r in _rows(user) if r["key"] == overdue["key"])["amount_due"] == "$215.00",
        "the amount due to drop by the credit",
    )
    await user.should_see("No credit")


async def test_a_new_card_goes_through_checkout_a_decline_changes_nothing(user: User) -> None:
    overdue = await _open_pay_dialog(user, "Overdue")
    user.find(marker="pay-with").elements.pop().set_value("new")
    user.find(marker="pay-confirm").click()
    await user.should_see("Sandbox checkout", retries=50)
    await user.should_see("$240.00")
    user.find(marker="card-number").type("4000 0000 0000 0002")
    user.find(marker="card-expiry").type("12/39")
    user.find(marker="card-cvc").type("123")
    user.find(marker="checkout-pay").click()
    await user.should_see("Your card was declined. Please use another card or contact your bank.", retries=50)
    user.find(marker="card-number").clear().type("4242 4242 4242 4242")
    user.find(marker="checkout-pay").click()
    await user.should_see("Thank you! Your payment is being confirmed.", retries=50)
    assert all(r["key"] != overdue["key"] for r in _rows(user))


async def _link_from_email(number_fragment: str) -> str:
    email = await OutboxEmail.filter(kind="invoice", text_body__contains=number_fragment).first()
    assert email is not None
    match = re.search(r"/pay/([A-Za-z0-9_-]+)", email.text_body)
    assert match
    return match.group(1)


async def test_the_emailed_link_pays_without_signing_in(user: User) -> None:
    await user.open("/login")  # start the app so the database is open
    token = await _link_from_email("INV-")
    await user.open(f"/pay/{token}")
    await user.should_see("Amount due")
    await user.should_see("Bank transfer")
    await user.should_not_see("Visa •••• 4242")  # saved cards are never shown to someone not signed in
    user.find(marker="pay-card").click()
    await user.should_see("Sandbox checkout", retries=50)
    user.find(marker="card-number").type("4242424242424242")
    user.find(marker="card-expiry").type("01/40")
    user.find(marker="checkout-pay").click()
    await user.should_see("is paid", retries=50)
    await user.should_see("Thank you, ")


async def test_a_tampered_link_is_a_plain_not_found(user: User) -> None:
    await user.open("/login")
    token = await _link_from_email("INV-")
    await user.open(f"/pay/{token[:-2]}xx")
    await user.should_see("This payment link is not valid")
    await user.should_not_see("Amount due")


async def test_an_expired_link_offers_a_fresh_one_by_email(user: User) -> None:
    await user.open("/login")
    token = await _link_from_email("INV-")
    await PaymentLink.all().update(expires_at=now_utc())
    await user.open(f"/pay/{token}")
    await user.should_see("This link has expired")
    user.find(marker="renew-link").click()
    await user.should_see("We sent a new link to c*****@demo.test", retries=50)
    assert await OutboxEmail.filter(kind="new_link").count() == 1
    links_before = await PaymentLink.all().count()
    # the page opened again and the button clicked again: no second link, and the page says why
    await user.open(f"/pay/{token}")
    user.find(marker="renew-link").click()
    await user.should_see("A new link to c*****@demo.test is already on its way", retries=50)
    await user.should_see("no other link was sent")
    assert await OutboxEmail.filter(kind="new_link").count() == 1
    assert await PaymentLink.all().count() == links_before


async def test_part_of_the_credit_can_be_used_and_the_rest_kept(user: User) -> None:
    overdue = await _open_pay_dialog(user, "Overdue")
    user.find(marker="pay-with").elements.pop().set_value("credit")
    amount = user.find(marker="credit-amount").elements.pop()
    assert amount.value == "25.00"  # all the credit by default
    user.find(marker="credit-amount").clear().type("10")
    user.find(marker="pay-confirm").click()
    await user.should_see("$10.00 of credit applied.", retries=50)
    await _wait_for(
        lambda: next(r for r in _rows(user) if r["key"] == overdue["key"])["amount_due"] == "$230.00",
        "the amount due to drop by the credit used",
    )
    await user.should_see("$15.00")  # the credit left


async def test_a_bad_credit_amount_is_refused_with_a_clear_message(user: User) -> None:
    await _open_pay_dialog(user, "Overdue")
    user.find(marker="pay-with").elements.pop().set_value("credit")
    user.find(marker="credit-amount").clear().type("30")
    user.find(marker="pay-confirm").click()
    await user.should_see("The client has only $25.00 of credit.", retries=50)


async def test_a_card_payment_links_its_receipt(user: User) -> None:
    await _open_pay_dialog(user, "Overdue")
    user.find(marker="pay-confirm").click()
    await user.should_see("Thank you! We received", retries=50)
    link = user.find(marker="pay-receipt").elements.pop()
    assert link.visible and link.props["href"].startswith("/billing/receipts/")

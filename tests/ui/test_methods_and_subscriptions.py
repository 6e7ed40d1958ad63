"""My Billing's payment methods and subscriptions, as the demo client (Ada Lovelace) sees them, in sandbox
mode: default and expiry badges, no Delete (but the reason) while a card pays a subscription, make default,
add a card on the sandbox setup page, and Manage → cancel at period end → resume."""

from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing import User

from portal import i18n
from portal.db.models import Client, PaymentMethod, Subscription
from tests.ui.conftest import sign_in

REFUSAL = (
    "This card pays your subscription “Website Care”. Switch that subscription to another card first "
    "(Manage → Change payment method)."
)
DECLINE = "Your card was declined. Please use another card or contact your bank."


async def _wait_for(predicate, what: str) -> None:
    for _ in range(100):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _ada_cards() -> tuple[int, int, int]:
    """(Ada's client id, her Visa 4242, her Mastercard 4444)."""
    ada = await Client.get(email="client@demo.test")
    visa = await PaymentMethod.get(client_id=ada.id, last4="4242")
    master = await PaymentMethod.get(client_id=ada.id, last4="4444")
    return ada.id, visa.id, master.id


async def _billing(user: User) -> None:
    await sign_in(user, "client@demo.test")
    # the two sections below the fold are drawn once the browser is connected
    await user.should_see(marker="methods-list", retries=50)
    await user.should_see(marker="subscriptions-list", retries=50)


def _day(value) -> str:
    return i18n.format_date(value, "en")


async def test_the_cards_show_the_default_and_the_expiring_soon_badges(user: User) -> None:
    await _billing(user)
    _, visa, master = await _ada_cards()
    await user.should_see("Visa •••• 4242")
    await user.should_see("Mastercard •••• 4444")
    await user.should_see(marker=f"method-default-{visa}")
    await user.should_not_see(marker=f"method-default-{master}")
    await user.should_see(marker=f"method-expires-soon-{master}")
    await user.should_not_see(marker=f"method-expires-soon-{visa}")
    await user.should_see("Expires soon")
    await user.should_see(marker=f"method-delete-{master}")
    await user.should_not_see(marker=f"method-make-default-{visa}")  # it already is


async def test_the_visa_that_pays_website_care_offers_no_delete_and_says_why(user: User) -> None:
    await _billing(user)
    _, visa, _ = await _ada_cards()
    await user.should_see(marker=f"method-kept-{visa}", content=REFUSAL)
    await user.should_not_see(marker=f"method-delete-{visa}")  # never a question answered by a refusal
    assert await PaymentMethod.filter(id=visa, detached_at=None).exists()


async def test_keeping_the_card_in_the_confirmation_deletes_nothing(user: User) -> None:
    await _billing(user)
    _, _, master = await _ada_cards()
    user.find(marker=f"method-delete-{master}").click()
    await user.should_see(marker="method-delete-cancel", retries=20)
    user.find(marker="method-delete-cancel").click()
    await user.should_not_see(marker="method-delete-dialog", retries=20)
    assert (await PaymentMethod.get(id=master)).detached_at is None


async def test_making_the_mastercard_default_moves_the_badge(user: User) -> None:
    await _billing(user)
    _, visa, master = await _ada_cards()
    user.find(marker=f"method-make-default-{master}").click()
    await user.should_see(marker=f"method-default-{master}", retries=50)
    await user.should_not_see(marker=f"method-default-{visa}")
    await user.should_see("Mastercard •••• 4444 is now your default card.")
    assert (await PaymentMethod.get(id=master)).is_default
    assert not (await PaymentMethod.get(id=visa)).is_default


async def test_a_card_added_on_the_sandbox_setup_page_joins_the_list(user: User) -> None:
    await _billing(user)
    ada_id, visa, master = await _ada_cards()
    user.find(marker="method-add").click()
    await user.should_see(marker="setup-title", retries=50)
    await user.should_see("Sandbox: no real card is stored")
    user.find(marker="card-number").type("4242 4242 4242 4242")
    user.find(marker="card-expiry").type("12/39")
    user.find(marker="card-cvc").type("123")
    user.find(marker="setup-save").click()
    await user.should_see(marker="payment-methods", retries=50)

    async def added() -> bool:
        return await PaymentMethod.filter(client_id=ada_id, detached_at__isnull=True).count() == 3

    await _wait_for(added, "the new card to be saved")
    new = await PaymentMethod.filter(client_id=ada_id).exclude(id__in=[visa, master]).get()
    assert (new.brand, new.last4, new.exp_month, new.exp_year, new.is_default) == (
        "visa",
        "4242",
        12,
        2039,
        False,
    )
    await user.should_see(marker=f"method-{new.id}", retries=20)
    await user.should_see("Expires 12/2039")


async def test_a_declined_card_on_the_setup_page_shows_the_decline(user: User) -> None:
    await _billing(user)
    ada_id, _, _ = await _ada_cards()
    user.find(marker="method-add").click()
    await user.should_see(marker="setup-title", retries=50)
    user.find(marker="card-number").type("4000 0000 0000 0002")
    user.find(marker="card-expiry").type("12/39")
    user.find(marker="card-cvc").type("123")
    user.find(marker="setup-save").click()
    await user.should_see(DECLINE, retries=50)
    await user.should_see(marker="setup-save")  # still on the setup page, to try another card
    assert await PaymentMethod.filter(client_id=ada_id).count() == 2


async def test_the_subscription_is_listed_with_its_price_next_payment_and_card(user: User) -> None:
    await _billing(user)
    ada_id, _, _ = await _ada_cards()
    sub = await Subscription.get(client_id=ada_id)
    await user.should_see("Website Care")
    await user.should_see("$49.00 per month")
    await user.should_see(f"Next payment on {_day(sub.current_period_end)}")
    await user.should_see("Paid with Visa •••• 4242")
    await user.should_see(marker="status-active")


async def test_manage_cancel_at_period_end_shows_the_end_then_resume(user: User) -> None:
    await _billing(user)
    ada_id, _, _ = await _ada_cards()
    sub = await Subscription.get(client_id=ada_id)
    ends = _day(sub.current_period_end)

    user.find(marker=f"subscription-manage-{sub.id}").click()
    await user.should_see(marker="subscription-cancel", retries=20)
    await user.should_not_see(marker="subscription-cancel-confirm")  # asked first
    user.find(marker="subscription-cancel").click()
    await user.should_see(marker="subscription-cancel-question", retries=20)
    user.find(marker="subscription-cancel-confirm").click()
    await user.should_see(marker=f"subscription-when-{sub.id}", content=f"Ends on {ends}", retries=50)
    assert (await Subscription.get(id=sub.id)).cancel_at_period_end

    user.find(marker=f"subscription-manage-{sub.id}").click()
    await user.should_see(marker="subscription-resume", retries=20)
    await user.should_not_see(marker="subscription-cancel")
    user.find(marker="subscription-resume").click()
    await user.should_see(marker=f"subscription-when-{sub.id}", content=f"Next payment on {ends}", retries=50)
    assert not (await Subscription.get(id=sub.id)).cancel_at_period_end


async def test_manage_switches_the_card_and_then_the_visa_can_be_deleted(user: User) -> None:
    await _billing(user)
    ada_id, visa, master = await _ada_cards()
    sub = await Subscription.get(client_id=ada_id)
    user.find(marker=f"subscription-manage-{sub.id}").click()
    await user.should_see(marker="subscription-method", retries=20)
    select = user.find(marker="subscription-method").elements.pop()
    assert isinstance(select, ui.select)
    assert select.value == visa
    select.set_value(master)
    user.find(marker="subscription-save-method").click()
    await user.should_see(marker=f"subscription-method-{sub.id}", content="Mastercard •••• 4444", retries=50)
    await user.should_see("Website Care is now paid with Mastercard •••• 4444.")  # said on the page

    await user.should_see(marker=f"method-delete-{visa}", retries=50)  # free to go now
    await user.should_not_see(marker=f"method-kept-{visa}")
    user.find(marker=f"method-delete-{visa}").click()
    await user.should_see(marker="method-delete-confirm", retries=20)
    user.find(marker="method-delete-confirm").click()
    await user.should_see("Visa •••• 4242 was deleted.", retries=50)
    await user.should_not_see(marker=f"method-{visa}")
    await user.should_see(marker=f"method-default-{master}")  # the remaining card took the default

"""/admin/plans and /admin/subscriptions as staff see them on the demo data (sandbox): a plan with a bad
price, edit, archive, delete refused; subscribing the demo client with their sandbox card, which they then
see on /billing; cancel now and at the period end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nicegui import ui
from nicegui.testing import User

from portal.db.models import (
    AuditEntry,
    Client,
    Invoice,
    Payment,
    PaymentMethod,
    Plan,
    SandboxObject,
    Subscription,
)
from tests.ui.conftest import sign_in


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def _rows(user: User, marker: str) -> list[dict]:
    return _element(user, marker).rows  # the simulated user cannot read table cells: use the rows


async def _wait_for(predicate: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    for _ in range(200):
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _click_row(user: User, marker: str, **match: object) -> None:
    row = next(r for r in _rows(user, marker) if all(r[k] == v for k, v in match.items()))
    user.find(marker=marker).trigger("rowClick", [{}, row, 0])


async def _open(user: User, path: str, marker: str) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="nav-overview", retries=50)
    await user.open(path)
    await user.should_see(marker=marker, retries=50)


def _row_named(user: User, name: str) -> dict | None:
    return next((r for r in _rows(user, "plans") if r["name"] == name), None)


async def test_a_new_plan_with_a_bad_price_gets_the_message_under_the_price(user: User) -> None:
    await _open(user, "/admin/plans", "plans")
    user.find(marker="plan-new").click()
    await user.should_see(marker="plan-dialog", retries=20)
    assert _element(user, "plan-currency").value == "USD"  # the organization's default currency
    user.find(marker="plan-name").type("Maintenance")
    user.find(marker="plan-price").type("twelve")
    user.find(marker="plan-save").click()
    price = _element(user, "plan-price")
    await _wait_for(lambda: price.error is not None, "the price error")
    assert price.error == "'twelve' is not a valid amount."
    assert _element(user, "plan-name").error is None
    assert not await Plan.exists(name="Maintenance")

    user.find(marker="plan-price").clear().type("29.999")
    user.find(marker="plan-save").click()
    await _wait_for(lambda: price.error == "USD amounts have at most 2 decimal places.", "the decimals error")

    user.find(marker="plan-price").clear().type("29.99")
    user.find(marker="plan-save").click()
    await user.should_see("Plan “Maintenance” created.", retries=50)
    await user.should_not_see(marker="plan-dialog", retries=20)
    row = _row_named(user, "Maintenance")
    assert row is not None
    assert (row["price"], row["state"], row["subscriptions"]) == ("$29.99 per month", "Active", 0)
    plan = await Plan.get(name="Maintenance")
    assert (plan.amount_minor, plan.currency, plan.active) == (2999, "USD", True)


async def test_a_plan_is_edited_then_archived_and_a_plan_in_use_cannot_be_deleted(user: User) -> None:
    await _open(user, "/admin/plans", "plans")
    _click_row(user, "plans", name="Hosting")
    await user.should_see(marker="plan-dialog", retries=20)
    assert _element(user, "plan-price").value == "19.00"
    user.find(marker="plan-price").clear().type("21.50")
    user.find(marker="plan-interval-count").clear().type("3")
    user.find(marker="plan-save").click()
    await user.should_see("Plan “Hosting” saved.", retries=50)
    await _wait_for(
        lambda: (_row_named(user, "Hosting") or {}).get("price") == "€21.50 every 3 months", "the row"
    )

    _click_row(user, "plans", name="Hosting")
    await user.should_see(marker="plan-archive", retries=20)
    user.find(marker="plan-archive").click()
    await user.should_see("“Hosting” is archived: it is no longer offered for new subscriptions.", retries=50)
    await _wait_for(lambda: _row_named(user, "Hosting") is None, "the archived plan to leave the list")
    assert (await Plan.get(name="Hosting")).active is False
    user.find(marker="plans-show-archived").click()
    await _wait_for(
        lambda: (_row_named(user, "Hosting") or {}).get("state") == "Archived", "the archived row"
    )

    # Website Care pays Ada's running subscription: deleting it is refused with the reason
    _click_row(user, "plans", name="Website Care")
    await user.should_see(marker="plan-delete", retries=20)
    user.find(marker="plan-delete").click()
    user.find(marker="plan-delete-confirm").click()
    error = _element(user, "plan-error")
    await _wait_for(lambda: error.text != "", "the refusal")
    assert error.text.startswith("“Website Care” has 1 running subscription, so it cannot be deleted.")
    assert await Plan.exists(name="Website Care")


async def test_staff_subscribe_the_demo_client_with_their_sandbox_card_and_the_client_sees_it(
    user: User, create_user: Callable[[], User]
) -> None:
    ada = await Client.get(email="client@demo.test")
    await _open(user, "/admin/subscriptions", "subscriptions")
    assert {(r["client"], r["plan"]) for r in _rows(user, "subscriptions")} == {
        ("Ada Lovelace", "Website Care"),
        ("Yuki Tanaka", "Design Support"),
    }
    user.find(marker="subs-new").click()
    await user.should_see(marker="pick-client-dialog", retries=20)
    user.find(marker="pick-client").click()
    user.find("Ada Lovelace · client@demo.test").click()
    user.find(marker="pick-client-continue").click()
    await user.should_see(marker="subscribe-dialog", retries=50)
    await user.should_see(marker="subscribe-sandbox")
    method = _element(user, "subscribe-method")
    visa = await PaymentMethod.get(client_id=ada.id, last4="4242")
    assert method.value == visa.id  # the default card is chosen; every card is shown masked
    assert [label.split(" (")[0] for label in method.options.values()] == [
        "Visa •••• 4242",
        "Mastercard •••• 4444",
    ]
    user.find(marker="subscribe-plan").click()
    user.find("Hosting · €19.00 per month").click()
    await _wait_for(
        lambda: (
            _element(user, "subscribe-summary").text
            == "€19.00 is charged to the card now for the first period, then €19.00 per month."
        ),
        "the summary",
    )
    # Ada pays in USD: the EUR plan is confirmed by name of both currencies (issue 15 item 10)
    confirm = _element(user, "subscribe-confirm-currency")
    assert confirm.visible and confirm.text == "Charge Ada Lovelace in EUR, although their account is in USD"
    confirm.set_value(True)
    user.find(marker="subscribe-confirm").click()
    user.find(marker="subscribe-confirm").click()  # a double click subscribes once
    await user.should_see("The subscription started and the first period was paid.", retries=100)
    await user.should_not_see(marker="subscribe-dialog", retries=20)

    hosting = await Plan.get(name="Hosting")
    [sub] = await Subscription.filter(client_id=ada.id, plan_id=hosting.id)
    assert (sub.status, sub.amount_minor, sub.currency) == ("active", 1900, "EUR")
    assert await Payment.filter(invoice__subscription_id=sub.id, status="succeeded").count() == 1
    assert (await Invoice.get(subscription_id=sub.id)).status == "paid"
    assert (await SandboxObject.get(object_id=sub.gateway_ref)).data["amount"] == 1900
    assert await AuditEntry.filter(action="subscription.create", subject=f"subscription:{sub.id}").exists()
    await _wait_for(lambda: any(r["id"] == sub.id for r in _rows(user, "subscriptions")), "the new row")
    row = next(r for r in _rows(user, "subscriptions") if r["id"] == sub.id)
    assert (row["client"], row["plan"], row["price"], row["state"]) == (
        "Ada Lovelace",
        "Hosting",
        "€19.00 per month",
        "Active",
    )
    assert row["card"] == "Visa •••• 4242"

    # the filters find it
    user.find(marker="subs-search").type("lovelace")
    await _wait_for(
        lambda: {r["plan"] for r in _rows(user, "subscriptions")} == {"Hosting", "Website Care"}, "search"
    )
    _element(user, "subs-plan").set_value(hosting.id)
    await _wait_for(lambda: [r["id"] for r in _rows(user, "subscriptions")] == [sub.id], "the plan filter")

    client = create_user()
    await sign_in(client, "client@demo.test")
    await client.should_see(marker="subscriptions", retries=50)
    await client.should_see(marker=f"subscription-{sub.id}", retries=20)
    await client.should_see("Hosting")
    await client.should_see("€19.00 per month")


async def test_staff_cancel_one_subscription_now_and_another_at_the_period_end(user: User) -> None:
    ada = await Client.get(email="client@demo.test")
    yuki = await Client.get(email="yuki@demo.test")
    care = await Subscription.get(client_id=ada.id)
    support = await Subscription.get(client_id=yuki.id)
    await _open(user, "/admin/subscriptions", "subscriptions")

    _click_row(user, "subscriptions", id=care.id)
    await user.should_see(marker="manage-dialog", retries=20)
    user.find(marker="manage-cancel-now").click()
    await user.should_see(marker="manage-confirm", retries=20)
    assert _element(user, "manage-question").text == (
        "End Website Care for Ada Lovelace now? Nothing more is charged; what was paid is not refunded."
    )
    user.find(marker="manage-confirm").click()
    await user.should_see("Website Care for Ada Lovelace was canceled.", retries=50)
    ended = await Subscription.get(id=care.id)
    assert (ended.status, ended.canceled_at is not None) == ("canceled", True)
    assert (await SandboxObject.get(object_id=ended.gateway_ref)).data["status"] == "canceled"
    await _wait_for(
        lambda: next(r for r in _rows(user, "subscriptions") if r["id"] == care.id)["state"] == "Canceled",
        "the canceled row",
    )

    _click_row(user, "subscriptions", id=support.id)
    await user.should_see(marker="manage-cancel-period-end", retries=20)
    user.find(marker="manage-cancel-period-end").click()
    user.find(marker="manage-confirm").click()
    await user.should_see("Design Support for Yuki Tanaka ends at the end of the paid period.", retries=50)
    ending = await Subscription.get(id=support.id)
    assert (ending.status, ending.cancel_at_period_end) == ("active", True)
    await _wait_for(
        lambda: next(r for r in _rows(user, "subscriptions") if r["id"] == support.id)["renewal"].startswith(
            "Ends on "
        ),
        "the ending row",
    )
    actions = [
        e.action for e in await AuditEntry.filter(action__startswith="subscription.cancel").order_by("id")
    ]
    assert actions == ["subscription.cancel_now", "subscription.cancel_at_period_end"]
    user.find(marker="subs-status").elements.pop().set_value("canceled")
    await _wait_for(lambda: [r["id"] for r in _rows(user, "subscriptions")] == [care.id], "the status filter")


async def test_a_client_is_not_allowed_on_the_plans_pages(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="subscriptions", retries=50)
    for path in ("/admin/plans", "/admin/subscriptions"):
        await user.open(path)
        await user.should_see(marker="not-allowed", retries=20)
        await user.should_not_see(marker="plans")
        await user.should_not_see(marker="subs-new")

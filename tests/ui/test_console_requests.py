"""/admin/requests and /admin/requests/new as staff use them: field messages, sending, filters, paging
labels, copying a payment link, deleting (confirmed, and only while pending)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui
from nicegui.events import GenericEventArguments, handle_event
from nicegui.testing import User

from portal.db.models import BillingRequest, Client, Invoice
from portal.domain.status import BillingRequestStatus, InvoiceStatus
from tests.ui.conftest import sign_in


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def _rows(user: User) -> list[dict]:
    table = _element(user, "requests")
    assert isinstance(table, ui.table)
    return table.rows


async def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _emit(user: User, element: ui.element, name: str, args: object) -> None:
    """Fire a client-side event on an element, as the browser does when a row's button is pressed."""
    with user:
        for listener in element._event_listeners.values():
            if listener.type == name:
                handle_event(
                    listener.handler, GenericEventArguments(sender=element, client=user.client, args=args)
                )


async def _as_staff(user: User, path: str) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(path)


async def _ada() -> Client:
    return await Client.get(email="client@demo.test")


async def test_bad_inputs_get_messages_next_to_their_fields_and_nothing_is_sent(user: User) -> None:
    await user.open("/login")  # starts the app (and its database)
    ada = await _ada()
    before = await BillingRequest.all().count()
    await _as_staff(user, f"/admin/requests/new?client={ada.id}")
    await user.should_see("New billing request")
    assert _element(user, "request-email").value == "client@demo.test"  # prefilled from ?client=
    assert _element(user, "request-currency").value == "USD"
    user.find(marker="request-email").clear().type("ada@nowhere")
    user.find(marker="request-amount").type("12.345")
    user.find(marker="request-success-url").type("northwind.example/thanks")
    user.find(marker="request-cancel-url").type("https://northwind.example/cancelled")
    user.find(marker="request-billing-type").click()  # leaves one-time; the radio is set below
    _element(user, "request-billing-type").set_value("recurring")
    _element(user, "request-interval").set_value(None)
    user.find(marker="request-send").click()
    email = _element(user, "request-email")
    await _wait_for(lambda: email.error is not None, "the field messages")
    assert email.error == "Enter a valid email address, like name@example.com."
    assert _element(user, "request-amount").error == "USD amounts have at most 2 decimal places."
    assert _element(user, "request-success-url").error == (
        "Enter the full success URL, starting with https:// or http://"
    )
    assert _element(user, "request-interval").error == "Choose how often a recurring request repeats."
    assert _element(user, "request-cancel-url").error is None
    assert _element(user, "request-currency").error is None
    await user.should_see("Please correct the fields marked in red. Nothing was sent.")
    assert await BillingRequest.all().count() == before

    # corrected, it is sent: the link is shown once and the request is pending in the list
    user.find(marker="request-email").clear().type("client@demo.test")
    user.find(marker="request-amount").clear().type("1,250.50")
    user.find(marker="request-success-url").clear().type("https://northwind.example/thanks")
    _element(user, "request-interval").set_value("month")
    user.find(marker="request-description").type("Launch retainer")
    user.find(marker="request-send").click()
    await user.should_see("Billing request sent to client@demo.test.", retries=50)
    request = await BillingRequest.filter(description="Launch retainer").get()
    assert (request.amount_minor, request.currency, request.billing_type, request.interval) == (
        125050,
        "USD",
        "recurring",
        "month",
    )
    assert "/pay/" in _element(user, "request-link").text
    await user.open("/admin/requests")
    await user.should_see("Billing requests")
    row = next(r for r in _rows(user) if r["id"] == request.id)
    assert (row["amount"], row["status"], row["mode"]) == ("$1,250.50", "pending", "sandbox")
    assert row["billing_type"] == "Recurring, every month"
    assert row["time_left"].startswith("23 h") and row["can_delete"] and row["can_copy"]


async def test_without_a_client_the_form_asks_for_one(user: User) -> None:
    await user.open("/login")
    before = await BillingRequest.all().count()
    await _as_staff(user, "/admin/requests/new")
    await user.should_see("New billing request")
    assert _element(user, "request-email").value == ""
    user.find(marker="request-send").click()
    client = _element(user, "request-client")
    await _wait_for(lambda: client.error is not None, "the client message")
    assert client.error == "Choose the client this request is for."
    assert await BillingRequest.all().count() == before


async def test_the_list_filters_by_status_mode_and_email(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    await BillingRequest.create(
        client=ada,
        email="accounts@analytical.example",
        currency="EUR",
        amount_minor=9900,
        success_url="https://x.example/ok",
        cancel_url="https://x.example/no",
        status=BillingRequestStatus.paid,
        mode="live",
    )
    await _as_staff(user, "/admin/requests")
    await user.should_see("Billing requests")
    await _wait_for(lambda: len(_rows(user)) == 3, "the three requests")
    assert {r["status"] for r in _rows(user)} == {"pending", "expired", "paid"}
    await user.should_see("Page 1 of 1 · 3 requests")

    _element(user, "filter-status").set_value("pending")
    await _wait_for(lambda: [r["status"] for r in _rows(user)] == ["pending"], "only the pending request")
    assert _rows(user)[0]["time_left"].endswith("min left")

    _element(user, "filter-status").set_value("")
    _element(user, "filter-mode").set_value("live")
    await _wait_for(lambda: [r["mode"] for r in _rows(user)] == ["live"], "only the live request")
    assert _rows(user)[0]["amount"] == "€99.00" and _rows(user)[0]["can_delete"] is False

    _element(user, "filter-mode").set_value("")
    user.find(marker="request-search").type("ANALYTICAL")
    await _wait_for(
        lambda: [r["email"] for r in _rows(user)] == ["accounts@analytical.example"], "the search result"
    )
    user.find(marker="request-search").clear().type("nobody@")
    await _wait_for(lambda: _rows(user) == [], "no rows")
    await user.should_see("No billing requests match.")


async def test_deleting_asks_first_and_then_voids_the_request(user: User) -> None:
    await _as_staff(user, "/admin/requests/new")
    ada = await _ada()
    await user.open(f"/admin/requests/new?client={ada.id}")
    user.find(marker="request-amount").type("80")
    user.find(marker="request-success-url").type("https://northwind.example/thanks")
    user.find(marker="request-cancel-url").type("https://northwind.example/cancelled")
    user.find(marker="request-send").click()
    await user.should_see("Billing request sent to client@demo.test.", retries=50)
    request = await BillingRequest.filter(amount_minor=8000).get()

    await user.open("/admin/requests")
    await user.should_see("Billing requests")
    table = _element(user, "requests")
    _emit(user, table, "delete", request.id)
    await user.should_see(marker="request-delete-question", retries=20)
    await user.should_see(
        "Delete the request for $80.00 sent to client@demo.test? Its payment link stops working."
    )
    user.find(marker="request-delete-cancel").click()
    await asyncio.sleep(0.2)
    assert (await BillingRequest.get(id=request.id)).status == BillingRequestStatus.pending

    _emit(user, table, "delete", request.id)
    await user.should_see(marker="request-delete-confirm", retries=20)
    user.find(marker="request-delete-confirm").click()
    await user.should_see("The billing request to client@demo.test was deleted.", retries=50)
    assert (await BillingRequest.get(id=request.id)).status == BillingRequestStatus.deleted
    assert (await Invoice.get(billing_request_id=request.id)).status == InvoiceStatus.deleted
    row = next(r for r in _rows(user) if r["id"] == request.id)
    assert row["status"] == "deleted" and not row["can_delete"] and not row["can_copy"]


async def test_a_request_paid_meanwhile_is_not_deleted_and_the_reason_is_shown(user: User) -> None:
    await _as_staff(user, "/admin/requests")
    await user.should_see("Billing requests")
    pending = next(r for r in _rows(user) if r["status"] == "pending")
    await BillingRequest.filter(id=pending["id"]).update(
        status=BillingRequestStatus.paid
    )  # paid in another tab
    _emit(user, _element(user, "requests"), "delete", pending["id"])
    await user.should_see(marker="request-delete-confirm", retries=20)
    user.find(marker="request-delete-confirm").click()
    await user.should_see("This billing request is paid, so it cannot be deleted.", retries=50)
    assert (await BillingRequest.get(id=pending["id"])).status == BillingRequestStatus.paid
    await _wait_for(
        lambda: next(r for r in _rows(user) if r["id"] == pending["id"])["status"] == "paid",
        "the row to refresh",
    )


async def test_copying_the_link_of_a_pending_request(user: User) -> None:
    await _as_staff(user, "/admin/requests")
    await user.should_see("Billing requests")
    pending = next(r for r in _rows(user) if r["status"] == "pending")
    expired = next(r for r in _rows(user) if r["status"] == "expired")
    assert pending["can_copy"] and not expired["can_copy"]
    _emit(user, _element(user, "requests"), "copy", pending["id"])
    await user.should_see("Payment link copied: http://test/pay/", retries=50)
    token = _element(user, "requests-message").text.rsplit("/pay/", 1)[1]
    await user.open(f"/pay/{token}")
    await user.should_see("$250.00")
    await user.should_see("Rush fee for launch weekend")


async def test_clients_cannot_open_the_requests_pages(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    for path in ("/admin/requests", "/admin/requests/new"):
        await user.open(path)
        await user.should_see(marker="not-allowed")
        await user.should_not_see(marker="requests")
        await user.should_not_see(marker="request-send")

"""The record-payment and new-credit-request dialogs as staff use them, opened from a test-only page with
the same calls the console pages make: offline partial payments, an overpayment that needs a yes, a charge
to the demo client's sandbox card (once, however often it is clicked), a declined card, a credit request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from fastapi import Request
from nicegui import ui
from nicegui.events import GenericEventArguments, handle_event
from nicegui.testing import User

from portal.components import guard
from portal.components.credit_request_dialog import open_new_credit_request
from portal.components.frame import signed_in_frame
from portal.components.record_payment import open_record_payment
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.models import Client, CreditRequest, Invoice, Payment, PaymentMethod
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.payments import ledger, methods
from portal.payments.branding import branding
from portal.payments.gateways.protocol import NewCard
from portal.payments.gateways.sandbox import SandboxGateway
from tests.ui.conftest import sign_in

PAGE = "/test/record-payment/{client_id}"


@pytest.fixture
def dialog_page(user: User) -> None:
    """A page with the two buttons another console page would have (it calls the dialogs the same way)."""

    @guard.page(PAGE, access=guard.Access.staff, title="Dialogs")
    async def page(actor: Actor, client_id: int, request: Request) -> None:
        invoice = request.query_params.get("invoice")
        with signed_in_frame(actor, await branding(), "Dialogs"):
            done = {"count": 0}

            async def on_done() -> None:  # like a console page: redraw the part holding the buttons
                done["count"] += 1
                buttons.refresh()

            @ui.refreshable
            def buttons() -> None:
                ui.label(str(done["count"])).mark("done-count")
                ui.button(
                    "Record payment",
                    on_click=lambda: open_record_payment(
                        actor,
                        client_id=client_id,
                        invoice_id=int(invoice) if invoice else None,
                        on_done=on_done,
                    ),
                ).mark("open-record-payment")
                ui.button(
                    "New credit request",
                    on_click=lambda: open_new_credit_request(actor, client_id=client_id, on_done=on_done),
                ).mark("open-credit-request")

            buttons()


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _ada() -> Client:
    return await Client.get(email="client@demo.test")


async def _seo_audit(ada: Client) -> Invoice:
    """Ada's overdue invoice: $240.00 due."""
    return await Invoice.filter(client_id=ada.id, status=InvoiceStatus.open).order_by("due_date").first()


async def _due(invoice_id: int) -> int:
    return await ledger.amount_due(await Invoice.get(id=invoice_id))


async def _open_dialog(user: User, *, invoice_id: int | None = None) -> Client:
    await user.open("/login")
    ada = await _ada()
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    query = f"?invoice={invoice_id}" if invoice_id else ""
    await user.open(PAGE.format(client_id=ada.id) + query)
    user.find(marker="open-record-payment").click()
    await user.should_see("Record a payment from Ada Lovelace", retries=50)
    return ada


@pytest.mark.usefixtures("dialog_page")
async def test_an_offline_partial_payment_lowers_the_amount_due(user: User) -> None:
    await user.open("/login")
    seo = await _seo_audit(await _ada())
    assert await _due(seo.id) == 24000
    await _open_dialog(user, invoice_id=seo.id)
    assert _element(user, "payment-amount").value == "240.00"  # prefilled with what is due
    await user.should_see("$240.00 is due. More than that becomes credit, after you confirm.")
    _element(user, "payment-method").set_value("cheque")
    user.find(marker="payment-amount").clear().type("100")
    user.find(marker="payment-reference").type("CHQ 1182")
    user.find(marker="payment-submit").click()
    await user.should_see("$100.00 recorded.", retries=50)
    assert await _due(seo.id) == 14000
    payment = await Payment.get(reference="CHQ 1182")
    assert (payment.amount_minor, payment.method, payment.source) == (10000, "cheque", "offline")
    assert _element(user, "done-count").text == "1"  # on_done ran once
    receipt = _element(user, "payment-receipt")
    assert receipt.visible and receipt.props["href"] == f"/billing/receipts/{payment.id}/pdf"
    assert user.notify.contains("$100.00 recorded.")
    response = await user.http_client.get(receipt.props["href"])  # staff can open the receipt
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    await user.should_not_see(marker="payment-submit")  # the dialog cannot record it twice


@pytest.mark.usefixtures("dialog_page")
async def test_an_overpayment_asks_before_the_rest_becomes_credit(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    seo = await _seo_audit(ada)
    await _open_dialog(user, invoice_id=seo.id)
    user.find(marker="payment-amount").clear().type("300")
    user.find(marker="payment-submit").click()
    await user.should_see(marker="overpayment-question", retries=50)
    await user.should_see("$300.00 is $60.00 more than is due. $60.00 will become credit for Ada Lovelace.")
    user.find(marker="overpayment-cancel").click()
    await user.should_see("Nothing was recorded.", retries=50)
    assert await Payment.filter(source="offline", amount_minor=30000).count() == 0
    assert await _due(seo.id) == 24000

    user.find(marker="payment-submit").click()
    await user.should_see(marker="overpayment-confirm", retries=50)
    user.find(marker="overpayment-confirm").click()
    await user.should_see("$300.00 recorded. $60.00 became credit.", retries=50)
    assert (await Invoice.get(id=seo.id)).status == InvoiceStatus.paid
    assert await ledger.credit_balance(ada.id, "USD") == 2500 + 6000  # the demo's goodwill credit + the rest


@pytest.mark.usefixtures("dialog_page")
async def test_oldest_first_and_a_future_date_is_refused(user: User) -> None:
    await _open_dialog(user)
    assert _element(user, "payment-allocation").value == "oldest:USD"
    _element(user, "payment-date").set_value("2999-01-01")
    user.find(marker="payment-amount").clear().type("50")
    user.find(marker="payment-submit").click()
    date_input = _element(user, "payment-date")
    await _wait_for(lambda: date_input.error is not None, "the date message")
    assert date_input.error == "The payment date cannot be in the future."
    user.find(marker="payment-amount").clear().type("12.345")
    _element(user, "payment-date").set_value(today().isoformat())
    user.find(marker="payment-submit").click()
    amount = _element(user, "payment-amount")
    await _wait_for(lambda: amount.error is not None, "the amount message")
    assert amount.error == "USD amounts have at most 2 decimal places."
    assert await Payment.filter(source="offline", received_on=today()).count() == 0

    user.find(marker="payment-amount").clear().type("50")
    user.find(marker="payment-submit").click()
    await user.should_see("$50.00 recorded.", retries=50)
    seo = await _seo_audit(await _ada())
    assert await _due(seo.id) == 19000  # the oldest due invoice took it


@pytest.mark.usefixtures("dialog_page")
async def test_charging_the_demo_clients_sandbox_card_once(user: User) -> None:
    await user.open("/login")
    seo = await _seo_audit(await _ada())
    await _open_dialog(user, invoice_id=seo.id)
    _element(user, "payment-mode").set_value("online")
    await user.should_see("$240.00 will be charged")
    await user.should_see("Sandbox: no real money moves")
    method = _element(user, "charge-method")
    assert isinstance(method, ui.select)
    assert method.options[method.value].startswith("Visa •••• 4242")  # the default card first
    submit = _element(user, "payment-submit")
    with user:  # a double click: both clicks arrive before the first charge is answered
        for listener in submit._event_listeners.values():
            if listener.type == "click":
                for _ in range(2):
                    handle_event(
                        listener.handler, GenericEventArguments(sender=submit, client=user.client, args={})
                    )
    await user.should_see("$240.00 was charged to Visa •••• 4242.", retries=50)
    assert (await Invoice.get(id=seo.id)).status == InvoiceStatus.paid
    charged = await Payment.filter(invoice_id=seo.id, source="online").all()
    assert [p.status for p in charged] == [PaymentStatus.succeeded]
    assert _element(user, "done-count").text == "1"
    assert _element(user, "payment-receipt").props["href"] == f"/billing/receipts/{charged[0].id}/pdf"


async def _declining_card(ada: Client) -> PaymentMethod:
    """A card that saves but is declined when charged (4000 0000 0000 0341)."""
    bank = SandboxGateway()
    saved = await bank.save_method(
        customer_ref=await methods.ensure_customer(client=ada, gateway=bank),
        method=NewCard("4000000000000341", 12, today().year + 2, "123"),
        idempotency_key=f"ui-test:declining:{ada.id}",
    )
    return await PaymentMethod.create(
        client=ada,
        gateway="sandbox",
        gateway_ref=saved.ref,
        kind="card",
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
    )


@pytest.mark.usefixtures("dialog_page")
async def test_a_declined_card_shows_the_reason_and_another_card_can_be_tried(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    declining = await _declining_card(ada)
    seo = await _seo_audit(ada)
    await _open_dialog(user, invoice_id=seo.id)
    _element(user, "payment-mode").set_value("online")
    _element(user, "charge-method").set_value(declining.id)
    user.find(marker="payment-submit").click()
    await user.should_see(
        "The charge was declined: Your card was declined. Please use another card or contact your bank.",
        retries=50,
    )
    assert await _due(seo.id) == 24000
    assert _element(user, "done-count").text == "0"
    assert _element(user, "payment-submit").enabled

    visa = next(k for k, v in _element(user, "charge-method").options.items() if v.startswith("Visa"))
    _element(user, "charge-method").set_value(visa)
    user.find(marker="payment-submit").click()
    await user.should_see("$240.00 was charged to Visa •••• 4242.", retries=50)
    assert (await Invoice.get(id=seo.id)).status == InvoiceStatus.paid


@pytest.mark.usefixtures("dialog_page")
async def test_a_new_credit_request_from_its_dialog(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    before = await CreditRequest.filter(client_id=ada.id).count()
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(PAGE.format(client_id=ada.id))
    user.find(marker="open-credit-request").click()
    await user.should_see("Ask Ada Lovelace to add credit", retries=50)
    assert _element(user, "credit-request-currency").value == "USD"
    user.find(marker="credit-request-amount").type("0")
    user.find(marker="credit-request-submit").click()
    amount = _element(user, "credit-request-amount")
    await _wait_for(lambda: amount.error is not None, "the amount message")
    assert amount.error == "The amount must be greater than zero."
    assert await CreditRequest.filter(client_id=ada.id).count() == before

    user.find(marker="credit-request-amount").clear().type("150")
    user.find(marker="credit-request-description").type("Prepaid design hours")
    user.find(marker="credit-request-submit").click()
    await user.should_see("Credit request for $150.00 sent to client@demo.test.", retries=50)
    credit = await CreditRequest.get(client_id=ada.id, description="Prepaid design hours")
    assert (credit.amount_minor, credit.currency, credit.status) == (15000, "USD", "pending")
    await _wait_for(lambda: _element(user, "done-count").text == "1", "on_done")

"""Refunds from the console as staff make them (issue 15 items 1 and 4, issue 16 item 5): from the invoice
page's payments, the client record's payments and the staff receipt page; the over-refund message with the
exact figure; what was taken back off the invoice cancelled by a credit note (the default: the invoice stays
paid) or owed again (it reopens); one refund, the page's message kept after its redraw; the offline-receipt
setting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui
from nicegui.events import GenericEventArguments, handle_event
from nicegui.testing import User

from portal.core.organization import get_organization
from portal.db.credit_note_models import CreditNote
from portal.db.models import Client, Invoice, OutboxEmail, Payment, Refund
from portal.domain.status import InvoiceStatus
from portal.payments import ledger
from tests.ui.conftest import sign_in


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _transfer() -> tuple[Payment, Invoice]:
    """The demo's bank transfer BT-2291 and the Logo design invoice it paid."""
    payment = await Payment.get(reference="BT-2291")
    return payment, await Invoice.get(id=(await payment.allocations.all().first()).invoice_id)


async def _staff(user: User, email: str = "staff@demo.test") -> None:
    await user.open("/login")
    await sign_in(user, email)
    await user.should_see("Overview", retries=50)


async def test_a_partial_refund_from_the_invoice_page(user: User) -> None:
    await user.open("/login")
    payment, invoice = await _transfer()
    assert invoice.status == InvoiceStatus.paid
    await _staff(user)
    await user.open(f"/admin/invoices/{invoice.id}")
    await user.should_see(marker="refund-hint")
    table = _element(user, "invoice-payments")
    assert isinstance(table, ui.table)
    row = next(r for r in table.rows if r.get("payment_id") == payment.id)
    assert row["refundable"] and row["href"] == f"/admin/receipts/{payment.id}"
    user.find(marker="invoice-payments").trigger("refund", {"payment_id": payment.id})
    await user.should_see("Up to $540.00 can be refunded.", retries=50)
    assert _element(user, "refund-amount").value == "540.00"  # prefilled with what is left
    await user.should_see("Bank transfer")
    await user.should_see(marker="refund-where")

    user.find(marker="refund-amount").clear().type("540.01")
    user.find(marker="refund-confirm").click()
    amount = _element(user, "refund-amount")
    await _wait_for(lambda: amount.error is not None, "the amount message")
    assert amount.error == "At most $540.00 can be refunded."
    assert await Refund.all().count() == 0

    user.find(marker="refund-amount").clear().type("100")
    user.find(marker="refund-reason").type("Logo colours redone")
    confirm = _element(user, "refund-confirm")
    with user:  # a double click: both arrive before the first refund is answered
        for listener in confirm._event_listeners.values():
            if listener.type == "click":
                for _ in range(2):
                    handle_event(
                        listener.handler, GenericEventArguments(sender=confirm, client=user.client, args={})
                    )
    await user.should_see("$100.00 recorded as refunded (Bank transfer).", retries=50)
    refunds = await Refund.filter(payment_id=payment.id)
    assert [(r.amount_minor, r.reason) for r in refunds] == [(10000, "Logo colours redone")]
    # the default: the $100 is cancelled on the invoice by one credit note, and the invoice stays paid
    notes = await CreditNote.filter(invoice_id=invoice.id)
    assert [(n.total_minor, n.refund_id, n.reason) for n in notes] == [(10000, refunds[0].id, "refund")]
    message = (
        f"$100.00 recorded as refunded (Bank transfer). Credit note {notes[0].number} issued. "
        "The client gets a refund receipt by email."
    )
    await user.should_see(message, retries=50)
    assert user.notify.contains(message)
    assert (await Invoice.get(id=invoice.id)).status == InvoiceStatus.paid
    assert await ledger.amount_due(invoice) == 0
    await user.should_see("Cancelled by credit notes", retries=50)  # the redrawn invoice's totals
    await user.should_see(f"Credit note {notes[0].number} of ", marker=f"credit-note-{notes[0].number}")
    await user.should_not_see(marker="record-payment")
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 1


async def test_a_full_refund_from_the_client_record_and_the_staff_receipt(user: User) -> None:
    await user.open("/login")
    payment, invoice = await _transfer()
    ada = await Client.get(email="client@demo.test")
    await _staff(user)
    await user.open(f"/admin/clients/{ada.id}")
    table = _element(user, "payments")
    assert isinstance(table, ui.table)
    assert next(r for r in table.rows if r["payment_id"] == payment.id)["refundable"]
    user.find(marker="payments").trigger("refund", {"payment_id": payment.id})
    await user.should_see("Up to $540.00 can be refunded.", retries=50)
    user.find(marker="refund-amount").clear().type("86")
    await user.should_see("Up to $540.00 of it comes off the invoices this payment paid.", retries=50)
    _element(user, "refund-invoice-choice").set_value("reopen")  # the client owes it again
    user.find(marker="refund-confirm").click()
    await user.should_see("$86.00 recorded as refunded (Bank transfer).", retries=50, marker="refund-message")
    assert await CreditNote.all().count() == 0  # reopened: no credit note
    assert (await Invoice.get(id=invoice.id)).status == InvoiceStatus.open
    assert await ledger.amount_due(invoice) == 8600

    await user.open(f"/admin/receipts/{payment.id}")
    await user.should_see("Kept after refunds: $454.00")
    user.find(marker="refund-payment").click()
    await user.should_see("Already refunded: $86.00", retries=50)
    await user.should_see("Up to $454.00 can be refunded.")
    _element(user, "refund-invoice-choice").set_value("reopen")
    user.find(marker="refund-confirm").click()  # the whole rest, as prefilled
    await user.should_see("$454.00 recorded as refunded (Bank transfer).", retries=50)
    await user.should_not_see(marker="refund-payment", retries=50)  # nothing left: no Refund button
    assert (await Payment.get(id=payment.id)).refunded_minor == 54000
    assert await ledger.amount_due(invoice) == 54000
    assert await CreditNote.all().count() == 0
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 2


async def test_clients_cannot_open_the_staff_receipt(user: User) -> None:
    await user.open("/login")
    payment, _invoice = await _transfer()
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open(f"/admin/receipts/{payment.id}")
    await user.should_not_see(marker="refund-payment")


async def test_the_offline_receipt_setting(user: User) -> None:
    await _staff(user, "admin@demo.test")
    await user.open("/settings/billing")
    switch = _element(user, "offline-receipts")
    assert switch.value is True
    switch.set_value(False)
    user.find(marker="save-billing").click()
    await user.should_see("Billing settings saved.", retries=50)
    assert (await get_organization()).email_offline_receipts is False

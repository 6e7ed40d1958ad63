"""Every way to pay on My Billing (issue 15 item 3) and paying everything due at once (item 8), as the demo
client sees them: the Pay dialog offers card, a new card, direct debit, bank transfer and credit; a bank
transfer shows the bank details and the reference and marks the invoice as awaiting it; "Pay all" pays
every open invoice of one currency with one payment."""

from __future__ import annotations

from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from portal.core.clock import now_utc
from portal.db.models import Invoice, Organization, OutboxEmail, Payment
from portal.payments import links
from tests.e2e.recurring_credit_seed import recurring_request
from tests.ui.conftest import sign_in
from tests.ui.test_pay_now import _emit, _rows, _wait_for

BANK = "IBAN FR76 3000 6000 0112 3456 7890 189"


async def _open_dialog(user: User) -> dict:
    await Organization.filter(id=1).update(bank_details=BANK)
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    row = next(r for r in _rows(user) if r["status"] == "Overdue")
    _emit(user, user.find(marker="open-invoices").elements.pop(), "pay", row["key"])
    await user.should_see(f"Pay invoice {row['number']}", retries=20)
    return row


async def test_the_dialog_offers_every_way_and_a_transfer_marks_the_invoice_awaiting_it(user: User) -> None:
    row = await _open_dialog(user)
    choice = user.find(marker="pay-with").elements.pop()
    assert isinstance(choice, ui.radio)
    labels = list(choice.options.values())
    assert labels[0].startswith("Visa •••• 4242")  # the saved cards first, the default chosen
    assert choice.options[choice.value] == labels[0]
    assert labels[-4:-1] == ["A new card", "Direct debit", "Bank transfer"]
    assert labels[-1].startswith("My credit")
    await user.should_not_see(marker="bank-details")
    choice.set_value("transfer")
    await user.should_see(BANK)
    await user.should_see(f"Quote this reference: {row['number']}")
    await user.should_see("I will pay by bank transfer")
    user.find(marker="pay-confirm").click()
    await user.should_see("Thank you: we are expecting your transfer.", retries=50)
    await _wait_for(
        lambda: next(r for r in _rows(user) if r["key"] == row["key"])["status"] == "Awaiting transfer",
        "the invoice to show it awaits the transfer",
    )
    invoice = await Invoice.get(number=row["number"])
    assert invoice.status == "open" and invoice.awaiting_transfer_since is not None  # still payable


async def test_direct_debit_from_the_dialog_opens_the_debit_checkout(user: User) -> None:
    await _open_dialog(user)
    user.find(marker="pay-with").elements.pop().set_value("direct_debit")
    user.find(marker="pay-confirm").click()
    await user.should_see("Sandbox checkout", retries=50)
    await user.should_see("IBAN")


async def test_pay_all_pays_every_open_invoice_of_the_currency_at_once(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.should_see(marker="pay-all-USD")
    await user.open("/billing/pay-all/USD")
    await user.should_see(marker="pay-all-total")
    open_before = await Invoice.filter(client__email="client@demo.test", status="open").count()
    assert open_before >= 2
    table = user.find(marker="pay-all-invoices").elements.pop()
    assert isinstance(table, ui.table) and len(table.rows) == open_before
    choice = user.find(marker="pay-with").elements.pop()
    assert "Bank transfer" in choice.options.values()
    user.find(marker="pay-all-confirm").click()
    await user.should_see("Thank you! We received", retries=50)
    await user.should_see(marker="pay-all-nothing", retries=50)
    assert await Invoice.filter(client__email="client@demo.test", status="open").count() == 0
    payment = await Payment.get(purpose="pay_all")
    assert payment.status == "succeeded"
    # one receipt for the one payment (queued in the settlement's transaction)
    assert await OutboxEmail.filter(kind="receipt", dedupe_key=f"receipt:payment:{payment.id}").count() == 1


async def test_pay_all_with_nothing_due_says_so(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open("/billing/pay-all/GBP")
    await user.should_see(marker="pay-all-nothing")


async def test_a_transfer_promised_on_the_pay_link_shows_in_the_console(user: User) -> None:
    await user.open("/login")  # start the app so the database is open
    await Organization.filter(id=1).update(bank_details=BANK)
    invoice = await Invoice.filter(status="open").order_by("id").first()
    assert invoice is not None
    token = await links.issue(
        purpose="invoice", target_id=invoice.id, expires_at=now_utc() + timedelta(days=7)
    )
    await user.open(f"/pay/{token}")
    user.find(kind=ui.tab, content="Bank transfer").click()
    await user.should_see(BANK)
    user.find(marker="promise-transfer").click()
    await user.should_see(marker="transfer-promised", retries=50)
    assert (await Invoice.get(id=invoice.id)).awaiting_transfer_since is not None
    await sign_in(user, "admin@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(f"/admin/invoices/{invoice.id}")
    await user.should_see(marker="awaiting-transfer", retries=50)


async def test_pay_all_is_not_offered_where_only_a_recurring_request_is_due(user: User) -> None:
    await user.open("/login")  # start the app so the database is open
    await recurring_request("client@demo.test", "GBP", 1500)  # paying it starts a subscription
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.should_see("£15.00")  # owed, and in the open balance
    await user.should_see(marker="pay-all-USD")  # ordinary invoices: Pay all as before
    await user.should_not_see(marker="pay-all-GBP")

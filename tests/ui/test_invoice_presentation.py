"""One presentation of an invoice: after a partial payment, the invoice page, the pay-link page and the
invoice email list the same lines (net, tax, gross, under labelled columns) and the same totals block
(payments received, amount due); the PDF, the invoice as issued (issue 16: issued documents never change),
lists the same lines and the totals up to the total, which it shows as due; a payment on the pay link is
confirmed with ITS amount, in English and French."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from nicegui import ui
from nicegui.testing import User

from portal.billing import invoices
from portal.components.invoice_summary import TOTAL_MARKERS
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.models import Client, Invoice, OutboxEmail
from portal.db.models import User as UserRow
from portal.domain.money import format_money
from portal.domain.status import Role
from portal.i18n import translate
from portal.payments import ledger, links, receipts
from tests.pdf_reading import pdf_strings
from tests.ui.conftest import sign_in

CLIENTS = {"en": "client@demo.test", "fr": "emile@demo.test"}  # Ada (USD, English), Émile (EUR, French)
PARTIAL = 50_000
_SPACES = str.maketrans({"\u202f": " ", "\xa0": " "})


def _plain(text: str) -> str:
    """Amounts compared across renderers whatever no-break space each one prints."""
    return text.translate(_SPACES)


async def _staff() -> Actor:
    row = await UserRow.get(email="staff@demo.test")
    return Actor(user_id=row.id, role=Role.staff, email=row.email, name="Sam Staff")


async def _partly_paid(locale: str) -> tuple[Invoice, str, OutboxEmail]:
    """The client's newest open invoice after a partial bank transfer, re-sent: (invoice, token, email)."""
    client = await Client.get(email=CLIENTS[locale])
    invoice = await Invoice.filter(client_id=client.id, status="open").order_by("-due_date").first()
    assert invoice is not None and client.locale == locale
    await ledger.record_offline_payment(
        actor=await _staff(),
        client_id=client.id,
        amount_minor=PARTIAL,
        currency=invoice.currency,
        method="bank_transfer",
        received_on=today(),
        invoice_id=invoice.id,
    )
    await OutboxEmail.filter(kind="invoice").delete()
    await invoices.queue_invoice_email(invoice, client)
    email = await OutboxEmail.get(kind="invoice")
    match = re.search(r"/pay/([A-Za-z0-9_-]+)", email.text_body)
    assert match, email.text_body
    return invoice, match.group(1), email


def _lines(user: User) -> tuple[list[str], list[list[str]]]:
    """The lines table on the page: column titles, and each row's texts in column order."""
    table = user.find(marker="invoice-lines").elements.pop()
    assert isinstance(table, ui.table)
    keys = [c["name"] for c in table.columns]
    return [c["label"] for c in table.columns], [[row[key] for key in keys] for row in table.rows]


def _totals(user: User) -> list[str]:
    """The amounts of the totals block, top to bottom."""
    blocks = [c for c in user.find(kind=ui.column).elements if c.props.get("data-presentation") == "totals"]
    assert len(blocks) == 1, f"{len(blocks)} totals blocks"
    markers = set(TOTAL_MARKERS.values())
    return [
        e.text
        for e in blocks[0].descendants()
        if isinstance(e, ui.label) and e._markers and markers & set(e._markers)
    ]


_pdf_strings = pdf_strings


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_page_pay_link_email_and_pdf_show_the_same_lines_and_totals(user: User, locale: str) -> None:
    await user.open("/login")  # the app (and its database) is up
    invoice, token, email = await _partly_paid(locale)
    due = invoice.total_minor - PARTIAL

    await sign_in(user, CLIENTS[locale])
    await user.should_see(marker="nav-billing", retries=50)
    await user.open(f"/billing/invoices/{invoice.id}")
    await user.should_see(marker="invoice-lines")
    titles, page_rows = _lines(user)
    page_totals = _totals(user)

    await user.open(f"/pay/{token}")
    await user.should_see(marker="invoice-lines")
    link_titles, link_rows = _lines(user)
    assert (link_titles, link_rows, _totals(user)) == (titles, page_rows, page_totals)

    # net, tax rate, tax and gross per line, titled in the reader's language
    for title in ("Net", "Tax rate", "Tax", "Gross", "Qty", "Unit price"):
        assert translate(title, locale) in titles
    money = lambda amount: format_money(amount, invoice.currency, locale)  # noqa: E731
    assert money(invoice.total_minor) in page_totals and page_totals[-1] == money(due)
    assert page_totals.count(money(-PARTIAL)) == 1  # "payments received", said once

    text, html = _plain(email.text_body), _plain(email.html_body)
    response = await user.http_client.get(f"/billing/invoices/{invoice.id}/pdf")
    assert response.status_code == 200
    issued = [_plain(s) for s in _pdf_strings(response.content)]
    for row in page_rows:
        for cell in row[1:]:  # every amount, rate and quantity of every line (the date column aside)
            assert _plain(cell) in text, (cell, email.text_body)
            assert _plain(cell) in issued, cell
    for title in titles:
        assert title in html
    for amount in page_totals:
        assert _plain(amount) in text and _plain(amount) in html
    # the PDF is the invoice as issued: the same totals up to the total, which it shows as due
    payments_and_due = {money(-PARTIAL), money(due)}
    for amount in page_totals:
        assert (_plain(amount) in issued) is (amount not in payments_and_due), amount
    title_bar = _plain(translate("Amount due {amount}", locale, amount=money(invoice.total_minor)))
    assert title_bar in " ".join(issued)
    assert translate("Payments received", locale) in text


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_a_direct_debit_on_the_pay_link_is_confirmed_with_its_own_amount(
    user: User, locale: str
) -> None:
    await user.open("/login")
    invoice, token, _email = await _partly_paid(locale)
    due = invoice.total_minor - PARTIAL
    money = lambda amount: format_money(amount, invoice.currency, locale)  # noqa: E731

    await user.open(f"/pay/{token}")
    user.find(kind=ui.tab, content=translate("Direct debit", locale)).click()  # built when opened
    await user.should_see(marker="pay-debit")
    outcome = await links.pay_with_new_method(token=token, method_kind="direct_debit")
    await user.open(outcome.redirect_url.removeprefix("http://test"))
    user.find(marker="iban").type("DE89 3704 0044 0532 0130 00")
    user.find(marker="checkout-pay").click()
    await user.should_see(marker="pay-title", retries=50)
    for _attempt in range(50):
        confirmations = [
            e.text
            for e in user.find(kind=ui.label).elements
            if e._markers and {"pay-received", "pay-processing"} & set(e._markers)
        ]
        if confirmations:
            break
        await asyncio.sleep(0.1)
    assert len(confirmations) == 1, confirmations
    assert money(due) in confirmations[0]
    assert money(invoice.total_minor) not in confirmations[0]  # never the invoice's total
    assert (await Invoice.get(id=invoice.id)).status == "paid"  # the sandbox settles a debit at once
    assert _totals(user)[-1] == money(0)
    assert money(-invoice.total_minor) in _totals(user)  # both payments, received
    # the receipt email of this payment (the offline one before it had its own): this payment's amount
    row = await OutboxEmail.filter(kind="receipt").order_by("-id").first()
    assert row is not None
    receipt = await receipts.write_receipt(row)  # as the outbox worker writes it when sending it
    assert receipt is not None
    assert money(due) in receipt.subject and money(invoice.total_minor) not in receipt.subject
    stands = translate("Invoice {number} now stands as follows:", locale, number=invoice.number)
    assert stands in receipt.text
    assert translate("Payments received", locale) in receipt.text


async def test_the_receipt_page_states_the_amount_of_that_payment(user: User) -> None:
    await user.open("/login")
    invoice, _token, _email = await _partly_paid("en")
    payment = await ledger.record_offline_payment(
        actor=await _staff(),
        client_id=invoice.client_id,
        amount_minor=1_000,
        currency="USD",
        method="cash",
        received_on=today() - timedelta(days=1),
        invoice_id=invoice.id,
    )
    await sign_in(user, CLIENTS["en"])
    await user.should_see(marker="nav-billing", retries=50)
    await user.open(f"/billing/receipts/{payment.payment_id}")
    await user.should_see(marker="receipt-amount")
    amount = user.find(marker="receipt-amount").elements.pop()
    assert isinstance(amount, ui.label) and amount.text == "$10.00"
    assert _totals(user)[-1] == format_money(invoice.total_minor - PARTIAL - 1_000, "USD", "en")
    await user.should_see(f"Invoice {invoice.number} now stands as follows:")

"""/admin/invoices as staff use it: the filtered list, the editor's live totals and field messages, save,
send, resend, void (refused while money is on it), duplicate, payments on a sent invoice, the PDF."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from portal.billing.invoice_editor import InvoiceForm, save_draft, void_invoice
from portal.billing.line_input import LineForm
from portal.core.clock import today
from portal.db.models import Client, Invoice, InvoiceLine, OutboxEmail, PaymentLink, TaxRate
from portal.db.models import User as Account
from portal.domain.status import InvoiceStatus
from portal.payments import ledger
from tests.services.conftest import staff_actor
from tests.ui.conftest import sign_in

YEAR = today().year


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def _text(user: User, marker: str) -> str:
    label = _element(user, marker)
    assert isinstance(label, ui.label)
    return label.text


def _rows(user: User, marker: str = "invoices") -> list[dict]:
    table = _element(user, marker)
    assert isinstance(table, ui.table)
    return table.rows


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


async def _client(email: str = "client@demo.test") -> Client:
    return await Client.get(email=email)


async def _vat() -> str:
    return f"rate:{(await TaxRate.get(name='VAT')).id}"


def _type(user: User, marker: str, text: str) -> None:
    element = _element(user, marker)
    with user:
        element.value = text


async def test_the_list_filters_and_links_every_invoice(user: User) -> None:
    await user.open("/login")
    ada, yuki = await _client(), await _client("yuki@demo.test")
    await _as_staff(user, "/admin/invoices")
    await _wait_for(lambda: len(_rows(user)) == 5, "the five demo invoices")
    rows = _rows(user)
    assert {r["client"] for r in rows} == {"Ada Lovelace", "Émile Durand", "Yuki Tanaka"}
    assert all(r["href"] == f"/admin/invoices/{r['id']}" for r in rows)
    assert _text(user, "page-label") == "Page 1 of 1 · 5 invoices"

    _type(user, "overdue-filter", True)  # type: ignore[arg-type]
    await _wait_for(lambda: len(_rows(user)) == 1, "the overdue invoice")
    overdue = _rows(user)[0]
    assert (overdue["client"], overdue["status"], overdue["status_label"]) == (
        "Ada Lovelace",
        "overdue",
        "Overdue",
    )
    _type(user, "overdue-filter", False)  # type: ignore[arg-type]
    _element(user, "status-filter").set_value("paid")  # type: ignore[attr-defined]
    await _wait_for(lambda: [r["status"] for r in _rows(user)] == ["paid"], "the paid invoice")
    assert _rows(user)[0]["amount_due"] == "$0.00"
    _element(user, "status-filter").set_value("")  # type: ignore[attr-defined]
    _element(user, "currency-filter").set_value("JPY")  # type: ignore[attr-defined]
    await _wait_for(lambda: [r["client"] for r in _rows(user)] == ["Yuki Tanaka"], "the yen invoice")
    assert _rows(user)[0]["total"] == "¥52,800"
    _element(user, "currency-filter").set_value("")  # type: ignore[attr-defined]
    _type(user, "invoice-search", "analytical")
    await _wait_for(lambda: {r["client"] for r in _rows(user)} == {"Ada Lovelace"}, "Ada's invoices")
    assert len(_rows(user)) == await Invoice.filter(client_id=ada.id).count() == 3
    assert await Invoice.filter(client_id=yuki.id).count() == 1


async def test_the_editor_totals_follow_the_typing_and_a_draft_is_saved(user: User) -> None:
    await user.open("/login")
    ada = await _client()
    vat = await _vat()
    before = await Invoice.all().count()
    await _as_staff(user, f"/admin/invoices/new?client={ada.id}")
    await user.should_see("New invoice")
    assert _element(user, "currency").value == "USD"  # type: ignore[attr-defined]
    user.find(marker="line-description-0").type("Website care")
    user.find(marker="line-quantity-0").clear().type("2")
    user.find(marker="line-price-0").type("12.50")
    assert _text(user, "line-amount-0") == "$25.00"
    assert _text(user, "total") == "$25.00"
    _element(user, "line-tax-0").set_value(vat)  # type: ignore[attr-defined]
    assert (_text(user, "subtotal"), _text(user, "tax-total"), _text(user, "total")) == (
        "$25.00",
        "$5.00",
        "$30.00",
    )

    user.find(marker="add-line").click()
    await user.should_see(marker="line-price-1")
    user.find(marker="line-description-1").type("Hosting")
    user.find(marker="line-price-1").type("0.33")
    _element(user, "line-tax-1").set_value(f"rate:{(await TaxRate.get(name='NY sales tax')).id}")  # type: ignore[attr-defined]
    assert _text(user, "total") == "$30.36"  # 0.33 + 0.0293 rounded up to 0.03 on its own line
    user.find(marker="line-remove-1").click()
    await _wait_for(lambda: _text(user, "total") == "$30.00", "the total without the removed line")

    user.find(marker="notes").type("Thank you!")
    user.find(marker="save-draft").click()
    await user.should_see("Draft saved.", retries=50)
    await user.should_see(marker="status-draft", retries=50)
    invoice = await Invoice.filter().order_by("-id").first()
    assert invoice is not None and await Invoice.all().count() == before + 1
    assert (invoice.status, invoice.number, invoice.total_minor, invoice.notes) == (
        "draft",
        None,
        3000,
        "Thank you!",
    )
    lines = await InvoiceLine.filter(invoice_id=invoice.id)
    assert [(r.description, r.unit_price_minor, r.tax_name, r.tax_minor) for r in lines] == [
        ("Website care", 1250, "VAT", 500)
    ]
    await user.should_see(f"Draft invoice {invoice.id}")


async def test_wrong_input_gets_a_message_next_to_the_field_and_nothing_is_saved(user: User) -> None:
    await user.open("/login")
    yuki = await _client("yuki@demo.test")
    before = await Invoice.all().count()
    await _as_staff(user, f"/admin/invoices/new?client={yuki.id}")
    await user.should_see("New invoice")
    user.find(marker="line-description-0").type("Illustration")
    user.find(marker="line-price-0").type("1250.5")
    await user.should_see("JPY has no decimals.")
    user.find(marker="line-quantity-0").clear().type("0")
    await user.should_see("Quantity must be more than 0")
    _type(user, "due-date", (today() - timedelta(days=1)).isoformat())
    await user.should_see("Due date cannot be before the issue date.")
    user.find(marker="save-draft").click()
    await user.should_see("Please correct the highlighted fields.")
    user.find(marker="send").click()
    await user.should_not_see(marker="send-confirm")
    assert await Invoice.all().count() == before

    user.find(marker="line-price-0").clear().type("abc")
    await user.should_see("Enter a price like 1,250.")
    user.find(marker="line-price-0").clear().type("1,250")
    user.find(marker="line-quantity-0").clear().type("3")
    _type(user, "due-date", (today() + timedelta(days=7)).isoformat())
    await user.should_not_see("Due date cannot be before the issue date.")
    assert _text(user, "total") == "¥3,750"
    user.find(marker="save-draft").click()
    await user.should_see("Draft saved.", retries=50)
    await user.should_see("Draft invoice", retries=50)
    assert await Invoice.all().count() == before + 1


async def test_sending_a_draft_numbers_it_locks_its_lines_and_emails_the_client(user: User) -> None:
    await user.open("/login")
    ada = await _client()
    staff = staff_actor(await _staff_user_id())
    draft_id = await save_draft(
        actor=staff,
        client_id=ada.id,
        form=InvoiceForm(
            "USD",
            today().isoformat(),
            (today() + timedelta(days=14)).isoformat(),
            lines=[LineForm("Audit", "1", "400.00")],
        ),
    )
    emails_before = await OutboxEmail.filter(kind="invoice", to_address="client@demo.test").count()
    await _as_staff(user, f"/admin/invoices/{draft_id}")
    await user.should_see(marker="line-price-0")
    user.find(marker="send").click()
    await user.should_see("client@demo.test receives an email")
    user.find(marker="send-confirm").click()
    await user.should_see(marker="locked-note", retries=50)
    invoice = await Invoice.get(id=draft_id)
    assert invoice.status == InvoiceStatus.open and invoice.number is not None
    await user.should_see(f"Invoice {invoice.number}")
    await user.should_see("its lines can no longer be edited")
    await user.should_not_see(marker="line-price-0")
    assert [r["description"] for r in _rows(user, "invoice-lines")] == ["Audit"]
    assert _text(user, "amount-due") == "$400.00"
    emails = await OutboxEmail.filter(kind="invoice", to_address="client@demo.test").count()
    assert emails == emails_before + 1

    user.find(marker="resend").click()
    await user.should_see("Sent again to client@demo.test.", retries=50)
    assert await PaymentLink.filter(invoice_id=draft_id, revoked_at=None).count() == 2

    user.find(marker="duplicate").click()
    await user.should_see(marker="status-draft", retries=50)
    copy = await Invoice.filter().order_by("-id").first()
    assert copy is not None and copy.id != draft_id and copy.status == "draft"
    assert _element(user, "line-description-0").value == "Audit"  # type: ignore[attr-defined]


async def test_void_is_refused_while_money_is_on_the_invoice_then_allowed(user: User) -> None:
    await user.open("/login")
    ada = await _client()
    invoice = await Invoice.filter(client_id=ada.id, status="open").order_by("-due_date").first()
    assert invoice is not None
    staff = staff_actor(await _staff_user_id())
    await ledger.record_offline_payment(
        actor=staff,
        client_id=ada.id,
        amount_minor=10000,
        currency="USD",
        method="cheque",
        received_on=today(),
        reference="CHQ-77",
        invoice_id=invoice.id,
    )
    await _as_staff(user, f"/admin/invoices/{invoice.id}")
    await user.should_see(marker="record-payment")
    rows = _rows(user, "invoice-payments")
    assert [(r["what"], r["reference"], r["amount"]) for r in rows] == [("Cheque", "CHQ-77", "$100.00")]
    assert _text(user, "amount-due") == "$1,411.96"
    pdf_link = _element(user, "download-pdf")
    assert pdf_link.props["href"] == f"/billing/invoices/{invoice.id}/pdf"
    response = await user.http_client.get(f"/billing/invoices/{invoice.id}/pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"

    # Void is offered only when it can succeed (issue 14): the note says what to do instead
    await user.should_not_see(marker="void")
    await user.should_see("This invoice is partly paid, so its lines can no longer be edited.")
    await user.should_see("refund the payments first, then void it and duplicate it.")
    assert (await Invoice.get(id=invoice.id)).status == InvoiceStatus.open

    other = await Invoice.filter(client_id=ada.id, status="open").exclude(id=invoice.id).first()
    assert other is not None
    await user.open(f"/admin/invoices/{other.id}")
    user.find(marker="void").click()
    user.find(marker="void-confirm").click()
    await user.should_see("Invoice voided.", retries=50)
    await user.should_see("This invoice is void", retries=50)
    assert (await Invoice.get(id=other.id)).status == InvoiceStatus.deleted
    await user.should_see(marker="status-void")  # the badge says "Void", never "Deleted" (issue 14)
    assert _element(user, "status-void").text == "Void"
    await user.should_not_see("Deleted")
    assert not await PaymentLink.filter(invoice_id=other.id, revoked_at=None).exists()


async def test_a_paid_invoice_shows_what_paid_it_and_offers_no_void(user: User) -> None:
    await user.open("/login")
    paid = await Invoice.get(status="paid")
    await _as_staff(user, f"/admin/invoices/{paid.id}")
    await user.should_see(marker="status-paid")
    await user.should_not_see("Void it and duplicate it to make changes")  # not true of a paid invoice
    await user.should_see("This invoice is paid, so it can no longer be changed.")
    assert [r["reference"] for r in _rows(user, "invoice-payments")] == ["BT-2291"]
    assert _text(user, "amount-due") == "$0.00"
    await user.should_not_see(marker="void")
    await user.should_not_see(marker="record-payment")
    await user.should_not_see(marker="resend")


async def test_unknown_invoices_and_clients_say_so_and_clients_cannot_open_the_console(user: User) -> None:
    await user.open("/login")
    await _as_staff(user, "/admin/invoices/99999")
    await user.should_see("That invoice does not exist.")
    await user.open("/admin/invoices/new?client=99999")
    await user.should_see("That client does not exist.")
    await user.open("/admin/invoices/new")
    await user.should_see(marker="client-picker")


async def test_a_client_is_not_allowed_in_the_invoice_console(user: User) -> None:
    await user.open("/login")
    invoice = await Invoice.filter(status="open").first()
    assert invoice is not None
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    for path in ("/admin/invoices", f"/admin/invoices/{invoice.id}", "/admin/invoices/new"):
        await user.open(path)
        await user.should_see(marker="not-allowed")
        await user.should_not_see(marker="invoices")


async def _staff_user_id() -> int:
    from portal.db.models import User as UserRow

    return (await UserRow.get(email="staff@demo.test")).id


async def test_voiding_a_sent_invoice_issues_a_credit_note_staff_and_the_client_both_see(user: User) -> None:
    await user.open("/login")
    ada = await _client()
    invoice = await Invoice.filter(client_id=ada.id, status="open").order_by("id").first()
    assert invoice is not None and invoice.number
    await _as_staff(user, f"/admin/invoices/{invoice.id}")
    user.find(marker="void").click()
    await user.should_see("The invoice stays as it was issued, marked void, and a credit note cancels it.")
    _element(user, "void-reason").set_value("Raised twice by mistake")
    user.find(marker="void-confirm").click()
    number = f"CN-{today().year}-0001"
    await user.should_see(f"Invoice voided. Credit note {number} issued.", retries=50)
    await user.should_see(marker=f"credit-note-{number}", retries=50)
    link = _element(user, "credit-note-pdf")
    response = await user.http_client.get(link.props["href"])
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert f"credit-note-{number}.pdf" in response.headers["content-disposition"]
    assert (await Invoice.get(id=invoice.id)).number == invoice.number  # the invoice stays as issued


async def test_the_client_sees_a_void_invoice_with_its_credit_note_and_lists_it_in_history(
    user: User,
) -> None:
    await user.open("/login")
    ada = await _client()
    invoice = await Invoice.filter(client_id=ada.id, status="open").order_by("id").first()
    assert invoice is not None and invoice.number
    staff = await Account.get(email="staff@demo.test")
    number = await void_invoice(actor=staff_actor(staff.id), invoice_id=invoice.id)
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open(f"/billing/invoices/{invoice.id}")
    await user.should_see(marker=f"credit-note-{number}", retries=50)
    await user.should_see(marker="status-void")
    await user.open("/billing/history")
    await user.should_see(marker="credit-notes", retries=50)
    [row] = _rows(user, "credit-notes")
    assert (row["number"], row["invoice"], row["href"]) == (
        number,
        invoice.number,
        f"/billing/invoices/{invoice.id}",
    )

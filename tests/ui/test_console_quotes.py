"""/admin/quotes as staff use it: the list, writing and sending an estimate or proposal, field messages,
the client's decision, converting an approved one into an invoice, and the quote PDF."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from portal.billing import quotes
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.models import Client, Invoice, InvoiceLine, OutboxEmail, Quote, QuoteLine, TaxRate
from portal.db.models import User as UserRow
from portal.domain.status import QuoteStatus, Role
from tests.ui.conftest import sign_in

YEAR = today().year


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def _text(user: User, marker: str) -> str:
    label = _element(user, marker)
    assert isinstance(label, ui.label)
    return label.text


def _rows(user: User, marker: str = "quotes") -> list[dict]:
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


async def _ada() -> Client:
    return await Client.get(email="client@demo.test")


async def _ada_actor() -> Actor:
    row = await UserRow.get(email="client@demo.test")
    return Actor(user_id=row.id, role=Role.client, email=row.email, name="Ada", client_id=row.client_id)


async def test_the_list_shows_estimates_and_proposals_with_filters(user: User) -> None:
    await user.open("/login")
    await _as_staff(user, "/admin/quotes")
    await _wait_for(lambda: len(_rows(user)) == 2, "the two demo quotes")
    rows = {r["kind"]: r for r in _rows(user)}
    assert rows["estimate"]["title"] == "Mobile app prototype"
    assert rows["proposal"]["client"] == "Ada Lovelace" and rows["proposal"]["status"] == "sent"
    assert all(r["href"] == f"/admin/quotes/{r['id']}" for r in rows.values())
    _element(user, "kind-filter").set_value("proposal")  # type: ignore[attr-defined]
    await _wait_for(lambda: [r["kind"] for r in _rows(user)] == ["proposal"], "only the proposal")
    _element(user, "kind-filter").set_value("")  # type: ignore[attr-defined]
    _element(user, "status-filter").set_value("approved")  # type: ignore[attr-defined]
    await _wait_for(lambda: _rows(user) == [], "no approved quote yet")
    assert _text(user, "page-label") == "Page 1 of 1 · 0 documents"


async def test_staff_write_save_and_send_an_estimate(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    vat = await TaxRate.get(name="VAT")
    emails_before = await OutboxEmail.filter(kind="quote").count()
    await _as_staff(user, f"/admin/quotes/new?client={ada.id}&kind=estimate")
    await user.should_see("New estimate")
    user.find(marker="quote-title").type("Landing page")
    user.find(marker="line-description-0").type("Design, 3 pages")
    user.find(marker="line-quantity-0").clear().type("3")
    user.find(marker="line-price-0").type("800")
    _element(user, "line-tax-0").set_value(f"rate:{vat.id}")  # type: ignore[attr-defined]
    assert (_text(user, "subtotal"), _text(user, "tax-total"), _text(user, "total")) == (
        "$2,400.00",
        "$480.00",
        "$2,880.00",
    )
    with user:
        _element(user, "valid-until").value = (today() - timedelta(days=2)).isoformat()  # type: ignore[attr-defined]
    await user.should_see("The valid-until date has passed. Choose a later date.")
    user.find(marker="save-draft").click()
    await user.should_see("Please correct the highlighted fields.")
    assert not await Quote.filter(title="Landing page").exists()
    with user:
        _element(user, "valid-until").value = (today() + timedelta(days=20)).isoformat()  # type: ignore[attr-defined]
    user.find(marker="terms").type("Half on approval.")
    user.find(marker="save-draft").click()
    await user.should_see("Draft saved.", retries=50)
    quote = await Quote.get(title="Landing page")
    await user.should_see(f"Draft estimate {quote.id}", retries=50)
    assert (quote.status, quote.number, quote.total_minor, quote.terms) == (
        "draft",
        None,
        288000,
        "Half on approval.",
    )

    user.find(marker="send").click()
    await user.should_see("client@demo.test receives an email")
    user.find(marker="send-confirm").click()
    await user.should_see(f"Estimate EST-{YEAR}-0002", retries=50)
    await user.should_see("Waiting for the client to approve or decline it.")
    assert [r["description"] for r in _rows(user, "quote-lines")] == ["Design, 3 pages"]
    assert _text(user, "total") == "$2,880.00"
    await user.should_not_see(marker="convert")
    quote = await Quote.get(id=quote.id)
    assert (quote.status, quote.number) == (QuoteStatus.sent, f"EST-{YEAR}-0002")
    email = await OutboxEmail.filter(kind="quote").order_by("-id").first()
    assert email is not None and await OutboxEmail.filter(kind="quote").count() == emails_before + 1
    assert email.to_address == "client@demo.test" and f"/billing/quotes/{quote.id}" in email.text_body


async def test_a_wrong_price_in_a_yen_proposal_is_explained_and_nothing_is_saved(user: User) -> None:
    await user.open("/login")
    yuki = await Client.get(email="yuki@demo.test")
    before = await Quote.all().count()
    await _as_staff(user, f"/admin/quotes/new?client={yuki.id}&kind=proposal")
    await user.should_see("New proposal")
    user.find(marker="line-description-0").type("Illustrations")
    user.find(marker="line-price-0").type("99.5")
    await user.should_see("JPY has no decimals.")
    user.find(marker="send").click()
    await user.should_see("Please correct the highlighted fields.")
    await user.should_not_see(marker="send-confirm")
    assert await Quote.all().count() == before


async def test_an_approved_proposal_is_converted_into_a_draft_invoice_once(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    proposal = await Quote.get(client_id=ada.id, kind="proposal")
    await quotes.decide(actor=await _ada_actor(), quote_id=proposal.id, approve=True, comment="Go ahead")
    invoices_before = await Invoice.all().count()
    await _as_staff(user, f"/admin/quotes/{proposal.id}")
    await user.should_see(f"Proposal {proposal.number or f'#{proposal.id}'}")  # a sent one is never a draft
    await user.should_not_see("Draft proposal")
    await user.should_see("Approved by the client on")
    await user.should_see("Comment: Go ahead")
    user.find(marker="convert").click()
    await user.should_see("Draft invoice created.", retries=50)
    await user.should_see(marker="line-price-0", retries=50)
    invoice = await Invoice.filter().order_by("-id").first()
    assert invoice is not None and await Invoice.all().count() == invoices_before + 1
    assert (invoice.status, invoice.client_id, invoice.total_minor) == ("draft", ada.id, proposal.total_minor)
    lines = await InvoiceLine.filter(invoice_id=invoice.id)
    originals = await QuoteLine.filter(quote_id=proposal.id)
    assert [(r.description, r.quantity, r.unit_price_minor) for r in lines] == [
        (r.description, r.quantity, r.unit_price_minor) for r in originals
    ]
    assert _element(user, "line-description-0").value == "Retainer, per month"  # type: ignore[attr-defined]
    assert (await Quote.get(id=proposal.id)).converted_invoice_id == invoice.id

    await user.open(f"/admin/quotes/{proposal.id}")
    await user.should_see(marker="status-converted")
    await user.should_not_see(marker="convert")
    link = _element(user, "converted-invoice")
    assert link.props["href"] == f"/admin/invoices/{invoice.id}"
    assert await Invoice.all().count() == invoices_before + 1


async def test_staff_download_the_quote_pdf(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    estimate = await Quote.get(client_id=ada.id, kind="estimate")
    await _as_staff(user, f"/admin/quotes/{estimate.id}")
    assert _element(user, "download-pdf").props["href"] == f"/billing/quotes/{estimate.id}/pdf"
    response = await user.http_client.get(f"/billing/quotes/{estimate.id}/pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="estimate-{estimate.number or estimate.id}.pdf"'
    )
    assert response.content.startswith(b"%PDF")
    assert (await user.http_client.get("/billing/quotes/99999/pdf")).status_code == 404


async def test_another_client_cannot_download_the_quote_pdf(user: User) -> None:
    await user.open("/login")
    estimate = await Quote.get(client_id=(await _ada()).id, kind="estimate")
    await sign_in(user, "yuki@demo.test")
    await user.should_see("My Billing", retries=50)
    assert (await user.http_client.get(f"/billing/quotes/{estimate.id}/pdf")).status_code == 404


async def test_the_client_downloads_its_own_quote_pdf_but_cannot_open_the_console(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    estimate = await Quote.get(client_id=ada.id, kind="estimate")
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    assert (await user.http_client.get(f"/billing/quotes/{estimate.id}/pdf")).status_code == 200
    for path in ("/admin/quotes", f"/admin/quotes/{estimate.id}", f"/admin/quotes/new?client={ada.id}"):
        await user.open(path)
        await user.should_see(marker="not-allowed")


async def test_unknown_quotes_clients_and_kinds_say_so(user: User) -> None:
    await user.open("/login")
    ada = await _ada()
    await _as_staff(user, "/admin/quotes/99999")
    await user.should_see("That estimate or proposal does not exist.")
    await user.open(f"/admin/quotes/new?client={ada.id}&kind=invoice")
    await user.should_see("Choose estimate or proposal.")
    await user.open("/admin/quotes/new?client=abc")
    await user.should_see("That client does not exist.")
    await user.open("/admin/quotes/new?kind=proposal")
    await user.should_see(marker="client-picker")

"""The staff editor for estimates and proposals: drafts, send, convert to an invoice, the list, who may."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import pdf, quote_editor, quotes
from portal.billing.line_input import LineForm
from portal.billing.quote_editor import QuoteForm
from portal.config import get_settings
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import AuditEntry, Client, Invoice, InvoiceLine, OutboxEmail, Quote, QuoteLine, TaxRate
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import InvoiceStatus, QuoteStatus
from portal.mail import invoice_emails
from tests.services.conftest import World

YEAR = today().year
LATER = (today() + timedelta(days=30)).isoformat()


def line(price: str = "1,000.00", qty: str = "1", tax: str = "none", text: str = "Prototype") -> LineForm:
    return LineForm(description=text, quantity=qty, unit_price=price, tax=tax)


def form(*lines: LineForm, currency: str = "USD", valid_until: str = LATER) -> QuoteForm:
    return QuoteForm(
        currency=currency,
        title="Mobile app",
        valid_until=valid_until,
        terms="50% on approval.",
        lines=list(lines or (line(),)),
    )


async def draft(world: World, kind: str = "estimate", *lines: LineForm) -> int:
    return await quote_editor.save_quote_draft(
        actor=world.staff, client_id=world.alice_id, kind=kind, form=form(*lines)
    )


async def sent(world: World, kind: str = "estimate", *lines: LineForm) -> int:
    return await quote_editor.send_quote(
        actor=world.staff, client_id=world.alice_id, kind=kind, form=form(*lines)
    )


async def test_a_draft_estimate_is_saved_from_typed_lines(world: World) -> None:
    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    quote_id = await draft(world, "estimate", line("3,500.00", tax=f"rate:{vat.id}"), line("19.99", "3"))
    quote = await Quote.get(id=quote_id)
    assert (quote.kind, quote.status, quote.number, quote.title) == ("estimate", "draft", None, "Mobile app")
    assert (quote.valid_until, quote.terms, quote.currency) == (
        today() + timedelta(days=30),
        "50% on approval.",
        "USD",
    )
    rows = await QuoteLine.filter(quote_id=quote_id).order_by("position")
    assert [(r.unit_price_minor, r.net_minor, r.tax_minor, r.tax_name) for r in rows] == [
        (350000, 350000, 70000, "VAT"),
        (1999, 5997, 0, ""),
    ]
    assert (quote.subtotal_minor, quote.tax_minor, quote.total_minor) == (355997, 70000, 425997)
    assert await AuditEntry.filter(action="estimate.create", subject=f"quote:{quote_id}").exists()
    view = await quote_editor.get_quote_editor(actor=world.staff, quote_id=quote_id)
    assert view.editable and view.title == f"Draft estimate {quote_id}"
    assert [(f.unit_price, f.quantity, f.tax) for f in view.form.lines] == [
        ("3,500.00", "1", f"rate:{vat.id}"),
        ("19.99", "3", "none"),
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"valid_until": (today() - timedelta(days=1)).isoformat()},
            "valid_until",
            "The valid-until date has passed",
        ),
        ({"valid_until": "soon"}, "valid_until", "Enter a date like"),
        ({"currency": "JPY", "lines": [line("12.50")]}, "lines.0.unit_price", "JPY has no decimals."),
        ({"lines": [line(qty="0")]}, "lines.0.quantity", "Quantity must be more than 0."),
        ({"lines": []}, "lines", "Add at least one line."),
        ({"title": "x" * 301}, "title", "Keep the title under 300 characters."),
    ],
)
async def test_a_wrong_value_names_its_field_and_saves_nothing(
    world: World, changes: dict, field: str, message: str
) -> None:
    typed = form()
    for name, value in changes.items():
        setattr(typed, name, value)
    with pytest.raises(InvalidInput) as caught:
        await quote_editor.save_quote_draft(
            actor=world.staff, client_id=world.alice_id, kind="proposal", form=typed
        )
    assert caught.value.field == field and caught.value.message.startswith(message)
    assert await Quote.all().count() == 0 and await QuoteLine.all().count() == 0


async def test_a_kind_other_than_estimate_or_proposal_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="estimate or proposal"):
        await quote_editor.save_quote_draft(
            actor=world.staff, client_id=world.alice_id, kind="invoice", form=form()
        )
    with pytest.raises(InvalidInput):
        await quote_editor.new_quote(actor=world.staff, client_id=world.alice_id, kind="memo")


async def test_sending_numbers_each_kind_in_its_own_sequence_and_emails_the_client(world: World) -> None:
    estimate_id = await draft(world, "estimate")
    await quote_editor.send_quote(actor=world.staff, quote_id=estimate_id)
    proposal_id = await sent(world, "proposal")
    second_estimate_id = await sent(world, "estimate")
    numbers = {q.id: q.number for q in await Quote.all()}
    assert numbers == {
        estimate_id: f"EST-{YEAR}-0001",
        proposal_id: f"PRO-{YEAR}-0001",
        second_estimate_id: f"EST-{YEAR}-0002",
    }
    quote = await Quote.get(id=estimate_id)
    assert (quote.status, quote.issue_date) == (QuoteStatus.sent, today())
    emails = await OutboxEmail.filter(kind="quote").order_by("id")
    assert [e.to_address for e in emails] == ["alice@x.test"] * 3
    link = f"{get_settings().public_url.rstrip('/')}/billing/quotes/{estimate_id}"
    composed = invoice_emails.quote_sent(
        org=await get_organization(), quote=quote, client=await Client.get(id=quote.client_id), link=link
    )
    assert (emails[0].subject, emails[0].text_body) == (composed.subject, composed.text)
    assert f"/billing/quotes/{estimate_id}" in emails[0].text_body
    entry = await AuditEntry.get(action="estimate.sent", subject=f"quote:{estimate_id}")
    assert entry.details["number"] == f"EST-{YEAR}-0001"
    assert await AuditEntry.filter(action="proposal.sent").count() == 1


async def test_a_sent_quote_cannot_be_edited_or_sent_again(world: World) -> None:
    quote_id = await sent(world)
    with pytest.raises(Conflict, match="can no longer be edited"):
        await quote_editor.save_quote_draft(actor=world.staff, quote_id=quote_id, form=form(line("1")))
    with pytest.raises(Conflict, match="already been sent"):
        await quote_editor.send_quote(actor=world.staff, quote_id=quote_id)
    assert (await Quote.get(id=quote_id)).total_minor == 100000
    assert await OutboxEmail.filter(kind="quote").count() == 1


async def test_two_sends_at_once_number_the_quote_once(world: World) -> None:
    quote_id = await draft(world)

    async def send() -> object:
        try:
            return await quote_editor.send_quote(actor=world.staff, quote_id=quote_id)
        except Conflict as exc:
            return exc.message

    results = await asyncio.gather(send(), send())
    assert sorted(map(str, results)) == sorted([str(quote_id), "This estimate has already been sent."])
    assert await OutboxEmail.filter(kind="quote").count() == 1
    assert (await Quote.get(id=quote_id)).number == f"EST-{YEAR}-0001"


async def test_an_approved_quote_converts_once_into_a_draft_invoice_with_its_lines(world: World) -> None:
    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    quote_id = await sent(world, "proposal", line("1,500.00", "12", f"rate:{vat.id}", "Retainer"), line("99"))
    with pytest.raises(Conflict, match="Only an approved proposal"):
        await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id)
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=True)

    invoice_id = await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id)
    quote, invoice = await Quote.get(id=quote_id), await Invoice.get(id=invoice_id)
    assert (quote.status, quote.converted_invoice_id) == (QuoteStatus.converted, invoice_id)
    assert (invoice.status, invoice.number, invoice.client_id) == (InvoiceStatus.draft, None, world.alice_id)
    assert (invoice.currency, invoice.total_minor, invoice.issue_date) == ("USD", quote.total_minor, today())
    q_rows = await QuoteLine.filter(quote_id=quote_id).order_by("position")
    i_rows = await InvoiceLine.filter(invoice_id=invoice_id).order_by("position")
    fields = ("description", "quantity", "unit_price_minor", "tax_name", "tax_rate", "net_minor", "tax_minor")
    assert [[getattr(r, f) for f in fields] for r in i_rows] == [
        [getattr(r, f) for f in fields] for r in q_rows
    ]
    assert await AuditEntry.filter(action="proposal.converted", subject=f"quote:{quote_id}").exists()
    assert (await AuditEntry.get(action="invoice.create")).details["from_quote"] == quote_id

    assert (
        await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id) == invoice_id
    )  # twice: same one
    assert await Invoice.all().count() == 1
    view = await quote_editor.get_quote_editor(actor=world.staff, quote_id=quote_id)
    assert (view.converted_invoice_id, view.converted_invoice_number) == (invoice_id, f"Draft {invoice_id}")


async def test_a_declined_quote_cannot_be_converted(world: World) -> None:
    quote_id = await sent(world)
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=False, comment="Too expensive")
    with pytest.raises(Conflict, match="Only an approved estimate"):
        await quote_editor.convert_quote(actor=world.staff, quote_id=quote_id)
    assert await Invoice.all().count() == 0


async def test_the_list_filters_by_kind_status_and_search(world: World) -> None:
    estimate_id = await draft(world, "estimate")
    proposal_id = await sent(world, "proposal")
    old_id = await sent(world, "estimate")
    await Quote.filter(id=old_id).update(valid_until=today() - timedelta(days=1))
    yen = QuoteForm(currency="JPY", title="Illustrations", valid_until="", lines=[line("12,000")])
    yen_id = await quote_editor.save_quote_draft(
        actor=world.staff, client_id=world.bob_id, kind="estimate", form=yen
    )

    async def ids(**filters: object) -> set[int]:
        return {row.id for row in (await quote_editor.list_quotes(actor=world.staff, **filters)).rows}

    assert await ids() == {estimate_id, proposal_id, old_id, yen_id}
    assert await ids(kind="proposal") == {proposal_id}
    assert await ids(status="draft") == {estimate_id, yen_id}
    assert await ids(status="sent") == {proposal_id}
    assert await ids(status="expired") == {old_id}
    assert await ids(search="illustr") == {yen_id}
    assert await ids(search="bob") == {yen_id}
    assert await ids(search=f"PRO-{YEAR}") == {proposal_id}
    rows = {row.id: row for row in (await quote_editor.list_quotes(actor=world.staff)).rows}
    assert rows[old_id].status == "expired" and rows[yen_id].total_minor == 12000
    page = await quote_editor.list_quotes(actor=world.staff, page_size=3, page=2)
    assert (page.total, page.pages, len(page.rows)) == (4, 2, 1)


async def test_the_quote_pdf_document_follows_the_page_access_rules(world: World) -> None:
    draft_id = await draft(world)
    sent_id = await sent(world, "proposal")
    document = await quote_editor.quote_document(actor=world.staff, quote_id=draft_id)
    assert document.client.name == "Alice Archer" and document.filename == f"estimate-{draft_id}.pdf"
    content = pdf.quote_pdf(document.view, organization=document.organization, client=document.client)
    assert content.startswith(b"%PDF")
    mine = await quote_editor.quote_document(actor=world.alice, quote_id=sent_id)
    assert mine.filename == f"proposal-PRO-{YEAR}-0001.pdf"
    with pytest.raises(NotFound):
        await quote_editor.quote_document(actor=world.alice, quote_id=draft_id)  # drafts are staff-only
    with pytest.raises(NotFound):
        await quote_editor.quote_document(actor=world.bob, quote_id=sent_id)  # another client's


async def test_a_client_is_refused_every_editor_function_and_staff_and_admins_may(world: World) -> None:
    quote_id = await draft(world)
    calls = [
        lambda a: quote_editor.new_quote(actor=a, client_id=world.alice_id, kind="estimate"),
        lambda a: quote_editor.get_quote_editor(actor=a, quote_id=quote_id),
        lambda a: quote_editor.save_quote_draft(
            actor=a, client_id=world.alice_id, kind="estimate", form=form()
        ),
        lambda a: quote_editor.save_quote_draft(actor=a, quote_id=quote_id, form=form()),
        lambda a: quote_editor.send_quote(actor=a, quote_id=quote_id),
        lambda a: quote_editor.convert_quote(actor=a, quote_id=quote_id),
        lambda a: quote_editor.list_quotes(actor=a),
    ]
    for call in calls:
        for client in (world.alice, world.bob):
            with pytest.raises(Forbidden):
                await call(client)
    assert (await Quote.get(id=quote_id)).status == QuoteStatus.draft
    assert await Quote.all().count() == 1 and not await OutboxEmail.exists()

    assert (
        await quote_editor.new_quote(actor=world.staff, client_id=world.alice_id, kind="proposal")
    ).editable
    await quote_editor.save_quote_draft(actor=world.admin, quote_id=quote_id, form=form(line("5")))
    await quote_editor.send_quote(actor=world.staff, quote_id=quote_id)
    await quotes.decide(actor=world.alice, quote_id=quote_id, approve=True)
    assert await quote_editor.convert_quote(actor=world.admin, quote_id=quote_id)
    assert (await quote_editor.list_quotes(actor=world.admin)).total == 1
    with pytest.raises(NotFound):
        await quote_editor.get_quote_editor(actor=world.staff, quote_id=999)

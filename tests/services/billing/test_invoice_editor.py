"""The staff invoice editor: typed lines, drafts, send, resend, void, duplicate, the list, and who may."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import invoice_editor, invoice_list, line_input
from portal.billing.invoice_editor import InvoiceForm
from portal.billing.line_input import LineForm
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    AuditEntry,
    Client,
    Invoice,
    InvoiceLine,
    NumberSequence,
    OutboxEmail,
    PaymentLink,
    TaxRate,
)
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import InvoiceStatus
from portal.domain.tax import LineInput, invoice_totals
from portal.mail import invoice_emails
from portal.payments import charges, ledger, links
from portal.payments.presentation import load_presentation
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card

YEAR = today().year
ISSUE = today().isoformat()
DUE = (today() + timedelta(days=14)).isoformat()


async def rates() -> dict[str, str]:
    """Tax rates as the editor's menu keys, by name."""
    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    ny = await TaxRate.create(name="NY sales tax", rate=Decimal("8.875"))
    old = await TaxRate.create(name="Old VAT", rate=Decimal("17.5"), archived=True)
    return {"VAT": f"rate:{vat.id}", "NY": f"rate:{ny.id}", "OLD": f"rate:{old.id}"}


def form(*lines: LineForm, currency: str = "USD", issue: str = ISSUE, due: str = DUE) -> InvoiceForm:
    return InvoiceForm(currency=currency, issue_date=issue, due_date=due, notes="Thanks", lines=list(lines))


def line(price: str = "100.00", qty: str = "1", tax: str = "none", text: str = "Design") -> LineForm:
    return LineForm(description=text, quantity=qty, unit_price=price, tax=tax, date=ISSUE)


async def draft(world: World, *lines: LineForm) -> int:
    return await invoice_editor.save_draft(
        actor=world.staff, client_id=world.alice_id, form=form(*(lines or (line(),)))
    )


def token_in(email: OutboxEmail) -> str:
    found = re.search(r"/pay/([A-Za-z0-9_-]+)", email.text_body)
    assert found, email.text_body
    return found.group(1)


# -- typing and drafts ------------------------------------------------------------------------------
async def test_a_draft_is_saved_from_typed_text_with_per_line_rounded_tax(world: World) -> None:
    keys = await rates()
    lines = [line("0.33", tax=keys["NY"]) for _ in range(3)] + [
        line("0.05", tax="none"),
        line("1,200.00", "2.5"),
    ]
    invoice_id = await draft(world, *lines)
    invoice = await Invoice.get(id=invoice_id)
    stored = await InvoiceLine.filter(invoice_id=invoice_id).order_by("position")
    assert invoice.status == InvoiceStatus.draft and invoice.number is None
    assert [row.unit_price_minor for row in stored] == [33, 33, 33, 5, 120000]
    assert [row.tax_minor for row in stored] == [3, 3, 3, 0, 0]  # 2.93 cents rounds up on each line
    assert [row.tax_name for row in stored[:4]] == ["NY sales tax"] * 3 + [""]
    assert invoice.subtotal_minor == 99 + 5 + 300000 and invoice.tax_minor == 9
    assert invoice.total_minor == sum(row.gross_minor for row in stored)
    assert await AuditEntry.filter(action="invoice.create", subject=f"invoice:{invoice_id}").exists()
    assert not await OutboxEmail.exists()


async def test_the_live_preview_shows_the_totals_the_saved_invoice_stores(world: World) -> None:
    keys = await rates()
    typed = [line("19.99", "3", keys["VAT"]), line("0.33", "1", keys["NY"]), line("abc")]
    taxes = line_input.by_key(await line_input.tax_choices())
    shown = line_input.preview(typed, currency="USD", locale="en", taxes=taxes)
    assert shown.line_net_minor == [5997, 33, None]
    assert shown.errors == {"lines.2.unit_price": "Enter a price like 12.50."}
    invoice = await Invoice.get(id=await draft(world, *typed[:2]))
    assert (shown.subtotal_minor, shown.tax_minor, shown.total_minor) == (
        invoice.subtotal_minor,
        invoice.tax_minor,
        invoice.total_minor,
    )
    assert (
        invoice.total_minor
        == invoice_totals(
            [LineInput(Decimal(3), 1999, Decimal(20)), LineInput(Decimal(1), 33, Decimal("8.875"))]
        ).total_minor
    )


@pytest.mark.parametrize(
    ("client", "typed", "field", "message"),
    [
        ("alice", line("abc"), "lines.0.unit_price", "Enter a price like 12.50."),
        ("alice", line(""), "lines.0.unit_price", "Enter a price like 12.50."),
        ("alice", line("12.505"), "lines.0.unit_price", "USD has at most 2 decimals."),
        ("alice", line("-5"), "lines.0.unit_price", "The price cannot be negative."),
        ("bob", line("1250.5"), "lines.0.unit_price", "JPY has no decimals."),
        ("alice", line(qty="0"), "lines.0.quantity", "Quantity must be more than 0."),
        ("alice", line(qty="-2"), "lines.0.quantity", "Quantity must be more than 0."),
        ("alice", line(qty="two"), "lines.0.quantity", "Enter a quantity like 1 or 2.5."),
        ("alice", line(qty="1.23456"), "lines.0.quantity", "Use at most 4 decimals for the quantity."),
        (
            "alice",
            line(text="  "),
            "lines.0.description",
            "Describe the service: this line is in the totals, but it cannot be saved without one.",
        ),
        ("alice", line(text="", price=""), "lines.0.description", "Describe the service."),
        ("alice", line(tax="rate:999"), "lines.0.tax", "Choose a tax rate from the list."),
        (
            "alice",
            LineForm("Design", "1", "10", "none", "21/11/2026"),
            "lines.0.date",
            "Enter a date like 2026-11-21.",
        ),
    ],
)
async def test_a_wrong_value_names_its_field_and_saves_nothing(
    world: World, client: str, typed: LineForm, field: str, message: str
) -> None:
    client_id = world.alice_id if client == "alice" else world.bob_id
    currency = "USD" if client == "alice" else "JPY"
    with pytest.raises(InvalidInput) as caught:
        await invoice_editor.save_draft(
            actor=world.staff, client_id=client_id, form=form(typed, currency=currency)
        )
    assert (caught.value.field, caught.value.message) == (field, message)
    assert await Invoice.all().count() == 0 and await InvoiceLine.all().count() == 0


async def test_dates_and_currency_are_checked_before_anything_is_saved(world: World) -> None:
    cases = [
        (form(line(), due=(today() - timedelta(days=1)).isoformat()), "due_date"),
        (form(line(), due=""), "due_date"),
        (form(line(), issue="yesterday"), "issue_date"),
        (form(line(), currency="XYZ"), "currency"),
        (form(), "lines"),
    ]
    for typed, field in cases:
        with pytest.raises(InvalidInput) as caught:
            await invoice_editor.save_draft(actor=world.staff, client_id=world.alice_id, form=typed)
        assert caught.value.field == field, caught.value.message
    with pytest.raises(InvalidInput, match="Due date cannot be before the issue date"):
        await invoice_editor.save_draft(actor=world.staff, client_id=world.alice_id, form=cases[0][0])
    assert await Invoice.all().count() == 0


async def test_an_archived_tax_rate_cannot_be_chosen(world: World) -> None:
    keys = await rates()
    menu = [choice.key for choice in await line_input.tax_choices()]
    assert menu == ["none", keys["NY"], keys["VAT"]]
    with pytest.raises(InvalidInput, match="Choose a tax rate from the list"):
        await draft(world, line(tax=keys["OLD"]))


async def test_a_draft_keeps_a_tax_no_current_rate_matches_until_staff_change_it(world: World) -> None:
    keys = await rates()
    invoice_id = await draft(world, line("10", tax=keys["VAT"]))
    await TaxRate.filter(name="VAT").update(archived=True)
    view = await invoice_editor.get_invoice_editor(actor=world.staff, invoice_id=invoice_id)
    kept = view.form.lines[0].tax
    assert kept.startswith("kept:") and kept in [c.key for c in view.taxes]
    assert next(c for c in view.taxes if c.key == kept).label == "VAT 20% (not a current rate)"
    view.form.lines[0].unit_price = "20"
    await invoice_editor.save_draft(actor=world.staff, invoice_id=invoice_id, form=view.form)
    assert (await Invoice.get(id=invoice_id)).total_minor == 2400
    # a tax no line of this invoice has cannot be smuggled in with a made-up key
    with pytest.raises(InvalidInput, match="Choose a tax rate"):
        await invoice_editor.save_draft(
            actor=world.staff, invoice_id=invoice_id, form=form(line(tax="kept:50:Fake"))
        )


async def test_editing_a_draft_replaces_its_lines_and_an_open_invoice_cannot_be_edited(world: World) -> None:
    invoice_id = await draft(world, line("10"), line("20"))
    await invoice_editor.save_draft(
        actor=world.staff, invoice_id=invoice_id, form=form(line("5", "3", text="Copy"))
    )
    rows = await InvoiceLine.filter(invoice_id=invoice_id)
    assert [(r.description, r.unit_price_minor, r.net_minor) for r in rows] == [("Copy", 500, 1500)]
    assert (await Invoice.get(id=invoice_id)).total_minor == 1500
    assert await AuditEntry.filter(action="invoice.update").exists()
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    with pytest.raises(Conflict, match="lines can no longer be edited"):
        await invoice_editor.save_draft(actor=world.staff, invoice_id=invoice_id, form=form(line("1")))
    assert (await Invoice.get(id=invoice_id)).total_minor == 1500


# -- send, resend -----------------------------------------------------------------------------------
async def test_sending_numbers_opens_links_and_emails_the_invoice(world: World) -> None:
    invoice_id = await draft(world, line("100.00"))
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    invoice = await Invoice.get(id=invoice_id)
    assert invoice.number == f"INV-{YEAR}-0001" and invoice.status == InvoiceStatus.open
    assert invoice.sent_at is not None
    link = await PaymentLink.get(invoice_id=invoice_id)
    assert link.expires_at == links.invoice_link_expiry(invoice.due_date)
    email = await OutboxEmail.get(kind="invoice")
    assert email.to_address == "alice@x.test" and email.client_id == world.alice_id
    composed = invoice_emails.invoice_sent(
        org=await get_organization(),
        invoice=invoice,
        client=await Client.get(id=invoice.client_id),
        presentation=await load_presentation(invoice),
        link=links.url_for(token_in(email)),
    )
    assert (email.subject, email.text_body, email.html_body) == (
        composed.subject,
        composed.text,
        composed.html,
    )
    assert f"INV-{YEAR}-0001" in email.subject
    view = await links.view(token=token_in(email))
    assert view.target_id == invoice_id and view.state == "open" and view.amount_due_minor == 10000
    entry = await AuditEntry.get(action="invoice.send")
    assert entry.details["number"] == invoice.number and entry.on_behalf_of_id == world.alice_id


async def test_send_without_a_draft_creates_and_sends_in_one_step(world: World) -> None:
    invoice_id = await invoice_editor.send_invoice(
        actor=world.staff, client_id=world.bob_id, form=form(line("1,250"), currency="JPY")
    )
    invoice = await Invoice.get(id=invoice_id)
    assert (invoice.status, invoice.currency, invoice.total_minor) == ("open", "JPY", 1250)
    assert invoice.number == f"INV-{YEAR}-0001"


async def test_send_applies_credit_automatically_when_the_organization_says_so(world: World) -> None:
    org = await get_organization()
    org.apply_credit_automatically = True
    await org.save()
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=3000, currency="USD", note="Goodwill"
    )
    invoice_id = await draft(world, line("100.00"))
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    allocated = await Allocation.filter(invoice_id=invoice_id).values_list("amount_minor", flat=True)
    assert allocated == [3000]
    assert (
        await invoice_editor.get_invoice_editor(actor=world.staff, invoice_id=invoice_id)
    ).amount_due_minor == 7000


async def test_send_auto_charges_a_client_who_agreed_to_it(world: World) -> None:
    await add_card(world)
    await charges.set_auto_charge(actor=world.staff, client_id=world.alice_id, enabled=True)
    invoice_id = await draft(world, line("9.90"))
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid


async def test_two_sends_at_once_number_the_invoice_once(world: World) -> None:
    invoice_id = await draft(world, line("10"))

    async def send() -> object:
        try:
            return await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
        except Conflict as exc:
            return exc.message

    results = await asyncio.gather(send(), send(), send())
    assert sorted(map(str, results)) == sorted(
        [str(invoice_id)] + ["This invoice has already been sent. Use Resend to email it again."] * 2
    )
    assert (await Invoice.get(id=invoice_id)).number == f"INV-{YEAR}-0001"
    assert (await NumberSequence.get(name=f"invoice:{YEAR}")).next_value == 2
    assert await OutboxEmail.filter(kind="invoice").count() == 1
    assert await PaymentLink.filter(invoice_id=invoice_id).count() == 1


async def test_resend_issues_a_new_link_and_the_old_one_keeps_working(world: World) -> None:
    invoice_id = await draft(world, line("10"))
    with pytest.raises(Conflict, match="still a draft"):
        await invoice_editor.resend_invoice(actor=world.staff, invoice_id=invoice_id)
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    assert await invoice_editor.resend_invoice(actor=world.staff, invoice_id=invoice_id) == "alice@x.test"
    first, second = await OutboxEmail.filter(kind="invoice").order_by("id")
    assert token_in(first) != token_in(second)
    for email in (first, second):
        assert (await links.view(token=token_in(email))).state == "open"
    assert (await Invoice.get(id=invoice_id)).number == f"INV-{YEAR}-0001"  # not renumbered
    assert await AuditEntry.filter(action="invoice.resend").count() == 1


# -- void, duplicate --------------------------------------------------------------------------------
async def test_voiding_an_open_invoice_revokes_every_link(world: World) -> None:
    invoice_id = await draft(world, line("10"))
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    await invoice_editor.resend_invoice(actor=world.staff, invoice_id=invoice_id)
    tokens = [token_in(e) for e in await OutboxEmail.filter(kind="invoice")]
    await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.deleted
    for token in tokens:
        with pytest.raises(NotFound):
            await links.view(token=token)
    entry = await AuditEntry.get(action="invoice.void")
    assert entry.details["links_revoked"] == 2 and entry.details["was"] == "open"
    with pytest.raises(Conflict, match="already void"):
        await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    with pytest.raises(Conflict, match="voided"):
        await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)


async def test_a_draft_can_be_voided(world: World) -> None:
    invoice_id = await draft(world, line("10"))
    await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.deleted


async def test_an_invoice_with_money_on_it_cannot_be_voided(world: World) -> None:
    invoice_id = await draft(world, line("100.00"))
    await invoice_editor.send_invoice(actor=world.staff, invoice_id=invoice_id)
    await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=2500,
        currency="USD",
        method="cash",
        received_on=today(),
        invoice_id=invoice_id,
    )
    with pytest.raises(Conflict) as caught:
        await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    assert caught.value.message == (
        "$25.00 has been paid or credited to this invoice. Refund it first, then void the invoice."
    )
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    assert await PaymentLink.filter(invoice_id=invoice_id, revoked_at=None).count() == 1
    assert not await AuditEntry.filter(action="invoice.void").exists()


async def test_duplicate_makes_a_new_draft_with_the_same_lines_and_todays_dates(world: World) -> None:
    keys = await rates()
    old_issue = today() - timedelta(days=40)
    source_id = await invoice_editor.send_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        form=InvoiceForm(
            currency="USD",
            issue_date=old_issue.isoformat(),
            due_date=(old_issue + timedelta(days=10)).isoformat(),
            notes="Net 10",
            lines=[
                LineForm("Design", "2", "50.00", keys["VAT"], old_issue.isoformat()),
                LineForm("Hosting", "1", "9.99", "none", ""),
            ],
        ),
    )
    copy_id = await invoice_editor.duplicate_invoice(actor=world.staff, invoice_id=source_id)
    source, copy = await Invoice.get(id=source_id), await Invoice.get(id=copy_id)
    assert (copy.status, copy.number, copy.client_id) == ("draft", None, world.alice_id)
    assert (copy.issue_date, copy.due_date) == (today(), today() + timedelta(days=10))
    assert (copy.total_minor, copy.notes) == (source.total_minor, "Net 10")
    rows = await InvoiceLine.filter(invoice_id=copy_id).order_by("position")
    assert [(r.description, r.quantity, r.unit_price_minor, r.tax_name, r.date) for r in rows] == [
        ("Design", Decimal(2), 5000, "VAT", today()),
        ("Hosting", Decimal(1), 999, "", None),
    ]
    entry = await AuditEntry.get(action="invoice.duplicate")
    assert entry.details["from_invoice"] == source_id


# -- the list ---------------------------------------------------------------------------------------
async def test_the_list_filters_by_status_client_currency_and_overdue_a_page_at_a_time(world: World) -> None:
    late = InvoiceForm(
        "USD",
        (today() - timedelta(days=30)).isoformat(),
        (today() - timedelta(days=1)).isoformat(),
        lines=[line("10")],
    )
    late_id = await invoice_editor.send_invoice(actor=world.staff, client_id=world.alice_id, form=late)
    open_id = await invoice_editor.send_invoice(
        actor=world.staff, client_id=world.alice_id, form=form(line("20"))
    )
    draft_id = await draft(world, line("30"))
    yen_id = await invoice_editor.send_invoice(
        actor=world.staff, client_id=world.bob_id, form=form(line("500"), currency="JPY")
    )
    void_id = await draft(world, line("40"))
    await invoice_editor.void_invoice(actor=world.staff, invoice_id=void_id)

    async def ids(**filters: object) -> list[int]:
        return [row.id for row in (await invoice_list.list_invoices(actor=world.staff, **filters)).rows]

    assert set(await ids()) == {late_id, open_id, draft_id, yen_id}  # void ones only when asked for
    assert await ids(status="deleted") == [void_id]
    assert await ids(status="draft") == [draft_id]
    assert set(await ids(status="open")) == {late_id, open_id, yen_id}
    assert await ids(overdue=True) == [late_id]
    assert await ids(currency="jpy") == [yen_id]
    assert await ids(search="bob") == [yen_id]
    assert set(await ids(search="archery")) == {late_id, open_id, draft_id}
    assert await ids(search=f"INV-{YEAR}-0001") == [late_id]
    page = await invoice_list.list_invoices(actor=world.staff)
    statuses = {row.id: row.status for row in page.rows}
    assert statuses[late_id] == "overdue" and statuses[draft_id] == "draft"
    assert page.currencies == ["JPY", "USD"]
    first = await invoice_list.list_invoices(actor=world.staff, page_size=3)
    second = await invoice_list.list_invoices(actor=world.staff, page_size=3, page=2)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (4, 2, 3, 1)
    assert {r.id for r in first.rows} | {r.id for r in second.rows} == {late_id, open_id, draft_id, yen_id}
    row = next(r for r in page.rows if r.id == yen_id)
    assert (row.client_name, row.total_minor, row.amount_due_minor) == ("Bob Baker", 500, 500)
    with pytest.raises(InvalidInput):
        await invoice_list.list_invoices(actor=world.staff, status="bogus")


# -- who may ----------------------------------------------------------------------------------------
async def test_a_client_is_refused_every_editor_function_and_staff_and_admins_may(world: World) -> None:
    invoice_id = await draft(world, line("10"))
    calls = {
        "new_invoice": lambda a: invoice_editor.new_invoice(actor=a, client_id=world.alice_id),
        "get_invoice_editor": lambda a: invoice_editor.get_invoice_editor(actor=a, invoice_id=invoice_id),
        "save_draft": lambda a: invoice_editor.save_draft(
            actor=a, client_id=world.alice_id, form=form(line())
        ),
        "update_draft": lambda a: invoice_editor.save_draft(
            actor=a, invoice_id=invoice_id, form=form(line())
        ),
        "send_invoice": lambda a: invoice_editor.send_invoice(actor=a, invoice_id=invoice_id),
        "resend_invoice": lambda a: invoice_editor.resend_invoice(actor=a, invoice_id=invoice_id),
        "void_invoice": lambda a: invoice_editor.void_invoice(actor=a, invoice_id=invoice_id),
        "duplicate_invoice": lambda a: invoice_editor.duplicate_invoice(actor=a, invoice_id=invoice_id),
        "list_invoices": lambda a: invoice_list.list_invoices(actor=a),
    }
    for call in calls.values():
        with pytest.raises(Forbidden):
            await call(world.alice)  # the invoice's own client
        with pytest.raises(Forbidden):
            await call(world.bob)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.draft
    assert await Invoice.all().count() == 1
    assert not await OutboxEmail.exists()

    view = await invoice_editor.new_invoice(actor=world.staff, client_id=world.alice_id)
    assert view.form.currency == "USD" and view.editable
    assert (await invoice_editor.get_invoice_editor(actor=world.admin, invoice_id=invoice_id)).editable
    await invoice_editor.send_invoice(actor=world.admin, invoice_id=invoice_id)
    await invoice_editor.resend_invoice(actor=world.staff, invoice_id=invoice_id)
    copy_id = await invoice_editor.duplicate_invoice(actor=world.admin, invoice_id=invoice_id)
    await invoice_editor.void_invoice(actor=world.staff, invoice_id=copy_id)
    assert (await invoice_list.list_invoices(actor=world.admin, status="deleted")).total == 1


async def test_unknown_ids_are_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        await invoice_editor.get_invoice_editor(actor=world.staff, invoice_id=999)
    with pytest.raises(NotFound):
        await invoice_editor.new_invoice(actor=world.staff, client_id=999)
    with pytest.raises(NotFound):
        await invoice_editor.save_draft(actor=world.staff, client_id=999, form=form(line()))
    with pytest.raises(NotFound):
        await invoice_editor.void_invoice(actor=world.staff, invoice_id=999)
    assert await Client.all().count() == 2

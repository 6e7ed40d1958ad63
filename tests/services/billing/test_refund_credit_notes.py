"""A refund that cancels what it takes back (issue 16 item 5: "refunding it issues a credit note"): the
invoice is never altered; a credit note with its own number cancels the refunded amount on it, shared
across the invoice's taxes, so the invoice stays paid and nothing is chased; the other choice, money back
with the amount owed again, still reopens the invoice. The ledger, page, statement and export agree."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import facturx as facturx_lib
import pytest

from portal.billing import credit_notes, documents, exports, invoice_editor, refund_credit, statements
from portal.billing.credit_note_pdf import credit_note_xml
from portal.billing.invoice_editor import InvoiceForm
from portal.billing.line_input import LineForm
from portal.core.clock import today
from portal.db.models import (
    Allocation,
    Client,
    CreditNote,
    CreditNoteLine,
    Invoice,
    IssuedDocument,
    OutboxEmail,
    Refund,
    TaxRate,
)
from portal.domain.errors import Conflict
from portal.domain.presentation import totals as totals_rows
from portal.domain.status import InvoiceStatus
from portal.payments import charges, ledger, refunds
from tests.schematron import assert_conforms
from tests.services.conftest import World
from tests.services.identity_fixtures import set_legal_identity
from tests.services.payment_fixtures import add_card, cash_payment, invoice_for, sandbox

ISSUE = today().isoformat()
DUE = (today() + timedelta(days=14)).isoformat()


async def _three_taxes(world: World) -> int:
    """An issued USD invoice of 135.55: 100.00 + VAT 20%, 10.00 + VAT 5.5%, 5.00 untaxed."""
    standard = await TaxRate.create(name="VAT", rate=Decimal("20"))
    reduced = await TaxRate.create(name="VAT", rate=Decimal("5.5"))
    lines = [
        LineForm(
            description="Design", quantity="1", unit_price="100.00", tax=f"rate:{standard.id}", date=ISSUE
        ),
        LineForm(description="Books", quantity="2", unit_price="5.00", tax=f"rate:{reduced.id}", date=ISSUE),
        LineForm(description="Postage", quantity="1", unit_price="5.00", tax="none", date=ISSUE),
    ]
    form = InvoiceForm(currency="USD", issue_date=ISSUE, due_date=DUE, notes="", lines=lines)
    return await invoice_editor.send_invoice(
        actor=world.staff, invoice_id=None, client_id=world.alice_id, form=form
    )


async def _refund(world: World, payment_id: int, amount: int, *, cancel: bool = True, key: str = "k"):
    return await refund_credit.refund(
        actor=world.staff,
        payment_id=payment_id,
        amount_minor=amount,
        reason="Two pages were not delivered",
        idempotency_key=key,
        cancel_on_invoices=cancel,
    )


async def test_a_partial_refund_that_cancels_issues_a_credit_note_shared_across_the_taxes(
    world: World,
) -> None:
    invoice_id = await _three_taxes(world)
    payment_id = await cash_payment(world, 13555, to_credit=True)
    invoice = await Invoice.get(id=invoice_id)
    assert (invoice.total_minor, invoice.status) == (13555, InvoiceStatus.paid)

    done = await _refund(world, payment_id, 3001)

    [number] = done.credit_notes
    note = await CreditNote.get(number=number)
    assert (note.invoice_id, note.refund_id, note.reason, note.total_minor) == (
        invoice_id,
        done.refund_id,
        "refund",
        3001,
    )
    lines = await CreditNoteLine.filter(credit_note_id=note.id).order_by("position")
    # 3001 shared as 12000 : 1055 : 500 (largest remainder), each share split into net and tax at its rate
    assert [(line.tax_rate.normalize(), line.net_minor, line.tax_minor) for line in lines] == [
        (Decimal("20"), 2214, 443),
        (Decimal("5.5"), 221, 12),
        (Decimal("0"), 111, 0),
    ]
    assert (note.subtotal_minor, note.tax_minor) == (2546, 455)
    assert all(abs(line.tax_minor - line.net_minor * line.tax_rate / 100) <= 1 for line in lines)
    assert "Design" in lines[0].description and invoice.number in lines[0].description
    # the invoice is unchanged and stays paid: the client owes nothing, so nothing is chased
    after = await Invoice.get(id=invoice_id)
    assert (after.status, after.total_minor, after.paid_at) == (InvoiceStatus.paid, 13555, invoice.paid_at)
    assert after.paid_at is not None
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert detail.amount_due_minor == 0
    assert detail.presentation.credit_notes_minor == 3001 and detail.presentation.refunded_minor == 3001
    totals = {row.key: row.amount for row in totals_rows(detail.presentation, "en")}
    assert (totals["refunded"], totals["credit_notes"], totals["due"]) == ("$30.01", "-$30.01", "$0.00")
    # the money went back once, and the refund receipt is queued once
    assert (await Refund.get(id=done.refund_id)).amount_minor == 3001
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 1
    # its PDF (and nothing else yet: no country set) is stored as issued
    assert await IssuedDocument.exists(kind="credit-note", subject_id=note.id)


async def test_the_other_choice_gives_the_money_back_and_the_invoice_is_owed_again(world: World) -> None:
    invoice_id = await invoice_for(world, 5000)
    payment_id = await cash_payment(world, 5000, to_credit=True)

    done = await _refund(world, payment_id, 1250, cancel=False)

    assert done.credit_notes == [] and not await CreditNote.exists(invoice_id=invoice_id)
    invoice = await Invoice.get(id=invoice_id)
    assert invoice.status == InvoiceStatus.open
    assert (await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)).amount_due_minor == 1250


async def test_a_double_click_is_one_refund_and_one_credit_note(world: World) -> None:
    await invoice_for(world, 5000)
    payment_id = await cash_payment(world, 5000, to_credit=True)

    first = await _refund(world, payment_id, 2000, key="same")
    second = await _refund(world, payment_id, 2000, key="same")

    assert first == second
    assert await CreditNote.all().count() == 1 and await Refund.all().count() == 1
    assert await Allocation.filter(credit_note_id__isnull=False).count() == 1


async def test_credit_first_then_only_what_comes_off_the_invoice_is_credited(world: World) -> None:
    invoice_id = await invoice_for(world, 10000)
    payment_id = await cash_payment(world, 12000, to_credit=True)  # 20.00 became credit
    offer = await refunds.refund_offer(actor=world.staff, payment_id=payment_id)
    assert (offer.refundable_minor, offer.on_invoices_minor) == (12000, 10000)

    done = await _refund(world, payment_id, 5000)

    note = await CreditNote.get(number=done.credit_notes[0])
    assert note.total_minor == 3000  # 20.00 from the unspent credit, 30.00 off the invoice
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    assert await ledger.credit_balance(world.alice_id, "USD") == 0


async def test_an_online_refund_through_the_gateway_issues_the_credit_note(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 4200)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )

    done = await refund_credit.refund(
        actor=world.staff,
        payment_id=outcome.payment_id,
        amount_minor=4200,
        reason="Cancelled",
        idempotency_key="online",
        gateway=sandbox(),
    )

    note = await CreditNote.get(number=done.credit_notes[0])
    assert note.total_minor == 4200 and (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    # the whole invoice credited: its own lines, as it had them
    [line] = await CreditNoteLine.filter(credit_note_id=note.id)
    assert (line.description, line.unit_price_minor) == ("Work", 4200)


async def test_the_gateway_event_first_then_the_staff_answer_still_cancels(world: World) -> None:
    """The gateway's charge.refunded event can be recorded before the staff action's own record: the
    event reopens the invoice; the staff action, adopting that row, cancels the amount: paid again."""
    invoice_id = await invoice_for(world, 3000)
    payment_id = await cash_payment(world, 3000, to_credit=True)
    await refunds.record_refund(payment_id=payment_id, amount_minor=1000, reason="", actor=None)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open

    await refunds.record_refund(
        payment_id=payment_id,
        gateway_total_refunded=1000,
        gateway_refund_id="re_1",
        idempotency_key="staff",
        reason="Goodwill",
        actor=world.staff,
        cancel=credit_notes.issue_for_refund,
    )

    invoice = await Invoice.get(id=invoice_id)
    # paid again; its paid date is now the refund's (the event cleared the first one)
    assert invoice.status == InvoiceStatus.paid and invoice.paid_at is not None
    note = await CreditNote.get(invoice_id=invoice_id)
    assert (note.total_minor, note.note) == (1000, "Goodwill")
    assert await Refund.all().count() == 1


async def test_void_cancels_only_what_refunds_left_and_not_twice(world: World) -> None:
    invoice_id = await invoice_for(world, 10000)
    payment_id = await cash_payment(world, 4000, to_credit=True)  # part paid
    await _refund(world, payment_id, 4000)  # all of it back, cancelled: 60.00 still owed
    assert (await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)).amount_due_minor == 6000

    number = await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id, reason="Project off")

    assert (await CreditNote.get(number=number)).total_minor == 6000
    assert await credit_notes.credited_minor(invoice_id) == 10000
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.deleted


async def test_a_wholly_credited_invoice_cannot_be_voided_again(world: World) -> None:
    invoice_id = await invoice_for(world, 2500)
    payment_id = await cash_payment(world, 2500, to_credit=True)
    await _refund(world, payment_id, 2500)

    with pytest.raises(Conflict, match="already cancel the whole"):
        await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    assert await CreditNote.filter(invoice_id=invoice_id).count() == 1


async def test_statement_and_export_show_the_credit_note_and_balance_to_zero(world: World) -> None:
    invoice_id = await invoice_for(world, 8000)
    payment_id = await cash_payment(world, 8000, to_credit=True)
    done = await _refund(world, payment_id, 3000)
    number = (await Invoice.get(id=invoice_id)).number

    statement = await statements.build_statement(
        actor=world.staff, client_id=world.alice_id, start=today(), end=today()
    )
    [block] = statement.blocks
    assert block.closing_minor == 0 and block.balance_now_minor == 0
    assert block.credit_minor == -3000 and block.refunded_minor == 3000 and block.paid_minor == 8000
    described = [line.description for line in block.lines]
    assert f"Credit note {done.credit_notes[0]} ({number})" in described
    assert block.open_invoices == []

    chunks = [chunk async for chunk in exports.csv_chunks("invoices", today(), today())]
    rows = list(csv.DictReader(io.StringIO("".join(chunks).lstrip("\ufeff"))))
    [row] = [r for r in rows if r["number"] == number]
    assert (row["amount_paid"], row["amount_credited"], row["amount_due"]) == ("50.00", "30.00", "0.00")


async def test_the_partial_credit_note_is_a_valid_factur_x_381_in_the_clients_language(world: World) -> None:
    await set_legal_identity(world)  # a French organization: credit notes are e-invoices too
    await Client.filter(id=world.alice_id).update(locale="fr")
    invoice_id = await _three_taxes(world)
    payment_id = await cash_payment(world, 13555, to_credit=True)

    done = await _refund(world, payment_id, 5000)

    note = await CreditNote.get(number=done.credit_notes[0])
    assert await IssuedDocument.exists(kind="credit-note-xml", subject_id=note.id)  # stored at issue
    detail = await credit_notes.get_credit_note(actor=world.alice, credit_note_id=note.id)

    data = credit_note_xml(detail)
    assert facturx_lib.xml_check_xsd(data, flavor="factur-x", level="en16931")
    assert_conforms(data)  # the EN 16931 rules: its per-rate shares add up as the standard asks
    assert b"<ram:TypeCode>381</ram:TypeCode>" in data and b"50.00" in data
    assert (await Invoice.get(id=invoice_id)).number.encode() in data
    assert detail.lines[0].description.startswith("Partie de ")  # the client reads French

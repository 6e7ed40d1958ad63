"""Invoices with taxed lines, numbering, amounts due, offline payments and credit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Allocation, CreditEntry, Invoice, InvoiceLine, Payment
from portal.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.domain.status import InvoiceStatus
from portal.payments import ledger
from tests.services.conftest import World

DUE = today() + timedelta(days=14)


def line(price: int, qty: str = "1", rate: str = "20", text: str = "Design") -> LineDraft:
    return LineDraft(text, Decimal(qty), price, Decimal(rate), "VAT")


async def test_invoice_total_is_the_sum_of_per_line_rounded_amounts(world: World) -> None:
    # 3 x 0.33 at 8.875%: each line's tax 2.93 cents rounds to 3, so the total tax is 9, not round(8.79) = 9
    # and 0.05 at 10% gives a half cent that rounds up per line
    lines = [line(33, rate="8.875"), line(33, rate="8.875"), line(33, rate="8.875"), line(5, rate="10")]
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=lines, due_date=DUE
    )
    invoice = await Invoice.get(id=invoice_id)
    stored = await InvoiceLine.filter(invoice_id=invoice_id).order_by("position")
    assert [row.tax_minor for row in stored] == [3, 3, 3, 1]
    assert invoice.tax_minor == sum(row.tax_minor for row in stored) == 10
    assert invoice.total_minor == sum(row.gross_minor for row in stored) == 33 * 3 + 5 + 10


async def test_numbers_are_sequential_per_year_and_drafts_have_none(world: World) -> None:
    first = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=[line(100)], due_date=DUE
    )
    draft = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=[line(100)], due_date=DUE, send=False
    )
    second = await invoices.create_invoice(
        actor=world.staff, client_id=world.bob_id, lines=[line(100)], due_date=DUE
    )
    year = today().year
    assert (await Invoice.get(id=first)).number == f"INV-{year}-0001"
    assert (await Invoice.get(id=second)).number == f"INV-{year}-0002"
    draft_row = await Invoice.get(id=draft)
    assert draft_row.number is None and draft_row.status == InvoiceStatus.draft


async def test_a_jpy_invoice_uses_the_client_currency_without_decimals(world: World) -> None:
    invoice_id = await invoices.create_invoice(
        actor=world.staff, client_id=world.bob_id, lines=[line(1234, qty="3", rate="10")], due_date=DUE
    )
    summary = await invoices.get_invoice_summary(actor=world.bob, invoice_id=invoice_id)
    assert summary.currency == "JPY"
    assert summary.total_minor == 3702 + 370  # 370.2 yen of tax rounds to 370


@pytest.mark.parametrize(
    ("lines", "due", "message"),
    [
        ([], DUE, "Add at least one line."),
        ([line(100, text="  ")], DUE, "Line 1: describe the service."),
        ([line(100), line(-1)], DUE, "Line 2: The unit price cannot be negative."),
        ([line(100, qty="0")], DUE, "Line 1: The quantity must be greater than zero."),
        ([line(100, rate="120")], DUE, "Line 1: The tax rate must be between 0% and 100%."),
        ([line(100)], today() - timedelta(days=1), "The due date cannot be before the issue date."),
    ],
)
async def test_bad_invoice_input_is_refused_and_nothing_is_stored(
    world: World, lines: list[LineDraft], due: date, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        await invoices.create_invoice(actor=world.staff, client_id=world.alice_id, lines=lines, due_date=due)
    assert error.value.message == message
    assert await Invoice.all().count() == 0


async def test_clients_cannot_create_invoices_or_see_other_clients_invoices(world: World) -> None:
    with pytest.raises(Forbidden):
        await invoices.create_invoice(
            actor=world.alice, client_id=world.alice_id, lines=[line(1)], due_date=DUE
        )
    bob_invoice = await invoices.create_invoice(
        actor=world.staff, client_id=world.bob_id, lines=[line(100)], due_date=DUE
    )
    with pytest.raises(NotFound):
        await invoices.get_invoice_summary(actor=world.alice, invoice_id=bob_invoice)
    with pytest.raises(NotFound):
        await invoices.open_invoices(actor=world.alice, client_id=world.bob_id)
    assert [i.id for i in await invoices.open_invoices(actor=world.bob, client_id=world.bob_id)] == [
        bob_invoice
    ]


async def test_a_client_cannot_see_a_draft_invoice(world: World) -> None:
    draft = await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=[line(100)], due_date=DUE, send=False
    )
    with pytest.raises(NotFound):
        await invoices.get_invoice_summary(actor=world.alice, invoice_id=draft)
    assert await invoices.open_invoices(actor=world.alice, client_id=world.alice_id) == []


async def _two_invoices(world: World) -> tuple[int, int]:
    older = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[line(10000, rate="0")],
        due_date=today() + timedelta(days=1),
    )
    newer = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[line(5000, rate="0")],
        due_date=today() + timedelta(days=9),
    )
    return older, newer


async def test_offline_partial_payment_reduces_what_is_due_and_keeps_the_invoice_open(world: World) -> None:
    older, _ = await _two_invoices(world)
    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=4000,
        currency="usd",
        method="cash",
        received_on=today(),
        reference="R-1",
        invoice_id=older,
    )
    assert result.allocations == [(older, 4000)] and result.credit_minor == 0
    summary = await invoices.get_invoice_summary(actor=world.alice, invoice_id=older)
    assert summary.amount_due_minor == 6000 and summary.status == InvoiceStatus.open


async def test_a_payment_settles_the_oldest_due_first_and_marks_it_paid(world: World) -> None:
    older, newer = await _two_invoices(world)
    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=12000,
        currency="USD",
        method="cheque",
        received_on=today(),
    )
    assert result.allocations == [(older, 10000), (newer, 2000)]
    assert (await Invoice.get(id=older)).status == InvoiceStatus.paid
    assert (await Invoice.get(id=older)).paid_at is not None
    assert (await invoices.get_invoice_summary(actor=world.staff, invoice_id=newer)).amount_due_minor == 3000


async def test_overpayment_needs_confirmation_and_then_becomes_credit(world: World) -> None:
    await _two_invoices(world)
    with pytest.raises(Conflict) as error:
        await ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=20000,
            currency="USD",
            method="bank_transfer",
            received_on=today(),
        )
    assert error.value.message == "This is $50.00 more than is due. Confirm that $50.00 becomes credit."
    assert await Payment.all().count() == 0 and await Allocation.all().count() == 0

    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=20000,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
        overpayment_to_credit=True,
    )
    assert result.credit_minor == 5000
    assert await ledger.credit_balances(actor=world.alice, client_id=world.alice_id) == {"USD": 5000}
    assert {inv.status for inv in await Invoice.all()} == {InvoiceStatus.paid}
    # conservation: allocations + new credit == payment
    allocated = sum(a.amount_minor for a in await Allocation.all())
    credit = sum(c.amount_minor for c in await CreditEntry.all())
    assert allocated + credit == 20000


async def test_the_same_offline_payment_submitted_twice_is_recorded_once(world: World) -> None:
    older, _ = await _two_invoices(world)
    kwargs = dict(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=1000,
        currency="USD",
        method="cash",
        received_on=today(),
        idempotency_key="dialog-42",
    )
    first = await ledger.record_offline_payment(**kwargs)
    second = await ledger.record_offline_payment(**kwargs)
    assert second.duplicate and second.payment_id == first.payment_id
    assert await Payment.all().count() == 1
    assert (await invoices.get_invoice_summary(actor=world.staff, invoice_id=older)).amount_due_minor == 9000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_minor": 0}, "The amount must be greater than zero."),
        ({"method": "bitcoin"}, "Choose how the payment was made."),
        ({"received_on": today() + timedelta(days=1)}, "The payment date cannot be in the future."),
        ({"currency": "XXZ"}, "Unknown currency code 'XXZ'."),
    ],
)
async def test_bad_payment_input_is_refused(world: World, changes: dict, message: str) -> None:
    kwargs = dict(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=100,
        currency="USD",
        method="cash",
        received_on=today(),
    )
    with pytest.raises(InvalidInput) as error:
        await ledger.record_offline_payment(**{**kwargs, **changes})
    assert error.value.message == message
    assert await Payment.all().count() == 0


async def test_a_payment_for_another_clients_invoice_is_refused(world: World) -> None:
    bob_invoice = await invoices.create_invoice(
        actor=world.staff, client_id=world.bob_id, lines=[line(100)], due_date=DUE
    )
    with pytest.raises(InvalidInput, match="not open for this client"):
        await ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=100,
            currency="JPY",
            method="cash",
            received_on=today(),
            invoice_id=bob_invoice,
        )


async def test_credit_never_goes_negative(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=500, currency="USD", note="Gift"
    )
    with pytest.raises(Conflict, match=r"only \$5.00 of credit"):
        await ledger.adjust_credit(
            actor=world.staff, client_id=world.alice_id, amount_minor=-600, currency="USD", note="Oops"
        )
    with pytest.raises(InvalidInput, match="reason"):
        await ledger.adjust_credit(
            actor=world.staff, client_id=world.alice_id, amount_minor=5, currency="USD", note=" "
        )
    with pytest.raises(Forbidden):
        await ledger.adjust_credit(
            actor=world.alice, client_id=world.alice_id, amount_minor=5, currency="USD", note="x"
        )
    assert await ledger.credit_balances(actor=world.staff, client_id=world.alice_id) == {"USD": 500}


async def test_clients_cannot_record_payments_or_read_other_balances(world: World) -> None:
    with pytest.raises(Forbidden):
        await ledger.record_offline_payment(
            actor=world.alice,
            client_id=world.alice_id,
            amount_minor=100,
            currency="USD",
            method="cash",
            received_on=today(),
        )
    with pytest.raises(NotFound):
        await ledger.credit_balances(actor=world.alice, client_id=world.bob_id)

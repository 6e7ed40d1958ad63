"""Statements of account: opening and closing balances per currency, the period's invoices, payments, refunds
and credit, the aging of what is open on the last day (at the bucket boundaries), in USD, JPY and EUR,
and the statement PDF read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.billing import invoices, statement_pdf, statements
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Allocation, Client, CreditEntry, Invoice, Refund
from portal.domain.errors import InvalidInput, NotFound
from portal.payments import credit_payments, ledger, refunds
from tests.pdf_reading import pdf_text
from tests.services.conftest import World

TODAY = today()


async def _invoice(
    world: World,
    amount: int,
    *,
    issued: date,
    due: date | None = None,
    client_id: int | None = None,
    currency: str | None = None,
) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=[LineDraft("Work", Decimal(1), amount, Decimal(0))],
        issue_date=issued,
        due_date=due or issued + timedelta(days=14),
        currency=currency,
    )


async def _pay(
    world: World,
    amount: int,
    *,
    on: date,
    client_id: int | None = None,
    currency: str = "USD",
    invoice_id: int | None = None,
    credit: bool = False,
) -> int:
    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        amount_minor=amount,
        currency=currency,
        method="bank_transfer",
        received_on=on,
        invoice_id=invoice_id,
        overpayment_to_credit=credit,
    )
    return result.payment_id


async def _backdate(model, row_id: int, day: date) -> None:
    await model.filter(id=row_id).update(created_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


async def _ledger_balance(client_id: int, currency: str) -> int:
    """What the ledger says today: amounts due on open invoices minus credit."""
    due = 0
    for inv in await Invoice.filter(client_id=client_id, currency=currency, status="open"):
        due += await ledger.amount_due(inv)
    return due - await ledger.credit_balance(client_id, currency)


async def test_opening_period_and_closing_balances_add_up_and_match_the_ledger(world: World) -> None:
    start = TODAY - timedelta(days=60)
    before = await _invoice(world, 10_000, issued=start - timedelta(days=20))  # in the opening balance
    await _pay(world, 4_000, on=start - timedelta(days=10), invoice_id=before)
    during = await _invoice(world, 25_000, issued=start + timedelta(days=5))
    paid = await _pay(world, 31_000, on=start + timedelta(days=10))  # pays both, 0 left, then credit
    refund_id = await refunds.refund_payment(
        actor=world.staff, payment_id=paid, amount_minor=1_500, reason="Goodwill"
    )
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=700, currency="USD", note="Promo"
    )

    st = await statements.build_statement(actor=world.alice, client_id=world.alice_id, start=start, end=TODAY)
    (block,) = st.blocks
    assert block.currency == "USD"
    assert block.opening_minor == 6_000
    assert block.invoiced_minor == 25_000
    assert block.paid_minor == 31_000
    assert block.refunded_minor == 1_500
    assert block.credit_minor == -700
    assert block.closing_minor == 6_000 + 25_000 - 31_000 + 1_500 - 700 == 800
    assert block.closing_minor == await _ledger_balance(world.alice_id, "USD")
    kinds = [line.kind for line in block.lines]
    assert kinds == ["invoice", "payment", "refund", "credit"]
    assert [line.amount_minor for line in block.lines] == [25_000, -31_000, 1_500, -700]
    assert block.lines[-1].balance_minor == block.closing_minor
    assert block.lines[0].invoice_id == during and block.lines[1].payment_id == paid
    assert "Goodwill" in block.lines[2].description and "RCPT-" in block.lines[2].description
    assert await Refund.exists(id=refund_id)
    # the refund reopened the newest invoice; the credit lowers what is owed
    assert [(i.invoice_id, i.open_minor) for i in block.open_invoices] == [(during, 1_500)]
    assert block.credit_at_end_minor == 700 == block.unapplied_minor


async def test_the_opening_balance_is_the_closing_balance_of_the_day_before(world: World) -> None:
    first = await _invoice(world, 5_000, issued=TODAY - timedelta(days=40))
    await _pay(world, 2_000, on=TODAY - timedelta(days=20), invoice_id=first)
    await _invoice(world, 3_000, issued=TODAY - timedelta(days=5))
    split = TODAY - timedelta(days=20)
    before = await statements.build_statement(
        actor=world.staff,
        client_id=world.alice_id,
        start=TODAY - timedelta(days=90),
        end=split - timedelta(days=1),
    )
    after = await statements.build_statement(
        actor=world.staff, client_id=world.alice_id, start=split, end=TODAY
    )
    assert before.closing == {"USD": 5_000}
    assert after.blocks[0].opening_minor == 5_000
    assert after.closing == {"USD": 6_000} == {"USD": await _ledger_balance(world.alice_id, "USD")}


async def test_a_payment_is_dated_by_the_day_received_and_credit_used_moves_no_balance(world: World) -> None:
    await _pay(world, 3_000, on=TODAY - timedelta(days=30), credit=True)  # nothing due: all credit
    inv = await _invoice(world, 2_000, issued=TODAY - timedelta(days=3))
    assert await credit_payments.pay_from_credit(actor=world.staff, invoice_id=inv) == 2_000
    st = await statements.build_statement(
        actor=world.staff, client_id=world.alice_id, start=TODAY - timedelta(days=10), end=TODAY
    )
    block = st.blocks[0]
    assert block.opening_minor == -3_000  # the payment was received before the period
    assert [(line.kind, line.amount_minor) for line in block.lines] == [
        ("invoice", 2_000),
        ("credit_applied", 0),
    ]
    assert "used on" in block.lines[1].description
    assert block.closing_minor == -1_000 == await _ledger_balance(world.alice_id, "USD")
    assert block.credit_at_end_minor == 1_000


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "1_30"),
        (30, "1_30"),
        (31, "31_60"),
        (60, "31_60"),
        (61, "61_90"),
        (90, "61_90"),
        (91, "over_90"),
    ],
)
def test_aging_buckets_at_their_boundaries(days: int, bucket: str) -> None:
    assert statements.bucket_of(days) == bucket


async def test_the_aging_table_sorts_open_amounts_by_days_past_the_due_date_on_the_last_day(
    world: World,
) -> None:
    end = TODAY - timedelta(days=1)
    ages = [0, 1, 30, 31, 60, 61, 90, 91]
    for n, age in enumerate(ages):
        due = end - timedelta(days=age)
        await _invoice(world, 100 * (n + 1), issued=due - timedelta(days=10), due=due)
    partly = await _invoice(world, 5_000, issued=end - timedelta(days=2), due=end + timedelta(days=5))
    await _pay(world, 1_000, on=end, invoice_id=partly)
    await _invoice(world, 9_999, issued=TODAY)  # after the last day: not in this statement
    st = await statements.build_statement(
        actor=world.staff, client_id=world.alice_id, start=date(TODAY.year - 1, 1, 1), end=end
    )
    block = st.blocks[0]
    assert block.aging == {
        "current": 100 + 4_000,
        "1_30": 200 + 300,
        "31_60": 400 + 500,
        "61_90": 600 + 700,
        "over_90": 800,
    }
    assert block.open_minor == sum(block.aging.values()) == block.closing_minor
    assert [i.days_past_due for i in block.open_invoices] == [91, 90, 61, 60, 31, 30, 1, 0, -5]


async def test_jpy_and_eur_each_have_their_own_block_in_whole_units(world: World) -> None:
    jpy = await _invoice(
        world,
        12_345,
        issued=TODAY - timedelta(days=45),
        due=TODAY - timedelta(days=35),
        client_id=world.bob_id,
    )
    await _pay(
        world, 2_345, on=TODAY - timedelta(days=2), client_id=world.bob_id, currency="JPY", invoice_id=jpy
    )
    await _invoice(world, 9_900, issued=TODAY - timedelta(days=1), client_id=world.bob_id, currency="EUR")
    st = await statements.build_statement(
        actor=world.bob, client_id=world.bob_id, start=TODAY - timedelta(days=30), end=TODAY
    )
    assert [b.currency for b in st.blocks] == ["JPY", "EUR"]  # the client's own currency first
    yen, euro = st.blocks
    assert (yen.opening_minor, yen.paid_minor, yen.closing_minor) == (12_345, 2_345, 10_000)
    assert yen.aging["31_60"] == 10_000
    assert (euro.opening_minor, euro.invoiced_minor, euro.closing_minor) == (0, 9_900, 9_900)
    assert euro.aging["current"] == 9_900
    for block in st.blocks:
        assert block.closing_minor == await _ledger_balance(world.bob_id, block.currency)
    doc = await statements.statement_document(
        actor=world.bob, client_id=world.bob_id, start=st.start, end=st.end
    )
    text = pdf_text(statement_pdf.statement_pdf(doc, compress=False))
    assert "¥10,000" in text and "€99.00" in text
    assert "Opening balance" in text and "Closing balance" in text and "31-60 days" in text


async def test_the_pdf_is_in_the_clients_language_and_says_every_figure(world: World) -> None:
    await Client.filter(id=world.alice_id).update(locale="fr")
    inv = await _invoice(world, 123_456, issued=TODAY - timedelta(days=50), due=TODAY - timedelta(days=20))
    await _pay(world, 23_456, on=TODAY - timedelta(days=3), invoice_id=inv)
    doc = await statements.statement_document(
        actor=world.staff, client_id=world.alice_id, start=TODAY - timedelta(days=10), end=TODAY
    )
    text = pdf_text(statement_pdf.statement_pdf(doc, compress=False))
    assert "RELEVÉ DE COMPTE" in text
    assert "Solde d'ouverture" in text and "Solde de clôture" in text
    assert "1\u202f234,56\xa0$US" in text  # the opening balance, French figures (narrow no-break space)
    assert "1\u202f000,00\xa0$US" in text  # the closing balance
    assert "1-30 jours" in text
    assert doc.filename.startswith("statement-Alice-Archer-")


async def test_another_client_gets_not_found_and_bad_periods_are_refused(world: World) -> None:
    with pytest.raises(NotFound):
        await statements.build_statement(actor=world.bob, client_id=world.alice_id, start=TODAY, end=TODAY)
    with pytest.raises(InvalidInput) as future:
        await statements.build_statement(
            actor=world.staff, client_id=world.alice_id, start=TODAY, end=TODAY + timedelta(days=1)
        )
    assert future.value.field == "end"
    with pytest.raises(InvalidInput) as backwards:
        statements.parse_period(TODAY.isoformat(), (TODAY - timedelta(days=1)).isoformat())
    assert backwards.value.field == "start"
    with pytest.raises(InvalidInput):
        statements.parse_period("yesterday", "")
    assert statements.parse_period("", "") == (date(TODAY.year, 1, 1), TODAY)


async def test_void_invoices_and_drafts_are_not_on_the_statement(world: World) -> None:
    draft = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Draft", Decimal(1), 500, Decimal(0))],
        due_date=TODAY,
        send=False,
    )
    voided = await _invoice(world, 700, issued=TODAY)
    await Invoice.filter(id=voided).update(status="deleted")
    st = await statements.build_statement(actor=world.staff, client_id=world.alice_id, start=TODAY, end=TODAY)
    assert st.blocks == []
    assert await Invoice.exists(id=draft)
    assert not await Allocation.exists() and not await CreditEntry.exists()

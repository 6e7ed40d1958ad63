"""The accountant's CSV exports: each kind, both dates of the range included, amounts in each currency's own
decimals (JPY 0, EUR 2, KWD 3) with the code beside them, refunds and used credit negative, typed text that
cannot run as a spreadsheet formula, and rows read in keyset batches."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portal.billing import exports, invoices
from portal.billing.invoices import LineDraft
from portal.core.clock import frozen_at
from portal.db.models import AuditEntry, Client, CreditEntry, CreditNote, Invoice, Payment, Refund
from portal.domain.errors import Forbidden, InvalidFields, InvalidInput
from portal.payments import ledger, refunds
from tests.services.conftest import World

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


async def _read(kind: str, start: date = NOV_1, end: date = NOV_30, *, batch_size: int = 1000) -> list[dict]:
    chunks = [chunk async for chunk in exports.csv_chunks(kind, start, end, batch_size=batch_size)]
    text = "".join(chunks)
    assert text.startswith("\ufeff")  # spreadsheets read accents right only with the byte-order mark
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


async def _invoice(
    client_id: int, issued: date, total: int, currency: str, status: str = "open", **kw
) -> int:
    invoice = await Invoice.create(
        client_id=client_id,
        number=kw.pop("number", f"INV-{issued.isoformat()}-{total}"),
        status=status,
        currency=currency,
        issue_date=issued,
        due_date=issued,
        subtotal_minor=total,
        tax_minor=0,
        total_minor=total,
        **kw,
    )
    return invoice.id


async def _payment(client_id: int | None, received: date, amount: int, currency: str, **kw) -> Payment:
    return await Payment.create(
        client_id=client_id,
        amount_minor=amount,
        currency=currency,
        status=kw.pop("status", "succeeded"),
        source="offline",
        method="cash",
        received_on=received,
        **kw,
    )


async def test_invoices_inside_the_range_both_days_included_in_their_currencys_decimals(world: World) -> None:
    yen = await Client.create(name="Yamada", email="y@x.test", currency="JPY")
    dinar = await Client.create(name="Kuwait Co", email="k@x.test", currency="KWD")
    euro = await Client.create(name="Émile", company="Atelier", email="e@x.test", currency="EUR")
    await _invoice(yen.id, date(2026, 10, 31), 999, "JPY")  # the day before: left out
    first = await _invoice(yen.id, NOV_1, 12345, "JPY")
    kwd = await _invoice(dinar.id, date(2026, 11, 15), 1234, "KWD")
    last = await _invoice(euro.id, NOV_30, 100050, "EUR")
    await _invoice(euro.id, date(2026, 12, 1), 7, "EUR")  # the day after: left out
    await _invoice(euro.id, date(2026, 11, 10), 500, "EUR", status="draft", number=None)  # not issued

    rows = await _read("invoices")

    assert [int(r["invoice_id"]) for r in rows] == [first, kwd, last]
    by_id = {int(r["invoice_id"]): r for r in rows}
    assert (by_id[first]["currency"], by_id[first]["total"]) == ("JPY", "12345")
    assert (by_id[kwd]["currency"], by_id[kwd]["total"]) == ("KWD", "1.234")
    assert (by_id[last]["currency"], by_id[last]["total"], by_id[last]["amount_due"]) == (
        "EUR",
        "1000.50",
        "1000.50",
    )
    assert by_id[last]["issue_date"] == "2026-11-30" and by_id[last]["client_name"] == "Émile"
    assert by_id[last]["client_company"] == "Atelier"


async def test_an_invoice_shows_what_was_paid_and_what_is_still_due(world: World) -> None:
    with frozen_at(datetime(2026, 11, 10, 9, tzinfo=UTC)):
        invoice_id = await invoices.create_invoice(
            actor=world.staff,
            client_id=world.alice_id,
            lines=[LineDraft("Work", Decimal(1), 10000, Decimal(0))],
            due_date=date(2026, 11, 20),
        )
        await ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=2500,
            currency="USD",
            method="cash",
            received_on=date(2026, 11, 10),
            invoice_id=invoice_id,
        )
    [row] = await _read("invoices")
    assert (row["total"], row["amount_paid"], row["amount_due"], row["status"]) == (
        "100.00",
        "25.00",
        "75.00",
        "open",
    )


async def test_payments_received_in_the_range_pending_and_failed_left_out(world: World) -> None:
    inside = await _payment(world.alice_id, NOV_1, 150000, "USD", reference="Cheque 12")
    kwd = await _payment(world.alice_id, NOV_30, 5, "KWD")
    await _payment(world.alice_id, date(2026, 11, 5), 100, "USD", status="pending")
    await _payment(world.alice_id, date(2026, 11, 5), 100, "USD", status="failed")
    await _payment(world.alice_id, date(2026, 12, 1), 100, "USD")
    anonymous = await _payment(None, date(2026, 11, 6), 700, "EUR")  # a billing request paid by a stranger

    rows = await _read("payments")

    assert [int(r["payment_id"]) for r in rows] == [inside.id, kwd.id, anonymous.id]
    assert (rows[2]["client_id"], rows[2]["client_name"], rows[2]["amount"]) == ("", "", "7.00")
    assert (rows[0]["amount"], rows[0]["currency"], rows[0]["received_on"]) == (
        "1500.00",
        "USD",
        "2026-11-01",
    )
    assert (rows[0]["client_name"], rows[0]["reference"], rows[0]["method"]) == (
        "Alice Archer",
        "Cheque 12",
        "cash",
    )
    assert (rows[1]["amount"], rows[1]["currency"]) == ("0.005", "KWD")


async def test_refunds_are_negative_and_dated_by_when_they_were_made(world: World) -> None:
    paid = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.bob_id,
        amount_minor=5000,
        currency="JPY",
        method="cash",
        received_on=date(2026, 11, 2),
        overpayment_to_credit=True,
    )
    payment_id = paid.payment_id
    refund_id = await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=1200, reason='=HYPERLINK("x")'
    )
    later = await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=100, reason="x"
    )
    # rows are stamped by the database's clock: move them to the edges of the range
    await Refund.filter(id=refund_id).update(created_at=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    await Refund.filter(id=later).update(created_at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC))

    rows = await _read("refunds")

    assert [int(r["refund_id"]) for r in rows] == [refund_id]
    assert (rows[0]["amount"], rows[0]["currency"]) == ("-1200", "JPY")
    assert rows[0]["refunded_at"] == "2026-11-30T23:59:00+00:00"
    assert rows[0]["client_name"] == "Bob Baker" and int(rows[0]["payment_id"]) == payment_id
    assert rows[0]["reason"] == '\'=HYPERLINK("x")'  # neutralised


async def test_credit_entries_keep_their_sign(world: World) -> None:
    for amount, note in ((2000, "goodwill"), (-750, "-correction"), (1, "before")):
        await ledger.adjust_credit(
            actor=world.staff, client_id=world.alice_id, amount_minor=amount, currency="EUR", note=note
        )
    first, second, before = await CreditEntry.filter(client_id=world.alice_id).order_by("id")
    await CreditEntry.filter(id__in=[first.id, second.id]).update(
        created_at=datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    )
    await CreditEntry.filter(id=before.id).update(created_at=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))

    rows = await _read("credit")

    assert [(r["amount"], r["currency"], r["reason"]) for r in rows] == [
        ("20.00", "EUR", "adjustment"),
        ("-7.50", "EUR", "adjustment"),
    ]
    assert rows[0]["created_at"] == "2026-11-01T00:00:00+00:00"
    assert rows[1]["note"] == "'-correction"  # a typed minus is text, not a formula


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
async def test_a_client_name_that_starts_like_a_formula_is_quoted(world: World, start: str) -> None:
    evil = await Client.create(name=f"{start}cmd|' /C calc'!A0", email="evil@x.test", currency="USD")
    await _payment(evil.id, NOV_1, 100, "USD", reference="@SUM(1+1)")
    [row] = await _read("payments")
    assert row["client_name"] == f"'{start}cmd|' /C calc'!A0"
    assert row["reference"] == "'@SUM(1+1)"
    assert row["amount"] == "1.00"  # our own numbers are never quoted


async def test_negative_amounts_stay_numbers() -> None:
    assert exports.safe_text("-5") == "'-5"  # typed text
    assert exports.amount_text(-5, "KWD") == "-0.005"  # a number we write
    assert exports.amount_text(-1200, "JPY") == "-1200"
    assert exports.amount_text(5, "EUR") == "0.05"
    assert exports.safe_text("Ada") == "Ada" and exports.safe_text(None) == ""


async def test_rows_are_read_in_keyset_batches(world: World) -> None:
    ids = [(await _payment(world.alice_id, date(2026, 11, 2), 100 + n, "USD")).id for n in range(7)]
    await _payment(world.alice_id, date(2026, 12, 2), 1, "USD")  # between them in id order but out of range
    ids.append((await _payment(world.alice_id, date(2026, 11, 3), 999, "USD")).id)

    batches = [batch async for batch in exports.export_rows("payments", NOV_1, NOV_30, batch_size=3)]

    assert [len(batch) for batch in batches] == [3, 3, 2]
    assert [int(row[0]) for batch in batches for row in batch] == ids
    assert [int(r["payment_id"]) for r in await _read("payments", batch_size=3)] == ids


async def test_the_range_is_checked_and_each_wrong_date_says_why() -> None:
    with pytest.raises(InvalidFields) as caught:
        exports.check_range("2026-11-30", "2026-11-01")
    assert set(caught.value.errors) == {"date_to"}
    assert "2026-11-01" in caught.value.errors["date_to"] and "2026-11-30" in caught.value.errors["date_to"]
    with pytest.raises(InvalidFields) as caught:
        exports.check_range("", "30/11/2026")
    assert set(caught.value.errors) == {"date_from", "date_to"}
    assert exports.check_range("2026-11-01", "2026-11-01") == (NOV_1, NOV_1)  # one day is a range


async def test_staff_only_an_unknown_kind_refused_and_each_export_audited(world: World) -> None:
    with pytest.raises(Forbidden):
        await exports.open_export(actor=world.alice, kind="payments", date_from=NOV_1, date_to=NOV_30)
    with pytest.raises(InvalidInput):
        await exports.open_export(actor=world.staff, kind="passwords", date_from=NOV_1, date_to=NOV_30)
    export = await exports.open_export(
        actor=world.staff, kind="payments", date_from="2026-11-01", date_to=NOV_30
    )
    assert export.filename == "payments-2026-11-01-to-2026-11-30.csv"
    text = "".join([chunk async for chunk in export.chunks])
    assert text.splitlines()[0] == "\ufeff" + ",".join(exports.HEADERS["payments"])
    entry = await AuditEntry.get(action="export.download")
    assert entry.details == {"kind": "payments", "from": "2026-11-01", "to": "2026-11-30"}
    assert entry.actor_id == world.staff.user_id


async def test_credit_notes_are_negative_name_their_invoice_and_are_dated_by_issue(world: World) -> None:
    cancelled = await _invoice(world.alice_id, date(2026, 11, 3), 24120, "EUR", status="deleted")
    for number, issued in (("CN-2026-0001", date(2026, 11, 30)), ("CN-2026-0002", date(2026, 12, 1))):
        await CreditNote.create(
            number=number,
            client_id=world.alice_id,
            invoice_id=cancelled,
            currency="EUR",
            issue_date=issued,
            reason="void",
            note="=cmd|' /C calc'!A0",
            subtotal_minor=20100,
            tax_minor=4020,
            total_minor=24120,
            dedupe_key=f"test:{number}",
        )

    rows = await _read("credit-notes")

    assert [r["number"] for r in rows] == ["CN-2026-0001"]  # the one of December is outside the range
    row = rows[0]
    assert (row["subtotal"], row["tax"], row["total"], row["currency"]) == (
        "-201.00",
        "-40.20",
        "-241.20",
        "EUR",
    )
    assert (row["invoice_number"], row["issue_date"], row["reason"]) == (
        "INV-2026-11-03-24120",
        "2026-11-30",
        "void",
    )
    assert row["note"].startswith("'=")  # neutralised
    assert "credit-notes" in exports.KINDS

"""Invoice and receipt documents, their PDFs, and the client's history: amounts, access, escaping."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import documents, invoices, issued, pdf, quotes
from portal.billing.invoices import LineDraft
from portal.clients import history
from portal.core.clock import now_utc, today
from portal.db.models import (
    Client,
    ImpersonationSession,
    Invoice,
    InvoiceLine,
    Organization,
    Payment,
    Quote,
    QuoteLine,
)
from portal.domain.errors import NotFound
from portal.domain.money import format_money
from portal.domain.status import InvoiceStatus, PaymentStatus, QuoteStatus
from portal.domain.tax import LineInput, invoice_totals, line_amounts
from portal.payments import credit_payments, ledger, refunds
from tests import pdf_reading
from tests.services.conftest import World
from tests.services.payment_fixtures import invoice_for

DUE = today() + timedelta(days=14)
pdf_strings, pdf_text = pdf_reading.pdf_strings, pdf_reading.pdf_text  # as other tests import them from here


async def _offline(
    world: World, amount: int, *, invoice_id: int | None = None, extra_to_credit: bool = False
):
    return await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=amount,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
        reference="BT-77",
        invoice_id=invoice_id,
        overpayment_to_credit=extra_to_credit,
    )


async def _taxed_invoice(world: World) -> int:
    lines = [
        LineDraft("Hosting", Decimal(3), 1999, Decimal("8.875"), "NY sales tax"),
        LineDraft("Audit", Decimal("2.5"), 8001, Decimal(20), "VAT"),
        LineDraft("Fix", Decimal(1), 5, Decimal(10), "VAT"),
    ]
    return await invoices.create_invoice(
        actor=world.staff, client_id=world.alice_id, lines=lines, due_date=DUE
    )


async def _quote(world: World, client_id: int | None = None) -> int:
    item = LineInput(Decimal(2), 50000, Decimal(20))
    totals, amounts = invoice_totals([item]), line_amounts(item)
    client = await Client.get(id=client_id or world.alice_id)
    quote = await Quote.create(
        kind="estimate",
        client_id=client.id,
        title="Prototype",
        status=QuoteStatus.sent,
        currency=client.currency,
        issue_date=today(),
        valid_until=today() + timedelta(days=30),
        terms="Half on approval.",
        subtotal_minor=totals.subtotal_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
    )
    await QuoteLine.create(
        quote_id=quote.id,
        description="Screens",
        quantity=item.quantity,
        unit_price_minor=item.unit_price_minor,
        tax_name="VAT",
        tax_rate=item.tax_rate,
        net_minor=amounts.net_minor,
        tax_minor=amounts.tax_minor,
        gross_minor=amounts.gross_minor,
    )
    return quote.id


# -- invoice detail ---------------------------------------------------------------------------------
async def test_detail_totals_are_the_stored_totals_and_the_sum_of_the_rounded_lines(world: World) -> None:
    invoice_id = await _taxed_invoice(world)
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    stored = await Invoice.get(id=invoice_id)
    rows = await InvoiceLine.filter(invoice_id=invoice_id)
    assert (detail.subtotal_minor, detail.tax_minor, detail.total_minor) == (
        stored.subtotal_minor,
        stored.tax_minor,
        stored.total_minor,
    )
    assert (
        detail.subtotal_minor
        == sum(line.net_minor for line in detail.lines)
        == sum(r.net_minor for r in rows)
    )
    assert (
        detail.tax_minor
        == sum(line.tax_minor for line in detail.lines)
        == sum(t.tax_minor for t in detail.tax_by_rate)
    )
    assert detail.total_minor == sum(line.gross_minor for line in detail.lines)
    # 3 x 19.99 = 59.97 at 8.875% = 5.3223 -> 5.32;
    # 2.5 x 80.01 = 200.025 -> 200.03 (half up) at 20% = 40.006 -> 40.01; 0.05 at 10% = 0.005 -> 0.01
    assert [line.net_minor for line in detail.lines] == [5997, 20003, 5]
    assert [line.tax_minor for line in detail.lines] == [532, 4001, 1]
    assert [(t.label, t.tax_minor) for t in detail.tax_by_rate] == [
        ("NY sales tax 8.875%", 532),
        ("VAT 20%", 4001),
        ("VAT 10%", 1),
    ]
    assert [line.quantity for line in detail.lines] == ["3", "2.5", "1"]
    assert detail.amount_due_minor == detail.total_minor and detail.can_pay
    assert detail.client.name == "Alice Archer" and detail.client.company == "Archery Co"
    assert detail.pdf_filename == f"invoice-{detail.number}.pdf"


async def test_amount_due_after_a_partial_payment_after_credit_and_after_a_refund(world: World) -> None:
    invoice_id = await invoice_for(world, 10000)
    paid = await _offline(world, 3000, invoice_id=invoice_id)
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert detail.amount_due_minor == 7000
    assert [(p.payment_id, p.method, p.reference, p.amount_minor) for p in detail.payments] == [
        (paid.payment_id, "Bank transfer", "BT-77", 3000)
    ]
    assert detail.payments[0].has_receipt

    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=2000, currency="USD", note="Sorry"
    )
    await credit_payments.pay_from_credit(actor=world.alice, invoice_id=invoice_id)
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert detail.credit_applied_minor == 2000
    assert detail.amount_due_minor == 5000 == detail.total_minor - 3000 - 2000
    summary = await invoices.get_invoice_summary(actor=world.alice, invoice_id=invoice_id)
    assert summary.amount_due_minor == detail.amount_due_minor

    await refunds.refund_payment(
        actor=world.staff, payment_id=paid.payment_id, amount_minor=1000, reason="Goodwill"
    )
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert [(r.amount_minor, r.reason) for r in detail.refunds] == [(1000, "Goodwill")]
    assert detail.amount_due_minor == 6000


async def test_a_paid_invoice_has_nothing_due_and_cannot_be_paid(world: World) -> None:
    invoice_id = await invoice_for(world, 4500)
    await _offline(world, 4500, invoice_id=invoice_id)
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert (detail.status, detail.display_status, detail.amount_due_minor, detail.can_pay) == (
        "paid",
        "paid",
        0,
        False,
    )


async def test_an_overdue_invoice_says_so(world: World) -> None:
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Late", Decimal(1), 100, Decimal(0))],
        issue_date=today() - timedelta(days=30),
        due_date=today() - timedelta(days=1),
    )
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert detail.display_status == "overdue" and detail.is_overdue


# -- receipts ---------------------------------------------------------------------------------------
async def test_the_receipt_lists_the_invoices_it_settled_and_the_credit_it_created(world: World) -> None:
    first = await invoice_for(world, 10000, days=5)
    second = await invoice_for(world, 4000, days=10)
    result = await _offline(world, 15000, extra_to_credit=True)
    receipt = await documents.get_receipt(actor=world.alice, payment_id=result.payment_id)
    numbers = {i.id: i.number for i in await Invoice.filter(id__in=[first, second])}
    assert [(s.invoice_id, s.number, s.amount_minor) for s in receipt.settled] == [
        (first, numbers[first], 10000),
        (second, numbers[second], 4000),
    ]
    assert receipt.credit_created_minor == 1000
    assert receipt.number == f"RCPT-{result.payment_id}"
    assert receipt.pdf_filename == f"receipt-RCPT-{result.payment_id}.pdf"
    assert (receipt.amount_minor, receipt.currency, receipt.method, receipt.reference) == (
        15000,
        "USD",
        "Bank transfer",
        "BT-77",
    )
    assert receipt.status_label == "Paid"

    await refunds.refund_payment(actor=world.staff, payment_id=result.payment_id, amount_minor=500)
    receipt = await documents.get_receipt(actor=world.alice, payment_id=result.payment_id)
    assert (receipt.status, receipt.status_label, receipt.refunded_minor, receipt.kept_minor) == (
        "partially_refunded",
        "Partially refunded",
        500,
        14500,
    )
    text = pdf_text(pdf.receipt_pdf(receipt, compress=False))
    assert receipt.number in text
    assert f"Invoice {numbers[first]}" in text and "$100.00" in text and "$150.00" in text


@pytest.mark.parametrize("status", [PaymentStatus.pending, PaymentStatus.failed])
async def test_payments_not_received_have_no_receipt(world: World, status: PaymentStatus) -> None:
    payment = await Payment.create(
        client_id=world.alice_id,
        amount_minor=500,
        currency="USD",
        status=status,
        source="online",
        method="card",
        received_on=today(),
    )
    with pytest.raises(NotFound):
        await documents.get_receipt(actor=world.alice, payment_id=payment.id)
    with pytest.raises(NotFound):
        await documents.get_receipt(actor=world.staff, payment_id=payment.id)


# -- access -----------------------------------------------------------------------------------------
async def test_another_client_gets_not_found_for_invoice_receipt_quote_and_history(world: World) -> None:
    invoice_id = await invoice_for(world, 1000)
    paid = await _offline(world, 1000, invoice_id=invoice_id)
    quote_id = await _quote(world)
    for theirs, nobodys in (
        (
            documents.get_invoice(actor=world.bob, invoice_id=invoice_id),
            documents.get_invoice(actor=world.bob, invoice_id=999),
        ),
        (
            documents.get_receipt(actor=world.bob, payment_id=paid.payment_id),
            documents.get_receipt(actor=world.bob, payment_id=999),
        ),
    ):
        with pytest.raises(NotFound) as first:
            await theirs
        with pytest.raises(NotFound) as second:
            await nobodys
        assert first.value.message == second.value.message  # someone else's id looks like a missing one
    with pytest.raises(NotFound):
        await quotes.get_quote(actor=world.bob, quote_id=quote_id)
    with pytest.raises(NotFound):
        await quotes.decide(actor=world.bob, quote_id=quote_id, approve=True)
    with pytest.raises(NotFound):
        await history.get_history(actor=world.bob, client_id=world.alice_id)
    # staff see everything
    assert (await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)).id == invoice_id
    assert (
        await documents.get_receipt(actor=world.staff, payment_id=paid.payment_id)
    ).payment_id == paid.payment_id


async def test_drafts_and_deleted_invoices_are_not_found_for_clients(world: World) -> None:
    draft_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Draft work", Decimal(1), 100, Decimal(0))],
        due_date=DUE,
        send=False,
    )
    deleted_id = await invoice_for(world, 200)
    await Invoice.filter(id=deleted_id).update(status=InvoiceStatus.deleted)
    for invoice_id in (draft_id, deleted_id):
        with pytest.raises(NotFound) as caught:
            await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
        assert caught.value.message == documents.INVOICE_NOT_FOUND
    staff_view = await documents.get_invoice(actor=world.staff, invoice_id=draft_id)
    assert staff_view.number == f"Draft {draft_id}" and staff_view.status == "draft"


# -- PDFs -------------------------------------------------------------------------------------------
async def test_the_invoice_pdf_is_a_real_pdf_with_the_amounts_it_was_issued_with(world: World) -> None:
    """The PDF a client downloads is the invoice as issued (issue 16: issued documents never change): its
    lines, taxes and total, the whole total due; a payment made since shows on the page, not in it."""
    invoice_id = await _taxed_invoice(world)
    await _offline(world, 10000, invoice_id=invoice_id)
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    data = (await issued.invoice_pdf(actor=world.alice, invoice_id=invoice_id)).content
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    strings = pdf_strings(data)
    text = "\n".join(strings)
    total = format_money(detail.total_minor, "USD", "en")
    due = format_money(detail.amount_due_minor, "USD", "en")
    assert total == "$305.39" and due == "$205.39"  # the page: the payment lowered what is due
    assert [p.amount_minor for p in detail.payments] == [10000]
    assert detail.number in text
    assert "Total" in strings and total in strings
    assert "Amount due" in strings and due not in strings
    assert f"Amount due {total}" in " ".join(strings)  # the title bar, as issued
    assert format_money(-10000, "USD", "en") not in strings  # the payment came after the invoice
    assert "NY sales tax 8.875%" in strings and "$5.32" in strings
    assert "Archery Co" in strings and "Alice Archer" in strings
    # the renderer itself still draws whatever it is given: the invoice as it stands now, payment included
    now = pdf_strings(pdf.invoice_pdf(detail))
    assert due in now and format_money(-10000, "USD", "en") in now


async def test_markup_in_names_and_notes_is_printed_as_text(world: World) -> None:
    await Client.filter(id=world.alice_id).update(name="<script>alert(1)</script>", company="A & B <Ltd>")
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("<b>Bold</b> (work) \\ done", Decimal(1), 100, Decimal(0))],
        due_date=DUE,
        notes="<img src=x onerror=alert(2)>",
    )
    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert detail.client.name == "<script>alert(1)</script>"
    strings = pdf_strings(pdf.invoice_pdf(detail, compress=False))
    assert "<script>alert(1)</script>" in strings
    assert "A & B <Ltd>" in strings
    assert "<b>Bold</b> (work) \\ done" in strings
    assert "<img src=x onerror=alert(2)>" in strings


async def test_accents_the_euro_and_other_scripts_print_as_written(world: World) -> None:
    emile = await Client.create(name="Émile Durand", email="e@x.test", currency="EUR", locale="fr")
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=emile.id,
        lines=[LineDraft("Atelier ¥ Łódź 東京", Decimal(2), 65000, Decimal(20), "TVA")],
        due_date=DUE,
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)
    assert detail.locale == "fr"
    strings = pdf_strings(pdf.invoice_pdf(detail, compress=False))
    assert "Émile Durand" in strings
    total = format_money(detail.total_minor, "EUR", "fr")
    assert total == "1\u202f560,00\xa0€"  # French groups with a narrow no-break space...
    assert pdf.pdf_text(total) == total and total in strings  # ...which the embedded font prints
    assert "Atelier ¥ Łódź 東京" in strings  # every script as written (tests/.../test_pdf_scripts.py)
    assert pdf.pdf_text("\U0001d5d9ull ﬁ −5 \u200b") == "Full ﬁ −5 "  # folded where no font has it


async def test_a_png_logo_is_embedded_and_svg_or_missing_logos_are_skipped(world: World) -> None:
    invoice_id = await invoice_for(world, 100)
    for logo, embedded in (
        ("/static/favicon.png", True),
        ("/static/logo.svg", False),
        ("/static/missing.png", False),
        ("/static/../pyproject.toml", False),
        ("", False),
    ):
        await Organization.filter(id=1).update(logo_path=logo, theme_color="#0f766e")
        detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
        data = pdf.invoice_pdf(detail, compress=False)
        assert (b"/Subtype /Image" in data) is embedded, logo
        assert data.startswith(b"%PDF-")


async def test_a_quote_renders_as_a_pdf(world: World) -> None:
    view = await quotes.get_quote(actor=world.alice, quote_id=await _quote(world))
    strings = pdf_strings(
        pdf.quote_pdf(
            view,
            organization=await documents.letterhead(),
            client=documents.Party(name="Alice Archer"),
            compress=False,
        )
    )
    assert "ESTIMATE" in " ".join(strings) and format_money(view.total_minor, "USD") in strings
    assert "Half on approval." in strings


# -- history ----------------------------------------------------------------------------------------
async def test_history_lists_payments_refunds_credit_and_access(world: World) -> None:
    invoice_id = await invoice_for(world, 10000)
    paid = await _offline(world, 12000, invoice_id=invoice_id, extra_to_credit=True)  # 20.00 becomes credit
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=500, currency="USD", note="Goodwill"
    )
    await refunds.refund_payment(
        actor=world.staff, payment_id=paid.payment_id, amount_minor=1000, reason="Too much"
    )
    await Payment.create(
        client_id=world.alice_id,
        amount_minor=700,
        currency="USD",
        status="failed",
        source="online",
        method="card",
        received_on=today(),
    )
    admin_row = world.admin.user_id
    started = now_utc() - timedelta(hours=3)
    await ImpersonationSession.create(
        admin_id=admin_row,
        client_id=world.alice_id,
        reason="Ticket 12: card question",
        started_at=started,
        expires_at=started + timedelta(minutes=30),
        ended_at=started + timedelta(minutes=5),
    )
    auto = await ImpersonationSession.create(
        admin_id=admin_row,
        client_id=world.alice_id,
        reason="Check the invoice layout",
        started_at=now_utc() - timedelta(hours=1),
        expires_at=now_utc() - timedelta(minutes=30),
    )
    await ImpersonationSession.create(
        admin_id=admin_row,
        client_id=world.bob_id,
        reason="Bob's",
        expires_at=now_utc() + timedelta(minutes=30),
    )

    data = await history.get_history(actor=world.alice, client_id=world.alice_id)
    # the refund took back the credit the payment created first: the invoice stays paid
    assert [(i.id, i.total_minor) for i in data.paid_invoices.items] == [(invoice_id, 10000)]
    assert [(p.amount_minor, p.status_label, p.receipt_id) for p in data.payments.items] == [
        (700, "Failed", None),
        (12000, "Partially refunded", paid.payment_id),
    ]
    assert [(r.amount_minor, r.reason) for r in data.refunds.items] == [(1000, "Too much")]
    ledger_rows = [(c.reason, c.note, c.amount_minor, c.balance_minor) for c in data.credit.items]
    assert ledger_rows == [
        ("Taken back by a refund", "", -1000, 1500),
        ("Adjustment", "Goodwill", 500, 2500),
        ("Overpayment", "", 2000, 2000),
    ]
    assert (
        data.credit.items[0].balance_minor
        == (await ledger.credit_balances(actor=world.alice, client_id=world.alice_id))["USD"]
    )
    assert [a.reason for a in data.access.items] == ["Check the invoice layout", "Ticket 12: card question"]
    assert data.access.items[0].id == auto.id
    assert data.access.items[0].ended.startswith("Ended automatically on ")
    assert data.access.items[1].ended.endswith(" UTC") and "automatically" not in data.access.items[1].ended
    assert data.access.items[0].admin_email == "admin@x.test"
    assert abs(data.access.items[1].started_at - started) < timedelta(seconds=1)
    assert data.access.total == 2


async def test_history_shows_paid_invoices_newest_first_and_caps_each_list(world: World) -> None:
    ids = [await invoice_for(world, 100 * (n + 1)) for n in range(3)]
    for invoice_id, amount in zip(ids, (100, 200, 300), strict=True):
        await _offline(world, amount, invoice_id=invoice_id)
    data = await history.get_history(actor=world.alice, client_id=world.alice_id, limit=2)
    assert data.paid_invoices.total == 3 and data.paid_invoices.truncated
    assert [i.id for i in data.paid_invoices.items] == [ids[2], ids[1]]
    assert data.payments.total == 3 and len(data.payments.items) == 2
    empty = await history.get_history(actor=world.bob, client_id=world.bob_id)
    assert (empty.payments.total, empty.refunds.total, empty.credit.total, empty.access.total) == (0, 0, 0, 0)

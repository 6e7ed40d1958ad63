"""The one presentation of an invoice: lines, labelled columns and the totals block, from the ledger's
integers, in JPY, USD, KWD and EUR, after partial payments, credit and refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.domain.money import format_money
from portal.domain.presentation import (
    CREDIT,
    PAYMENT,
    REFUND,
    Applied,
    PresentedLine,
    present_invoice,
    sheet,
)
from portal.domain.tax import LineInput, invoice_totals, line_amounts


def _line(description: str, quantity: str, unit: int, rate: str, tax_name: str = "VAT") -> PresentedLine:
    amounts = line_amounts(LineInput(Decimal(quantity), unit, Decimal(rate)))
    return PresentedLine(
        description=description,
        quantity=Decimal(quantity),
        unit_price_minor=unit,
        tax_name=tax_name,
        tax_rate=Decimal(rate),
        net_minor=amounts.net_minor,
        tax_minor=amounts.tax_minor,
        gross_minor=amounts.gross_minor,
    )


def _invoice(currency: str, lines: list[PresentedLine], applied: list[Applied] = ()):  # type: ignore[assignment]
    totals = invoice_totals([LineInput(li.quantity, li.unit_price_minor, li.tax_rate) for li in lines])
    return present_invoice(
        currency=currency,
        lines=lines,
        subtotal_minor=totals.subtotal_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
        applied=applied,
    )


CASES = {
    # currency: (lines, expected subtotal, tax, total)
    "JPY": (
        [_line("Consulting", "3", 33_333, "10"), _line("Travel", "1", 1_001, "8")],
        101_000,
        10_080,
        111_080,
    ),
    "USD": (
        [_line("Website redesign", "1", 120_000, "20"), _line("Hosting", "3", 4_500, "8.875")],
        133_500,
        25_198,
        158_698,
    ),
    "KWD": ([_line("Audit", "2.5", 123_457, "5")], 308_643, 15_432, 324_075),
    "EUR": (
        [_line("Atelier", "0.5", 60_001, "20", "TVA"), _line("Licence", "1", 999, "0", "")],
        31_000,
        6_000,
        37_000,
    ),
}


@pytest.mark.parametrize("currency", sorted(CASES))
def test_totals_are_the_ledger_integers_and_the_column_adds_up(currency: str) -> None:
    lines, subtotal, tax, total = CASES[currency]
    paid, credit = total // 3, total // 5
    p = _invoice(currency, lines, [Applied(PAYMENT, paid), Applied(CREDIT, credit), Applied(REFUND, -7)])
    assert (p.subtotal_minor, p.tax_minor, p.total_minor) == (subtotal, tax, total)
    assert sum(line.net_minor for line in p.lines) == p.subtotal_minor
    assert sum(t.tax_minor for t in p.taxes) == p.tax_minor
    assert sum(line.gross_minor for line in p.lines) == p.total_minor
    assert (p.paid_minor, p.credit_minor, p.refunded_minor) == (paid, credit, 7)
    # the ledger's amount due: the total minus the sum of the allocation rows
    assert p.amount_due_minor == total - (paid + credit - 7)
    rows = {row.key: row for row in sheet(p, "en").totals}
    assert [row.key for row in sheet(p, "en").totals] == [
        "subtotal",
        *["tax"] * len(p.taxes),
        "total",
        "paid",
        "credit",
        "refunded",
        "due",
    ]
    assert rows["paid"].amount_minor == -paid and rows["credit"].amount_minor == -credit
    assert rows["refunded"].amount_minor == 7
    shown = sum(
        r.amount_minor for r in sheet(p, "en").totals if r.key in ("total", "paid", "credit", "refunded")
    )
    assert shown == rows["due"].amount_minor
    assert rows["due"].amount == format_money(p.amount_due_minor, currency, "en")


def test_each_line_is_shown_net_with_its_tax_and_gross_under_labelled_columns() -> None:
    p = _invoice("USD", CASES["USD"][0], [Applied(PAYMENT, 50_000)])
    written = sheet(p, "en")
    assert [c.label for c in written.columns] == [
        "Description",
        "Qty",
        "Unit price",
        "Net",
        "Tax rate",
        "Tax",
        "Gross",
    ]
    first = written.rows[0]
    assert (first["description"], first["net"], first["tax_rate"], first["tax"], first["gross"]) == (
        "Website redesign",
        "$1,200.00",
        "VAT 20%",
        "$240.00",
        "$1,440.00",
    )
    assert written.rows[1]["tax_rate"] == "VAT 8.875%" and written.rows[1]["quantity"] == "3"
    labels = [(r.label, r.amount) for r in written.totals]
    assert labels == [
        ("Subtotal (net)", "$1,335.00"),
        ("VAT 20%", "$240.00"),
        ("VAT 8.875%", "$11.98"),
        ("Total", "$1,586.98"),
        ("Payments received", "-$500.00"),
        ("Amount due", "$1,086.98"),
    ]


def test_french_writes_numbers_rates_and_labels_the_french_way() -> None:
    p = _invoice("EUR", CASES["EUR"][0], [Applied(CREDIT, 999)])
    written = sheet(p, "fr")
    assert [c.label for c in written.columns][:3] == ["Description", "Qté", "Prix unitaire"]
    assert written.rows[0]["quantity"] == "0,5"
    assert written.rows[0]["tax_rate"] == "TVA 20\xa0%"
    assert written.rows[1]["tax_rate"].startswith("Taxe 0")
    keys = [r.key for r in written.totals]
    assert "credit" in keys and "refunded" not in keys
    due = next(r for r in written.totals if r.key == "due")
    assert due.amount == format_money(37_000 - 999, "EUR", "fr")


def test_an_unpaid_invoice_says_nothing_was_received_and_a_date_column_appears_with_dates() -> None:
    from datetime import date

    line = _line("Design", "1", 1_000, "0", "")
    dated = PresentedLine(**{**line.__dict__, "date": date(2026, 12, 3)})
    written = sheet(_invoice("JPY", [dated]), "en")
    assert written.columns[0].key == "date" and written.rows[0]["date"] == "Dec 3, 2026"
    rows = {r.key: r.amount for r in written.totals}
    assert rows["paid"] == format_money(0, "JPY", "en") and rows["due"] == "¥1,000"


def test_an_unknown_allocation_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        _invoice("USD", CASES["USD"][0], [Applied("gift", 1)])

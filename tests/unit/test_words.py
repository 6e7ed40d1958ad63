"""Words that must not mislead (issue 14): a void invoice is 'Void', card networks as they write
themselves, a sent quote's number, hints true for each invoice state, a line without a service counted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from portal import i18n
from portal.billing.invoices import locked_note
from portal.billing.line_input import NO_TAX, LineForm, TaxChoice, line_field, preview
from portal.billing.quotes import quote_number
from portal.core import audit
from portal.domain.status import (
    BillingRequestStatus,
    CreditRequestStatus,
    InvoiceStatus,
    brand_label,
    invoice_display_status,
    invoice_label,
    local_label,
)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n.set_locale("en")


@pytest.mark.parametrize(
    ("locale", "void", "deleted"), [("en", "Void", "Deleted"), ("fr", "Annulée", "Supprimé")]
)
def test_a_voided_invoice_is_void_and_only_requests_are_deleted(locale: str, void: str, deleted: str) -> None:
    assert invoice_label("deleted", locale) == void
    assert local_label(InvoiceStatus.deleted, locale) == void
    assert local_label(invoice_display_status("deleted"), locale) == void
    assert local_label(BillingRequestStatus.deleted, locale) == deleted
    assert local_label(CreditRequestStatus.deleted, locale) == deleted
    assert invoice_display_status("open", overdue=True) == "overdue"
    assert invoice_display_status("paid", overdue=True) == "paid"


@pytest.mark.parametrize(
    ("brand", "shown"),
    [
        ("visa", "Visa"),
        ("mastercard", "Mastercard"),
        ("amex", "American Express"),
        ("diners", "Diners Club"),
        ("discover", "Discover"),
        ("jcb", "JCB"),
        ("unionpay", "UnionPay"),
        ("JCB", "JCB"),
        ("sepa_debit", "SEPA Direct Debit"),
        ("", ""),
        ("unknown", ""),
        ("new_network", "New Network"),
    ],
)
def test_card_brands_are_written_as_the_networks_write_them(brand: str, shown: str) -> None:
    assert brand_label(brand) == shown


def test_a_sent_quote_is_never_called_a_draft() -> None:
    assert quote_number("EST-2026-0001", "sent", 1) == "EST-2026-0001"
    assert quote_number("", "sent", 1) == "#1"
    assert quote_number(None, "approved", 7) == "#7"
    assert quote_number(None, "draft", 3) == "Draft 3"


def _note(status: str, *, total: int = 10000, due: int = 10000, credited: int = 0) -> str:
    return locked_note(status, total_minor=total, amount_due_minor=due, credited_minor=credited)


def test_each_invoice_state_gets_a_hint_that_is_true_for_it() -> None:
    open_note = _note("open")
    assert "Void it and duplicate it" in open_note
    paid = _note("paid", due=0)
    assert "Void it and duplicate it to make changes" not in paid
    assert paid.startswith("This invoice is paid") and "refund its payments" in paid
    partly = _note("open", due=4000)
    assert "partly paid" in partly and "refund the payments first" in partly
    by_credit = _note("paid", due=0, credited=10000)
    assert "cannot" not in by_credit and "can no longer be changed or voided" in by_credit
    assert "refund" not in by_credit  # credit cannot be refunded off an invoice: only duplicating helps
    free = _note("paid", total=0, due=0)
    assert "can no longer be changed or voided" in free
    assert _note("deleted").startswith("This invoice is void")


def test_the_hints_are_french_for_a_french_reader() -> None:
    with use_locale("fr"):
        assert _note("paid", due=0).startswith("Cette facture est payée")


TAXES = {NO_TAX: TaxChoice(NO_TAX, "", Decimal(0)), "rate:1": TaxChoice("rate:1", "VAT", Decimal(20))}


@pytest.mark.parametrize(("locale", "price"), [("en", "1,200.00"), ("fr", "1 200,00")])
def test_a_line_without_a_service_is_counted_and_says_why_it_cannot_be_saved(locale: str, price: str) -> None:
    lines = [
        LineForm(description="Design", quantity="1", unit_price=price, tax="rate:1"),
        LineForm(description="", quantity="2", unit_price=price, tax="rate:1"),
    ]
    with use_locale(locale):
        result = preview(lines, currency="USD", locale=locale, taxes=TAXES)
    assert result.subtotal_minor == 360000  # both lines: nothing typed is silently left out
    assert result.total_minor == 432000
    assert result.line_net_minor == [120000, 240000]
    message = result.errors[line_field(1, "description")]
    assert message == (
        "Describe the service: this line is in the totals, but it cannot be saved without one."
        if locale == "en"
        else "Décrivez la prestation : cette ligne compte dans les totaux, mais elle ne peut pas être "
        "enregistrée sans description."
    )


def test_a_line_with_a_wrong_price_still_counts_as_nothing() -> None:
    lines = [LineForm(description="", quantity="2", unit_price="abc", tax=NO_TAX)]
    result = preview(lines, currency="USD", locale="en", taxes=TAXES)
    assert result.total_minor == 0 and result.line_net_minor == [None]
    assert result.errors[line_field(0, "description")] == "Describe the service."
    assert result.errors[line_field(0, "unit_price")] == "Enter a price like 12.50."


def test_a_misplaced_separator_in_a_price_says_what_it_could_mean() -> None:
    lines = [LineForm(description="Design", quantity="1", unit_price="0,500", tax=NO_TAX)]
    result = preview(lines, currency="USD", locale="en", taxes=TAXES)
    assert result.total_minor == 0  # not 500.00
    assert result.errors[line_field(0, "unit_price")] == (
        "“0,500” is not an amount in English: did you mean 0.50 or 500.00? Write amounts like 1,234.56."
    )


def test_every_audited_action_written_in_the_code_reads_as_a_sentence() -> None:
    """The audit log shows each entry's action as a sentence in the reader's language: an action the code
    records by name must have one (a missing one would show as 'Export download', in English only)."""
    root = Path(__file__).resolve().parents[2] / "portal"
    source = "\n".join(path.read_text() for path in root.rglob("*.py"))
    named = set(re.findall(r'action="([a-z_.]+)"', source)) | set(
        re.findall(r'_ACTION = "([a-z_.]+)"', source)
    )
    assert len(named) > 40  # the search finds what the code records
    assert sorted(named - set(audit.ACTION_LABELS)) == []

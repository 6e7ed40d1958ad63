"""One presentation of an invoice: its lines under labelled columns and one totals block, the same on the
invoice page, its PDF, the pay-link page, the invoice email and the receipts of the payments on it.

Pure, and built from the ledger's own integers: each line's stored net, tax and gross; the invoice's stored
subtotal, tax and total; and its allocation rows (payments, credit, refunds, as `ledger` writes them). The
amount due is the total minus the sum of the allocations, exactly as `payments.ledger.amount_due` says.
`sheet(presentation, locale)` writes it out once in the reader's locale; every renderer draws that sheet,
so no renderer can list a line before tax while another lists it after tax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.numbers import format_decimal

from portal.domain.money import format_money
from portal.i18n import N_, format_date, normalize_locale, translate

PAYMENT = "payment"
CREDIT = "credit"
REFUND = "refund"
CREDIT_NOTE = "credit_note"

# column titles and totals labels (translated where the sheet is written)
C_DATE = N_("Date")
C_DESCRIPTION = N_("Description")
C_QUANTITY = N_("Qty")
C_UNIT_PRICE = N_("Unit price")
C_NET = N_("Net")
C_TAX_RATE = N_("Tax rate")
C_TAX = N_("Tax")
C_GROSS = N_("Gross")
T_SUBTOTAL = N_("Subtotal (net)")
T_TOTAL = N_("Total")
T_PAID = N_("Payments received")
T_CREDIT = N_("Credit applied")
T_REFUNDED = N_("Refunded")
T_CREDIT_NOTES = N_("Cancelled by credit notes")
T_DUE = N_("Amount due")
TAX_LABEL = N_("{name} {rate}%")
UNNAMED_TAX = N_("Tax")


@dataclass(frozen=True)
class PresentedLine:
    """One stored invoice line: quantity and rate as Decimals, amounts in minor units."""

    description: str
    quantity: Decimal
    unit_price_minor: int
    tax_name: str
    tax_rate: Decimal
    net_minor: int
    tax_minor: int
    gross_minor: int
    date: date | None = None


@dataclass(frozen=True)
class Applied:
    """One allocation row of the invoice: `kind` payment | credit | refund | credit_note, the amount as
    stored (a refund's row is negative: it takes money back off the invoice; a credit note's is positive:
    it lowers what is owed)."""

    kind: str
    amount_minor: int


@dataclass(frozen=True)
class TaxTotal:
    """The rounded line taxes of one tax (name and rate) summed, with the net they were charged on."""

    name: str
    rate: Decimal
    net_minor: int
    tax_minor: int


@dataclass(frozen=True)
class InvoicePresentation:
    """An invoice's lines and totals block, in minor units."""

    currency: str
    lines: tuple[PresentedLine, ...]
    subtotal_minor: int
    taxes: tuple[TaxTotal, ...]
    tax_minor: int
    total_minor: int
    paid_minor: int
    credit_minor: int
    refunded_minor: int
    amount_due_minor: int
    credit_notes_minor: int = 0  # cancelled by credit notes that came with refunds


def tax_totals(lines: Iterable[PresentedLine]) -> tuple[TaxTotal, ...]:
    """Sum the rounded line taxes per tax name and rate, in the order the lines first use them."""
    sums: dict[tuple[str, Decimal], list[int]] = {}
    for line in lines:
        net_tax = sums.setdefault((line.tax_name, Decimal(line.tax_rate).normalize()), [0, 0])
        net_tax[0] += line.net_minor
        net_tax[1] += line.tax_minor
    return tuple(TaxTotal(name, rate, net, tax) for (name, rate), (net, tax) in sums.items())


def present_invoice(
    *,
    currency: str,
    lines: Iterable[PresentedLine],
    subtotal_minor: int,
    tax_minor: int,
    total_minor: int,
    applied: Iterable[Applied] = (),
) -> InvoicePresentation:
    """The presentation of an invoice from its stored lines and totals and its allocation rows."""
    lines = tuple(lines)
    applied = tuple(applied)
    paid = sum(a.amount_minor for a in applied if a.kind == PAYMENT)
    credit = sum(a.amount_minor for a in applied if a.kind == CREDIT)
    taken_back = -sum(a.amount_minor for a in applied if a.kind == REFUND)
    cancelled = sum(a.amount_minor for a in applied if a.kind == CREDIT_NOTE)
    unknown = {a.kind for a in applied} - {PAYMENT, CREDIT, REFUND, CREDIT_NOTE}
    if unknown:
        raise ValueError(f"unknown allocation kinds: {sorted(unknown)}")
    return InvoicePresentation(
        currency=currency,
        lines=lines,
        subtotal_minor=subtotal_minor,
        taxes=tax_totals(lines),
        tax_minor=tax_minor,
        total_minor=total_minor,
        paid_minor=paid,
        credit_minor=credit,
        refunded_minor=taken_back,
        amount_due_minor=total_minor - sum(a.amount_minor for a in applied),
        credit_notes_minor=cancelled,
    )


# -- written out ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A column of the lines table: its key in each row, its title, whether it holds a number, and whether
    a phone-wide screen keeps it (`essential`)."""

    key: str
    label: str
    numeric: bool
    essential: bool


@dataclass(frozen=True)
class TotalRow:
    """A row of the totals block: key (subtotal, tax, total, paid, credit, refunded, due), label, amount."""

    key: str
    label: str
    amount: str
    amount_minor: int
    strong: bool = False


@dataclass(frozen=True)
class Sheet:
    """The presentation written for one reader: column titles, one dict of texts per line, the totals."""

    columns: tuple[Column, ...]
    rows: tuple[dict[str, str], ...]
    totals: tuple[TotalRow, ...]


def _number(value: Decimal, locale: str) -> str:
    """'2.5' / '2,5', every stored decimal kept ('8.875'), none added ('1')."""
    return format_decimal(Decimal(value).normalize(), locale=locale, decimal_quantization=False)


def tax_label(name: str, rate: Decimal, locale: str) -> str:
    """'VAT 20%' / 'TVA 20 %'; an unnamed rate is 'Tax 0%'."""
    shown = name.strip() or translate(UNNAMED_TAX, locale)
    return translate(TAX_LABEL, locale, name=shown, rate=_number(rate, locale))


def columns(presentation: InvoicePresentation, locale: str) -> tuple[Column, ...]:
    """The lines table's columns (a date column only when a line has a date)."""
    wanted = [
        ("description", C_DESCRIPTION, False, True),
        ("quantity", C_QUANTITY, True, False),
        ("unit_price", C_UNIT_PRICE, True, False),
        ("net", C_NET, True, True),
        ("tax_rate", C_TAX_RATE, True, False),
        ("tax", C_TAX, True, True),
        ("gross", C_GROSS, True, True),
    ]
    if any(line.date for line in presentation.lines):
        wanted.insert(0, ("date", C_DATE, False, False))
    return tuple(
        Column(key, translate(title, locale), numeric, essential) for key, title, numeric, essential in wanted
    )


def sheet(presentation: InvoicePresentation, locale: str) -> Sheet:
    """The presentation in `locale`: amounts through `format_money`, dates through `format_date`."""
    code = normalize_locale(locale)
    currency = presentation.currency

    def money(amount: int) -> str:
        return format_money(amount, currency, code)

    rows = tuple(
        {
            "date": format_date(line.date, code),
            "description": line.description,
            "quantity": _number(line.quantity, code),
            "unit_price": money(line.unit_price_minor),
            "net": money(line.net_minor),
            "tax_rate": tax_label(line.tax_name, line.tax_rate, code),
            "tax": money(line.tax_minor),
            "gross": money(line.gross_minor),
        }
        for line in presentation.lines
    )
    return Sheet(columns(presentation, code), rows, totals(presentation, code))


def totals(presentation: InvoicePresentation, locale: str) -> tuple[TotalRow, ...]:
    """Subtotal (net), tax per rate, total, payments received, credit applied, refunds and credit notes
    (when any), and the amount due; what was paid or credited is shown as a deduction, so the column adds
    up."""
    code = normalize_locale(locale)
    p = presentation

    def row(key: str, label: str, amount: int, *, strong: bool = False) -> TotalRow:
        return TotalRow(key, label, format_money(amount, p.currency, code), amount, strong)

    out = [row("subtotal", translate(T_SUBTOTAL, code), p.subtotal_minor)]
    out += [row("tax", tax_label(t.name, t.rate, code), t.tax_minor) for t in p.taxes]
    out.append(row("total", translate(T_TOTAL, code), p.total_minor, strong=True))
    out.append(row("paid", translate(T_PAID, code), -p.paid_minor))
    if p.credit_minor:
        out.append(row("credit", translate(T_CREDIT, code), -p.credit_minor))
    if p.refunded_minor:
        out.append(row("refunded", translate(T_REFUNDED, code), p.refunded_minor))
    if p.credit_notes_minor:
        out.append(row("credit_notes", translate(T_CREDIT_NOTES, code), -p.credit_notes_minor))
    out.append(row("due", translate(T_DUE, code), p.amount_due_minor, strong=True))
    return tuple(out)

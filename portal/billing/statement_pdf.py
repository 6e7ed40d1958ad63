"""The statement of account as a PDF (fpdf2), drawn with the helpers of `pdf.py`: the same letterhead,
title bar, client block, tables and footer as the invoices, in the client's language."""

from __future__ import annotations

from portal.billing.pdf import PAGE_WIDTH, _day, _Document, _finish, _letterhead, _parties, _table, _title_bar
from portal.billing.statements import BUCKET_LABELS, BUCKETS, CurrencyBlock, StatementDocument
from portal.core.clock import today
from portal.domain.money import format_money
from portal.i18n import translate

LINE_WIDTHS = (26, 98, 28, 28)
LINE_ALIGNS = ("LEFT", "LEFT", "RIGHT", "RIGHT")
AGING_WIDTHS = (30, 30, 30, 30, 30, 30)


def _block(pdf: _Document, block: CurrencyBlock, doc: StatementDocument) -> None:
    locale, s = doc.locale, doc.statement
    money = lambda amount: format_money(amount, block.currency, locale)  # noqa: E731
    day = lambda value: _day(value, locale)  # noqa: E731
    pdf.heading(translate("Account in {currency}", locale, currency=block.currency))
    opening = translate("Opening balance on {date}", locale, date=day(s.start))
    closing = translate("Closing balance on {date}", locale, date=day(s.end))
    pdf.pair(opening, money(block.opening_minor))
    pdf.pair(translate("Invoices", locale), money(block.invoiced_minor))
    pdf.pair(translate("Payments received", locale), money(-block.paid_minor))
    pdf.pair(translate("Refunds", locale), money(block.refunded_minor))
    pdf.pair(translate("Credit", locale), money(block.credit_minor))
    pdf.pair(closing, money(block.closing_minor), bold=True)
    pdf.ln(2)
    headings = [translate(h, locale) for h in ("Date", "Description", "Amount", "Balance")]
    rows = [[day(s.start), translate("Opening balance", locale), "", money(block.opening_minor)]]
    rows += [
        [
            day(line.date),
            line.description,
            money(line.amount_minor) if line.amount_minor else "",
            money(line.balance_minor),
        ]
        for line in block.lines
    ]
    rows.append([day(s.end), translate("Closing balance", locale), "", money(block.closing_minor)])
    _table(pdf, headings, rows, LINE_WIDTHS, LINE_ALIGNS)
    pdf.heading(translate("Open on {date}, by days past due", locale, date=day(s.end)))
    aging = block.aging
    headings = [translate(BUCKET_LABELS[b], locale) for b in BUCKETS] + [translate("Total", locale)]
    figures = [money(aging[b]) for b in BUCKETS] + [money(block.open_minor)]
    _table(pdf, headings, [figures], AGING_WIDTHS, ["RIGHT"] * len(AGING_WIDTHS))
    if block.unapplied_minor:
        pdf.pair(translate("Less credit not yet used", locale), money(-block.unapplied_minor))
    pdf.pair(translate("Balance", locale), money(block.closing_minor), bold=True)


def statement_pdf(doc: StatementDocument, *, compress: bool = True) -> bytes:
    """The statement as a PDF (`compress=False` keeps the text searchable, for tests)."""
    locale, s = doc.locale, doc.statement
    title = translate("Statement of account", locale)
    pdf = _Document(doc.organization, title, compress=compress, locale=locale)
    _letterhead(pdf)
    period = translate("{start} to {end}", locale, start=_day(s.start, locale), end=_day(s.end, locale))
    _title_bar(pdf, translate("STATEMENT OF ACCOUNT", locale), period)
    facts = [
        (translate("From", locale), _day(s.start, locale)),
        (translate("To", locale), _day(s.end, locale)),
        (translate("Date", locale), _day(today(), locale)),
    ]
    _parties(pdf, translate("STATEMENT FOR", locale), doc.client, facts)
    if not s.blocks:
        pdf.text_block(translate("Nothing to show for this period.", locale), width=PAGE_WIDTH, size=10)
    for block in s.blocks:
        _block(pdf, block, doc)
    return _finish(pdf)

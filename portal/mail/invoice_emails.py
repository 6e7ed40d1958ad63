"""The emails about invoices and quotes: an invoice sent, its payment reminders, an estimate or proposal
to review."""

from __future__ import annotations

from datetime import date

from portal.core.clock import today
from portal.db.models import Client, Invoice, Organization, Quote
from portal.domain.mentions import REVERSE_CHARGE
from portal.domain.presentation import InvoicePresentation, sheet
from portal.i18n import N_, format_date, translate
from portal.mail.compose import (
    L_AMOUNT_DUE,
    L_DUE,
    L_INVOICE,
    L_ISSUED,
    L_NOTES,
    L_TOTAL,
    L_VALID_UNTIL,
    Email,
    brand,
    button,
    compose_email,
    money,
    para,
)
from portal.mail.templates import Block, Details, Note, Paragraph, Table, phrase


def invoice_blocks(presentation: InvoicePresentation, locale: str, *, lines: bool = True) -> list[Block]:
    """The invoice's lines under their titled columns and its totals block, exactly as the invoice page and
    its PDF show them (`portal.domain.presentation`); `lines=False` gives the totals only."""
    written = sheet(presentation, locale)
    blocks: list[Block] = []
    if lines and written.rows:
        blocks.append(
            Table(
                headings=[c.label for c in written.columns],
                rows=[[row[c.key] for c in written.columns] for row in written.rows],
                numeric=[c.numeric for c in written.columns],
            )
        )
    blocks.append(Details([(row.label, row.amount) for row in written.totals]))
    return blocks


# -- invoices, reminders ----------------------------------------------------------------------------
def invoice_sent(
    *,
    org: Organization,
    invoice: Invoice,
    client: Client,
    presentation: InvoicePresentation,
    link: str,
) -> Email:
    """An invoice with its lines (in their order) and totals block (`presentation`, from the ledger: what
    was paid or credited and what is still due), its payment link, in the client's locale."""
    b = brand(org)
    locale = client.locale
    due = presentation.amount_due_minor
    number = invoice.number or ""
    total = money(invoice.total_minor, invoice.currency, locale)
    subject = translate(
        N_("Invoice {number} from {org}: {amount}"), locale, number=number, org=b.name, amount=total
    )
    blocks: list[Block] = []
    if due > 0:
        blocks += [
            para(
                N_("Here is invoice {number} for {amount}, due on {date}."),
                locale,
                strong=("amount", "date"),
                number=number,
                amount=money(due, invoice.currency, locale),
                date=format_date(invoice.due_date, locale),
            ),
            button(locale, translate(N_("Pay invoice {number}"), locale, number=number), link),
        ]
    elif invoice.total_minor == 0:
        blocks.append(
            para(
                N_("Here is invoice {number}. Its total is {amount}: nothing is due."),
                locale,
                number=number,
                amount=total,
            )
        )
    else:
        blocks.append(
            para(
                N_("Here is invoice {number} for {amount}. Your account credit paid it: nothing is due."),
                locale,
                number=number,
                amount=total,
            )
        )
    blocks.append(
        Details(
            [
                (translate(L_INVOICE, locale), number),
                (translate(L_ISSUED, locale), format_date(invoice.issue_date, locale)),
                (translate(L_DUE, locale), format_date(invoice.due_date, locale)),
            ]
        )
    )
    blocks += invoice_blocks(presentation, locale)
    if invoice.notes.strip():
        blocks.append(Note(translate(L_NOTES, locale), invoice.notes))
    if invoice.reverse_charge:
        blocks.append(para(REVERSE_CHARGE, locale))
    return compose_email(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Invoice {number}"), locale, number=number),
        blocks=blocks,
        brand_=b,
    )


def reminder_stage(due_date: date, on: date) -> str:
    """'before', 'on' or 'after' the due date, as seen on the day `on` (the wording follows the calendar,
    so a reminder caught up a day late still says the right thing)."""
    return "before" if on < due_date else ("on" if on == due_date else "after")


def reminder(
    *,
    org: Organization,
    invoice: Invoice,
    client: Client,
    link: str,
    amount_due_minor: int,
    on: date | None = None,
) -> Email:
    """A payment reminder for what is still due (from the ledger), sent on the day `on` (today): before the
    due date, on it, or after it."""
    b = brand(org)
    locale = client.locale
    number = invoice.number or ""
    due = money(amount_due_minor, invoice.currency, locale)
    when = format_date(invoice.due_date, locale)
    values = {"number": number, "amount": due, "date": when}
    stage = reminder_stage(invoice.due_date, on or today())
    if stage == "before":
        subject = translate(N_("Reminder: invoice {number} is due on {date}"), locale, **values)
        heading = translate(N_("Payment reminder"), locale)
        lead = phrase(
            N_("A friendly reminder: invoice {number} for {amount} is due on {date}."),
            locale,
            strong=("amount", "date"),
            **values,
        )
    elif stage == "on":
        subject = translate(N_("Invoice {number} is due today"), locale, **values)
        heading = translate(N_("Due today"), locale)
        lead = phrase(
            N_("Invoice {number} for {amount} is due today, {date}."),
            locale,
            strong=("amount",),
            **values,
        )
    else:
        subject = translate(N_("Overdue: invoice {number} was due on {date}"), locale, **values)
        heading = translate(N_("Payment overdue"), locale)
        lead = phrase(
            N_("Invoice {number} was due on {date} and {amount} is still unpaid."),
            locale,
            strong=("amount", "date"),
            **values,
        )
    blocks: list[Block] = [
        Paragraph(lead),
        button(locale, translate(N_("Pay {amount} now"), locale, amount=due), link),
        Details(
            [
                (translate(L_INVOICE, locale), number),
                (translate(L_DUE, locale), when),
                (translate(L_AMOUNT_DUE, locale), due),
            ]
        ),
        para(N_("If you have already paid, thank you, and please ignore this reminder."), locale),
    ]
    return compose_email(
        name=client.name, locale=locale, subject=subject, heading=heading, blocks=blocks, brand_=b
    )


# -- estimates and proposals ------------------------------------------------------------------------
def quote_sent(*, org: Organization, quote: Quote, client: Client, link: str) -> Email:
    """An estimate or proposal to review, approve or decline, in the client's locale."""
    b = brand(org)
    locale = client.locale
    number = quote.number or f"#{quote.id}"
    total = money(quote.total_minor, quote.currency, locale)
    values = {"number": number, "org": b.name, "amount": total, "title": quote.title.strip()}
    bold = ("amount",)
    if quote.kind == "proposal":
        subject = translate(N_("Proposal {number} from {org}"), locale, **values)
        heading = translate(N_("Proposal {number}"), locale, **values)
        if values["title"]:
            lead = phrase(
                N_("{org} sent you a proposal for {amount}: {title}."), locale, strong=bold, **values
            )
        else:
            lead = phrase(N_("{org} sent you a proposal for {amount}."), locale, strong=bold, **values)
    else:
        subject = translate(N_("Estimate {number} from {org}"), locale, **values)
        heading = translate(N_("Estimate {number}"), locale, **values)
        if values["title"]:
            lead = phrase(
                N_("{org} sent you an estimate for {amount}: {title}."), locale, strong=bold, **values
            )
        else:
            lead = phrase(N_("{org} sent you an estimate for {amount}."), locale, strong=bold, **values)
    blocks: list[Block] = [Paragraph(lead)]
    if quote.valid_until:
        blocks.append(
            para(
                N_("Please review it and approve or decline it by {date}."),
                locale,
                strong=("date",),
                date=format_date(quote.valid_until, locale),
            )
        )
    else:
        blocks.append(para(N_("Please review it and approve or decline it."), locale))
    blocks.append(button(locale, translate(N_("Review and respond"), locale), link))
    rows = [
        (translate(L_TOTAL, locale), total),
        (translate(L_ISSUED, locale), format_date(quote.issue_date, locale)),
    ]
    if quote.valid_until:
        rows.append((translate(L_VALID_UNTIL, locale), format_date(quote.valid_until, locale)))
    blocks.append(Details(rows))
    return compose_email(
        name=client.name, locale=locale, subject=subject, heading=heading, blocks=blocks, brand_=b
    )

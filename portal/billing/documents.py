"""Invoices and receipts as documents: everything the detail pages and the PDFs show, access-checked.

A client sees only its own documents; another client's id, a draft or a deleted invoice is "not found"
with the same message as an id that does not exist. Amounts are the stored integers: the page and the
PDF format the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from portal.core.actors import Actor, check_client_access
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    Client,
    CreditEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
)
from portal.domain.errors import NotFound
from portal.domain.mentions import french_mention_notes, reverse_charge_note
from portal.domain.money import currency_exponent
from portal.domain.presentation import InvoicePresentation, PresentedLine, present_invoice
from portal.domain.status import InvoiceStatus, PaymentStatus, invoice_display_status, local_label
from portal.domain.tax import LineInput, line_amounts
from portal.i18n import N_, _, get_locale, pgettext
from portal.payments import links
from portal.payments.ledger import allocated_by_invoice
from portal.payments.links import LinkView
from portal.payments.methods import method_label
from portal.payments.presentation import (
    LatestPayment,
    invoice_presentation,
    latest_payment,
    load_presentation,
)

INVOICE_NOT_FOUND = N_("That invoice does not exist.")
RECEIPT_NOT_FOUND = N_("That receipt does not exist.")
RECEIPT_STATUSES = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)


@dataclass(frozen=True)
class Party:
    """The client a document is addressed to."""

    name: str
    company: str = ""
    email: str = ""
    address: str = ""
    # legal identity (an e-invoice's buyer): postcode, city, ISO country, and for a business its numbers
    postcode: str = ""
    city: str = ""
    country: str = ""
    is_business: bool = False
    company_id: str = ""
    vat_number: str = ""


@dataclass(frozen=True)
class Letterhead:
    """The organization as its documents show it."""

    name: str
    address: str = ""
    bank_details: str = ""
    footer: str = ""
    theme_color: str = "#2563eb"
    logo_path: str = ""
    # legal identity (an e-invoice's seller)
    legal_name: str = ""  # "" = the name
    legal_form: str = ""
    company_id: str = ""
    vat_number: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""
    # what its French invoices say (portal.domain.mentions)
    operation_nature: str = "services"
    late_penalty_rate: Decimal | None = None
    early_payment_discount: Decimal | None = None
    vat_franchise: bool = False  # franchise en base (article 293 B of the French General Tax Code)


@dataclass(frozen=True)
class LineView:
    """One invoice line: quantity and tax rate as plain text ('2.5', '8.875'), amounts in minor units."""

    date: date | None
    description: str
    quantity: str
    unit_price_minor: int
    tax_name: str
    tax_rate: str
    net_minor: int
    tax_minor: int
    gross_minor: int


@dataclass(frozen=True)
class TaxSummary:
    """The rounded line taxes of one tax (name and rate) summed, with the net they were charged on."""

    name: str
    rate: str
    net_minor: int
    tax_minor: int

    @property
    def label(self) -> str:
        """'VAT 20%' (or 'Tax 0%' for an unnamed rate)."""
        return f"{self.name or 'Tax'} {self.rate}%"


@dataclass(frozen=True)
class AppliedPayment:
    """Money from a payment that went to this invoice."""

    payment_id: int
    date: date
    method: str
    reference: str
    amount_minor: int
    has_receipt: bool


@dataclass(frozen=True)
class AppliedCredit:
    """Credit used on this invoice."""

    date: date
    amount_minor: int


@dataclass(frozen=True)
class TakenBack:
    """Money a refund took back from this invoice (a positive amount: it is due again)."""

    payment_id: int | None
    date: date
    amount_minor: int
    reason: str


@dataclass(frozen=True)
class InvoiceDetail:
    """An invoice with its lines, taxes, what paid it and what is still due."""

    id: int
    number: str
    status: str
    currency: str
    issue_date: date
    due_date: date
    notes: str
    lines: list[LineView]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    tax_by_rate: list[TaxSummary]
    payments: list[AppliedPayment]
    credits: list[AppliedCredit]
    refunds: list[TakenBack]
    amount_due_minor: int
    client: Party
    organization: Letterhead
    presentation: InvoicePresentation  # the lines and totals block every view of the invoice draws
    locale: str = "en"  # the client's: the PDF is written in it
    awaiting_transfer_since: datetime | None = None  # the client said a bank transfer is coming
    reverse_charge: bool = False  # EU reverse charge: written without VAT, the client accounts for it

    @property
    def title(self) -> str:
        """'Invoice INV-2026-0001' (in the current locale)."""
        return _("Invoice {number}", number=self.number)

    @property
    def credit_applied_minor(self) -> int:
        """All credit used on this invoice."""
        return sum(c.amount_minor for c in self.credits)

    @property
    def is_overdue(self) -> bool:
        """Open, something still due, and past its due date."""
        return self.status == InvoiceStatus.open and self.amount_due_minor > 0 and self.due_date < today()

    @property
    def display_status(self) -> str:
        """The status to show: 'overdue' for an overdue open invoice, 'void' for a voided one, else the
        stored status."""
        return invoice_display_status(self.status, overdue=self.is_overdue)

    @property
    def can_pay(self) -> bool:
        """Open with something left to pay."""
        return self.status == InvoiceStatus.open and self.amount_due_minor > 0

    @property
    def pdf_filename(self) -> str:
        """'invoice-INV-2026-0001.pdf' (only safe characters)."""
        return f"invoice-{safe_name(self.number)}.pdf"


def under_franchise(detail: InvoiceDetail) -> bool:
    """An invoice of a French business under the franchise en base that charges no VAT: it says so (article
    293 B of the French General Tax Code) in its mentions and its e-invoice's exemption reason."""
    org = detail.organization
    return org.country == "FR" and org.vat_franchise and not detail.reverse_charge and detail.tax_minor == 0


def mention_notes(detail: InvoiceDetail) -> list[tuple[str, str]]:
    """The legal mentions of an invoice (the reverse-charge mention on a reverse-charged one; French law's
    for an organization in France, with the franchise en base's on an invoice without VAT of one under that
    scheme), each with the subject code an e-invoice's note gives it: the PDF prints the texts, the Factur-X
    XML the notes."""
    org = detail.organization
    notes = [reverse_charge_note(detail.locale)] if detail.reverse_charge else []
    if org.country != "FR":
        return notes
    return notes + french_mention_notes(
        nature=org.operation_nature,
        late_penalty_rate=org.late_penalty_rate,
        early_payment_discount=org.early_payment_discount,
        business_client=detail.client.is_business,
        locale=detail.locale,
        franchise=under_franchise(detail),
    )


@dataclass(frozen=True)
class SettledInvoice:
    """An invoice a payment paid (all or part of)."""

    invoice_id: int
    number: str
    amount_minor: int
    presentation: InvoicePresentation | None = None  # the invoice's totals as they stand now


@dataclass(frozen=True)
class ReceiptDetail:
    """Proof of a payment received: how much, how, what it settled and what became credit."""

    payment_id: int
    number: str
    date: date
    method: str
    reference: str
    amount_minor: int
    currency: str
    status: str  # succeeded | partially_refunded | refunded
    refunded_minor: int
    settled: list[SettledInvoice]
    credit_created_minor: int
    client: Party
    organization: Letterhead
    locale: str = "en"
    refunds: list[TakenBack] = field(default_factory=list)

    @property
    def title(self) -> str:
        """'Receipt RCPT-12' (in the current locale)."""
        return _("Receipt {number}", number=self.number)

    @property
    def status_label(self) -> str:
        """'Paid', 'Partially refunded' or 'Refunded' (in the current locale)."""
        if self.status == PaymentStatus.succeeded:
            return pgettext("payment", "Paid")  # "Payé": agrees with a receipt, not an invoice
        return local_label(self.status)

    @property
    def kept_minor(self) -> int:
        """What was received minus what was refunded."""
        return self.amount_minor - self.refunded_minor

    @property
    def pdf_filename(self) -> str:
        """'receipt-RCPT-12.pdf'."""
        return f"receipt-{safe_name(self.number)}.pdf"


def safe_name(text: str) -> str:
    """Keep a file name to letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "document"


def receipt_number(payment_id: int) -> str:
    """The receipt number of a payment: 'RCPT-<payment id>'."""
    return f"RCPT-{payment_id}"


def invoice_number(invoice: Invoice) -> str:
    """The invoice's number, or 'Draft <id>' before it is sent."""
    return invoice.number or _("Draft {id}", id=invoice.id)


def _check(actor: Actor, client_id: int | None, *, hidden: bool, message: str) -> None:
    """Raise NotFound (one message whatever the reason) unless the actor may see the record."""
    try:
        check_client_access(actor, client_id)
    except NotFound:
        raise NotFound(_(message)) from None
    if hidden and not actor.is_staff:
        raise NotFound(_(message))


async def party_of(client_id: int | None) -> tuple[Party, str]:
    """The client block and the client's locale."""
    client = await Client.get_or_none(id=client_id) if client_id is not None else None
    if client is None:
        return Party(name=""), "en"
    party = Party(
        name=client.name,
        company=client.company,
        email=client.email,
        address=client.billing_address,
        postcode=client.postcode,
        city=client.city,
        country=client.country,
        is_business=client.is_business,
        company_id=client.company_id,
        vat_number=client.vat_number,
    )
    return party, client.locale or "en"


async def letterhead() -> Letterhead:
    """The organization's name, address, bank details and invoice template."""
    org = await get_organization()
    return Letterhead(
        name=org.name,
        address=org.billing_address,
        bank_details=org.bank_details,
        footer=org.invoice_footer,
        theme_color=org.theme_color,
        logo_path=org.logo_path,
        legal_name=org.legal_name,
        legal_form=org.legal_form,
        company_id=org.company_id,
        vat_number=org.vat_number,
        postcode=org.postcode,
        city=org.city,
        country=org.country,
        operation_nature=org.operation_nature,
        late_penalty_rate=org.late_penalty_rate,
        early_payment_discount=org.early_payment_discount,
        vat_franchise=org.vat_franchise,
    )


def _text(value: Decimal) -> str:
    """A Decimal as plain text without trailing zeros ('2.5000' -> '2.5', '100' stays '100')."""
    return f"{Decimal(value).normalize():f}"


def line_views(rows: Iterable[InvoiceLine | CreditNoteLine]) -> list[LineView]:
    """Stored lines (an invoice's, or the copies a credit note keeps) as the views the documents draw."""
    return [
        LineView(
            date=row.date,
            description=row.description,
            quantity=_text(row.quantity),
            unit_price_minor=row.unit_price_minor,
            tax_name=row.tax_name,
            tax_rate=_text(row.tax_rate),
            net_minor=row.net_minor,
            tax_minor=row.tax_minor,
            gross_minor=row.gross_minor,
        )
        for row in rows
    ]


class TaxedLine(Protocol):
    """What a tax summary needs of a line (invoice and quote lines both have it)."""

    tax_name: str
    tax_rate: str
    net_minor: int
    tax_minor: int


def tax_summary(lines: Iterable[TaxedLine]) -> list[TaxSummary]:
    """Sum the rounded line taxes per tax name and rate, in the order the lines first use them."""
    sums: dict[tuple[str, str], list[int]] = {}
    for line in lines:
        net_tax = sums.setdefault((line.tax_name, line.tax_rate), [0, 0])
        net_tax[0] += line.net_minor
        net_tax[1] += line.tax_minor
    return [TaxSummary(name, rate, net, tax) for (name, rate), (net, tax) in sums.items()]


SAMPLE_LINES = (
    (N_("Website redesign"), Decimal(1), 120_000, Decimal(20), N_("VAT")),
    (N_("Hosting and maintenance (month)"), Decimal(3), 4_500, Decimal(20), N_("VAT")),
    (N_("Workshop, half a day"), Decimal("0.5"), 60_000, Decimal(0), ""),
)
"""Lines of the sample invoice the template preview shows (amounts in minor units of a 2-decimal currency)."""


def sample_invoice(
    organization: Letterhead, *, number: str, currency: str, issue_date: date
) -> InvoiceDetail:
    """A made-up open invoice with the given letterhead, to preview the invoice template before saving it."""
    exponent = currency_exponent(currency)
    lines = []
    for description, quantity, unit_minor, rate, tax_name in SAMPLE_LINES:
        unit = unit_minor * 10 ** (exponent - 2) if exponent >= 2 else unit_minor // 10 ** (2 - exponent)
        amounts = line_amounts(LineInput(quantity=quantity, unit_price_minor=unit, tax_rate=rate))
        lines.append(
            LineView(
                date=issue_date,
                description=_(description),
                quantity=_text(quantity),
                unit_price_minor=unit,
                tax_name=_(tax_name) if tax_name else "",
                tax_rate=_text(rate),
                net_minor=amounts.net_minor,
                tax_minor=amounts.tax_minor,
                gross_minor=amounts.gross_minor,
            )
        )
    subtotal = sum(line.net_minor for line in lines)
    tax = sum(line.tax_minor for line in lines)
    presentation = present_invoice(
        currency=currency,
        lines=[_presented(line) for line in lines],
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
    )
    return InvoiceDetail(
        id=0,
        number=number,
        status=InvoiceStatus.open,
        currency=currency,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=14),
        notes=_("This is a sample invoice: it shows how your invoices will look."),
        lines=lines,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
        tax_by_rate=tax_summary(lines),
        payments=[],
        credits=[],
        refunds=[],
        amount_due_minor=subtotal + tax,
        client=Party(name=_("Sample Client"), company=_("Sample Company Ltd"), email="client@example.com"),
        organization=organization,
        presentation=presentation,
        locale=get_locale(),
    )


def _presented(line: LineView) -> PresentedLine:
    """A sample line as the presentation takes it."""
    return PresentedLine(
        description=line.description,
        quantity=Decimal(line.quantity),
        unit_price_minor=line.unit_price_minor,
        tax_name=line.tax_name,
        tax_rate=Decimal(line.tax_rate),
        net_minor=line.net_minor,
        tax_minor=line.tax_minor,
        gross_minor=line.gross_minor,
        date=line.date,
    )


def _money_on_invoice(
    rows: list[Allocation],
) -> tuple[list[AppliedPayment], list[AppliedCredit], list[TakenBack]]:
    """The allocation rows of an invoice, split into payments, credit and refunds (oldest first)."""
    payments, credits, refunds = [], [], []
    for row in rows:
        if row.payment_id is not None:
            paid: Payment = row.payment
            payments.append(
                AppliedPayment(
                    payment_id=paid.id,
                    date=paid.received_on,
                    method=method_label(paid.method, paid.payment_method),
                    reference=paid.reference,
                    amount_minor=row.amount_minor,
                    has_receipt=paid.status in RECEIPT_STATUSES,
                )
            )
        elif row.credit_entry_id is not None:
            credits.append(AppliedCredit(date=row.created_at.date(), amount_minor=row.amount_minor))
        elif row.refund_id is not None:
            refunds.append(
                TakenBack(
                    payment_id=row.refund.payment_id,
                    date=row.refund.created_at.date(),
                    amount_minor=-row.amount_minor,
                    reason=row.refund.reason,
                )
            )
    return payments, credits, refunds


async def get_invoice(*, actor: Actor, invoice_id: int) -> InvoiceDetail:
    """One invoice in full; drafts and deleted drafts are 'not found' for clients, as are other clients'
    invoices (a voided issued invoice stays visible beside the credit note that cancels it)."""
    invoice = await Invoice.get_or_none(id=invoice_id)
    if invoice is None:
        raise NotFound(_(INVOICE_NOT_FOUND))
    hidden = invoice.status == InvoiceStatus.draft or (
        invoice.status == InvoiceStatus.deleted and not await CreditNote.exists(invoice_id=invoice.id)
    )
    _check(actor, invoice.client_id, hidden=hidden, message=INVOICE_NOT_FOUND)
    line_rows = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    lines = line_views(line_rows)
    allocation_rows = (
        await Allocation.filter(invoice_id=invoice.id)
        .order_by("created_at", "id")
        .prefetch_related("payment__payment_method", "credit_entry", "refund")
    )
    payments, credits, refunds = _money_on_invoice(allocation_rows)
    allocated = (await allocated_by_invoice([invoice.id])).get(invoice.id, 0)
    party, locale = await party_of(invoice.client_id)
    return InvoiceDetail(
        id=invoice.id,
        awaiting_transfer_since=invoice.awaiting_transfer_since,
        number=invoice_number(invoice),
        status=invoice.status,
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        notes=invoice.notes,
        lines=lines,
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        tax_by_rate=tax_summary(lines),
        payments=payments,
        credits=credits,
        refunds=refunds,
        amount_due_minor=invoice.total_minor - allocated,
        client=party,
        organization=await letterhead(),
        presentation=invoice_presentation(invoice, line_rows, allocation_rows),
        locale=locale,
        reverse_charge=invoice.reverse_charge,
    )


async def _settled(payment_id: int) -> list[SettledInvoice]:
    """The invoices a payment paid, with the amount it put on each (before any refund)."""
    rows = await Allocation.filter(payment_id=payment_id).order_by("id").prefetch_related("invoice")
    amounts: dict[int, int] = {}
    invoices: dict[int, Invoice] = {}
    for row in rows:
        amounts[row.invoice_id] = amounts.get(row.invoice_id, 0) + row.amount_minor
        invoices[row.invoice_id] = row.invoice
    return [
        SettledInvoice(
            invoice_id,
            invoice_number(invoices[invoice_id]),
            amount,
            await load_presentation(invoices[invoice_id]),
        )
        for invoice_id, amount in amounts.items()
    ]


async def get_receipt(*, actor: Actor, payment_id: int) -> ReceiptDetail:
    """The receipt of a received payment; pending or failed payments have none and are 'not found'."""
    payment = await Payment.get_or_none(id=payment_id).prefetch_related("payment_method")
    if payment is None or payment.status not in RECEIPT_STATUSES:
        raise NotFound(_(RECEIPT_NOT_FOUND))
    _check(actor, payment.client_id, hidden=False, message=RECEIPT_NOT_FOUND)
    created = await CreditEntry.filter(payment_id=payment.id, amount_minor__gt=0).values_list(
        "amount_minor", flat=True
    )
    refunds = [
        TakenBack(
            payment_id=payment.id, date=r.created_at.date(), amount_minor=r.amount_minor, reason=r.reason
        )
        for r in await payment.refunds.all().order_by("created_at", "id")
    ]
    party, locale = await party_of(payment.client_id)
    return ReceiptDetail(
        payment_id=payment.id,
        number=receipt_number(payment.id),
        date=payment.received_on,
        method=method_label(payment.method, payment.payment_method),
        reference=payment.reference,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        status=payment.status,
        refunded_minor=payment.refunded_minor,
        settled=await _settled(payment.id),
        credit_created_minor=sum(created),
        client=party,
        organization=await letterhead(),
        locale=locale,
        refunds=refunds,
    )


@dataclass(frozen=True)
class PayLinkPage:
    """What the public payment page shows: the link, the newest payment made for the document (to say how
    much was received, or is being confirmed), and for an invoice a way to read its lines and totals
    (`details`, one more read), which the page draws after its first paint."""

    link: LinkView
    received: LatestPayment | None
    pending: LatestPayment | None
    details: Callable[[], Awaitable[InvoicePresentation | None]] | None = None


async def pay_link_page(*, token: str, confirming: bool = False) -> PayLinkPage:
    """The payment page of a link; NotFound for an unknown, tampered or revoked token. Reads only what
    the link's state shows: the payment received (a paid link), the payment being confirmed (an open one
    the payer came back to, `confirming`); the invoice's lines are read when `details` is awaited."""
    opened = await links.open_link(token=token)
    link = opened.link
    received = pending = None
    if link.state == "paid":
        received = await latest_payment(purpose=link.purpose, target_id=link.target_id)
    elif link.state == "open" and confirming:
        pending = await latest_payment(purpose=link.purpose, target_id=link.target_id, pending=True)
    details = opened.invoice_presentation if opened.invoice is not None and link.state != "expired" else None
    return PayLinkPage(link=link, received=received, pending=pending, details=details)

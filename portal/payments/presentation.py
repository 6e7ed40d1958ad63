"""An invoice's presentation loaded from the ledger (its stored lines and totals and its allocation rows),
and the newest payment made for a document: what the invoice page, PDF, pay link, emails and receipts show.

The arithmetic is `portal.domain.presentation`'s; this module only reads the rows it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from portal.db.models import Allocation, Invoice, InvoiceLine, Payment
from portal.domain.presentation import (
    CREDIT,
    CREDIT_NOTE,
    PAYMENT,
    REFUND,
    Applied,
    InvoicePresentation,
    PresentedLine,
    present_invoice,
)
from portal.domain.status import PaymentStatus

RECEIVED = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)


def presented_lines(rows: Iterable[InvoiceLine]) -> list[PresentedLine]:
    """Stored invoice lines as the presentation takes them (their stored amounts, unchanged)."""
    return [
        PresentedLine(
            description=row.description,
            quantity=row.quantity,
            unit_price_minor=row.unit_price_minor,
            tax_name=row.tax_name,
            tax_rate=row.tax_rate,
            net_minor=row.net_minor,
            tax_minor=row.tax_minor,
            gross_minor=row.gross_minor,
            date=row.date,
        )
        for row in rows
    ]


def applied_amounts(rows: Iterable[Allocation]) -> list[Applied]:
    """Allocation rows as payments, credit, refunds or credit notes, with the amounts the ledger stored."""
    out = []
    for row in rows:
        if row.payment_id is not None:
            out.append(Applied(PAYMENT, row.amount_minor))
        elif row.credit_entry_id is not None:
            out.append(Applied(CREDIT, row.amount_minor))
        elif row.refund_id is not None:
            out.append(Applied(REFUND, row.amount_minor))
        elif row.credit_note_id is not None:
            out.append(Applied(CREDIT_NOTE, row.amount_minor))
        else:  # no source: still part of the ledger's sum, shown where it lowers what is due
            out.append(Applied(PAYMENT if row.amount_minor >= 0 else REFUND, row.amount_minor))
    return out


def invoice_presentation(
    invoice: Invoice, lines: Iterable[InvoiceLine], allocations: Iterable[Allocation]
) -> InvoicePresentation:
    """The presentation of an invoice from rows already loaded."""
    return present_invoice(
        currency=invoice.currency,
        lines=presented_lines(lines),
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        applied=applied_amounts(allocations),
    )


async def load_presentation(invoice: Invoice) -> InvoicePresentation:
    """The presentation of an invoice: its lines in order and every allocation row on it."""
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    allocations = await Allocation.filter(invoice_id=invoice.id).order_by("created_at", "id")
    return invoice_presentation(invoice, lines, allocations)


@dataclass(frozen=True)
class LatestPayment:
    """The newest payment made for a document: its amount, currency and status."""

    payment_id: int
    amount_minor: int
    currency: str
    status: str
    method: str

    @property
    def received(self) -> bool:
        """The money arrived (a refund later does not change that it was received)."""
        return self.status in RECEIVED


async def latest_payment(*, purpose: str, target_id: int, pending: bool = False) -> LatestPayment | None:
    """The newest received payment made to pay this invoice, billing request or credit request (or the
    newest one still being confirmed, with `pending`)."""
    filters = {"invoice": "invoice_id", "billing_request": "billing_request_id"}
    field = filters.get(purpose, "credit_request_id")
    statuses = [PaymentStatus.pending] if pending else list(RECEIVED)
    row = await Payment.filter(**{field: target_id}, status__in=statuses).order_by("-id").first()
    if row is None:
        return None
    return LatestPayment(row.id, row.amount_minor, row.currency, row.status, row.method)

"""The receipt of a payment that paid everything due at once: one email listing each document it paid."""

from __future__ import annotations

from collections.abc import Sequence

from portal.db.models import Client, Organization, Payment, PaymentMethod
from portal.i18n import N_, format_date, translate
from portal.mail.compose import (
    Email,
    brand,
    money,
    para,
)
from portal.mail.payment_emails import credit_added, payment_rows, receipt_email
from portal.mail.templates import Block, Details


def receipt(
    *,
    org: Organization,
    payment: Payment,
    client: Client,
    saved_method: PaymentMethod | None,
    documents: Sequence[tuple[str, str, int]],
    credited_minor: int,
    can_sign_in: bool,
) -> Email:
    """One receipt for a pay-everything payment: its amount, date and method, then each document it paid
    (`documents`: kind `invoice` or `credit_request`, the invoice number or the request's title, the amount
    placed on it), in payment order, and what became credit."""
    b = brand(org)
    locale = client.locale
    amount = money(payment.amount_minor, payment.currency, locale)
    subject = translate(N_("Receipt from {org}: {amount} received"), locale, org=b.name, amount=amount)
    count = len(documents)
    blocks: list[Block] = [
        para(
            N_("We received your payment of {amount} on {date} for everything that was due. Thank you!"),
            locale,
            strong=("amount",),
            amount=amount,
            date=format_date(payment.received_on, locale),
        ),
    ]
    rows = payment_rows(payment, saved_method, locale)
    for kind, name, placed in documents:
        label = (
            translate(N_("Invoice {number}"), locale, number=name)
            if kind == "invoice"
            else translate(N_("Credit request: {title}"), locale, title=name)
        )
        rows.append((label, money(placed, payment.currency, locale)))
    blocks.append(Details(rows))
    if count:
        blocks.append(para(N_("Documents paid: {count}."), locale, count=count))
    blocks += credit_added(credited_minor, payment.currency, locale)
    heading = translate(N_("Payment received"), locale)
    return receipt_email(
        org=org,
        payment=payment,
        client=client,
        subject=subject,
        heading=heading,
        blocks=blocks,
        can_sign_in=can_sign_in,
    )

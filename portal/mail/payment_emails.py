"""The emails about payments: a new payment link, a receipt, a charge that failed (auto-charge or a
subscription renewal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from portal.db.models import (
    Allocation,
    BillingRequest,
    Client,
    CreditRequest,
    Invoice,
    Organization,
    Payment,
    PaymentMethod,
    Subscription,
)
from portal.domain.presentation import InvoicePresentation
from portal.domain.status import brand_label
from portal.i18n import N_, format_date, pgettext, translate
from portal.mail.compose import (
    BILLING_PATH,
    L_AMOUNT,
    L_DATE,
    L_PAID_WITH,
    L_REASON,
    L_REFERENCE,
    Email,
    brand,
    button,
    compose_email,
    money,
    para,
    portal_url,
)
from portal.mail.invoice_emails import invoice_blocks
from portal.mail.templates import Block, Details, Note

METHODS = {
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "other": N_("Other"),
}


def new_link(
    *,
    org: Organization,
    client: Client,
    target: Invoice | CreditRequest,
    link: str,
    expires_at: datetime,
    amount_due_minor: int,
) -> Email:
    """'Here is your new link' after the payer asked for one on an expired link's page, for an invoice or a
    credit request of `client`; `amount_due_minor` is what the link pays (the invoice's amount due, or the
    credit request's amount)."""
    b = brand(org)
    locale = client.locale
    if isinstance(target, Invoice):
        title = pgettext("in a sentence", "invoice {number}", locale, number=target.number or "")
    else:
        title = target.description or pgettext("in a sentence", "account credit", locale)
    due = money(amount_due_minor, target.currency, locale)
    subject = translate(N_("Your new payment link from {org}"), locale, org=b.name)
    blocks: list[Block] = [
        para(
            N_("Here is the new link you asked for, to pay {title} ({amount})."),
            locale,
            strong=("amount",),
            title=title,
            amount=due,
        ),
        button(locale, translate(N_("Pay now"), locale), link),
        para(N_("The link expires on {date}."), locale, date=format_date(expires_at, locale)),
    ]
    return compose_email(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Your new payment link"), locale),
        blocks=blocks,
        brand_=b,
    )


# -- payments -----------------------------------------------------------------------------------------
def _method_label(payment: Payment, saved: PaymentMethod | None, locale: str) -> str:
    method = translate(METHODS.get(payment.method, METHODS["other"]), locale)
    if saved is not None and saved.last4:
        return translate(
            N_("{brand} ending in {last4}"),
            locale,
            brand=brand_label(saved.brand) or method,
            last4=saved.last4,
        )
    return method


def receipt(
    *,
    org: Organization,
    payment: Payment,
    client: Client,
    saved_method: PaymentMethod | None,
    allocations: Sequence[Allocation],
    credited_minor: int,
    can_sign_in: bool,
    invoices: Mapping[int, InvoicePresentation] | None = None,
) -> Email:
    """A receipt for money received: the amount of this payment, date, method (`saved_method`, the saved
    card or account it was paid with, if any), what it paid (`allocations`, each with its invoice fetched,
    and the totals block of each such invoice as it now stands, from `invoices` by invoice id), the part
    that became credit (`credited_minor`), and a link to the receipt page when the client `can_sign_in`."""
    b = brand(org)
    locale = client.locale
    amount = money(payment.amount_minor, payment.currency, locale)
    subject = translate(N_("Receipt from {org}: {amount} received"), locale, org=b.name, amount=amount)
    blocks: list[Block] = [
        para(
            N_("We received your payment of {amount} on {date}. Thank you!"),
            locale,
            strong=("amount",),
            amount=amount,
            date=format_date(payment.received_on, locale),
        ),
    ]
    rows = [
        (translate(L_AMOUNT, locale), amount),
        (translate(L_DATE, locale), format_date(payment.received_on, locale)),
        (translate(L_PAID_WITH, locale), _method_label(payment, saved_method, locale)),
    ]
    if payment.reference.strip():
        rows.append((translate(L_REFERENCE, locale), payment.reference.strip()))
    for allocation in allocations:
        rows.append(
            (
                translate(N_("Invoice {number}"), locale, number=allocation.invoice.number or ""),
                money(allocation.amount_minor, allocation.currency, locale),
            )
        )
    blocks.append(Details(rows))
    shown: set[int] = set()
    for allocation in allocations:
        presentation = (invoices or {}).get(allocation.invoice_id)
        if presentation is None or allocation.invoice_id in shown:
            continue
        shown.add(allocation.invoice_id)
        blocks.append(
            para(
                N_("Invoice {number} now stands as follows:"),
                locale,
                number=allocation.invoice.number or "",
            )
        )
        blocks += invoice_blocks(presentation, locale, lines=False)
    if credited_minor:
        blocks.append(
            para(
                N_("{amount} was added to your account credit and will be used for your next invoices."),
                locale,
                strong=("amount",),
                amount=money(credited_minor, payment.currency, locale),
            )
        )
    if can_sign_in:
        blocks.append(
            button(
                locale,
                translate(N_("View your receipt"), locale),
                portal_url(f"/billing/receipts/{payment.id}"),
            )
        )
    return compose_email(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Payment received"), locale),
        blocks=blocks,
        brand_=b,
    )


def _target_title(target: Invoice | BillingRequest | CreditRequest, locale: str) -> str:
    """What is being paid, in words: an invoice, a billing request or a credit request."""
    if isinstance(target, Invoice):
        return pgettext("in a sentence", "invoice {number}", locale, number=target.number or "")
    if isinstance(target, BillingRequest):
        return target.description.strip() or translate(N_("your payment request"), locale)
    return target.description.strip() or translate(N_("account credit"), locale)


def auto_charge_failed(
    *,
    org: Organization,
    client: Client,
    target: Invoice | BillingRequest | CreditRequest,
    reason: str,
    amount_due_minor: int,
) -> Email:
    """We tried to charge the saved card (auto-charge) for what is due on `target`, `amount_due_minor`,
    and the bank said no."""
    b = brand(org)
    locale = client.locale
    title, currency = _target_title(target, locale), target.currency
    amount = money(amount_due_minor, currency, locale)
    subject = translate(
        N_("{org}: we could not charge your card for {title}"), locale, org=b.name, title=title
    )
    blocks: list[Block] = [
        para(
            N_("We tried to charge {amount} to your saved card for {title}, but it did not go through."),
            locale,
            strong=("amount",),
            amount=amount,
            title=title,
        ),
    ]
    if reason.strip():
        blocks.append(Note(translate(L_REASON, locale), reason))
    blocks += [
        para(
            N_("Nothing was charged. Please pay from your billing page, with another card if needed."), locale
        ),
        button(locale, translate(N_("Open your billing page"), locale), portal_url(BILLING_PATH)),
    ]
    return compose_email(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Payment not taken"), locale),
        blocks=blocks,
        brand_=b,
    )


def subscription_payment_failed(
    *, org: Organization, subscription: Subscription, client: Client, reason: str = ""
) -> Email:
    """A subscription renewal was declined: update the card on the billing page."""
    b = brand(org)
    locale = client.locale
    amount = money(subscription.amount_minor, subscription.currency, locale)
    title = subscription.description.strip() or translate(N_("your subscription"), locale)
    subject = translate(N_("{org}: your subscription payment did not go through"), locale, org=b.name)
    blocks: list[Block] = [
        para(
            N_("We could not charge {amount} for {title}."),
            locale,
            strong=("amount",),
            amount=amount,
            title=title,
        ),
    ]
    if reason.strip():
        blocks.append(Note(translate(L_REASON, locale), reason))
    blocks += [
        para(
            N_(
                "Please update your card on your billing page so that your subscription continues. "
                "We will try the payment again."
            ),
            locale,
        ),
        button(locale, translate(N_("Update your card"), locale), portal_url(BILLING_PATH)),
    ]
    return compose_email(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Subscription payment failed"), locale),
        blocks=blocks,
        brand_=b,
    )

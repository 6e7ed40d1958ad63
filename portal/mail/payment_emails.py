"""The emails about payments: a new payment link, a receipt, a refund receipt, a charge that failed
(auto-charge or a subscription renewal)."""

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
    Refund,
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
def method_label(payment: Payment, saved: PaymentMethod | None, locale: str) -> str:
    """How a payment was made, in words: the saved card or account ("Visa ending in 4242"), or the way."""
    method = translate(METHODS.get(payment.method, METHODS["other"]), locale)
    if saved is not None and saved.last4:
        return translate(
            N_("{brand} ending in {last4}"),
            locale,
            brand=brand_label(saved.brand) or method,
            last4=saved.last4,
        )
    return method


def payment_rows(payment: Payment, saved: PaymentMethod | None, locale: str) -> list[tuple[str, str]]:
    """The details every receipt opens with: the amount, the date, how it was paid, the reference."""
    rows = [
        (translate(L_AMOUNT, locale), money(payment.amount_minor, payment.currency, locale)),
        (translate(L_DATE, locale), format_date(payment.received_on, locale)),
        (translate(L_PAID_WITH, locale), method_label(payment, saved, locale)),
    ]
    if payment.reference.strip():
        rows.append((translate(L_REFERENCE, locale), payment.reference.strip()))
    return rows


def credit_added(credited_minor: int, currency: str, locale: str) -> list[Block]:
    """The sentence about the part of a payment that became credit, when any did."""
    if not credited_minor:
        return []
    return [
        para(
            N_("{amount} was added to your account credit and will be used for your next invoices."),
            locale,
            strong=("amount",),
            amount=money(credited_minor, currency, locale),
        )
    ]


def receipt_email(
    *,
    org: Organization,
    payment: Payment,
    client: Client,
    subject: str,
    heading: str,
    blocks: list[Block],
    can_sign_in: bool,
) -> Email:
    """A receipt's email around its `blocks`: the link to the receipt page when the client can sign in."""
    if can_sign_in:
        blocks.append(
            button(
                client.locale,
                translate(N_("View your receipt"), client.locale),
                portal_url(f"/billing/receipts/{payment.id}"),
            )
        )
    return compose_email(
        name=client.name,
        locale=client.locale,
        subject=subject,
        heading=heading,
        blocks=blocks,
        brand_=brand(org),
    )


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
    rows = payment_rows(payment, saved_method, locale)
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


def refund_receipt(
    *,
    org: Organization,
    payment: Payment,
    refund: Refund,
    client: Client,
    saved_method: PaymentMethod | None,
    invoice_numbers: Sequence[str],
    credit_taken_minor: int,
    can_sign_in: bool,
) -> Email:
    """A receipt for money given back: the amount of `refund`, its date and reason, the payment it comes
    from (`payment`, paid with `saved_method`), where it goes (the original card or account for an online
    payment; paid out by the agency for an offline one), the invoices it reopened (`invoice_numbers`),
    the credit it took back (`credit_taken_minor`), and a link to the receipt when the client
    `can_sign_in`."""
    b = brand(org)
    locale = client.locale
    amount = money(refund.amount_minor, refund.currency, locale)
    paid = money(payment.amount_minor, payment.currency, locale)
    when = format_date(refund.created_at, locale)
    subject = translate(N_("Refund from {org}: {amount}"), locale, org=b.name, amount=amount)
    method = method_label(payment, saved_method, locale)
    if payment.source == "online":
        where = translate(N_("to {method}, the way you paid"), locale, method=method)
    else:
        where = translate(N_("paid out to you ({method})"), locale, method=method)
    blocks: list[Block] = [
        para(
            N_("We refunded {amount} of your payment of {paid} on {date}, {where}."),
            locale,
            strong=("amount",),
            amount=amount,
            paid=paid,
            date=when,
            where=where,
        ),
    ]
    rows = [
        (translate(N_("Refunded"), locale), amount),
        (translate(L_DATE, locale), when),
        (translate(N_("Original payment"), locale), f"{paid} · {format_date(payment.received_on, locale)}"),
        (translate(L_PAID_WITH, locale), method),
    ]
    if payment.reference.strip():
        rows.append((translate(L_REFERENCE, locale), payment.reference.strip()))
    if refund.reason.strip():
        # the gateway's own reason is stored in English and translated here; staff's is shown as typed
        rows.append((translate(N_("Reason"), locale), translate(refund.reason.strip(), locale)))
    blocks.append(Details(rows))
    if payment.source == "online":
        blocks.append(
            para(N_("Depending on your bank, it can take a few days to show on your statement."), locale)
        )
    if credit_taken_minor:
        blocks.append(
            para(
                N_("{amount} of account credit from this payment was taken back."),
                locale,
                strong=("amount",),
                amount=money(credit_taken_minor, payment.currency, locale),
            )
        )
    for number in invoice_numbers:
        blocks.append(
            para(N_("Invoice {number} is open again for what was refunded."), locale, number=number)
        )
    heading = translate(N_("Refund made"), locale)
    return receipt_email(
        org=org,
        payment=payment,
        client=client,
        subject=subject,
        heading=heading,
        blocks=blocks,
        can_sign_in=can_sign_in,
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

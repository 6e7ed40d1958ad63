"""The emails about payments: a new payment link, a receipt, a charge that failed (auto-charge or a
subscription renewal)."""

from __future__ import annotations

from datetime import datetime

from portal.db.models import (
    Allocation,
    BillingRequest,
    Client,
    CreditEntry,
    CreditRequest,
    Invoice,
    Payment,
    PaymentMethod,
    Subscription,
    User,
)
from portal.i18n import N_, format_date, translate
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
from portal.mail.templates import Block, Details, Note

METHODS = {
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "other": N_("Other"),
}


async def new_link(
    *, purpose: str, target_id: int, link: str, expires_at: datetime, amount_due_minor: int
) -> Email:
    """'Here is your new link' after the payer asked for one on an expired link's page; `amount_due_minor`
    is what the link pays (the invoice's amount due, or the credit request's amount)."""
    b = await brand()
    if purpose == "invoice":
        invoice = await Invoice.get(id=target_id).prefetch_related("client")
        client: Client = invoice.client
        locale = client.locale
        title = translate(N_("invoice {number}"), locale, number=invoice.number or "")
        due = money(amount_due_minor, invoice.currency, locale)
    else:
        credit = await CreditRequest.get(id=target_id).prefetch_related("client")
        client = credit.client
        locale = client.locale
        title = credit.description or translate(N_("account credit"), locale)
        due = money(amount_due_minor, credit.currency, locale)
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
async def _method_label(payment: Payment, locale: str) -> str:
    method = translate(METHODS.get(payment.method, METHODS["other"]), locale)
    if payment.payment_method_id:
        saved = await PaymentMethod.get_or_none(id=payment.payment_method_id)
        if saved is not None and saved.last4:
            return translate(
                N_("{brand} ending in {last4}"),
                locale,
                brand=saved.brand.capitalize() or method,
                last4=saved.last4,
            )
    return method


async def receipt(*, payment_id: int) -> Email:
    """A receipt for money received: amount, date, method, what it paid."""
    b = await brand()
    payment = await Payment.get(id=payment_id).prefetch_related("client")
    client: Client = payment.client
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
        (translate(L_PAID_WITH, locale), await _method_label(payment, locale)),
    ]
    if payment.reference.strip():
        rows.append((translate(L_REFERENCE, locale), payment.reference.strip()))
    allocations = await Allocation.filter(payment_id=payment.id, amount_minor__gt=0).prefetch_related(
        "invoice"
    )
    for allocation in allocations:
        rows.append(
            (
                translate(N_("Invoice {number}"), locale, number=allocation.invoice.number or ""),
                money(allocation.amount_minor, allocation.currency, locale),
            )
        )
    blocks.append(Details(rows))
    credited = sum(
        e.amount_minor for e in await CreditEntry.filter(payment_id=payment.id, amount_minor__gt=0)
    )
    if credited:
        blocks.append(
            para(
                N_("{amount} was added to your account credit and will be used for your next invoices."),
                locale,
                strong=("amount",),
                amount=money(credited, payment.currency, locale),
            )
        )
    if await User.exists(client_id=client.id, is_active=True):
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


async def _target_title(purpose: str, target_id: int, locale: str) -> tuple[str, str]:
    """(what is being paid, in words; currency) for an invoice, billing or credit request."""
    if purpose == "invoice":
        invoice = await Invoice.get(id=target_id)
        title = translate(N_("invoice {number}"), locale, number=invoice.number or "")
        return title, invoice.currency
    if purpose == "billing_request":
        request = await BillingRequest.get(id=target_id)
        title = request.description.strip() or translate(N_("your payment request"), locale)
        return title, request.currency
    credit = await CreditRequest.get(id=target_id)
    title = credit.description.strip() or translate(N_("account credit"), locale)
    return title, credit.currency


async def auto_charge_failed(
    *, client_id: int, purpose: str, target_id: int, reason: str, amount_due_minor: int
) -> Email:
    """We tried to charge the saved card (auto-charge) for what is due, `amount_due_minor`, and the bank
    said no."""
    b = await brand()
    client = await Client.get(id=client_id)
    locale = client.locale
    title, currency = await _target_title(purpose, target_id, locale)
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


async def subscription_payment_failed(*, subscription_id: int, reason: str = "") -> Email:
    """A subscription renewal was declined: update the card on the billing page."""
    b = await brand()
    sub = await Subscription.get(id=subscription_id).prefetch_related("client")
    client: Client = sub.client
    locale = client.locale
    amount = money(sub.amount_minor, sub.currency, locale)
    title = sub.description.strip() or translate(N_("your subscription"), locale)
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

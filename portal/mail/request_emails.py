"""The emails about billing and credit requests: a request to pay, an expired request, a request to
prepay credit."""

from __future__ import annotations

from portal.db.models import BillingRequest, Client, CreditRequest, Organization
from portal.i18n import N_, format_date, format_datetime, translate
from portal.mail.compose import L_AMOUNT, L_DUE, L_FOR, Email, brand, button, compose_email, money, para
from portal.mail.templates import Block, Details, Paragraph, phrase

EVERY = {
    "day": N_("every day"),
    "week": N_("every week"),
    "month": N_("every month"),
    "year": N_("every year"),
}


# -- billing requests, credit requests ---------------------------------------------------------------
def billing_request_sent(
    *, org: Organization, request: BillingRequest, client: Client | None, link: str
) -> Email:
    """A billing request with its payment link (valid 24 hours), to its client (None: a request without
    one, written in English to the request's address)."""
    b = brand(org)
    locale = client.locale if client else "en"
    amount = money(request.amount_minor, request.currency, locale)
    description = request.description.strip()
    subject = translate(N_("{org} requests {amount}"), locale, org=b.name, amount=amount)
    if description:
        lead = phrase(
            N_("{org} requests {amount} for {description}."),
            locale,
            strong=("amount",),
            org=b.name,
            amount=amount,
            description=description,
        )
    else:
        lead = phrase(N_("{org} requests {amount}."), locale, strong=("amount",), org=b.name, amount=amount)
    blocks: list[Block] = [Paragraph(lead)]
    if request.billing_type == "recurring" and request.interval in EVERY:
        blocks.append(
            para(
                N_("This is a recurring payment: {amount} {every}, charged to the card you pay with."),
                locale,
                amount=amount,
                every=translate(EVERY[request.interval], locale),
            )
        )
    blocks += [
        button(locale, translate(N_("Pay {amount}"), locale, amount=amount), link),
        para(
            N_("Pay securely within 24 hours: the link expires on {when}."),
            locale,
            when=format_datetime(request.expires_at, locale),
        ),
    ]
    return compose_email(
        name=client.name if client else request.email,
        locale=locale,
        subject=subject,
        heading=translate(N_("Payment request"), locale),
        blocks=blocks,
        brand_=b,
    )


def billing_request_expired(*, org: Organization, request: BillingRequest, client: Client | None) -> Email:
    """A billing request's 24 hours are over: it cannot be paid any more; ask for a new one."""
    b = brand(org)
    locale = client.locale if client else "en"
    amount = money(request.amount_minor, request.currency, locale)
    subject = translate(N_("Your payment request from {org} has expired"), locale, org=b.name)
    what = request.description.strip() or translate(N_("your payment request"), locale)
    blocks: list[Block] = [
        para(
            N_("The request for {amount} ({what}) sent on {date} has expired and can no longer be paid."),
            locale,
            strong=("amount",),
            amount=amount,
            what=what,
            date=format_date(request.sent_at or request.created_at, locale),
        ),
        para(
            N_("Nothing was charged. To pay, please reply to this email and ask {org} for a new request."),
            locale,
            org=b.name,
        ),
    ]
    return compose_email(
        name=client.name if client else request.email,
        locale=locale,
        subject=subject,
        heading=translate(N_("Payment request expired"), locale),
        blocks=blocks,
        brand_=b,
    )


def credit_request_sent(*, org: Organization, credit: CreditRequest, client: Client, link: str) -> Email:
    """A request to prepay account credit, with its payment link."""
    b = brand(org)
    locale = client.locale
    amount = money(credit.amount_minor, credit.currency, locale)
    description = credit.description.strip() or translate(N_("account credit"), locale)
    subject = translate(N_("{org}: please add {amount} of credit"), locale, org=b.name, amount=amount)
    rows = [(translate(L_FOR, locale), description), (translate(L_AMOUNT, locale), amount)]
    if credit.due_date:
        rows.append((translate(L_DUE, locale), format_date(credit.due_date, locale)))
    blocks: list[Block] = [
        para(
            N_(
                "{org} asks you to prepay {amount} ({description}). It is kept as credit on your account "
                "and used for your next invoices."
            ),
            locale,
            strong=("amount",),
            org=b.name,
            amount=amount,
            description=description,
        ),
        button(locale, translate(N_("Pay {amount}"), locale, amount=amount), link),
        Details(rows),
    ]
    return compose_email(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=translate(N_("Credit request"), locale),
        blocks=blocks,
        brand_=b,
    )

"""Every email the portal sends, composed from templates: subject, plain text and HTML, in the
recipient's locale, with the organization's logo and colour.

Callers queue the result inside their business transaction:
`portal.mail.outbox.enqueue(kind=..., to=..., subject=email.subject, text=email.text, html=email.html)`.
Every sentence goes through `portal.i18n.translate` in the recipient's locale; amounts through
`format_money`, dates through `i18n.format_date`; values are escaped by `portal.mail.templates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from portal.config import get_settings
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    BillingRequest,
    Client,
    CreditEntry,
    CreditRequest,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentMethod,
    Quote,
    Subscription,
    User,
)
from portal.domain.money import format_money
from portal.i18n import N_, format_date, format_datetime, translate
from portal.mail.outbox import SUBJECT_MAX, one_line
from portal.mail.templates import (
    Block,
    Brand,
    Button,
    Content,
    Details,
    Note,
    Paragraph,
    Piece,
    phrase,
    render_html,
    render_text,
    words,
)

BILLING_PATH = "/billing"
DEFAULT_LOGO = "/static/logo.svg"

# labels shown in the details tables
L_INVOICE = N_("Invoice")
L_ISSUED = N_("Issued")
L_DUE = N_("Due date")
L_TOTAL = N_("Total")
L_AMOUNT_DUE = N_("Amount due")
L_AMOUNT = N_("Amount")
L_DATE = N_("Date")
L_PAID_WITH = N_("Paid with")
L_REFERENCE = N_("Reference")
L_VALID_UNTIL = N_("Valid until")
L_FOR = N_("For")
L_NOTES = N_("Notes")
L_REASON = N_("What the bank said")
L_FALLBACK = N_("If the button does not work, copy this address into your browser:")

METHODS = {
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "other": N_("Other"),
}
EVERY = {
    "day": N_("every day"),
    "week": N_("every week"),
    "month": N_("every month"),
    "year": N_("every year"),
}


@dataclass(frozen=True)
class Email:
    """A composed email."""

    subject: str
    text: str
    html: str


# -- shared pieces ----------------------------------------------------------------------------------
def portal_url(path: str) -> str:
    """An absolute address on the portal (PUBLIC_URL + path), as emails need."""
    return f"{get_settings().public_url.rstrip('/')}/{path.lstrip('/')}"


def logo_url(logo_path: str) -> str:
    """The organization's logo as an absolute URL; the portal's own logo when it has none we can serve."""
    path = (logo_path or "").strip()
    if path.startswith(("https://", "http://")):
        return path
    if not path.startswith("/"):  # empty, or a file on the server's disk that no URL reaches
        path = DEFAULT_LOGO
    return portal_url(path)


async def brand() -> Brand:
    """The organization's name, colour, logo URL and address, for the layout."""
    org = await get_organization()
    return Brand(
        name=org.name, color=org.theme_color, logo_url=logo_url(org.logo_path), address=org.billing_address
    )


def _t(message: str, locale: str, **values: object) -> str:
    return translate(message, locale, **values)


def _greeting(locale: str, name: str) -> Paragraph:
    return _para(N_("Hello {name},"), locale, name=name)


def _sign_off(locale: str, org_name: str) -> Paragraph:
    closing = translate(N_("Kind regards,"), locale)
    lines = words(f"{closing}\n{org_name}")
    return Paragraph(Piece(lines.text, lines.html))


def _button(locale: str, label: str, url: str) -> Button:
    return Button(label=label, url=url, fallback=translate(L_FALLBACK, locale))


def _para(message: str, locale: str, /, *, strong: Sequence[str] = (), **values: object) -> Paragraph:
    """A paragraph of one translated sentence; the values named in `strong` are bold."""
    return Paragraph(phrase(message, locale, strong=strong, **values))


def _compose(
    *, name: str, locale: str, subject: str, heading: str, blocks: Sequence[Block], brand_: Brand
) -> Email:
    """The email every message shares: 'Hello {name},', the blocks, the sign-off, in the brand's layout."""
    subject = one_line(subject, SUBJECT_MAX)  # a title with a line break must not break the header
    body = [_greeting(locale, name), *blocks, _sign_off(locale, brand_.name)]
    content = Content(locale=locale, subject=subject, heading=heading, blocks=body)
    return Email(subject, render_text(content, brand_), render_html(content, brand_))


def _money(amount_minor: int, currency: str, locale: str) -> str:
    return format_money(amount_minor, currency, locale)


async def _amount_due(invoice: Invoice) -> int:
    from portal.billing.invoices import amount_due

    return await amount_due(invoice)


async def _invoice_lines(invoice: Invoice, locale: str) -> Details | None:
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position", "id")
    if not lines:
        return None
    return Details(
        [(_line_label(line), _money(line.gross_minor, invoice.currency, locale)) for line in lines]
    )


def _line_label(line: InvoiceLine) -> str:
    """'Design work', or 'Design work × 2.5' when the quantity is not one."""
    quantity = line.quantity.normalize()
    return line.description if quantity == 1 else f"{line.description} × {quantity:f}"


# -- invitations and links --------------------------------------------------------------------------
async def invitation(*, locale: str, name: str, link: str, expires_at: datetime) -> Email:
    """'Set your password' for a client invited to log in."""
    b = await brand()
    subject = translate("Set your password for the billing portal", locale)
    blocks: list[Block] = [
        _para(
            N_(
                "{org} invited you to its billing portal, where you can see your invoices, pay them "
                "and keep your payment details up to date."
            ),
            locale,
            strong=("org",),
            org=b.name,
        ),
        _para(N_("Choose your password to sign in for the first time."), locale),
        _button(locale, _t(N_("Set your password"), locale), link),
        _para(
            N_("This link works once and expires on {when}. If it has expired, ask us for a new one."),
            locale,
            when=format_datetime(expires_at, locale),
        ),
        _para(N_("If you did not expect this invitation, you can ignore this email."), locale),
    ]
    return _compose(
        name=name, locale=locale, subject=subject, heading=_t(N_("Welcome"), locale), blocks=blocks, brand_=b
    )


async def new_link(*, purpose: str, target_id: int, link: str, expires_at: datetime) -> Email:
    """'Here is your new link' after the payer asked for one on an expired link's page."""
    b = await brand()
    if purpose == "invoice":
        invoice = await Invoice.get(id=target_id).prefetch_related("client")
        client: Client = invoice.client
        locale = client.locale
        title = _t(N_("invoice {number}"), locale, number=invoice.number or "")
        due = _money(await _amount_due(invoice), invoice.currency, locale)
    else:
        credit = await CreditRequest.get(id=target_id).prefetch_related("client")
        client = credit.client
        locale = client.locale
        title = credit.description or _t(N_("account credit"), locale)
        due = _money(credit.amount_minor, credit.currency, locale)
    subject = _t(N_("Your new payment link from {org}"), locale, org=b.name)
    blocks: list[Block] = [
        _para(
            N_("Here is the new link you asked for, to pay {title} ({amount})."),
            locale,
            strong=("amount",),
            title=title,
            amount=due,
        ),
        _button(locale, _t(N_("Pay now"), locale), link),
        _para(N_("The link expires on {date}."), locale, date=format_date(expires_at, locale)),
    ]
    return _compose(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=_t(N_("Your new payment link"), locale),
        blocks=blocks,
        brand_=b,
    )


# -- invoices, reminders ----------------------------------------------------------------------------
async def invoice_sent(*, invoice_id: int, link: str) -> Email:
    """An invoice with its payment link, in the client's locale."""
    b = await brand()
    invoice = await Invoice.get(id=invoice_id).prefetch_related("client")
    client: Client = invoice.client
    locale = client.locale
    due = await _amount_due(invoice)
    number = invoice.number or ""
    total = _money(invoice.total_minor, invoice.currency, locale)
    subject = _t(N_("Invoice {number} from {org}: {amount}"), locale, number=number, org=b.name, amount=total)
    blocks: list[Block] = []
    if due > 0:
        blocks += [
            _para(
                N_("Here is invoice {number} for {amount}, due on {date}."),
                locale,
                strong=("amount", "date"),
                number=number,
                amount=_money(due, invoice.currency, locale),
                date=format_date(invoice.due_date, locale),
            ),
            _button(locale, _t(N_("Pay invoice {number}"), locale, number=number), link),
        ]
    else:
        blocks.append(
            _para(
                N_("Here is invoice {number} for {amount}. Your account credit paid it: nothing is due."),
                locale,
                number=number,
                amount=total,
            )
        )
    lines = await _invoice_lines(invoice, locale)
    if lines is not None:
        blocks.append(lines)
    blocks.append(
        Details(
            [
                (_t(L_INVOICE, locale), number),
                (_t(L_ISSUED, locale), format_date(invoice.issue_date, locale)),
                (_t(L_DUE, locale), format_date(invoice.due_date, locale)),
                (_t(L_TOTAL, locale), total),
                (_t(L_AMOUNT_DUE, locale), _money(due, invoice.currency, locale)),
            ]
        )
    )
    if invoice.notes.strip():
        blocks.append(Note(_t(L_NOTES, locale), invoice.notes))
    return _compose(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=_t(N_("Invoice {number}"), locale, number=number),
        blocks=blocks,
        brand_=b,
    )


def reminder_stage(due_date: date, on: date) -> str:
    """'before', 'on' or 'after' the due date, as seen on the day `on` (the wording follows the calendar,
    so a reminder caught up a day late still says the right thing)."""
    return "before" if on < due_date else ("on" if on == due_date else "after")


async def reminder(*, invoice_id: int, link: str, on: date | None = None) -> Email:
    """A payment reminder sent on the day `on` (today): before the due date, on it, or after it."""
    b = await brand()
    invoice = await Invoice.get(id=invoice_id).prefetch_related("client")
    client: Client = invoice.client
    locale = client.locale
    number = invoice.number or ""
    due = _money(await _amount_due(invoice), invoice.currency, locale)
    when = format_date(invoice.due_date, locale)
    values = {"number": number, "amount": due, "date": when}
    stage = reminder_stage(invoice.due_date, on or today())
    if stage == "before":
        subject = _t(N_("Reminder: invoice {number} is due on {date}"), locale, **values)
        heading = _t(N_("Payment reminder"), locale)
        lead = phrase(
            N_("A friendly reminder: invoice {number} for {amount} is due on {date}."),
            locale,
            strong=("amount", "date"),
            **values,
        )
    elif stage == "on":
        subject = _t(N_("Invoice {number} is due today"), locale, **values)
        heading = _t(N_("Due today"), locale)
        lead = phrase(
            N_("Invoice {number} for {amount} is due today, {date}."),
            locale,
            strong=("amount",),
            **values,
        )
    else:
        subject = _t(N_("Overdue: invoice {number} was due on {date}"), locale, **values)
        heading = _t(N_("Payment overdue"), locale)
        lead = phrase(
            N_("Invoice {number} was due on {date} and {amount} is still unpaid."),
            locale,
            strong=("amount", "date"),
            **values,
        )
    blocks: list[Block] = [
        Paragraph(lead),
        _button(locale, _t(N_("Pay {amount} now"), locale, amount=due), link),
        Details(
            [
                (_t(L_INVOICE, locale), number),
                (_t(L_DUE, locale), when),
                (_t(L_AMOUNT_DUE, locale), due),
            ]
        ),
        _para(N_("If you have already paid, thank you, and please ignore this reminder."), locale),
    ]
    return _compose(
        name=client.name, locale=locale, subject=subject, heading=heading, blocks=blocks, brand_=b
    )


# -- billing requests, credit requests ---------------------------------------------------------------
async def billing_request_sent(*, request_id: int, link: str) -> Email:
    """A billing request with its payment link (valid 24 hours)."""
    b = await brand()
    request = await BillingRequest.get(id=request_id).prefetch_related("client")
    client: Client | None = request.client
    locale = client.locale if client else "en"
    amount = _money(request.amount_minor, request.currency, locale)
    description = request.description.strip()
    subject = _t(N_("{org} requests {amount}"), locale, org=b.name, amount=amount)
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
            _para(
                N_("This is a recurring payment: {amount} {every}, charged to the card you pay with."),
                locale,
                amount=amount,
                every=translate(EVERY[request.interval], locale),
            )
        )
    blocks += [
        _button(locale, _t(N_("Pay {amount}"), locale, amount=amount), link),
        _para(
            N_("Pay securely within 24 hours: the link expires on {when}."),
            locale,
            when=format_datetime(request.expires_at, locale),
        ),
    ]
    return _compose(
        name=client.name if client else request.email,
        locale=locale,
        subject=subject,
        heading=_t(N_("Payment request"), locale),
        blocks=blocks,
        brand_=b,
    )


async def billing_request_expired(*, request_id: int) -> Email:
    """A billing request's 24 hours are over: it cannot be paid any more; ask for a new one."""
    b = await brand()
    request = await BillingRequest.get(id=request_id).prefetch_related("client")
    client: Client | None = request.client
    locale = client.locale if client else "en"
    amount = _money(request.amount_minor, request.currency, locale)
    subject = _t(N_("Your payment request from {org} has expired"), locale, org=b.name)
    what = request.description.strip() or _t(N_("your payment request"), locale)
    blocks: list[Block] = [
        _para(
            N_("The request for {amount} ({what}) sent on {date} has expired and can no longer be paid."),
            locale,
            strong=("amount",),
            amount=amount,
            what=what,
            date=format_date(request.sent_at or request.created_at, locale),
        ),
        _para(
            N_("Nothing was charged. To pay, please reply to this email and ask {org} for a new request."),
            locale,
            org=b.name,
        ),
    ]
    return _compose(
        name=client.name if client else request.email,
        locale=locale,
        subject=subject,
        heading=_t(N_("Payment request expired"), locale),
        blocks=blocks,
        brand_=b,
    )


async def credit_request_sent(*, credit_request_id: int, link: str) -> Email:
    """A request to prepay account credit, with its payment link."""
    b = await brand()
    credit = await CreditRequest.get(id=credit_request_id).prefetch_related("client")
    client: Client = credit.client
    locale = client.locale
    amount = _money(credit.amount_minor, credit.currency, locale)
    description = credit.description.strip() or _t(N_("account credit"), locale)
    subject = _t(N_("{org}: please add {amount} of credit"), locale, org=b.name, amount=amount)
    rows = [(_t(L_FOR, locale), description), (_t(L_AMOUNT, locale), amount)]
    if credit.due_date:
        rows.append((_t(L_DUE, locale), format_date(credit.due_date, locale)))
    blocks: list[Block] = [
        _para(
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
        _button(locale, _t(N_("Pay {amount}"), locale, amount=amount), link),
        Details(rows),
    ]
    return _compose(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=_t(N_("Credit request"), locale),
        blocks=blocks,
        brand_=b,
    )


# -- payments -----------------------------------------------------------------------------------------
async def _method_label(payment: Payment, locale: str) -> str:
    method = translate(METHODS.get(payment.method, METHODS["other"]), locale)
    if payment.payment_method_id:
        saved = await PaymentMethod.get_or_none(id=payment.payment_method_id)
        if saved is not None and saved.last4:
            return _t(
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
    amount = _money(payment.amount_minor, payment.currency, locale)
    subject = _t(N_("Receipt from {org}: {amount} received"), locale, org=b.name, amount=amount)
    blocks: list[Block] = [
        _para(
            N_("We received your payment of {amount} on {date}. Thank you!"),
            locale,
            strong=("amount",),
            amount=amount,
            date=format_date(payment.received_on, locale),
        ),
    ]
    rows = [
        (_t(L_AMOUNT, locale), amount),
        (_t(L_DATE, locale), format_date(payment.received_on, locale)),
        (_t(L_PAID_WITH, locale), await _method_label(payment, locale)),
    ]
    if payment.reference.strip():
        rows.append((_t(L_REFERENCE, locale), payment.reference.strip()))
    allocations = await Allocation.filter(payment_id=payment.id, amount_minor__gt=0).prefetch_related(
        "invoice"
    )
    for allocation in allocations:
        rows.append(
            (
                _t(N_("Invoice {number}"), locale, number=allocation.invoice.number or ""),
                _money(allocation.amount_minor, allocation.currency, locale),
            )
        )
    blocks.append(Details(rows))
    credited = sum(
        e.amount_minor for e in await CreditEntry.filter(payment_id=payment.id, amount_minor__gt=0)
    )
    if credited:
        blocks.append(
            _para(
                N_("{amount} was added to your account credit and will be used for your next invoices."),
                locale,
                strong=("amount",),
                amount=_money(credited, payment.currency, locale),
            )
        )
    if await User.exists(client_id=client.id, is_active=True):
        blocks.append(
            _button(
                locale, _t(N_("View your receipt"), locale), portal_url(f"/billing/receipts/{payment.id}")
            )
        )
    return _compose(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=_t(N_("Payment received"), locale),
        blocks=blocks,
        brand_=b,
    )


async def _target_title(purpose: str, target_id: int, locale: str) -> tuple[str, int, str]:
    """(what is being paid, in words; amount; currency) for an invoice, billing or credit request."""
    if purpose == "invoice":
        invoice = await Invoice.get(id=target_id)
        title = _t(N_("invoice {number}"), locale, number=invoice.number or "")
        return title, await _amount_due(invoice), invoice.currency
    if purpose == "billing_request":
        request = await BillingRequest.get(id=target_id)
        title = request.description.strip() or _t(N_("your payment request"), locale)
        return title, request.amount_minor, request.currency
    credit = await CreditRequest.get(id=target_id)
    title = credit.description.strip() or _t(N_("account credit"), locale)
    return title, credit.amount_minor, credit.currency


async def auto_charge_failed(*, client_id: int, purpose: str, target_id: int, reason: str) -> Email:
    """We tried to charge the saved card (auto-charge) and the bank said no."""
    b = await brand()
    client = await Client.get(id=client_id)
    locale = client.locale
    title, amount_minor, currency = await _target_title(purpose, target_id, locale)
    amount = _money(amount_minor, currency, locale)
    subject = _t(N_("{org}: we could not charge your card for {title}"), locale, org=b.name, title=title)
    blocks: list[Block] = [
        _para(
            N_("We tried to charge {amount} to your saved card for {title}, but it did not go through."),
            locale,
            strong=("amount",),
            amount=amount,
            title=title,
        ),
    ]
    if reason.strip():
        blocks.append(Note(_t(L_REASON, locale), reason))
    blocks += [
        _para(
            N_("Nothing was charged. Please pay from your billing page, with another card if needed."), locale
        ),
        _button(locale, _t(N_("Open your billing page"), locale), portal_url(BILLING_PATH)),
    ]
    return _compose(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=_t(N_("Payment not taken"), locale),
        blocks=blocks,
        brand_=b,
    )


async def subscription_payment_failed(*, subscription_id: int, reason: str = "") -> Email:
    """A subscription renewal was declined: update the card on the billing page."""
    b = await brand()
    sub = await Subscription.get(id=subscription_id).prefetch_related("client")
    client: Client = sub.client
    locale = client.locale
    amount = _money(sub.amount_minor, sub.currency, locale)
    title = sub.description.strip() or _t(N_("your subscription"), locale)
    subject = _t(N_("{org}: your subscription payment did not go through"), locale, org=b.name)
    blocks: list[Block] = [
        _para(
            N_("We could not charge {amount} for {title}."),
            locale,
            strong=("amount",),
            amount=amount,
            title=title,
        ),
    ]
    if reason.strip():
        blocks.append(Note(_t(L_REASON, locale), reason))
    blocks += [
        _para(
            N_(
                "Please update your card on your billing page so that your subscription continues. "
                "We will try the payment again."
            ),
            locale,
        ),
        _button(locale, _t(N_("Update your card"), locale), portal_url(BILLING_PATH)),
    ]
    return _compose(
        name=client.name,
        locale=locale,
        subject=subject,
        heading=_t(N_("Subscription payment failed"), locale),
        blocks=blocks,
        brand_=b,
    )


# -- estimates and proposals ------------------------------------------------------------------------
async def quote_sent(*, quote_id: int, link: str) -> Email:
    """An estimate or proposal to review, approve or decline, in the client's locale."""
    b = await brand()
    quote = await Quote.get(id=quote_id).prefetch_related("client")
    client: Client = quote.client
    locale = client.locale
    number = quote.number or f"#{quote.id}"
    total = _money(quote.total_minor, quote.currency, locale)
    values = {"number": number, "org": b.name, "amount": total, "title": quote.title.strip()}
    bold = ("amount",)
    if quote.kind == "proposal":
        subject = _t(N_("Proposal {number} from {org}"), locale, **values)
        heading = _t(N_("Proposal {number}"), locale, **values)
        if values["title"]:
            lead = phrase(
                N_("{org} sent you a proposal for {amount}: {title}."), locale, strong=bold, **values
            )
        else:
            lead = phrase(N_("{org} sent you a proposal for {amount}."), locale, strong=bold, **values)
    else:
        subject = _t(N_("Estimate {number} from {org}"), locale, **values)
        heading = _t(N_("Estimate {number}"), locale, **values)
        if values["title"]:
            lead = phrase(
                N_("{org} sent you an estimate for {amount}: {title}."), locale, strong=bold, **values
            )
        else:
            lead = phrase(N_("{org} sent you an estimate for {amount}."), locale, strong=bold, **values)
    blocks: list[Block] = [Paragraph(lead)]
    if quote.valid_until:
        blocks.append(
            _para(
                N_("Please review it and approve or decline it by {date}."),
                locale,
                strong=("date",),
                date=format_date(quote.valid_until, locale),
            )
        )
    else:
        blocks.append(_para(N_("Please review it and approve or decline it."), locale))
    blocks.append(_button(locale, _t(N_("Review and respond"), locale), link))
    rows = [(_t(L_TOTAL, locale), total), (_t(L_ISSUED, locale), format_date(quote.issue_date, locale))]
    if quote.valid_until:
        rows.append((_t(L_VALID_UNTIL, locale), format_date(quote.valid_until, locale)))
    blocks.append(Details(rows))
    return _compose(
        name=client.name, locale=locale, subject=subject, heading=heading, blocks=blocks, brand_=b
    )

"""The pieces every email shares: the Email result, the labels of the details tables, absolute portal
addresses, the organization's brand, and the greeting, button, paragraph and sign-off around each message.

Each message module (account_emails, invoice_emails, request_emails, payment_emails) composes its emails
from these. Every builder is a plain function of the values it shows (rows its caller loaded, amounts,
links) and reads nothing itself. Callers queue the result inside their business transaction:
`portal.mail.outbox.enqueue(kind=..., to=..., subject=email.subject, text=email.text, html=email.html)`.
Every sentence goes through `portal.i18n.translate` in the recipient's locale; amounts through
`format_money`, dates through `i18n.format_date`; values are escaped by `portal.mail.templates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portal.config import get_settings
from portal.db.models import Organization
from portal.domain.money import format_money
from portal.i18n import N_, translate
from portal.mail.outbox import SUBJECT_MAX, one_line
from portal.mail.templates import (
    Block,
    Brand,
    Button,
    Content,
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


@dataclass(frozen=True)
class Email:
    """A composed email."""

    subject: str
    text: str
    html: str


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


def brand(org: Organization) -> Brand:
    """The organization's name, colour, logo URL and address, for the layout."""
    return Brand(
        name=org.name, color=org.theme_color, logo_url=logo_url(org.logo_path), address=org.billing_address
    )


def _greeting(locale: str, name: str) -> Paragraph:
    return para(N_("Hello {name},"), locale, name=name)


def _sign_off(locale: str, org_name: str) -> Paragraph:
    closing = translate(N_("Kind regards,"), locale)
    lines = words(f"{closing}\n{org_name}")
    return Paragraph(Piece(lines.text, lines.html))


def button(locale: str, label: str, url: str) -> Button:
    """A button to `url`, with the address spelled out for mail readers that show no buttons."""
    return Button(label=label, url=url, fallback=translate(L_FALLBACK, locale))


def para(message: str, locale: str, /, *, strong: Sequence[str] = (), **values: object) -> Paragraph:
    """A paragraph of one translated sentence; the values named in `strong` are bold."""
    return Paragraph(phrase(message, locale, strong=strong, **values))


def compose_email(
    *, name: str, locale: str, subject: str, heading: str, blocks: Sequence[Block], brand_: Brand
) -> Email:
    """The email every message shares: 'Hello {name},', the blocks, the sign-off, in the brand's layout."""
    subject = one_line(subject, SUBJECT_MAX)  # a title with a line break must not break the header
    body = [_greeting(locale, name), *blocks, _sign_off(locale, brand_.name)]
    content = Content(locale=locale, subject=subject, heading=heading, blocks=body)
    return Email(subject, render_text(content, brand_), render_html(content, brand_))


def money(amount_minor: int, currency: str, locale: str) -> str:
    """An amount as the recipient's locale writes it."""
    return format_money(amount_minor, currency, locale)

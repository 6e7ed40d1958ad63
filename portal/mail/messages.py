"""Every email the portal sends, composed from templates: subject, plain text and HTML, in the
recipient's locale, with the organization's logo and colour.

(Interface first; the mail issue fills in the templates. Callers queue the result with
`portal.mail.outbox.enqueue(kind=..., to=..., subject=email.subject, text=email.text, html=email.html)`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.db.models import Invoice, Quote
from portal.i18n import translate


@dataclass(frozen=True)
class Email:
    """A composed email."""

    subject: str
    text: str
    html: str


async def invitation(*, locale: str, name: str, link: str, expires_at: datetime) -> Email:
    """'Set your password' for a client invited to log in."""
    subject = translate("Set your password for the billing portal", locale)
    text = translate("Hello {name},\n\nSet your password here: {link}", locale, name=name, link=link)
    return Email(subject, text, "")


async def invoice_sent(*, invoice_id: int, link: str) -> Email:
    """An invoice with its payment link, in the client's locale."""
    invoice = await Invoice.get(id=invoice_id).prefetch_related("client")
    locale = invoice.client.locale
    subject = translate("Invoice {number}", locale, number=invoice.number or "")
    text = translate("Pay it securely here: {link}", locale, link=link)
    return Email(subject, text, "")


async def quote_sent(*, quote_id: int, link: str) -> Email:
    """An estimate or proposal to review, approve or decline, in the client's locale."""
    quote = await Quote.get(id=quote_id).prefetch_related("client")
    locale = quote.client.locale
    subject = translate("Estimate {number}", locale, number=quote.number or "")
    text = translate("Review it here: {link}", locale, link=link)
    return Email(subject, text, "")

"""Secure payment links: one invoice, billing request or credit request per link, expiring, revocable.

Only the SHA-256 of the token is stored. A page opened with a link never shows saved cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tortoise.transactions import in_transaction

from portal.config import get_settings
from portal.db.models import BillingRequest, Client, CreditRequest, Invoice, InvoiceLine, PaymentLink
from portal.domain.errors import Conflict, NotFound
from portal.domain.money import format_money
from portal.domain.status import BillingRequestStatus, CreditRequestStatus, InvoiceStatus
from portal.domain.tokens import hash_token, new_token
from portal.i18n import N_, _, get_locale, translate
from portal.mail import messages
from portal.mail.outbox import enqueue
from portal.services import gateways, invoices, payments
from portal.services.clock import now_utc, today
from portal.services.organization import get_organization

INVOICE_LINK_DAYS = 30


@dataclass(frozen=True)
class LinkLine:
    """One line as the payment page lists it."""

    description: str
    quantity: str
    amount: str


@dataclass(frozen=True)
class LinkView:
    """Everything the public payment page shows for a link."""

    state: str  # open | paid | expired
    purpose: str
    target_id: int
    title: str
    currency: str
    amount_due_minor: int
    total_minor: int
    due_date: date | None
    client_name: str
    org_name: str
    bank_details: str
    reference: str
    privacy_url: str
    terms_url: str
    gateway_mode: str
    locale: str  # the client's; empty when the link's request has no client (the page uses the browser's)
    can_renew: bool
    success_url: str = ""
    cancel_url: str = ""
    lines: list[LinkLine] = field(default_factory=list)

    def money(self, amount_minor: int) -> str:
        """An amount of this document's currency, formatted for the payer."""
        return format_money(amount_minor, self.currency, self.locale or get_locale())


NOT_VALID = N_("This payment link is not valid.")
BILLING_REQUEST = N_("Billing request")
CREDIT_REQUEST = N_("Credit request")


async def issue(*, purpose: str, target_id: int, expires_at: datetime) -> str:
    """Create a link and return its token (shown once: only the hash is kept)."""
    token, digest = new_token()
    await PaymentLink.create(
        token_hash=digest,
        purpose=purpose,
        invoice_id=target_id if purpose == "invoice" else None,
        billing_request_id=target_id if purpose == "billing_request" else None,
        credit_request_id=target_id if purpose == "credit_request" else None,
        expires_at=expires_at,
    )
    return token


def url_for(token: str) -> str:
    """The address of the payment page for a token."""
    return f"{get_settings().public_url.rstrip('/')}/pay/{token}"


def invoice_link_expiry(due_date: date) -> datetime:
    """Invoice links live 30 days past the later of today and the due date."""
    base = max(due_date, today())
    return datetime.combine(
        base + timedelta(days=INVOICE_LINK_DAYS), datetime.min.time(), tzinfo=now_utc().tzinfo
    )


async def _link(token: str) -> PaymentLink:
    link = await PaymentLink.get_or_none(token_hash=hash_token(token or ""))
    if link is None or link.revoked_at is not None:
        raise NotFound(_(NOT_VALID))
    return link


def _target_of(link: PaymentLink) -> int:
    return link.invoice_id or link.billing_request_id or link.credit_request_id or 0


async def view(*, token: str) -> LinkView:
    """What a link shows; NotFound for an unknown, tampered or revoked token."""
    link = await _link(token)
    org = await get_organization()
    common = {
        "org_name": org.name,
        "bank_details": org.bank_details,
        "privacy_url": org.privacy_url,
        "terms_url": org.terms_url,
        "gateway_mode": await gateways.current_mode(),
    }
    expired = link.expires_at <= now_utc()
    if link.purpose == "invoice":
        invoice = await Invoice.get(id=link.invoice_id)
        if invoice.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
            raise NotFound(_(NOT_VALID))
        client = await Client.get(id=invoice.client_id)
        due = await invoices.amount_due(invoice)
        lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
        state = (
            "paid" if invoice.status == InvoiceStatus.paid or due <= 0 else ("expired" if expired else "open")
        )
        return LinkView(
            state=state,
            purpose="invoice",
            target_id=invoice.id,
            title=translate("Invoice {number}", client.locale, number=invoice.number),
            currency=invoice.currency,
            amount_due_minor=max(due, 0),
            total_minor=invoice.total_minor,
            due_date=invoice.due_date,
            client_name=client.name,
            reference=invoice.number or "",
            locale=client.locale,
            can_renew=state == "expired",
            lines=[
                LinkLine(
                    row.description,
                    f"{row.quantity.normalize():f}",
                    format_money(row.gross_minor, invoice.currency, client.locale),
                )
                for row in lines
            ],
            **common,
        )
    if link.purpose == "billing_request":
        request = await BillingRequest.get(id=link.billing_request_id)
        if request.status == BillingRequestStatus.deleted:
            raise NotFound(_(NOT_VALID))
        client = await Client.get_or_none(id=request.client_id) if request.client_id else None
        reader_locale = client.locale if client else get_locale()
        request_expired = request.status == BillingRequestStatus.expired or (
            request.expires_at is not None and request.expires_at <= now_utc()
        )
        state = (
            "paid"
            if request.status == BillingRequestStatus.paid
            else ("expired" if expired or request_expired else "open")
        )
        return LinkView(
            state=state,
            purpose="billing_request",
            target_id=request.id,
            title=request.description or translate(BILLING_REQUEST, reader_locale),
            currency=request.currency,
            amount_due_minor=request.amount_minor,
            total_minor=request.amount_minor,
            due_date=None,
            client_name=client.name if client else request.email,
            reference=f"BR-{request.id}",
            locale=client.locale if client else "",
            can_renew=False,
            success_url=request.success_url,
            cancel_url=request.cancel_url,
            **common,
        )
    credit = await CreditRequest.get(id=link.credit_request_id)
    if credit.status == CreditRequestStatus.deleted:
        raise NotFound(_(NOT_VALID))
    client = await Client.get(id=credit.client_id)
    state = "paid" if credit.status == CreditRequestStatus.paid else ("expired" if expired else "open")
    return LinkView(
        state=state,
        purpose="credit_request",
        target_id=credit.id,
        title=credit.description or translate(CREDIT_REQUEST, client.locale),
        currency=credit.currency,
        amount_due_minor=credit.amount_minor,
        total_minor=credit.amount_minor,
        due_date=credit.due_date,
        client_name=client.name,
        reference=f"CR-{credit.id}",
        locale=client.locale,
        can_renew=state == "expired",
        **common,
    )


async def pay_with_new_method(*, token: str, method_kind: str = "card") -> payments.PayOutcome:
    """Start a hosted checkout for the link's document (no saved cards: the payer is not signed in)."""
    current = await view(token=token)
    if current.state == "paid":
        raise Conflict(_("This has already been paid. Thank you!"))
    if current.state == "expired":
        raise Conflict(_("This link has expired."))
    here = url_for(token)
    return await payments.start_checkout(
        actor=None,
        purpose=current.purpose,
        target_id=current.target_id,
        method_kind=method_kind,
        success_url=current.success_url or f"{here}?paid=1",
        cancel_url=current.cancel_url or here,
    )


async def send_fresh_link(*, token: str) -> str:
    """Email a new link for an expired one to the address on file; return where it went (masked)."""
    link = await _link(token)
    current = await view(token=token)
    if not current.can_renew:
        raise Conflict(_("A new link cannot be sent for this. Please contact us."))
    if link.purpose == "invoice":
        invoice = await Invoice.get(id=link.invoice_id)
        client = await Client.get(id=invoice.client_id)
        expires = invoice_link_expiry(invoice.due_date)
    else:
        credit = await CreditRequest.get(id=link.credit_request_id)
        client = await Client.get(id=credit.client_id)
        expires = now_utc() + timedelta(days=INVOICE_LINK_DAYS)
    async with in_transaction():  # the link and its email together
        fresh = await issue(purpose=link.purpose, target_id=_target_of(link), expires_at=expires)
        message = await messages.new_link(
            purpose=link.purpose, target_id=_target_of(link), link=url_for(fresh), expires_at=expires
        )
        await enqueue(
            kind="new_link",
            to=client.email,
            client_id=client.id,
            dedupe_key=f"new_link:{link.id}:{today().isoformat()}",
            subject=message.subject,
            text=message.text,
            html=message.html,
        )
    return mask_email(client.email)


def mask_email(email: str) -> str:
    """'ada@example.com' -> 'a**@example.com'."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}{'*' * max(2, len(name) - 1)}@{domain}"


async def revoke_for(*, purpose: str, target_id: int) -> int:
    """Revoke every link to a document (when it is deleted)."""
    filters = {f"{purpose}_id": target_id, "revoked_at": None}
    return await PaymentLink.filter(**filters).update(revoked_at=now_utc())

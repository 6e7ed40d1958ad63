"""Secure payment links: one invoice, billing request or credit request per link, expiring, revocable.

Only the SHA-256 of the token is stored. A page opened with a link never shows saved cards.

"Email me a new link" on an expired link works without signing in, so it is bounded: one new link per
document per 24 hours (a second click, or a click on another expired link of the same document, is told
when the new link was sent instead of getting another), and a few new-link emails per address per 24 hours
across all its documents. A link's token cannot be sent again (only its hash is kept), so after those 24
hours a new click makes a new link: the earlier one keeps working until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.expressions import RawSQL
from tortoise.transactions import in_transaction

from portal.config import get_settings
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    Allocation,
    BillingRequest,
    Client,
    CreditRequest,
    Invoice,
    InvoiceLine,
    OutboxEmail,
    PaymentLink,
)
from portal.domain.errors import Conflict, NotFound
from portal.domain.money import format_money
from portal.domain.presentation import InvoicePresentation
from portal.domain.status import BillingRequestStatus, CreditRequestStatus, InvoiceStatus
from portal.domain.tokens import hash_token, new_token
from portal.i18n import N_, _, format_datetime, get_locale, translate
from portal.mail import payment_emails
from portal.mail.outbox import enqueue
from portal.mail.worker import FAILED, QUEUED, SENDING
from portal.payments import bank_transfer, charges, ledger
from portal.payments.gateways import selector
from portal.payments.presentation import invoice_presentation

INVOICE_LINK_DAYS = 30
RENEWAL_WINDOW = timedelta(hours=24)
"""A new link emailed within this window is not sent again for the same document."""
RENEWALS_PER_ADDRESS = 3
"""At most this many new-link emails to one address within the window, across all its documents."""


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

    def money(self, amount_minor: int) -> str:
        """An amount of this document's currency, formatted for the payer."""
        return format_money(amount_minor, self.currency, self.locale or get_locale())


@dataclass(frozen=True)
class OpenedLink:
    """A link's view and, for an invoice, the invoice row behind it, so that the payment page can draw the
    invoice's lines and totals after its first paint (`invoice_presentation`)."""

    link: LinkView
    invoice: Invoice | None = None

    async def invoice_presentation(self) -> InvoicePresentation | None:
        """The invoice's lines and totals block, from its lines and allocation rows (two reads). None when
        the link is not for an invoice."""
        if self.invoice is None:
            return None
        lines = await InvoiceLine.filter(invoice_id=self.invoice.id).order_by("position", "id")
        allocations = await Allocation.filter(invoice_id=self.invoice.id).order_by("created_at", "id")
        return invoice_presentation(self.invoice, lines, allocations)


NOT_VALID = N_("This payment link is not valid.")
BILLING_REQUEST = N_("Billing request")
CREDIT_REQUEST = N_("Credit request")


@dataclass(frozen=True)
class Renewal:
    """What "Email me a new link" did: whether an email goes out because of this click, to which
    (masked) address, and the sentence the page shows."""

    sent: bool
    address: str
    message: str


async def issue(*, purpose: str, target_id: int, expires_at: datetime) -> str:
    """Create a link and return its token (shown once: only the hash is kept)."""
    return (await _issue(purpose=purpose, target_id=target_id, expires_at=expires_at))[0]


async def _issue(*, purpose: str, target_id: int, expires_at: datetime) -> tuple[str, PaymentLink]:
    token, digest = new_token()
    row = await PaymentLink.create(
        token_hash=digest,
        purpose=purpose,
        invoice_id=target_id if purpose == "invoice" else None,
        billing_request_id=target_id if purpose == "billing_request" else None,
        credit_request_id=target_id if purpose == "credit_request" else None,
        expires_at=expires_at,
    )
    return token, row


def new_invoice_links(targets: list[tuple[int, datetime]]) -> tuple[list[str], list[PaymentLink]]:
    """Links for many invoices at once (a batch job): the tokens, and the unsaved rows to insert in one
    statement with `PaymentLink.bulk_create` inside the caller's transaction."""
    tokens, rows = [], []
    for invoice_id, expires_at in targets:
        token, digest = new_token()
        tokens.append(token)
        rows.append(
            PaymentLink(token_hash=digest, purpose="invoice", invoice_id=invoice_id, expires_at=expires_at)
        )
    return tokens, rows


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
    return (await open_link(token=token)).link


# what the allocations of a link's invoice add up to (the ledger's amount due is its total minus this)
_ALLOCATED = RawSQL(
    'COALESCE((SELECT SUM("allocation"."amount_minor") FROM "allocation" '
    'WHERE "allocation"."invoice_id" = "payment_link"."invoice_id"), 0)'
)


async def open_link(*, token: str) -> OpenedLink:
    """What a link shows, with the invoice behind it; NotFound for an unknown, tampered or revoked token.
    An invoice's link is one read (the link, its invoice and client, and the sum of the invoice's
    allocations), besides the organization (read once per page build)."""
    link = (
        await PaymentLink.filter(token_hash=hash_token(token or ""))
        .select_related("invoice__client")
        .annotate(allocated=_ALLOCATED)
        .first()
    )
    if link is None or link.revoked_at is not None:
        raise NotFound(_(NOT_VALID))
    org = await get_organization()
    common = {
        "org_name": org.name,
        "bank_details": org.bank_details,
        "privacy_url": org.privacy_url,
        "terms_url": org.terms_url,
        "gateway_mode": await selector.current_mode(),
    }
    expired = link.expires_at <= now_utc()
    if link.purpose == "invoice":
        invoice = link.invoice
        if invoice is None or invoice.status in (InvoiceStatus.draft, InvoiceStatus.deleted):
            raise NotFound(_(NOT_VALID))
        client = invoice.client
        due = invoice.total_minor - int(link.allocated or 0)  # the ledger's amount due
        state = (
            "paid" if invoice.status == InvoiceStatus.paid or due <= 0 else ("expired" if expired else "open")
        )
        view = LinkView(
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
            **common,
        )
        return OpenedLink(view, invoice)
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
        return OpenedLink(
            LinkView(
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
        )
    credit = await CreditRequest.get(id=link.credit_request_id)
    if credit.status == CreditRequestStatus.deleted:
        raise NotFound(_(NOT_VALID))
    client = await Client.get(id=credit.client_id)
    state = "paid" if credit.status == CreditRequestStatus.paid else ("expired" if expired else "open")
    return OpenedLink(
        LinkView(
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
    )


async def pay_with_new_method(*, token: str, method_kind: str = "card") -> charges.PayOutcome:
    """Start a hosted checkout for the link's document (no saved cards: the payer is not signed in)."""
    current = await view(token=token)
    if current.state == "paid":
        raise Conflict(_("This has already been paid. Thank you!"))
    if current.state == "expired":
        raise Conflict(_("This link has expired."))
    here = url_for(token)
    return await charges.start_checkout(
        actor=None,
        purpose=current.purpose,
        target_id=current.target_id,
        method_kind=method_kind,
        success_url=current.success_url or f"{here}?paid=1",
        cancel_url=current.cancel_url or here,
    )


async def promise_transfer(*, token: str) -> None:
    """The payer of a link says a bank transfer is on its way: the invoice or credit request shows as
    awaiting it (it stays payable). Not for a billing request, which is paid online within its 24 hours."""
    current = await view(token=token)
    if current.state == "paid":
        raise Conflict(_("This has already been paid. Thank you!"))
    if current.state == "expired":
        raise Conflict(_("This link has expired."))
    if current.purpose not in ("invoice", "credit_request"):
        raise Conflict(_("A billing request is paid online. Please pay it by card or direct debit."))
    await bank_transfer.mark_awaiting(actor=None, purpose=current.purpose, target_id=current.target_id)


async def send_fresh_link(*, token: str) -> Renewal:
    """Email a new link for an expired one to the address on file, unless one was sent for the same
    document in the last 24 hours or the address had its share of new links; say which happened."""
    link = await _link(token)
    current = await view(token=token)
    if not current.can_renew:
        raise Conflict(_("A new link cannot be sent for this. Please contact us."))
    target_id = _target_of(link)
    async with in_transaction():  # the link and its email together; the document's lock orders clicks
        target: Invoice | CreditRequest
        if link.purpose == "invoice":
            target = invoice = await Invoice.select_for_update().get(id=target_id)
            client = await Client.get(id=invoice.client_id)
            expires = invoice_link_expiry(invoice.due_date)
        else:
            target = credit = await CreditRequest.select_for_update().get(id=target_id)
            client = await Client.get(id=credit.client_id)
            expires = now_utc() + timedelta(days=INVOICE_LINK_DAYS)
        since = now_utc() - RENEWAL_WINDOW
        if (earlier := await _recent_renewal(link.purpose, target_id, since)) is not None:
            return _already_sent(earlier)
        if refusal := await _address_refusal(client.email, since):
            return refusal
        fresh, row = await _issue(purpose=link.purpose, target_id=target_id, expires_at=expires)
        due = await ledger.amount_due(invoice) if link.purpose == "invoice" else credit.amount_minor
        message = payment_emails.new_link(
            org=await get_organization(),
            client=client,
            target=target,
            link=url_for(fresh),
            expires_at=expires,
            amount_due_minor=due,
        )
        await enqueue(
            kind="new_link",
            to=client.email,
            client_id=client.id,
            dedupe_key=f"{_renewal_prefix(link.purpose, target_id)}{row.id}",
            subject=message.subject,
            text=message.text,
            html=message.html,
        )
    address = mask_email(client.email)
    return Renewal(True, address, _("We sent a new link to {address}.", address=address))


def _renewal_prefix(purpose: str, target_id: int) -> str:
    """The start of the dedupe key of every new-link email for one document (the new link's id follows)."""
    return f"new_link:{purpose}:{target_id}:"


async def _recent_renewal(purpose: str, target_id: int, since: datetime) -> OutboxEmail | None:
    """The newest new-link email for this document since `since` that is not given up and whose link still
    works (a link revoked since, or an email the mail server refused, does not stop a new one)."""
    prefix = _renewal_prefix(purpose, target_id)
    emails = await OutboxEmail.filter(
        kind="new_link", dedupe_key__startswith=prefix, created_at__gte=since
    ).order_by("-created_at", "-id")
    for email in emails:
        link_id = (email.dedupe_key or "").removeprefix(prefix)
        if email.status == FAILED or not link_id.isdigit():
            continue
        if await PaymentLink.exists(id=int(link_id), revoked_at=None, expires_at__gt=now_utc()):
            return email
    return None


def _already_sent(email: OutboxEmail) -> Renewal:
    address = mask_email(email.to_address)
    if email.status in (QUEUED, SENDING):
        message = _(
            "A new link to {address} is already on its way (asked for on {date}). It should arrive in a few "
            "minutes; no other link was sent.",
            address=address,
            date=format_datetime(email.created_at),
        )
    else:
        message = _(
            "We already sent a new link to {address} on {date}, so we did not send another. Please check "
            "your inbox and spam folder.",
            address=address,
            date=format_datetime(email.sent_at or email.created_at),
        )
    return Renewal(False, address, message)


async def _address_refusal(email: str, since: datetime) -> Renewal | None:
    """Refuse when this address already got its share of new-link emails since `since`."""
    recent = await OutboxEmail.filter(kind="new_link", to_address=email, created_at__gte=since).order_by(
        "created_at", "id"
    )
    if len(recent) < RENEWALS_PER_ADDRESS:
        return None
    address = mask_email(email)
    again = recent[len(recent) - RENEWALS_PER_ADDRESS].created_at + RENEWAL_WINDOW
    return Renewal(
        False,
        address,
        _(
            "We have sent {count} new links to {address} in the last 24 hours, so we did not send another. "
            "Please check your inbox, or ask again after {time}.",
            address=address,
            count=len(recent),
            time=format_datetime(again),
        ),
    )


def mask_email(email: str) -> str:
    """'ada@example.com' -> 'a**@example.com'."""
    name, _, domain = email.partition("@")
    return f"{name[:1]}{'*' * max(2, len(name) - 1)}@{domain}"


async def revoke_for(*, purpose: str, target_id: int) -> int:
    """Revoke every link to a document (when it is deleted)."""
    filters = {f"{purpose}_id": target_id, "revoked_at": None}
    return await PaymentLink.filter(**filters).update(revoked_at=now_utc())

"""Billing requests: the lifecycle Pending -> Paid | Expired (24 h after sending) | Deleted.

Sending a request also raises its invoice (one line, the amount) so that it shows in the client's
billing and is settled by the same allocation code as every other payment.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal.billing import credit_notes, invoices, issued
from portal.config import get_settings
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.core.paging import Page, bounds, fetch
from portal.db.models import BillingRequest, Client, Invoice, Organization, OutboxEmail
from portal.domain.errors import Conflict, InvalidFields, InvalidInput, NotFound
from portal.domain.money import MAX_AMOUNT_MINOR, normalize_currency, parse_amount
from portal.domain.status import BillingRequestStatus, BillingType, Interval, InvoiceStatus, check_transition
from portal.i18n import N_, _, translate
from portal.mail import request_emails
from portal.mail.outbox import enqueue, enqueue_many, queued
from portal.payments import links
from portal.payments.gateways import selector

LIFETIME = timedelta(hours=24)
LOOSE_CURRENCY = "KWD"
"""A currency with three decimals: the amount is read in it while the typed currency is wrong."""
EXPIRY_BATCH_SIZE = 500  # requests expired per transaction


@dataclass(frozen=True)
class SentRequest:
    """A billing request just sent, with its (one-time visible) payment link."""

    id: int
    invoice_id: int
    link: str


EMAIL_MAX_LENGTH = 254
URL_MAX_LENGTH = 500
DESCRIPTION_MAX_LENGTH = 300
"""The lengths of the BillingRequest columns."""


URL_MESSAGES: dict[str, dict[str, str]] = {
    "success_url": {
        "enter": N_("Enter the full success URL, starting with https://"),
        "enter_local": N_("Enter the full success URL, starting with https:// or http://"),
        "scheme": N_("The success URL must start with https://"),
        "scheme_local": N_("The success URL must start with https:// or http://"),
        "private": N_("The success URL cannot point to a private or local address ({host})."),
        "too_long": N_("The success URL is too long ({max} characters at most)."),
    },
    "cancel_url": {
        "enter": N_("Enter the full cancel URL, starting with https://"),
        "enter_local": N_("Enter the full cancel URL, starting with https:// or http://"),
        "scheme": N_("The cancel URL must start with https://"),
        "scheme_local": N_("The cancel URL must start with https:// or http://"),
        "private": N_("The cancel URL cannot point to a private or local address ({host})."),
        "too_long": N_("The cancel URL is too long ({max} characters at most)."),
    },
}
"""What is wrong with a success or cancel URL; `_local` is the rule outside production (http allowed)."""

_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.IGNORECASE)
"""A host a browser reads as an IPv4 address although it is not dotted-quad: 127.1, 0x7f.0.0.1, 2130706433."""


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host is written as (IPv4-mapped IPv6 as its IPv4 address), or None for a name.

    Names are not resolved: only literal addresses and `localhost` names are judged (a public name that
    resolves to a private address is not caught here). ValueError for a numeric host that is no address.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _NUMERIC_HOST.fullmatch(host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError as exc:
            raise ValueError(host) from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_local_host(host: str) -> bool:
    """localhost, *.localhost, or a loopback, link-local, private, unspecified or other non-public address
    (169.254.0.0/16, fe80::/10, 10/8, 172.16/12, 192.168/16, fc00::/7, 0.0.0.0, ::, ...)."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _literal_address(name)
    return address is not None and (not address.is_global or address.is_multicast)


def _check_url(value: str, *, field: str, production: bool) -> tuple[str, str | None]:
    """A full address the payer's browser is sent to, or the message naming the rule it breaks.

    In production only https:// to a public host; outside production http:// and local hosts too (for
    testing on one machine).
    """
    rules = URL_MESSAGES[field]
    local = "" if production else "_local"
    value = (value or "").strip()
    try:
        parsed = urlsplit(value)
        host = unquote(parsed.hostname or "")
        _literal_address(host.rstrip(".").lower())  # a numeric host that is no address is not a URL
    except ValueError:
        return value, _(rules["enter" + local])
    if not parsed.scheme or not host or any(c.isspace() for c in value):
        return value, _(rules["enter" + local])
    if parsed.scheme.lower() not in (("https",) if production else ("https", "http")):
        return value, _(rules["scheme" + local])
    if len(value) > URL_MAX_LENGTH:
        return value, _(rules["too_long"], max=URL_MAX_LENGTH)
    if production and _is_local_host(host):
        return value, _(rules["private"], host=host)
    return value, None


def _check_email(value: str) -> tuple[str, str | None]:
    value = (value or "").strip().lower()
    if not value:
        return value, _("Enter the email address the request goes to.")
    local, _sep, domain = value.rpartition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith(".") or " " in value:
        return value, _("Enter a valid email address, like name@example.com.")
    if len(value) > EMAIL_MAX_LENGTH:
        return value, _("The email address is too long ({max} characters at most).", max=EMAIL_MAX_LENGTH)
    return value, None


def _check_currency(value: str) -> tuple[str, str | None]:
    code = (value or "").strip().upper()
    if not code:
        return code, _("Enter a currency code, like USD or EUR.")
    try:
        return normalize_currency(code), None
    except InvalidInput:
        return code, _(
            "{code} is not a currency code we know. Use three letters, like USD or EUR.", code=code
        )


def _check_amount(
    amount_minor: int | None, amount_text: str | None, currency: str, locale: str
) -> tuple[int, str | None]:
    """The amount in minor units: typed text is parsed for the currency's decimals; it must be above zero."""
    if amount_text is not None:
        try:
            amount_minor = parse_amount(amount_text, currency, locale)
        except InvalidInput as exc:
            return 0, exc.message
    if amount_minor is None:
        return 0, _("Enter an amount.")
    if amount_minor <= 0:
        return amount_minor, _("The amount must be greater than zero.")
    if amount_minor > MAX_AMOUNT_MINOR:
        return amount_minor, _("The amount is too large.")
    return amount_minor, None


def _check_billing_type(
    billing_type: str, interval: str | None
) -> tuple[BillingType | None, str | None, dict[str, str]]:
    """(billing type, interval or None when it does not recur, problems)."""
    try:
        kind = BillingType(billing_type)
    except ValueError:
        return None, None, {"billing_type": _("Choose one-time or recurring.")}
    if kind == BillingType.one_time:
        return kind, None, {}
    if interval not in {i.value for i in Interval}:
        return kind, None, {"interval": _("Choose how often a recurring request repeats.")}
    return kind, interval, {}


def _raise_if_any(problems: dict[str, str | None]) -> None:
    """Raise every field's problem at once (the first one is also the error's own field and message)."""
    found = {field: message for field, message in problems.items() if message}
    if found:
        raise InvalidFields(found)


async def create_billing_request(
    *,
    actor: Actor,
    client_id: int | None,
    email: str,
    currency: str,
    amount_minor: int | None = None,
    success_url: str,
    cancel_url: str,
    billing_type: str,
    interval: str | None = None,
    description: str = "",
    amount_text: str | None = None,
    locale: str = "en",
) -> SentRequest:
    """Validate every field, store the request and its invoice, and email the payment link.

    The amount is `amount_minor`, or `amount_text` as typed (parsed for the currency in `locale`). Every
    wrong field, the client included, is reported at once (`InvalidFields.errors`), and nothing is stored.
    """
    require_staff(actor)
    problems: dict[str, str | None] = {}
    client = await Client.get_or_none(id=client_id) if client_id is not None else None
    if client is None:
        problems["client"] = (
            _("Choose the client this request is for.")
            if client_id is None
            else _("That client does not exist. Choose one from the list.")
        )
    email, problems["email"] = _check_email(email)
    currency, problems["currency"] = _check_currency(currency)
    if problems["currency"] is None:
        amount_minor, problems["amount"] = _check_amount(amount_minor, amount_text, currency, locale)
    else:  # no currency to read it in: still say when it is missing or no number at all
        problems["amount"] = _check_amount(amount_minor, amount_text, LOOSE_CURRENCY, locale)[1]
    production = get_settings().is_production
    success_url, problems["success_url"] = _check_url(success_url, field="success_url", production=production)
    cancel_url, problems["cancel_url"] = _check_url(cancel_url, field="cancel_url", production=production)
    kind, interval, type_problems = _check_billing_type(billing_type, interval)
    problems.update(type_problems)
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        problems["description"] = _(
            "The description is too long ({max} characters at most).", max=DESCRIPTION_MAX_LENGTH
        )
    _raise_if_any(problems)
    assert amount_minor is not None and kind is not None and client is not None
    now = now_utc()
    async with in_transaction():
        request = await BillingRequest.create(
            client_id=client.id,
            email=email,
            description=description,
            currency=currency,
            amount_minor=amount_minor,
            success_url=success_url,
            cancel_url=cancel_url,
            billing_type=kind,
            interval=interval,
            status=BillingRequestStatus.pending,
            mode=await selector.current_mode(),
            sent_at=now,
            expires_at=now + LIFETIME,
            created_by_id=actor.user_id,
        )
        invoice = await invoices.issue_single_line(
            client_id=client.id,
            description=description.strip() or translate("Billing request", client.locale),
            amount_minor=amount_minor,
            currency=currency,
            due_date=today() + timedelta(days=1),
            notes=description.strip(),
            created_by_id=actor.user_id,
            billing_request_id=request.id,
        )
        token = await links.issue(
            purpose="billing_request", target_id=request.id, expires_at=request.expires_at
        )
        message = request_emails.billing_request_sent(
            org=await get_organization(), request=request, client=client, link=links.url_for(token)
        )
        await enqueue(
            kind="billing_request",
            to=email,
            client_id=client.id,
            dedupe_key=f"billing_request:{request.id}:sent",
            subject=message.subject,
            text=message.text,
            html=message.html,
        )
        await audit.record(
            actor=actor,
            action="billing_request.send",
            subject=f"billing_request:{request.id}",
            client_id=client.id,
            details={"amount_minor": amount_minor, "currency": currency},
        )
    return SentRequest(request.id, invoice.id, links.url_for(token))


def _undeletable(request: BillingRequest) -> str | None:
    """Why a request cannot be deleted (only a pending one can), or None."""
    if request.status == BillingRequestStatus.paid:
        return _("This billing request is paid, so it cannot be deleted.")
    if request.status == BillingRequestStatus.deleted:
        return _("This billing request is already deleted.")
    if request.status == BillingRequestStatus.expired or (
        request.expires_at is not None and request.expires_at <= now_utc()
    ):
        return _("This billing request has expired, so it cannot be deleted. Send a new one instead.")
    return None


async def delete_billing_request(*, actor: Actor, request_id: int) -> None:
    """Delete a pending request: its invoice is voided and its links stop working (paid, expired and
    deleted requests stay as they are, as the record of what was asked)."""
    require_staff(actor)
    async with in_transaction():
        request = await BillingRequest.select_for_update().get_or_none(id=request_id)
        if request is None:
            raise NotFound(_("That billing request does not exist."))
        if reason := _undeletable(request):
            raise Conflict(reason)
        check_transition(
            BillingRequestStatus(request.status), BillingRequestStatus.deleted, subject="billing request"
        )
        request.status, request.deleted_at = BillingRequestStatus.deleted, now_utc()
        await request.save(update_fields=["status", "deleted_at"])
        notes = await _void_invoices([request.id], actor.user_id)
        await links.revoke_for(purpose="billing_request", target_id=request.id)
        await audit.record(
            actor=actor,
            action="billing_request.delete",
            subject=f"billing_request:{request.id}",
            client_id=request.client_id,
        )
    for credit_note_id in notes:
        await issued.store_issued_credit_note(credit_note_id)


async def _void_invoices(request_ids: list[int], user_id: int | None = None) -> list[int]:
    """In the caller's transaction: void the open invoices of these requests. An issued (numbered) invoice
    is never simply deleted: a credit note cancels each (issue 16 item 5); their ids, to store their
    documents after the commit."""
    found = await Invoice.select_for_update().filter(
        billing_request_id__in=request_ids, status=InvoiceStatus.open
    )
    if not found:
        return []
    await Invoice.filter(id__in=[invoice.id for invoice in found]).update(status=InvoiceStatus.deleted)
    notes = []
    for invoice in found:
        if invoice.number:
            notes.append((await credit_notes.issue_for_void(invoice=invoice, user_id=user_id)).id)
    return notes


async def expire_due(*, batch_size: int = EXPIRY_BATCH_SIZE) -> int:
    """Mark every pending request whose 24 hours are over as expired, void its invoice and tell the payer
    (once: the email's dedupe key); returns how many. `batch_size` requests per transaction, each batch
    the same five statements however many it expires: the due requests (locked, others' locks skipped on
    PostgreSQL), one update of them, one of their invoices, their clients, one insert of the emails; and a
    credit note for each invoice it voids."""
    org = await get_organization()
    count = 0
    while True:
        expired, seen = await _expire_batch(org, batch_size)
        count += expired
        if seen < batch_size or not expired:
            return count


async def _expire_batch(org: Organization, batch_size: int) -> tuple[int, int]:
    """Expire one batch in one transaction; (how many this run expired, how many it read)."""
    async with in_transaction():
        due = (
            await BillingRequest.select_for_update(skip_locked=True)
            .filter(status=BillingRequestStatus.pending, expires_at__lte=now_utc())
            .order_by("id")
            .limit(batch_size)
        )
        if not due:
            return 0, 0
        ids = [request.id for request in due]
        # every row read is still pending here: PostgreSQL holds their locks, SQLite has one writer
        changed = await BillingRequest.filter(id__in=ids, status=BillingRequestStatus.pending).update(
            status=BillingRequestStatus.expired
        )
        await _void_invoices(ids)  # their credit notes' documents are stored at their first download
        client_ids = list({request.client_id for request in due if request.client_id is not None})
        clients = (
            {client.id: client for client in await Client.filter(id__in=client_ids)} if client_ids else {}
        )
        await enqueue_many(
            [_expired_email(org, request, clients.get(request.client_id or 0)) for request in due]
        )
    return changed, len(due)


def _expired_email(org: Organization, request: BillingRequest, client: Client | None) -> OutboxEmail:
    """Tell the payer the request can no longer be paid (once: the dedupe key)."""
    message = request_emails.billing_request_expired(org=org, request=request, client=client)
    return queued(
        kind="billing_request_expired",
        to=request.email,
        client_id=request.client_id,
        dedupe_key=f"billing_request:{request.id}:expired",
        subject=message.subject,
        text=message.text,
        html=message.html,
    )


PAGE_SIZE = 25


MAX_PAGE_SIZE = 100


MODES = ("sandbox", "test", "live")


# -- billing requests -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BillingRequestRow:
    """A billing request as the console lists it; `status` is what it is now (a pending request whose
    24 hours are over is 'expired' even before the expiry job has run)."""

    id: int
    client_id: int | None
    client_name: str
    email: str
    description: str
    amount_minor: int
    currency: str
    billing_type: str
    interval: str | None
    status: str
    mode: str
    sent_at: datetime | None
    expires_at: datetime | None
    seconds_left: int | None

    @property
    def can_delete(self) -> bool:
        """Only a pending request can be deleted."""
        return self.status == BillingRequestStatus.pending

    @property
    def can_copy_link(self) -> bool:
        """A payment link is handed out only while the request can be paid."""
        return self.status == BillingRequestStatus.pending


@dataclass(frozen=True)
class BillingRequestPage(Page[BillingRequestRow]):
    """One page of the billing requests list."""


def _status_filter(status: str, now: datetime) -> Q:
    """Requests that are `status` now (pending ones past their expiry count as expired)."""
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    if status == BillingRequestStatus.pending:
        return Q(status=BillingRequestStatus.pending) & live
    if status == BillingRequestStatus.expired:
        return Q(status=BillingRequestStatus.expired) | Q(
            status=BillingRequestStatus.pending, expires_at__lte=now
        )
    return Q(status=status)


def _row(request: BillingRequest, names: dict[int, str], now: datetime) -> BillingRequestRow:
    status = request.status
    left: int | None = None
    if status == BillingRequestStatus.pending and request.expires_at is not None:
        left = int((request.expires_at - now).total_seconds())
        if left <= 0:
            status, left = BillingRequestStatus.expired, None
    return BillingRequestRow(
        id=request.id,
        client_id=request.client_id,
        client_name=names.get(request.client_id or 0, ""),
        email=request.email,
        description=request.description,
        amount_minor=request.amount_minor,
        currency=request.currency,
        billing_type=request.billing_type,
        interval=request.interval,
        status=str(status),
        mode=request.mode,
        sent_at=request.sent_at,
        expires_at=request.expires_at,
        seconds_left=left,
    )


async def list_billing_requests(
    *,
    actor: Actor,
    status: str = "",
    mode: str = "",
    search: str = "",
    client_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> BillingRequestPage:
    """Staff: billing requests, newest first, filtered by status, mode, email and client, page by page."""
    require_staff(actor)
    if status and status not in {s.value for s in BillingRequestStatus}:
        raise InvalidInput(_("Choose a status from the list."), field="status")
    if mode and mode not in MODES:
        raise InvalidInput(_("Choose sandbox, test or live."), field="mode")
    page, page_size = bounds(page, page_size, MAX_PAGE_SIZE)
    now = now_utc()
    query = BillingRequest.all()
    if status:
        query = query.filter(_status_filter(status, now))
    if mode:
        query = query.filter(mode=mode)
    if term := search.strip():
        query = query.filter(email__icontains=term)
    if client_id is not None:
        query = query.filter(client_id=client_id)
    found, total = await fetch(query, page, page_size, "-created_at", "-id")
    ids = {r.client_id for r in found if r.client_id}
    names = dict(await Client.filter(id__in=list(ids)).values_list("id", "name")) if ids else {}
    rows = [_row(r, names, now) for r in found]
    return BillingRequestPage(rows=rows, total=total, page=page, page_size=page_size)


async def billing_request_link(*, actor: Actor, request_id: int) -> str:
    """Staff: a payment link for a pending request, valid until the request expires (a new link each time:
    only the hash of a link is kept, so an earlier one cannot be shown again)."""
    require_staff(actor)
    request = await BillingRequest.get_or_none(id=request_id)
    if request is None or request.status == BillingRequestStatus.deleted:
        raise NotFound(_("That billing request does not exist."))
    if request.status == BillingRequestStatus.paid:
        raise Conflict(_("This billing request is already paid."))
    expires = request.expires_at
    if request.status == BillingRequestStatus.expired or expires is None or expires <= now_utc():
        raise Conflict(_("This billing request has expired. Send a new one instead."))
    token = await links.issue(purpose="billing_request", target_id=request.id, expires_at=expires)
    await audit.record(
        actor=actor,
        action="billing_request.link",
        subject=f"billing_request:{request.id}",
        client_id=request.client_id,
    )
    return links.url_for(token)

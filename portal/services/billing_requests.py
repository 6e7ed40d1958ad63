"""Billing requests: the lifecycle Pending -> Paid | Expired (24 h after sending) | Deleted.

Sending a request also raises its invoice (one line, the amount) so that it shows in the client's
billing and is settled by the same allocation code as every other payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from tortoise.transactions import in_transaction

from portal.db.models import BillingRequest, Client, Invoice
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.money import format_money, normalize_currency
from portal.domain.status import BillingRequestStatus, BillingType, Interval, InvoiceStatus, check_transition
from portal.mail.outbox import enqueue
from portal.services import audit, gateways, invoices, links
from portal.services.actors import Actor, require_staff
from portal.services.clock import now_utc, today
from portal.services.organization import get_organization

LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class SentRequest:
    """A billing request just sent, with its (one-time visible) payment link."""

    id: int
    invoice_id: int
    link: str


def _check_url(value: str, field: str, label: str) -> str:
    value = (value or "").strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"Enter a full {label} starting with https://", field=field)
    return value


def _check_email(value: str) -> str:
    value = (value or "").strip().lower()
    if "@" not in value or "." not in value.rsplit("@", 1)[-1] or " " in value:
        raise InvalidInput("Enter a valid email address.", field="email")
    return value


async def create_billing_request(
    *,
    actor: Actor,
    client_id: int,
    email: str,
    currency: str,
    amount_minor: int,
    success_url: str,
    cancel_url: str,
    billing_type: str,
    interval: str | None = None,
    description: str = "",
) -> SentRequest:
    """Validate every field, store the request and its invoice, and email the payment link."""
    require_staff(actor)
    email = _check_email(email)
    currency = normalize_currency(currency)
    if amount_minor <= 0:
        raise InvalidInput("The amount must be greater than zero.", field="amount")
    success_url = _check_url(success_url, "success_url", "success URL")
    cancel_url = _check_url(cancel_url, "cancel_url", "cancel URL")
    try:
        kind = BillingType(billing_type)
    except ValueError as exc:
        raise InvalidInput("Choose one-time or recurring.", field="billing_type") from exc
    if kind == BillingType.recurring:
        if interval not in {i.value for i in Interval}:
            raise InvalidInput("Choose how often a recurring request repeats.", field="interval")
    else:
        interval = None
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound("That client does not exist.")
    org = await get_organization()
    now = now_utc()
    async with in_transaction():
        request = await BillingRequest.create(
            client_id=client.id,
            email=email,
            description=description.strip(),
            currency=currency,
            amount_minor=amount_minor,
            success_url=success_url,
            cancel_url=cancel_url,
            billing_type=kind,
            interval=interval,
            status=BillingRequestStatus.pending,
            mode=await gateways.current_mode(),
            sent_at=now,
            expires_at=now + LIFETIME,
            created_by_id=actor.user_id,
        )
        invoice = await invoices.issue_single_line(
            client_id=client.id,
            description=description.strip() or "Billing request",
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
        shown = format_money(amount_minor, currency, client.locale)
        await enqueue(
            kind="billing_request",
            to=email,
            client_id=client.id,
            dedupe_key=f"billing_request:{request.id}:sent",
            subject=f"{org.name} requests {shown}",
            text=f"Hello {client.name},\n\n{org.name} requests {shown}"
            f"{' for ' + description.strip() if description.strip() else ''}.\n"
            f"Pay securely within 24 hours: {links.url_for(token)}\n\n{org.name}",
        )
        await audit.record(
            actor=actor,
            action="billing_request.send",
            subject=f"billing_request:{request.id}",
            client_id=client.id,
            details={"amount_minor": amount_minor, "currency": currency},
        )
    return SentRequest(request.id, invoice.id, links.url_for(token))


async def delete_billing_request(*, actor: Actor, request_id: int) -> None:
    """Delete a pending or expired request: its invoice is voided and its links stop working."""
    require_staff(actor)
    async with in_transaction():
        request = await BillingRequest.select_for_update().get_or_none(id=request_id)
        if request is None:
            raise NotFound("That billing request does not exist.")
        check_transition(
            BillingRequestStatus(request.status), BillingRequestStatus.deleted, subject="billing request"
        )
        request.status, request.deleted_at = BillingRequestStatus.deleted, now_utc()
        await request.save(update_fields=["status", "deleted_at"])
        await _void_invoice(request.id)
        await links.revoke_for(purpose="billing_request", target_id=request.id)
        await audit.record(
            actor=actor,
            action="billing_request.delete",
            subject=f"billing_request:{request.id}",
            client_id=request.client_id,
        )


async def _void_invoice(request_id: int) -> None:
    await Invoice.filter(billing_request_id=request_id, status=InvoiceStatus.open).update(
        status=InvoiceStatus.deleted
    )


async def expire_due() -> int:
    """Mark every pending request whose 24 hours are over as expired (and void its invoice)."""
    count = 0
    async with in_transaction():
        due = await BillingRequest.select_for_update(skip_locked=True).filter(
            status=BillingRequestStatus.pending, expires_at__lte=now_utc()
        )
        for request in due:
            changed = await BillingRequest.filter(id=request.id, status=BillingRequestStatus.pending).update(
                status=BillingRequestStatus.expired
            )
            if changed:
                await _void_invoice(request.id)
                count += 1
    return count

"""Credit requests: ask a client to prepay an amount that becomes credit once paid."""

from __future__ import annotations

from datetime import date, timedelta

from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import Client, CreditRequest
from portal.domain.errors import Conflict, InvalidFields, InvalidInput, NotFound
from portal.domain.money import normalize_currency, parse_amount
from portal.domain.status import CreditRequestStatus
from portal.i18n import _
from portal.mail import request_emails
from portal.mail.outbox import enqueue
from portal.payments import charges, links

DESCRIPTION_MAX_LENGTH = 300
"""The length of CreditRequest.description."""


async def create_credit_request(
    *,
    actor: Actor,
    client_id: int,
    amount_minor: int | None = None,
    currency: str | None = None,
    description: str = "",
    due_date: date | None = None,
    amount_text: str | None = None,
    due_date_text: str | None = None,
    locale: str = "en",
) -> int:
    """Raise a credit request, email its payment link, and auto-charge it when the client agreed to that.

    The amount is `amount_minor`, or `amount_text` as typed (read for the currency in `locale`); the due
    date is `due_date`, or `due_date_text` (YYYY-MM-DD). Every wrong field is reported at once
    (`InvalidFields.errors`), and nothing is stored.
    """
    require_staff(actor)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("That client does not exist."))
    problems: dict[str, str] = {}
    try:
        currency = normalize_currency(currency or client.currency)
    except InvalidInput as exc:
        problems["currency"] = exc.message
    if amount_text is not None and "currency" not in problems:
        try:
            amount_minor = parse_amount(amount_text, currency or client.currency, locale)
        except InvalidInput as exc:
            problems["amount"] = exc.message
    elif amount_text is not None and not amount_text.strip():
        problems["amount"] = _("Enter an amount.")
    if "amount" not in problems and "currency" not in problems and (amount_minor or 0) <= 0:
        problems["amount"] = _("The amount must be greater than zero.")
    if due_date_text is not None and due_date_text.strip():  # left empty: the default below
        try:
            due_date = date.fromisoformat(due_date_text.strip())
        except ValueError:
            problems["due_date"] = _("Enter the date the credit should be paid by.")
    due_date = due_date or today() + timedelta(days=14)
    if "due_date" not in problems and due_date < today():
        problems["due_date"] = _("The due date cannot be in the past.")
    if len(description.strip()) > DESCRIPTION_MAX_LENGTH:
        problems["description"] = _(
            "The description is too long ({max} characters at most).", max=DESCRIPTION_MAX_LENGTH
        )
    if problems:
        raise InvalidFields(problems)
    assert currency is not None and amount_minor is not None
    async with in_transaction():
        credit = await CreditRequest.create(
            client_id=client.id,
            amount_minor=amount_minor,
            currency=currency,
            description=description.strip() or "Account credit",
            due_date=due_date,
        )
        token = await links.issue(
            purpose="credit_request",
            target_id=credit.id,
            expires_at=now_utc() + timedelta(days=links.INVOICE_LINK_DAYS),
        )
        message = request_emails.credit_request_sent(
            org=await get_organization(), credit=credit, client=client, link=links.url_for(token)
        )
        await enqueue(
            kind="credit_request",
            to=client.email,
            client_id=client.id,
            dedupe_key=f"credit_request:{credit.id}:sent",
            subject=message.subject,
            text=message.text,
            html=message.html,
        )
        await audit.record(
            actor=actor,
            action="credit_request.create",
            subject=f"credit_request:{credit.id}",
            client_id=client.id,
            details={"amount_minor": amount_minor, "currency": currency},
        )
    try:
        await charges.auto_charge_if_enabled(purpose="credit_request", target_id=credit.id)
    except Conflict:
        pass  # a payment is already under way
    return credit.id


async def delete_credit_request(*, actor: Actor, credit_request_id: int) -> None:
    """Withdraw an unpaid credit request; its links stop working."""
    require_staff(actor)
    async with in_transaction():
        credit = await CreditRequest.select_for_update().get_or_none(id=credit_request_id)
        if credit is None:
            raise NotFound(_("That credit request does not exist."))
        if credit.status != CreditRequestStatus.pending:
            raise Conflict(_("Only an unpaid credit request can be deleted."))
        credit.status = CreditRequestStatus.deleted
        await credit.save(update_fields=["status"])
        await links.revoke_for(purpose="credit_request", target_id=credit.id)
        await audit.record(
            actor=actor,
            action="credit_request.delete",
            subject=f"credit_request:{credit.id}",
            client_id=credit.client_id,
        )

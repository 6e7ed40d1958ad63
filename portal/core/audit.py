"""The audit trail: `record` appends who did what, for whom; the log reads it back, filtered, paged,
newest first, each entry a sentence in the reader's language (`portal.core.audit_text`) with the records
it names looked up when it is read, and the remaining details in words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from portal.core import audit_text
from portal.core.actors import Actor, require_admin, require_staff
from portal.core.audit_text import METHOD_LABELS, RecordName
from portal.core.clock import now_utc
from portal.core.paging import Page
from portal.db.bulk import insert_rows
from portal.db.models import (
    Allocation,
    AuditEntry,
    BillingRequest,
    Client,
    CreditEntry,
    CreditRequest,
    Invoice,
    Payment,
    PaymentMethod,
    Plan,
    Quote,
    Subscription,
    TaxRate,
)
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.money import format_money
from portal.domain.status import local_label
from portal.i18n import LABELS, N_, _, get_locale

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
RECENT_MAX = 50

ACTION_LABELS = {
    "login": N_("Signed in"),
    "impersonation.start": N_("Started viewing as the client"),
    "impersonation.stop": N_("Stopped viewing as the client"),
    "impersonation.expired": N_("View as the client ended by itself"),
    "payment.record_offline": N_("Recorded an offline payment"),
    "payment.refund": N_("Refunded a payment"),
    "credit.adjust": N_("Adjusted credit"),
    "credit.apply": N_("Applied credit to an invoice"),
    "invoice.create": N_("Created an invoice"),
    "billing_request.send": N_("Sent a billing request"),
    "billing_request.delete": N_("Deleted a billing request"),
    "credit_request.create": N_("Created a credit request"),
    "credit_request.delete": N_("Deleted a credit request"),
    "payment_method.add_started": N_("Started adding a payment method"),
    "payment_method.add": N_("Added a payment method"),
    "payment_method.default": N_("Changed the default payment method"),
    "payment_method.delete": N_("Deleted a payment method"),
    "client.auto_charge": N_("Changed automatic charging"),
    "stripe.connect": N_("Connected Stripe"),
    "stripe.unlink": N_("Unlinked Stripe"),
    "stripe.policies": N_("Changed the privacy and terms links"),
    "payment.charge_saved_method": N_("Charged a saved card"),
    "invoice.update": N_("Changed an invoice"),
    "invoice.send": N_("Sent an invoice"),
    "invoice.resend": N_("Sent an invoice again"),
    "invoice.void": N_("Voided an invoice"),
    "invoice.duplicate": N_("Duplicated an invoice"),
    "invoice.reminder": N_("Sent a payment reminder"),
    "billing_request.link": N_("Sent a new payment link"),
    "client.create": N_("Added a client"),
    "client.import": N_("Imported clients from a file"),
    "export.download": N_("Downloaded an accounting export"),
    "client.update": N_("Changed a client's details"),
    "client.invite": N_("Invited a client to the portal"),
    "client.reminders": N_("Changed a client's payment reminders"),
    "user.set_password": N_("Set a password"),
    "user.locale": N_("Chose a language"),
    "plan.create": N_("Created a plan"),
    "plan.update": N_("Changed a plan"),
    "plan.archive": N_("Archived a plan"),
    "plan.restore": N_("Offered a plan again"),
    "plan.delete": N_("Deleted a plan"),
    "subscription.create": N_("Started a subscription"),
    "subscription.start_failed": N_("A subscription could not start"),
    "subscription.cancel_now": N_("Cancelled a subscription"),
    "subscription.resume": N_("Resumed a subscription"),
    "subscription.cancel_at_period_end": N_("Set a subscription to end"),
    "subscription.change_method": N_("Changed the card of a subscription"),
    "settings.organization": N_("Changed the business details"),
    "settings.legal_identity": N_("Changed the legal identity"),
    "settings.billing": N_("Changed the billing settings"),
    "settings.template": N_("Changed the invoice template"),
    "settings.logo": N_("Changed the logo"),
    "settings.email": N_("Changed the email settings"),
    "settings.email.test": N_("Sent a test email"),
    "settings.reminders": N_("Changed the reminder schedule"),
    "settings.tax_rate.create": N_("Added a tax rate"),
    "settings.tax_rate.update": N_("Changed a tax rate"),
    "settings.tax_rate.archive": N_("Archived a tax rate"),
    "settings.tax_rate.restore": N_("Restored a tax rate"),
    "settings.tax_rate.delete": N_("Deleted a tax rate"),
    "estimate.create": N_("Created an estimate"),
    "estimate.update": N_("Changed an estimate"),
    "estimate.sent": N_("Sent an estimate"),
    "estimate.approved": N_("Approved an estimate"),
    "estimate.declined": N_("Declined an estimate"),
    "estimate.converted": N_("Turned an estimate into an invoice"),
    "proposal.create": N_("Created a proposal"),
    "proposal.update": N_("Changed a proposal"),
    "proposal.sent": N_("Sent a proposal"),
    "proposal.approved": N_("Approved a proposal"),
    "proposal.declined": N_("Declined a proposal"),
    "proposal.converted": N_("Turned a proposal into an invoice"),
}
AMOUNT_LABELS = {"amount_minor": N_("Amount")}
DETAIL_LABELS = {
    "reason": N_("Reason"),
    "comment": N_("Comment"),
    "method": N_("Method"),
    "mode": N_("Mode"),
    "country": N_("Country"),
    "key": N_("Key"),
    "enabled": N_("Enabled"),
    "consent_recorded": N_("Consent recorded"),
    "minutes": N_("Time limit (minutes)"),
    "gateway": N_("Gateway"),
    "via": N_("Via"),
    "brand": N_("Brand"),
    "last4": N_("Last 4 digits"),
    "default": N_("Default"),
    "privacy_url": N_("Privacy link"),
    "terms_url": N_("Terms link"),
    "replaced": N_("Replaced by a new view"),
    "from": N_("From"),
    "to": N_("To"),
    "was": N_("Status before"),
    "number": N_("Number"),
    "from_number": N_("Copied from"),
    "name": N_("Name"),
    "email": N_("Email"),
    "created_user": N_("New sign-in account"),
    "links_revoked": N_("Payment links revoked"),
    "offset_days": N_("Days from the due date"),
    "stage": N_("Stage"),
    "changed": N_("Changed"),
    "rate": N_("Rate"),
    "before": N_("Before"),
    "description": N_("Description"),
    "interval": N_("Billing period"),
    "message": N_("Message"),
    "ends_at": N_("Ends on"),
    "offsets": N_("Reminder days"),
    "ok": N_("Succeeded"),
}


@dataclass(frozen=True)
class AuditRow:
    """One audit entry, ready to show."""

    id: int
    at: datetime
    actor_email: str  # empty: the portal itself (a job, a webhook)
    actor_name: str
    client_id: int | None
    client_name: str
    action: str
    action_label: str
    subject: str  # the stored code ('payment:3'), for links; people read `record` and `sentence`
    details: str
    ip: str
    impersonation_id: int | None
    sentence: str = ""  # 'Ana Admin recorded an offline payment of $1,300.00 (Cash) on invoice INV-0003'
    record: str = ""  # 'invoice INV-0003' ('' when the entry names no record)


@dataclass(frozen=True)
class AuditPage(Page[AuditRow]):
    """One page of the audit log."""


@dataclass(frozen=True)
class AuditFilterOptions:
    """What the filters offer: the actions that occur and the clients."""

    actions: list[tuple[str, str]]  # (action, label)
    clients: list[tuple[int, str]]  # (id, name)


def action_label(action: str) -> str:
    """'payment.record_offline' -> 'Recorded an offline payment' (or a readable fallback)."""
    known = ACTION_LABELS.get(action)
    if known is not None:
        return _(known)
    return action.replace(".", " ").replace("_", " ").capitalize()


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None or value == "":
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return audit_text.moment_text(value, get_locale()) or str(value)


def describe_details(details: dict[str, Any] | None, *, locale: str | None = None, currency: str = "") -> str:
    """An entry's details in words: 'Amount: $12.00 · Method: Cash · View as the client: #3'; amounts
    stored without a currency are read in `currency` (the record's), internal ids are left out."""
    details = {k: v for k, v in (details or {}).items() if not k.endswith("_id") or k == "impersonation_id"}
    locale = locale or get_locale()
    parts: list[str] = []
    currency = details.pop("currency", None) or currency or None
    currency_shown = False
    for key in [k for k in details if k.endswith("_minor")]:
        amount = details.pop(key)
        known = AMOUNT_LABELS.get(key)
        label = _(known) if known else key.removesuffix("_minor").replace("_", " ").capitalize()
        if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
            try:
                parts.append(f"{label}: {format_money(amount, currency, locale)}")
                currency_shown = True
                continue
            except Exception:  # an unknown currency code: no amount rather than a wrong one
                pass
    if currency is not None and not currency_shown:
        parts.append(f"{_('Currency')}: {_value(currency)}")
    impersonation_id = details.pop("impersonation_id", None)
    labelled: list[tuple[str, str]] = []
    for key, value in details.items():
        known = DETAIL_LABELS.get(key)
        if key == "method" and isinstance(value, str):
            method = METHOD_LABELS.get(value)
            value = _(method) if method else value.replace("_", " ")
        elif key == "was" and isinstance(value, str):
            value = local_label(value, locale)  # a status: 'Open', not 'open'
        elif key in ("from", "to") and value in LABELS:
            value = LABELS[value]  # a language: 'Français', not 'fr'
        labelled.append((_(known) if known else key.replace("_", " ").capitalize(), _value(value)))
    # in the order of their labels: PostgreSQL's jsonb does not keep the order the keys were written in
    parts.extend(f"{label}: {value}" for label, value in sorted(labelled))
    if impersonation_id is not None:
        parts.append(_("View as the client: #{id}", id=impersonation_id))
    return " · ".join(parts)


async def describe_entries(entries: Sequence[AuditEntry]) -> list[AuditRow]:
    """Entries (with `actor` and `on_behalf_of` fetched) as rows to show, in the current locale."""
    locale = get_locale()
    records = await _records(entries)
    rows = []
    for entry in entries:
        details = entry.details if isinstance(entry.details, dict) else {"details": entry.details}
        raw_id = details.get("impersonation_id")
        record = records.get(entry.subject)
        actor_name = (entry.actor.full_name or entry.actor.email) if entry.actor else _("The portal")
        client_name = entry.on_behalf_of.name if entry.on_behalf_of else str(details.get("name") or "")
        label = action_label(entry.action)
        rows.append(
            AuditRow(
                id=entry.id,
                at=entry.at,
                actor_email=entry.actor.email if entry.actor else "",
                actor_name=actor_name,
                client_id=entry.on_behalf_of_id,
                client_name=entry.on_behalf_of.name if entry.on_behalf_of else "",
                action=entry.action,
                action_label=label,
                subject=entry.subject,
                details=describe_details(details, locale=locale, currency=record.currency if record else ""),
                ip=entry.ip,
                impersonation_id=raw_id if isinstance(raw_id, int) else None,
                sentence=audit_text.sentence(
                    action=entry.action,
                    what=label,
                    actor_name=actor_name,
                    client_name=client_name,
                    details=details,
                    record=record,
                    locale=locale,
                ),
                record=audit_text.record_text(record, locale),
            )
        )
    return rows


async def _records(entries: Sequence[AuditEntry]) -> dict[str, RecordName]:
    """The records the entries' subjects name ('invoice:12' -> invoice INV-0012), a query per kind."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        kind, _sep, raw = (entry.subject or "").partition(":")
        if raw.isdigit():
            wanted.setdefault(kind, set()).add(int(raw))
    found: dict[str, RecordName] = {}

    def ids(kind: str) -> list[int]:
        return sorted(wanted.get(kind, ()))

    if ids("invoice"):
        for i, number, currency in await Invoice.filter(id__in=ids("invoice")).values_list(
            "id", "number", "currency"
        ):
            found[f"invoice:{i}"] = RecordName("invoice", number=number or "", currency=currency)
    if ids("payment"):
        settled: dict[int, set[str]] = {}  # payment -> the numbers of the invoices it settled
        for i, number in await Allocation.filter(payment_id__in=ids("payment"), refund_id=None).values_list(
            "payment_id", "invoice__number"
        ):
            settled.setdefault(i, set()).add(number or "")
        for i, currency, number in await Payment.filter(id__in=ids("payment")).values_list(
            "id", "currency", "invoice__number"
        ):
            only = next(iter(settled[i])) if len(settled.get(i, ())) == 1 else ""
            found[f"payment:{i}"] = RecordName("payment", currency=currency, invoice_number=number or only)
    if ids("quote"):
        for i, number, kind in await Quote.filter(id__in=ids("quote")).values_list("id", "number", "kind"):
            found[f"quote:{i}"] = RecordName(str(kind), number=number or "")
    for kind, model in (("billing_request", BillingRequest), ("credit_request", CreditRequest)):
        if ids(kind):
            for i, name, currency in await model.filter(id__in=ids(kind)).values_list(
                "id", "description", "currency"
            ):
                found[f"{kind}:{i}"] = RecordName(kind, name=name or "", currency=currency)
    for kind, model in (("plan", Plan), ("tax_rate", TaxRate)):
        if ids(kind):
            for i, name in await model.filter(id__in=ids(kind)).values_list("id", "name"):
                found[f"{kind}:{i}"] = RecordName(kind, name=name)
    if ids("subscription"):
        for i, name, currency in await Subscription.filter(id__in=ids("subscription")).values_list(
            "id", "plan__name", "currency"
        ):
            found[f"subscription:{i}"] = RecordName("subscription", name=name or "", currency=currency)
    if ids("payment_method"):
        for i, brand, last4 in await PaymentMethod.filter(id__in=ids("payment_method")).values_list(
            "id", "brand", "last4"
        ):
            found[f"payment_method:{i}"] = RecordName("card", name=audit_text.card_name(brand, last4))
    if ids("credit"):
        for i, currency in await CreditEntry.filter(id__in=ids("credit")).values_list("id", "currency"):
            found[f"credit:{i}"] = RecordName(currency=currency)
    return found


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def list_entries(
    *,
    actor: Actor,
    actor_email: str = "",
    client_id: int | None = None,
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> AuditPage:
    """The audit log, newest first (admins only). `actor_email` matches part of the address; the dates
    are whole UTC days, both included."""
    require_admin(actor)
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InvalidInput(_("The end date is before the start date."), field="date_to")
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    query = AuditEntry.all()
    email = (actor_email or "").strip().lower()
    if email:
        query = query.filter(actor__email__icontains=email)
    if client_id is not None:
        if not await Client.exists(id=client_id):
            raise NotFound(_("That client does not exist."))
        query = query.filter(on_behalf_of_id=client_id)
    if action.strip():
        query = query.filter(action=action.strip())
    if date_from is not None:
        query = query.filter(at__gte=_start_of(date_from))
    if date_to is not None:
        query = query.filter(at__lt=_start_of(date_to + timedelta(days=1)))
    total = await query.count()
    pages = max(1, -(-total // page_size))
    page = max(1, min(int(page), pages))
    entries = (
        await query.order_by("-at", "-id")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .prefetch_related("actor", "on_behalf_of")
    )
    return AuditPage(rows=await describe_entries(entries), total=total, page=page, page_size=page_size)


async def filter_options(*, actor: Actor) -> AuditFilterOptions:
    """The actions found in the log and the clients, for the filters (admins only)."""
    require_admin(actor)
    actions = await AuditEntry.all().distinct().order_by("action").values_list("action", flat=True)
    clients = await Client.all().order_by("name", "id").values_list("id", "name")
    return AuditFilterOptions(
        actions=[(a, action_label(a)) for a in actions],
        clients=[(int(i), str(n)) for i, n in clients],
    )


async def recent(*, actor: Actor, limit: int = 10) -> list[AuditRow]:
    """The latest entries, for the console overview (staff and admins)."""
    require_staff(actor)
    limit = max(1, min(int(limit), RECENT_MAX))
    entries = (
        await AuditEntry.all().order_by("-at", "-id").limit(limit).prefetch_related("actor", "on_behalf_of")
    )
    return await describe_entries(entries)


async def record(
    *,
    actor: Actor | None,
    action: str,
    subject: str = "",
    client_id: int | None = None,
    details: dict[str, Any] | None = None,
    ip: str = "",
) -> None:
    """Append an audit entry; an impersonating admin is recorded with the client they act for."""
    user_id = None
    if actor is not None:
        user_id = actor.impersonator_id or actor.user_id
        if actor.is_impersonating:
            client_id = actor.client_id
            details = {**(details or {}), "impersonation_id": actor.impersonation_id}
    await AuditEntry.create(
        actor_id=user_id,
        on_behalf_of_id=client_id,
        action=action,
        subject=subject,
        details=details or {},
        ip=ip,
    )


async def record_system_many(
    *,
    action: str,
    entries: Sequence[tuple[str, int | None, dict[str, Any]]],
    connection: BaseDBAsyncClient | None = None,
) -> None:
    """Append many entries of one action done by the portal itself (a batch job, no actor) in one
    statement, inside the caller's transaction (pass its connection): each entry is (subject, client id,
    details)."""
    at = now_utc()
    await insert_rows(
        AuditEntry,
        [
            {
                "actor_id": None,
                "on_behalf_of_id": client_id,
                "action": action,
                "subject": subject,
                "details": details,
                "ip": "",
                "at": at,
            }
            for subject, client_id, details in entries
        ],
        connection=connection,
    )

"""The audit trail: `record` appends who did what, for whom; the log reads it back, filtered, paged,
newest first, with details in words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portal.core.actors import Actor, require_admin, require_staff
from portal.core.paging import Page
from portal.db.models import AuditEntry, Client
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.money import format_money
from portal.i18n import N_, _, get_locale

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
}
AMOUNT_LABELS = {"amount_minor": N_("Amount")}
METHOD_LABELS = {
    "cash": N_("Cash"),
    "bank_transfer": N_("Bank transfer"),
    "cheque": N_("Cheque"),
    "card": N_("Card"),
    "direct_debit": N_("Direct debit"),
    "other": N_("Other"),
}
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
    subject: str
    details: str
    ip: str
    impersonation_id: int | None


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
    return action.replace(".", ": ").replace("_", " ").capitalize()


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None or value == "":
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items())
    return str(value)


def describe_details(details: dict[str, Any] | None, *, locale: str | None = None) -> str:
    """An entry's details in words: 'Amount: $12.00 · Method: Cash · View as the client: #3'."""
    details = dict(details or {})
    locale = locale or get_locale()
    parts: list[str] = []
    currency = details.pop("currency", None)
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
            except Exception:  # an unknown currency code: show the raw number below
                pass
        parts.append(_("{label}: {amount} (minor units)", label=label, amount=_value(amount)))
    if currency is not None and not currency_shown:
        parts.append(f"{_('Currency')}: {_value(currency)}")
    impersonation_id = details.pop("impersonation_id", None)
    labelled: list[tuple[str, str]] = []
    for key, value in details.items():
        known = DETAIL_LABELS.get(key)
        if key == "method" and isinstance(value, str):
            method = METHOD_LABELS.get(value)
            value = _(method) if method else value.replace("_", " ")
        labelled.append((_(known) if known else key.replace("_", " ").capitalize(), _value(value)))
    # in the order of their labels: PostgreSQL's jsonb does not keep the order the keys were written in
    parts.extend(f"{label}: {value}" for label, value in sorted(labelled))
    if impersonation_id is not None:
        parts.append(_("View as the client: #{id}", id=impersonation_id))
    return " · ".join(parts)


def _rows(entries: Sequence[AuditEntry]) -> list[AuditRow]:
    locale = get_locale()
    rows = []
    for entry in entries:
        details = entry.details if isinstance(entry.details, dict) else {"details": entry.details}
        raw_id = details.get("impersonation_id")
        rows.append(
            AuditRow(
                id=entry.id,
                at=entry.at,
                actor_email=entry.actor.email if entry.actor else "",
                actor_name=(entry.actor.full_name or entry.actor.email) if entry.actor else _("The portal"),
                client_id=entry.on_behalf_of_id,
                client_name=entry.on_behalf_of.name if entry.on_behalf_of else "",
                action=entry.action,
                action_label=action_label(entry.action),
                subject=entry.subject,
                details=describe_details(details, locale=locale),
                ip=entry.ip,
                impersonation_id=raw_id if isinstance(raw_id, int) else None,
            )
        )
    return rows


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
    return AuditPage(rows=_rows(entries), total=total, page=page, page_size=page_size)


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
    return _rows(entries)


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

"""Audit entries in words: one sentence per entry, in the reader's language, built at read time from the
stored action code and details, with amounts as money and records named ('Ana Admin recorded an offline
payment of $1,300.00 (Cash) on invoice INV-0003').

Nothing here reads the database: `portal.core.audit` looks the named records up (`RecordName`) and
passes them in. An action without a sentence of its own gets a readable generic one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from string import Formatter
from typing import Any

from portal.domain.money import format_money
from portal.domain.status import brand_label
from portal.i18n import LABELS, N_, format_date, format_datetime, pgettext, translate

ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")

METHOD_LABELS = {
    "cash": N_("Cash"),
    "bank_transfer": N_("Bank transfer"),
    "cheque": N_("Cheque"),
    "card": N_("Card"),
    "direct_debit": N_("Direct debit"),
    "other": N_("Other"),
}

# action (or 'action:variant') -> sentences, the first whose placeholders all have a value is used
SENTENCES: dict[str, tuple[str, ...]] = {
    "login": (N_("{actor} signed in"),),
    "impersonation.start": (
        N_("{actor} started viewing the portal as {client} for at most {minutes} minutes. Reason: {reason}"),
        N_("{actor} started viewing the portal as {client}"),
    ),
    "impersonation.stop": (N_("{actor} stopped viewing the portal as {client}"),),
    "impersonation.expired": (
        N_("The view of {actor} as {client} ended by itself after {minutes} minutes"),
        N_("The view of {actor} as {client} ended by itself"),
    ),
    "payment.record_offline": (
        N_("{actor} recorded an offline payment of {amount} ({method}) on {invoice}"),
        N_("{actor} recorded an offline payment of {amount} ({method}) from {client}"),
        N_("{actor} recorded an offline payment of {amount} ({method})"),
    ),
    "payment.refund": (
        N_("{actor} refunded {amount} of a payment on {invoice}"),
        N_("{actor} refunded {amount} of a payment from {client}"),
    ),
    "payment.charge_saved_method": (
        N_("{actor} charged {amount} to a saved card for {invoice}"),
        N_("{actor} charged {amount} to a saved card of {client}"),
    ),
    "credit.adjust": (N_("{actor} adjusted the account credit of {client} by {amount}"),),
    "credit.apply": (N_("{actor} applied {amount} of account credit to {invoice}"),),
    "invoice.create": (N_("{actor} created {invoice}"),),
    "invoice.update": (N_("{actor} changed {invoice}"),),
    "invoice.send": (N_("{actor} sent {invoice} to {to}"), N_("{actor} sent {invoice}")),
    "invoice.resend": (N_("{actor} sent {invoice} again to {to}"), N_("{actor} sent {invoice} again")),
    "invoice.void": (N_("{actor} voided {invoice}"),),
    "invoice.duplicate": (N_("{actor} duplicated invoice {from_number} as {invoice}"),),
    "invoice.reminder": (N_("{actor} sent a payment reminder for {invoice}"),),
    "billing_request.send": (
        N_("{actor} sent a billing request for {amount} to {client}"),
        N_("{actor} sent a billing request for {amount}"),
    ),
    "billing_request.link": (N_("{actor} sent a new payment link for {record}"),),
    "billing_request.delete": (N_("{actor} deleted {record}"),),
    "credit_request.create": (
        N_("{actor} asked {client} to prepay {amount} as account credit"),
        N_("{actor} asked for a prepayment of {amount} as account credit"),
    ),
    "credit_request.delete": (N_("{actor} deleted {record}"),),
    "payment_method.add_started": (N_("{actor} opened the form to add a card"),),
    "payment_method.add": (N_("{actor} added the card {card}"), N_("{actor} added a card")),
    "payment_method.default": (
        N_("{actor} made {card} the default card"),
        N_("{actor} changed the default card"),
    ),
    "payment_method.delete": (N_("{actor} deleted the card {card}"), N_("{actor} deleted a card")),
    "client.auto_charge:on": (N_("{actor} turned on automatic charging for {client}"),),
    "client.auto_charge:off": (N_("{actor} turned off automatic charging for {client}"),),
    "client.reminders:on": (N_("{actor} turned on payment reminders for {client}"),),
    "client.reminders:off": (N_("{actor} turned off payment reminders for {client}"),),
    "client.create": (N_("{actor} added the client {client}"),),
    "client.update": (N_("{actor} changed the details of {client}"),),
    "client.invite": (N_("{actor} invited {email} to the portal"),),
    "user.set_password": (N_("{actor} set a password"),),
    "user.locale": (N_("{actor} chose to read the portal in {language}"),),
    "stripe.connect": (N_("{actor} linked the Stripe account"),),
    "stripe.unlink": (N_("{actor} unlinked the Stripe account"),),
    "stripe.policies": (N_("{actor} changed the privacy policy and terms links"),),
    "plan.create": (N_("{actor} created {record}"),),
    "plan.update": (N_("{actor} changed {record}"),),
    "plan.archive": (N_("{actor} archived {record}"),),
    "plan.restore": (N_("{actor} offered {record} again"),),
    "plan.delete": (N_("{actor} deleted {record}"),),
    "subscription.create": (N_("{actor} started {record} for {client}"), N_("{actor} started {record}")),
    "subscription.cancel_now": (N_("{actor} cancelled {record}"),),
    "subscription.resume": (N_("{actor} resumed {record}"),),
    "subscription.change_method": (N_("{actor} changed the card that pays {record}"),),
    "subscription.cancel_at_period_end": (
        N_("{actor} set {record} to end on {ends}"),
        N_("{actor} set {record} to end with its current period"),
    ),
}
GENERIC_WITH_RECORD = N_("{actor}: {what} ({record})")
GENERIC = N_("{actor}: {what}")
THE_PORTAL = N_("The portal")


@dataclass(frozen=True)
class RecordName:
    """What an audit subject ('payment:3') names, as looked up when the log is read."""

    kind: str = ""  # invoice | estimate | proposal | billing_request | credit_request | plan | subscription
    # | tax_rate | card | '' (nothing to name)
    number: str = ""  # a document number
    name: str = ""  # a plan's or request's name, a card's 'Visa •••• 4242'
    currency: str = ""  # the record's currency, for amounts stored without one
    invoice_number: str = ""  # for a payment: the invoice it paid


def record_text(record: RecordName | None, locale: str) -> str:
    """'invoice INV-0003' / 'la facture INV-0003' ('' when there is nothing to name)."""
    if record is None or not record.kind:
        return ""
    if record.kind == "invoice" and not record.number:
        return _record("draft_invoice", locale)
    if record.kind in ("invoice", "estimate", "proposal") and not record.number:
        return ""
    return _record(record.kind, locale, number=record.number, name=record.name)


def _record(kind: str, locale: str, **values: str) -> str:
    # literal calls, so the catalog extraction sees every message with its context
    messages = {
        "invoice": lambda: pgettext("in a sentence", "invoice {number}", locale, **values),
        "draft_invoice": lambda: pgettext("in a sentence", "a draft invoice", locale),
        "estimate": lambda: pgettext("in a sentence", "estimate {number}", locale, **values),
        "proposal": lambda: pgettext("in a sentence", "proposal {number}", locale, **values),
        "billing_request": lambda: pgettext(
            "in a sentence", "the billing request “{name}”", locale, **values
        ),
        "credit_request": lambda: pgettext("in a sentence", "the credit request “{name}”", locale, **values),
        "plan": lambda: pgettext("in a sentence", "the plan “{name}”", locale, **values),
        "subscription": lambda: pgettext("in a sentence", "the subscription to “{name}”", locale, **values),
        "tax_rate": lambda: pgettext("in a sentence", "the tax rate “{name}”", locale, **values),
        "card": lambda: pgettext("in a sentence", "the card {name}", locale, **values),
    }
    message = messages.get(kind)
    return message() if message is not None else ""


def card_name(brand: Any, last4: Any) -> str:
    """'Visa •••• 4242' ('' when the details name no card)."""
    if not last4:
        return ""
    return f"{brand_label(str(brand or ''))} •••• {last4}".strip()


def amount_text(details: Mapping[str, Any], currency: str, locale: str) -> str:
    """The entry's amount as money ('' when it has none, or no currency to read it in)."""
    amount = details.get("amount_minor")
    code = details.get("currency") or currency
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(code, str) or not code:
        return ""
    try:
        return format_money(amount, code, locale)
    except Exception:  # an unknown currency code: better no amount than a wrong one
        return ""


def _variant(action: str, details: Mapping[str, Any]) -> str:
    """The key of the entry's sentences: an on/off switch has one sentence per side."""
    if action in ("client.auto_charge", "client.reminders"):
        return f"{action}:{'on' if details.get('enabled') else 'off'}"
    return action


def sentence(
    *,
    action: str,
    what: str,
    actor_name: str,
    client_name: str,
    details: Mapping[str, Any] | None,
    record: RecordName | None,
    locale: str,
) -> str:
    """One audit entry as a sentence in `locale`; `what` is the action's label, for the generic one."""
    details = details or {}
    record = record or RecordName()
    named = record_text(record, locale)
    method = details.get("method")
    values: dict[str, str] = {
        "actor": actor_name or translate(THE_PORTAL, locale),
        "client": client_name,
        "amount": amount_text(details, record.currency, locale),
        "method": translate(METHOD_LABELS[method], locale) if method in METHOD_LABELS else str(method or ""),
        "record": named,
        "invoice": named if record.kind == "invoice" else _invoice(record.invoice_number, locale),
        "reason": str(details.get("reason") or ""),
        "minutes": str(details.get("minutes") or ""),
        "to": str(details.get("to") or ""),
        "email": str(details.get("email") or ""),
        "from_number": str(details.get("from_number") or ""),
        "card": record.name
        if record.kind == "card"
        else card_name(details.get("brand"), details.get("last4")),
        "language": LABELS.get(str(details.get("to") or ""), ""),
        "ends": moment_text(details.get("ends_at"), locale, day_only=True),
    }
    if action in ("payment.refund", "payment.charge_saved_method", "payment.record_offline"):
        values["record"] = ""  # the payment itself is not named: its invoice is
    for template in SENTENCES.get(_variant(action, details), ()):
        fields = {name for _text, name, _spec, _conv in Formatter().parse(template) if name}
        if all(values.get(name) for name in fields):
            return translate(template, locale, **{name: values[name] for name in fields})
    if named:
        return translate(GENERIC_WITH_RECORD, locale, actor=values["actor"], what=what, record=named)
    return translate(GENERIC, locale, actor=values["actor"], what=what)


def moment_text(value: Any, locale: str, *, day_only: bool = False) -> str:
    """A date or moment stored as ISO text ('2026-12-03', '2026-12-03T14:05:00+00:00') for people
    ('' when `value` is not one)."""
    if not isinstance(value, str) or not ISO_MOMENT.match(value):
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if day_only or len(value) == len("2026-12-03"):
        return format_date(moment, locale)
    return format_datetime(moment, locale)


def _invoice(number: str, locale: str) -> str:
    return pgettext("in a sentence", "invoice {number}", locale, number=number) if number else ""

"""Status enums with explicit transition tables, and the other enums of the model with human labels."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import TypeVar

from portal.domain.errors import IllegalTransition
from portal.i18n import N_, _, get_locale, pgettext, translate

S = TypeVar("S", bound=StrEnum)


class InvoiceStatus(StrEnum):
    """Lifecycle of an invoice."""

    draft = "draft"
    open = "open"
    paid = "paid"
    deleted = "deleted"


class BillingRequestStatus(StrEnum):
    """Lifecycle of a billing request (expires 24 hours after sending)."""

    pending = "pending"
    paid = "paid"
    expired = "expired"
    deleted = "deleted"


class CreditRequestStatus(StrEnum):
    """Lifecycle of a credit request."""

    pending = "pending"
    paid = "paid"
    deleted = "deleted"


class QuoteStatus(StrEnum):
    """Lifecycle of an estimate or a proposal."""

    draft = "draft"
    sent = "sent"
    approved = "approved"
    declined = "declined"
    expired = "expired"
    converted = "converted"


class SubscriptionStatus(StrEnum):
    """Lifecycle of a subscription."""

    incomplete = "incomplete"
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    canceled = "canceled"


class PaymentStatus(StrEnum):
    """Lifecycle of a payment."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"
    refunded = "refunded"
    partially_refunded = "partially_refunded"


class Role(StrEnum):
    """What a user may see and do."""

    admin = "admin"
    staff = "staff"
    client = "client"


class PaymentSource(StrEnum):
    """Whether a payment came through the gateway or was recorded by staff."""

    online = "online"
    offline = "offline"


class PaymentMethodKind(StrEnum):
    """Kind of a saved payment method."""

    card = "card"
    bank_transfer = "bank_transfer"
    direct_debit = "direct_debit"


class OfflineMethod(StrEnum):
    """How an offline payment was made."""

    cash = "cash"
    bank_transfer = "bank_transfer"
    cheque = "cheque"
    direct_debit = "direct_debit"
    other = "other"


class BillingType(StrEnum):
    """Whether a billing request is paid once or recurs."""

    one_time = "one_time"
    recurring = "recurring"


class Interval(StrEnum):
    """Recurrence interval of a plan or subscription."""

    day = "day"
    week = "week"
    month = "month"
    year = "year"


class CreditReason(StrEnum):
    """Why a credit ledger entry exists (positive entries add credit, negative ones use it)."""

    overpayment = "overpayment"
    adjustment = "adjustment"
    applied_to_invoice = "applied_to_invoice"
    refund_to_credit = "refund_to_credit"
    payment_unmatched = "payment_unmatched"
    purchase = "purchase"  # a paid credit request
    refunded = "refunded"  # credit taken back because the payment that created it was refunded


class OutboxStatus(StrEnum):
    """Delivery state of a queued email."""

    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"  # written at send time, and nothing was left to say (the invoice paid meanwhile)


def _table(rows: Mapping[S, set[S]]) -> dict[S, frozenset[S]]:
    """Freeze a transition table."""
    return {state: frozenset(targets) for state, targets in rows.items()}


_I, _B, _C, _Q, _S, _P = (
    InvoiceStatus,
    BillingRequestStatus,
    CreditRequestStatus,
    QuoteStatus,
    SubscriptionStatus,
    PaymentStatus,
)

INVOICE_TRANSITIONS = _table(
    {
        _I.draft: {_I.open, _I.deleted},
        _I.open: {_I.paid, _I.deleted},
        _I.paid: {_I.open},  # a refund reopens it
        _I.deleted: set(),
    }
)
BILLING_REQUEST_TRANSITIONS = _table(
    {
        _B.pending: {_B.paid, _B.expired, _B.deleted},
        _B.expired: {_B.deleted},
        _B.paid: set(),
        _B.deleted: set(),
    }
)
CREDIT_REQUEST_TRANSITIONS = _table(
    {_C.pending: {_C.paid, _C.deleted}, _C.paid: set(), _C.deleted: set()},
)
QUOTE_TRANSITIONS = _table(
    {
        _Q.draft: {_Q.sent},
        _Q.sent: {_Q.approved, _Q.declined, _Q.expired},
        _Q.approved: {_Q.converted},
        _Q.declined: set(),
        _Q.expired: set(),
        _Q.converted: set(),
    }
)
SUBSCRIPTION_TRANSITIONS = _table(
    {
        _S.incomplete: {_S.trialing, _S.active, _S.canceled},
        _S.trialing: {_S.active, _S.past_due, _S.canceled},
        _S.active: {_S.past_due, _S.canceled},
        _S.past_due: {_S.active, _S.canceled},
        _S.canceled: set(),
    }
)
PAYMENT_TRANSITIONS = _table(
    {
        _P.pending: {_P.succeeded, _P.failed},
        _P.succeeded: {_P.partially_refunded, _P.refunded},
        _P.partially_refunded: {_P.partially_refunded, _P.refunded},
        _P.failed: set(),
        _P.refunded: set(),
    }
)

TRANSITIONS: dict[type[StrEnum], Mapping[StrEnum, frozenset[StrEnum]]] = {
    InvoiceStatus: INVOICE_TRANSITIONS,
    BillingRequestStatus: BILLING_REQUEST_TRANSITIONS,
    CreditRequestStatus: CREDIT_REQUEST_TRANSITIONS,
    QuoteStatus: QUOTE_TRANSITIONS,
    SubscriptionStatus: SUBSCRIPTION_TRANSITIONS,
    PaymentStatus: PAYMENT_TRANSITIONS,
}

_SUBJECTS: dict[type[StrEnum], str] = {
    InvoiceStatus: N_("invoice"),
    BillingRequestStatus: N_("billing request"),
    CreditRequestStatus: N_("credit request"),
    QuoteStatus: N_("quote"),
    SubscriptionStatus: N_("subscription"),
    PaymentStatus: N_("payment"),
}
SUBJECT_WORDS = (N_("estimate"), N_("proposal"))  # other `subject=` words callers pass to check_transition

VOID = "Void"
"""A voided invoice's status. Not `N_`: the bare word is the Void button's (French 'Annuler la facture');
the status is translated as `pgettext(VOID_CONTEXT, VOID)` ('Annulée') by `local_label`."""
VOID_CONTEXT = "invoice status"

# The English label of every enum value, marked for the catalog: show them with `local_label(value)`
# (or `_(label(value))` for anything but a void invoice).
LABELS: dict[str, str] = {
    "draft": N_("Draft"),
    "open": N_("Open"),
    "paid": N_("Paid"),
    "deleted": N_("Deleted"),
    "pending": N_("Pending"),
    "expired": N_("Expired"),
    "sent": N_("Sent"),
    "approved": N_("Approved"),
    "declined": N_("Declined"),
    "converted": N_("Converted"),
    "incomplete": N_("Incomplete"),
    "trialing": N_("Trialing"),
    "active": N_("Active"),
    "past_due": N_("Past due"),
    "canceled": N_("Canceled"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "refunded": N_("Refunded"),
    "partially_refunded": N_("Partially refunded"),
    "admin": N_("Admin"),
    "staff": N_("Staff"),
    "client": N_("Client"),
    "online": N_("Online"),
    "offline": N_("Offline"),
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "other": N_("Other"),
    "one_time": N_("One-time"),
    "recurring": N_("Recurring"),
    "day": N_("Day"),
    "week": N_("Week"),
    "month": N_("Month"),
    "year": N_("Year"),
    "overpayment": N_("Overpayment"),
    "adjustment": N_("Adjustment"),
    "applied_to_invoice": N_("Applied to invoice"),
    "refund_to_credit": N_("Refund to credit"),
    "payment_unmatched": N_("Unmatched payment"),
    "purchase": N_("Purchase"),
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "skipped": N_("Not needed"),  # an email written at send time that had nothing left to say
    "overdue": N_("Overdue"),  # shown for an open invoice past its due date
    "void": VOID,  # an invoice's display status for its stored `deleted` (translated with its context)
}
INVOICE_LABELS: dict[str, str] = {"deleted": VOID}
"""Where an invoice's word differs from the shared one: a voided invoice is "Void" (only billing and credit
requests are "Deleted", as in the help articles agencies follow)."""

# Card networks as the networks write them ('visa' -> 'Visa', 'jcb' -> 'JCB'); other methods by their names.
BRAND_LABELS: dict[str, str] = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "diners": "Diners Club",
    "diners_club": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
    "eftpos_au": "eftpos",
    "interac": "Interac",
    "maestro": "Maestro",
    "sepa_debit": "SEPA Direct Debit",
    "bacs_debit": "Bacs Direct Debit",
    "au_becs_debit": "BECS Direct Debit",
    "us_bank_account": "ACH Direct Debit",
}


def label(value: Enum | str) -> str:
    """English label of an enum value: 'Pending', 'Bank transfer', 'Past due', 'One-time'; an
    `InvoiceStatus.deleted` is 'Void' (use `invoice_label` for an invoice status held as a string).

    The labels are in the catalog: show one translated with `_(label(value))`, or use `local_label`."""
    raw = str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, InvoiceStatus) and raw in INVOICE_LABELS:
        return INVOICE_LABELS[raw]
    return LABELS.get(raw, raw.replace("_", " ").capitalize())


def local_label(value: Enum | str, locale: str | None = None) -> str:
    """The label of an enum value in `locale` (default: the current one); a void invoice is 'Annulée'."""
    english = label(value)
    if english == VOID and str(value.value if isinstance(value, Enum) else value) in ("void", "deleted"):
        return pgettext("invoice status", "Void", locale)
    return translate(english, locale or get_locale())


def invoice_display_status(status: str, *, overdue: bool = False) -> str:
    """The status an invoice shows: 'overdue' for an overdue open one, 'void' for a voided (stored
    `deleted`) one, else the stored status."""
    if status == InvoiceStatus.deleted:
        return "void"
    return "overdue" if overdue and status == InvoiceStatus.open else str(status)


def invoice_label(status: str, locale: str | None = None) -> str:
    """An invoice status held as a string, in `locale`: 'Void' for `deleted`, 'Overdue', 'Paid'..."""
    return local_label(invoice_display_status(status), locale)


def brand_label(brand: str) -> str:
    """A saved method's brand as the network writes it: 'Visa', 'Mastercard', 'American Express', 'JCB'
    ('' for none; an unknown one with its words capitalized)."""
    raw = (brand or "").strip().lower()
    if not raw or raw == "unknown":
        return ""
    return BRAND_LABELS.get(raw, raw.replace("_", " ").title())


def _coerce(current: S, new: S | str) -> S:
    """Return `new` as a member of `current`'s enum; a member of another enum is a TypeError."""
    kind = type(current)
    if kind not in TRANSITIONS:
        raise TypeError(f"{kind.__name__} has no transition table")
    if isinstance(new, Enum) and not isinstance(new, kind):
        raise TypeError(f"cannot compare {kind.__name__} with {type(new).__name__}")
    return kind(new)


def allowed_next(current: S) -> frozenset[S]:
    """The statuses `current` may change to."""
    return TRANSITIONS[type(current)][current]  # type: ignore[return-value]


def can_transition(current: S, new: S | str) -> bool:
    """True when the table allows `current` -> `new`."""
    return _coerce(current, new) in allowed_next(current)


def _article(word: str) -> str:
    """'A' or 'An' for the word that follows."""
    return "An" if word[:1].lower() in "aeiou" else "A"


def check_transition(current: S, new: S | str, *, subject: str | None = None) -> None:
    """Raise IllegalTransition unless the table allows `current` -> `new` (`subject` e.g. 'estimate')."""
    target = _coerce(current, new)
    if target in allowed_next(current):
        return
    noun = _(subject or _SUBJECTS[type(current)])
    if target == current:
        raise IllegalTransition(
            _("The {noun} is already {status}.", noun=noun, status=local_label(current).lower())
        )
    adjective, wanted = local_label(current).lower(), local_label(target).lower()
    if _article(label(current)) == "An":
        message = _(
            "An {adjective} {noun} cannot become {wanted}.", adjective=adjective, noun=noun, wanted=wanted
        )
    else:
        message = _(
            "A {adjective} {noun} cannot become {wanted}.", adjective=adjective, noun=noun, wanted=wanted
        )
    raise IllegalTransition(message)


def invoice_status_after(total_minor: int, allocated_minor: int, current: InvoiceStatus) -> InvoiceStatus:
    """Open or paid after money moves on an open or paid invoice; draft and deleted invoices raise."""
    if current in (InvoiceStatus.draft, InvoiceStatus.deleted):
        if current == InvoiceStatus.draft:
            raise IllegalTransition(_("Payments cannot be applied to a draft invoice."))
        raise IllegalTransition(_("Payments cannot be applied to a void invoice."))
    if allocated_minor < 0 or total_minor < 0 or allocated_minor > total_minor:
        raise ValueError(f"allocated {allocated_minor} does not fit an invoice total of {total_minor}")
    return InvoiceStatus.paid if allocated_minor == total_minor else InvoiceStatus.open


LIVE = (SubscriptionStatus.active, SubscriptionStatus.trialing, SubscriptionStatus.past_due)
"""Statuses in which a subscription still charges its card."""

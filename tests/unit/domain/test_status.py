"""Status transition tables, the generic check, and human labels."""

from __future__ import annotations

import itertools
from enum import StrEnum

import pytest

from portal.domain.errors import Conflict, IllegalTransition
from portal.domain.status import (
    TRANSITIONS,
    BillingRequestStatus,
    BillingType,
    CreditReason,
    CreditRequestStatus,
    InvoiceStatus,
    OfflineMethod,
    PaymentMethodKind,
    PaymentStatus,
    QuoteStatus,
    Role,
    SubscriptionStatus,
    allowed_next,
    can_transition,
    check_transition,
    invoice_status_after,
    label,
)

Inv, Bill, Cred, Quote, Sub, Pay = (
    InvoiceStatus,
    BillingRequestStatus,
    CreditRequestStatus,
    QuoteStatus,
    SubscriptionStatus,
    PaymentStatus,
)


@pytest.mark.parametrize("enum", list(TRANSITIONS))
def test_every_status_has_a_row_and_targets_stay_in_the_enum(enum: type[StrEnum]) -> None:
    table = TRANSITIONS[enum]
    assert set(table) == set(enum)
    for targets in table.values():
        assert all(isinstance(target, enum) for target in targets)


ALLOWED = [
    (Inv.draft, Inv.open),
    (Inv.draft, Inv.deleted),
    (Inv.open, Inv.paid),
    (Inv.open, Inv.deleted),
    (Inv.paid, Inv.open),
    (Bill.pending, Bill.paid),
    (Bill.pending, Bill.expired),
    (Bill.pending, Bill.deleted),
    (Bill.expired, Bill.deleted),
    (Cred.pending, Cred.paid),
    (Cred.pending, Cred.deleted),
    (Quote.draft, Quote.sent),
    (Quote.sent, Quote.approved),
    (Quote.sent, Quote.declined),
    (Quote.sent, Quote.expired),
    (Quote.approved, Quote.converted),
    (Sub.incomplete, Sub.active),
    (Sub.trialing, Sub.active),
    (Sub.active, Sub.past_due),
    (Sub.past_due, Sub.active),
    (Sub.active, Sub.canceled),
    (Pay.pending, Pay.succeeded),
    (Pay.pending, Pay.failed),
    (Pay.succeeded, Pay.partially_refunded),
    (Pay.succeeded, Pay.refunded),
    (Pay.partially_refunded, Pay.partially_refunded),
    (Pay.partially_refunded, Pay.refunded),
]

FORBIDDEN = [
    (Inv.deleted, Inv.open),
    (Inv.paid, Inv.draft),
    (Inv.draft, Inv.paid),
    (Bill.paid, Bill.expired),
    (Bill.expired, Bill.paid),  # an expired billing request cannot be paid: the client asks for a new one
    (Bill.deleted, Bill.pending),
    (Bill.paid, Bill.deleted),
    (Cred.paid, Cred.pending),
    (Quote.draft, Quote.approved),
    (Quote.declined, Quote.approved),
    (Quote.converted, Quote.draft),
    (Sub.canceled, Sub.active),
    (Pay.failed, Pay.succeeded),
    (Pay.refunded, Pay.succeeded),
    (Pay.pending, Pay.refunded),
]


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_allowed_transitions(current: StrEnum, new: StrEnum) -> None:
    assert can_transition(current, new)
    check_transition(current, new)


@pytest.mark.parametrize(("current", "new"), FORBIDDEN)
def test_forbidden_transitions(current: StrEnum, new: StrEnum) -> None:
    assert not can_transition(current, new)
    with pytest.raises(IllegalTransition):
        check_transition(current, new)


@pytest.mark.parametrize(
    "final",
    [
        Inv.deleted,
        Bill.paid,
        Bill.deleted,
        Cred.paid,
        Cred.deleted,
        Quote.declined,
        Quote.expired,
        Quote.converted,
        Sub.canceled,
    ],
)
def test_final_statuses_go_nowhere(final: StrEnum) -> None:
    assert allowed_next(final) == frozenset()


def test_check_and_can_agree_on_every_pair() -> None:
    for enum in TRANSITIONS:
        for current, new in itertools.product(enum, repeat=2):
            try:
                check_transition(current, new)
                raised = False
            except IllegalTransition:
                raised = True
            assert raised is not can_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        (Bill.paid, Bill.expired, "A paid billing request cannot become expired."),
        (Bill.expired, Bill.paid, "An expired billing request cannot become paid."),
        (Inv.deleted, Inv.open, "A void invoice cannot become open."),
        (Sub.past_due, Sub.trialing, "A past due subscription cannot become trialing."),
        (Pay.refunded, Pay.partially_refunded, "A refunded payment cannot become partially refunded."),
        (Inv.paid, Inv.paid, "The invoice is already paid."),
        (Bill.expired, Bill.expired, "The billing request is already expired."),
    ],
)
def test_illegal_transition_messages(current: StrEnum, new: StrEnum, message: str) -> None:
    with pytest.raises(IllegalTransition) as error:
        check_transition(current, new)
    assert error.value.message == message


def test_quote_messages_can_name_the_document() -> None:
    with pytest.raises(IllegalTransition, match=r"^A declined proposal cannot become approved\.$"):
        check_transition(Quote.declined, Quote.approved, subject="proposal")


def test_illegal_transition_is_a_conflict() -> None:
    assert issubclass(IllegalTransition, Conflict)


def test_new_status_may_be_its_stored_string() -> None:
    assert can_transition(Bill.pending, "paid")
    with pytest.raises(IllegalTransition):
        check_transition(Bill.paid, "expired")
    with pytest.raises(ValueError):
        check_transition(Bill.pending, "archived")


def test_statuses_of_different_kinds_cannot_be_mixed() -> None:
    with pytest.raises(TypeError):
        check_transition(Inv.open, Bill.paid)
    with pytest.raises(TypeError):
        can_transition(Role.admin, Role.staff)


def test_statuses_are_strings_for_storage() -> None:
    assert Inv.paid == "paid" and str(Pay.partially_refunded) == "partially_refunded"


@pytest.mark.parametrize(
    ("total", "allocated", "current", "expected"),
    [
        (10000, 10000, Inv.open, Inv.paid),
        (10000, 9999, Inv.open, Inv.open),
        (10000, 0, Inv.open, Inv.open),
        (10000, 5000, Inv.paid, Inv.open),  # a refund reopens a paid invoice
        (10000, 10000, Inv.paid, Inv.paid),
        (0, 0, Inv.open, Inv.paid),
    ],
)
def test_invoice_status_after_money_moves(
    total: int, allocated: int, current: InvoiceStatus, expected: InvoiceStatus
) -> None:
    result = invoice_status_after(total, allocated, current)
    assert result == expected
    assert result == current or can_transition(current, result)


@pytest.mark.parametrize(("current", "word"), [(Inv.draft, "draft"), (Inv.deleted, "void")])
def test_money_cannot_move_on_draft_or_deleted_invoices(current: InvoiceStatus, word: str) -> None:
    with pytest.raises(IllegalTransition, match=rf"^Payments cannot be applied to a {word} invoice\.$"):
        invoice_status_after(10000, 10000, current)


def test_over_allocation_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        invoice_status_after(10000, 10001, Inv.open)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Bill.pending, "Pending"),
        (Inv.paid, "Paid"),
        (Bill.expired, "Expired"),
        (Inv.deleted, "Void"),  # a voided invoice; billing and credit requests are "Deleted"
        (Bill.deleted, "Deleted"),
        (Cred.deleted, "Deleted"),
        (Sub.past_due, "Past due"),
        (Pay.partially_refunded, "Partially refunded"),
        (PaymentMethodKind.bank_transfer, "Bank transfer"),
        (OfflineMethod.cheque, "Cheque"),
        (OfflineMethod.direct_debit, "Direct debit"),
        (BillingType.one_time, "One-time"),
        (CreditReason.applied_to_invoice, "Applied to invoice"),
        (CreditReason.payment_unmatched, "Unmatched payment"),
        (Role.admin, "Admin"),
    ],
)
def test_labels_are_human(value: StrEnum, text: str) -> None:
    assert label(value) == text

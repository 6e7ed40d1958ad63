"""Allocation of payments over open invoices, and how much credit to apply."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.domain.allocation import AllocationPlan, OpenItem, allocate, credit_to_apply
from portal.domain.errors import InvalidInput

JAN, FEB, MAR = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)


def test_oldest_due_invoice_is_paid_first() -> None:
    items = [OpenItem(1, MAR, 5000), OpenItem(2, JAN, 3000), OpenItem(3, FEB, 4000)]
    plan = allocate(5000, items)
    assert plan.allocations == [(2, 3000), (3, 2000)]
    assert plan.remainder_minor == 0
    assert plan.allocated_minor == 5000


def test_overpayment_leaves_a_remainder_for_credit() -> None:
    plan = allocate(10000, [OpenItem(1, JAN, 3000), OpenItem(2, FEB, 4000)])
    assert plan.allocations == [(1, 3000), (2, 4000)]
    assert plan.remainder_minor == 3000


def test_payment_with_nothing_open_is_all_credit() -> None:
    assert allocate(2500, []) == AllocationPlan(allocations=[], remainder_minor=2500)


def test_items_with_nothing_due_are_skipped() -> None:
    plan = allocate(1000, [OpenItem(1, JAN, 0), OpenItem(2, FEB, 600)])
    assert plan.allocations == [(2, 600)]
    assert plan.remainder_minor == 400


def test_ties_on_due_date_go_by_issue_date_then_id() -> None:
    items = [
        OpenItem(5, JAN, 100, issued_at=date(2026, 1, 2)),
        OpenItem(4, JAN, 100),
        OpenItem(7, JAN, 100, issued_at=date(2026, 1, 1)),
        OpenItem(6, JAN, 100, issued_at=date(2026, 1, 2)),
    ]
    assert [item_id for item_id, _ in allocate(400, items).allocations] == [7, 5, 6, 4]


def test_partial_payment_of_the_oldest_invoice() -> None:
    plan = allocate(1234, [OpenItem(1, JAN, 3000), OpenItem(2, FEB, 4000)])
    assert plan.allocations == [(1, 1234)]
    assert plan.remainder_minor == 0


def test_target_invoice_only_is_paid_and_the_rest_is_credit() -> None:
    items = [OpenItem(1, JAN, 3000), OpenItem(2, FEB, 4000)]
    plan = allocate(5000, items, target_id=2)
    assert plan.allocations == [(2, 4000)]
    assert plan.remainder_minor == 1000


def test_target_invoice_partially_paid() -> None:
    plan = allocate(1500, [OpenItem(1, JAN, 3000), OpenItem(2, FEB, 4000)], target_id=2)
    assert plan.allocations == [(2, 1500)]
    assert plan.remainder_minor == 0


@pytest.mark.parametrize("target_id", [99, 1])
def test_target_that_is_not_open_is_refused(target_id: int) -> None:
    with pytest.raises(InvalidInput, match=r"^That invoice is not open for this client\.$"):
        allocate(1000, [OpenItem(1, JAN, 0), OpenItem(2, FEB, 4000)], target_id=target_id)


@pytest.mark.parametrize("amount", [0, -1, -5000])
def test_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(InvalidInput) as error:
        allocate(amount, [OpenItem(1, JAN, 3000)])
    assert (error.value.field, error.value.message) == ("amount", "The amount must be greater than zero.")


def test_negative_amount_due_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        allocate(1000, [OpenItem(1, JAN, -1)])


def test_the_same_item_twice_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        allocate(1000, [OpenItem(1, JAN, 100), OpenItem(1, FEB, 100)])


items_strategy = st.lists(
    st.builds(
        OpenItem,
        id=st.integers(min_value=1, max_value=10**6),
        due_date=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
        amount_due_minor=st.integers(min_value=0, max_value=10**7),
        issued_at=st.none() | st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    ),
    max_size=10,
    unique_by=lambda item: item.id,
)


@given(st.integers(min_value=1, max_value=10**8), items_strategy)
@settings(max_examples=200, deadline=None)
def test_allocation_conserves_money_and_respects_what_is_due(amount: int, items: list[OpenItem]) -> None:
    plan = allocate(amount, items)
    due = {item.id: item.amount_due_minor for item in items}
    assert plan.allocated_minor + plan.remainder_minor == amount
    assert plan.remainder_minor >= 0
    assert len({item_id for item_id, _ in plan.allocations}) == len(plan.allocations)
    for item_id, share in plan.allocations:
        assert 0 < share <= due[item_id]
    # a remainder exists only when everything due has been paid
    if plan.remainder_minor > 0:
        assert plan.allocated_minor == sum(due.values())


@given(st.integers(min_value=1, max_value=10**8), items_strategy)
@settings(max_examples=100, deadline=None)
def test_no_newer_invoice_is_paid_before_an_older_one_is_settled(amount: int, items: list[OpenItem]) -> None:
    plan = allocate(amount, items)
    paid = dict(plan.allocations)
    by_id = {item.id: item for item in items}
    for item_id, share in plan.allocations:
        if share < by_id[item_id].amount_due_minor:  # only the last allocation may be partial
            assert (item_id, share) == plan.allocations[-1]
    for older in items:
        for newer in items:
            if older.due_date < newer.due_date and newer.id in paid and older.amount_due_minor > 0:
                assert paid.get(older.id) == older.amount_due_minor


@given(st.integers(min_value=1, max_value=10**8), items_strategy, st.data())
@settings(max_examples=100, deadline=None)
def test_targeted_allocation_touches_only_the_target(
    amount: int, items: list[OpenItem], data: st.DataObject
) -> None:
    open_items = [item for item in items if item.amount_due_minor > 0]
    if not open_items:
        return
    target = data.draw(st.sampled_from(open_items))
    plan = allocate(amount, items, target_id=target.id)
    assert plan.allocations == [(target.id, min(amount, target.amount_due_minor))]
    assert plan.allocated_minor + plan.remainder_minor == amount


def test_allocation_order_does_not_depend_on_input_order() -> None:
    items = [OpenItem(i, JAN + timedelta(days=i % 3), 100 * i) for i in range(1, 8)]
    assert allocate(1500, items) == allocate(1500, list(reversed(items)))


# --- credit ------------------------------------------------------------------------------------------


def test_credit_defaults_to_the_smaller_of_balance_and_due() -> None:
    assert credit_to_apply(balance_minor=1250, amount_due_minor=3000, currency="USD") == 1250
    assert credit_to_apply(balance_minor=5000, amount_due_minor=3000, currency="USD") == 3000
    assert credit_to_apply(balance_minor=0, amount_due_minor=3000, currency="USD") == 0
    assert credit_to_apply(balance_minor=100, amount_due_minor=0, currency="USD") == 0


def test_requested_credit_is_used_as_asked() -> None:
    assert (
        credit_to_apply(balance_minor=5000, amount_due_minor=3000, currency="USD", requested_minor=1000)
        == 1000
    )


def _credit_error(**kwargs: object) -> str:
    with pytest.raises(InvalidInput) as error:
        credit_to_apply(**kwargs)  # type: ignore[arg-type]
    assert error.value.field == "amount"
    return error.value.message


def test_requesting_more_credit_than_the_balance_says_how_much_there_is() -> None:
    message = _credit_error(balance_minor=1250, amount_due_minor=9000, currency="USD", requested_minor=2000)
    assert message == "The client has only $12.50 of credit."


def test_requesting_more_than_is_due_says_how_much_is_due() -> None:
    message = _credit_error(balance_minor=9000, amount_due_minor=3000, currency="USD", requested_minor=5000)
    assert message == "Only $30.00 is still due on this invoice."


def test_credit_messages_use_the_currency_and_locale() -> None:
    message = _credit_error(balance_minor=1000, amount_due_minor=9000, currency="JPY", requested_minor=2000)
    assert message == "The client has only ¥1,000 of credit."
    message = _credit_error(
        balance_minor=9000, amount_due_minor=123450, currency="EUR", requested_minor=200000, locale="de"
    )
    assert message == "The client has only 90,00\u00a0€ of credit."


def test_no_credit_and_nothing_due_have_their_own_messages() -> None:
    assert _credit_error(balance_minor=0, amount_due_minor=100, currency="USD", requested_minor=1) == (
        "The client has no credit."
    )
    assert _credit_error(balance_minor=100, amount_due_minor=0, currency="USD", requested_minor=1) == (
        "Nothing is still due on this invoice."
    )


@pytest.mark.parametrize("requested", [0, -100])
def test_requested_credit_must_be_positive(requested: int) -> None:
    message = _credit_error(
        balance_minor=5000, amount_due_minor=3000, currency="USD", requested_minor=requested
    )
    assert message == "The amount of credit to apply must be greater than zero."


def test_negative_balance_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        credit_to_apply(balance_minor=-1, amount_due_minor=100, currency="USD")


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.none() | st.integers(min_value=-(10**9), max_value=10**9),
)
@settings(max_examples=200, deadline=None)
def test_credit_never_exceeds_balance_or_due(balance: int, due: int, requested: int | None) -> None:
    try:
        used = credit_to_apply(
            balance_minor=balance, amount_due_minor=due, currency="USD", requested_minor=requested
        )
    except InvalidInput:
        assert requested is not None and (requested <= 0 or requested > min(balance, due))
        return
    assert 0 <= used <= min(balance, due)
    if requested is None:
        assert used == min(balance, due)
    else:
        assert used == requested

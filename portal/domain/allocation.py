"""Allocation of a payment or credit to open invoices; what is left over becomes credit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from portal.domain.errors import InvalidInput
from portal.domain.money import format_money
from portal.i18n import N_, _, get_locale

NOT_OPEN_MESSAGE = N_("That invoice is not open for this client.")


@dataclass(frozen=True)
class OpenItem:
    """An invoice (or other item) with money still due; `issued_at` breaks ties on the due date."""

    id: int
    due_date: date
    amount_due_minor: int
    issued_at: date | None = None


@dataclass(frozen=True)
class AllocationPlan:
    """(item id, amount) pairs in payment order, and the remainder that becomes credit."""

    allocations: list[tuple[int, int]]
    remainder_minor: int

    @property
    def allocated_minor(self) -> int:
        """Total allocated to items."""
        return sum(amount for _, amount in self.allocations)


def _require_positive_int(amount_minor: int) -> None:
    """Raise InvalidInput unless the amount is a whole number of minor units above zero."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError(f"amount_minor must be an int, not {type(amount_minor).__name__}")
    if amount_minor <= 0:
        raise InvalidInput(_("The amount must be greater than zero."), field="amount")


def _check_items(items: Sequence[OpenItem]) -> None:
    """Programming errors: negative amounts due or the same item twice."""
    seen: set[int] = set()
    for item in items:
        if item.amount_due_minor < 0:
            raise ValueError(f"item {item.id} has a negative amount due: {item.amount_due_minor}")
        if item.id in seen:
            raise ValueError(f"item {item.id} appears twice")
        seen.add(item.id)


def _payment_order(item: OpenItem) -> tuple[date, bool, date, int]:
    """Oldest due date first, then earliest issue date (unknown last), then lowest id."""
    return (item.due_date, item.issued_at is None, item.issued_at or date.min, item.id)


def allocate(amount_minor: int, items: Sequence[OpenItem], *, target_id: int | None = None) -> AllocationPlan:
    """Spread a payment over open items, oldest due first, or over `target_id` only; the rest is remainder."""
    _require_positive_int(amount_minor)
    _check_items(items)
    if target_id is not None:
        items = [item for item in items if item.id == target_id and item.amount_due_minor > 0]
        if not items:
            raise InvalidInput(_(NOT_OPEN_MESSAGE), field="invoice")
    remaining = amount_minor
    allocations: list[tuple[int, int]] = []
    for item in sorted(items, key=_payment_order):
        if remaining == 0:
            break
        share = min(remaining, item.amount_due_minor)
        if share > 0:
            allocations.append((item.id, share))
            remaining -= share
    return AllocationPlan(allocations=allocations, remainder_minor=remaining)


def allocate_documents(
    amount_minor: int, items: Sequence[OpenItem], *, whole: frozenset[int]
) -> AllocationPlan:
    """Pay everything due at once: spread a payment over open items oldest due first, where the items in
    `whole` (credit requests, which buy their amount whole) are paid in full or passed over; the rest is
    remainder (credit)."""
    _require_positive_int(amount_minor)
    _check_items(items)
    remaining = amount_minor
    allocations: list[tuple[int, int]] = []
    for item in sorted(items, key=_payment_order):
        share = min(remaining, item.amount_due_minor)
        if share <= 0 or (item.id in whole and share < item.amount_due_minor):
            continue
        allocations.append((item.id, share))
        remaining -= share
    return AllocationPlan(allocations=allocations, remainder_minor=remaining)


def credit_to_apply(
    *,
    balance_minor: int,
    amount_due_minor: int,
    currency: str,
    requested_minor: int | None = None,
    locale: str | None = None,
) -> int:
    """How much credit to use on an invoice: min(balance, due) unless a valid amount is requested.

    Messages show amounts in `locale` (the current locale when None)."""
    if balance_minor < 0 or amount_due_minor < 0:
        raise ValueError("credit balance and amount due cannot be negative")
    if requested_minor is None:
        return min(balance_minor, amount_due_minor)
    if requested_minor <= 0:
        raise InvalidInput(_("The amount of credit to apply must be greater than zero."), field="amount")
    if requested_minor > balance_minor:
        if balance_minor == 0:
            raise InvalidInput(_("The client has no credit."), field="amount")
        shown = format_money(balance_minor, currency, locale or get_locale())
        raise InvalidInput(_("The client has only {amount} of credit.", amount=shown), field="amount")
    if requested_minor > amount_due_minor:
        if amount_due_minor == 0:
            raise InvalidInput(_("Nothing is still due on this invoice."), field="amount")
        shown = format_money(amount_due_minor, currency, locale or get_locale())
        raise InvalidInput(_("Only {amount} is still due on this invoice.", amount=shown), field="amount")
    return requested_minor

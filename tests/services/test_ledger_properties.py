"""The ledger invariants of DESIGN.md section 2 under random sequences of money operations (hypothesis).

A `RuleBasedStateMachine` drives the real services on the real database: create an invoice, record an
offline payment (partial, exact or over, to one invoice or oldest due first), use credit (all or part),
adjust credit (add, or remove within or beyond the balance), refund part or all of a payment, pay online
with the sandbox default card. After every step the invariants below are checked; a step that is refused
with `InvalidInput` or `Conflict` must be refused exactly when the rules say so, and must change nothing.

Tortoise is async and needs its connections on the test's event loop, while hypothesis' state machines are
synchronous: the machine runs in a worker thread (`asyncio.to_thread`, which copies the context holding
Tortoise's connections) and hands each coroutine to the test's loop with `run_coroutine_threadsafe`, then
waits for it. The `db` fixture is per test, not per example, so every example starts by deleting what the
previous one wrote (users, clients and the saved card stay).

Budget: 40 examples of up to 20 steps (about 10 s on SQLite).

Money conservation, worked out from `payments._allocate`, `payments._reverse` and `ledger.py`. Received
money (a payment that succeeded, possibly refunded since) goes to three places: allocations written with
its `payment_id`, credit entries written with its `payment_id` (the overpayment, and negative `refunded`
entries when a refund takes credit back), and, for a flagged payment that could not be placed (a billing
or credit request that was no longer pending, or no client), nowhere. A refund of `r` writes one `Refund`
row of `r`, takes back credit first (a negative entry carrying both the payment and the refund id), then
adds negative allocations with the `refund_id` on the invoices that payment paid. So for every settled
payment p:

    p.amount_minor == sum(Allocation.payment_id == p)
                    + sum(Allocation.refund_id in refunds of p)          (<= 0)
                    + sum(CreditEntry.payment_id == p)                    (overpayment - refunded credit)
                    + sum(Refund.payment_id == p)                         (== p.refunded_minor)
                    + unplaced(p)

Every payment in this machine is an invoice payment by a client, so `unplaced(p) == 0` and the equation
is asserted exactly, per payment and summed over all payments (the global form). Credit that is spent
moves from the credit ledger to an allocation through a pair of rows: each `applied_to_invoice` entry
of -x has one allocation of +x with its `credit_entry_id`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import defaultdict
from collections.abc import Awaitable
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from tortoise.models import Model

from portal.db import models
from portal.db.models import Allocation, CreditEntry, Invoice, Payment, Refund, SandboxObject
from portal.domain.errors import Conflict, InvalidInput
from portal.domain.status import CreditReason, InvoiceStatus, PaymentStatus
from portal.services import ledger, payments
from portal.services.clock import today
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox

T = TypeVar("T")
CURRENCY = "USD"
SETTLED = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)
# rows that survive from one example to the next: who acts, for whom, and the saved sandbox card
KEEP = {"User", "Client", "Organization", "TaxRate", "Plan", "PaymentMethod", "GatewayCustomer"}
KEEP_SANDBOX_KINDS = ("customer", "payment_method")


# -- the invariants (also used by test_concurrency.py) --------------------------------------------
async def check_ledger() -> None:
    """Assert every ledger invariant of DESIGN.md section 2 over the whole database."""
    invoices = await Invoice.all().values("id", "total_minor", "status")
    allocations = await Allocation.all().values(
        "id", "invoice_id", "amount_minor", "payment_id", "credit_entry_id", "refund_id"
    )
    credits = await CreditEntry.all().values(
        "id", "client_id", "currency", "amount_minor", "reason", "payment_id", "refund_id"
    )
    refunds = await Refund.all().values("id", "payment_id", "amount_minor")
    paid_in = await Payment.all().values("id", "amount_minor", "refunded_minor", "status")

    for row in allocations:
        sources = [row["payment_id"], row["credit_entry_id"], row["refund_id"]]
        assert sum(s is not None for s in sources) == 1, f"allocation without exactly one source: {row}"

    # 0 <= allocated <= total, and paid exactly when fully allocated
    allocated: dict[int, int] = defaultdict(int)
    for row in allocations:
        allocated[row["invoice_id"]] += row["amount_minor"]
    for inv in invoices:
        got = allocated[inv["id"]]
        assert 0 <= got <= inv["total_minor"], f"invoice {inv['id']}: allocated {got} of {inv['total_minor']}"
        if inv["status"] in (InvoiceStatus.open, InvoiceStatus.paid):
            fully = got == inv["total_minor"]
            assert (inv["status"] == InvoiceStatus.paid) == fully, (
                f"invoice {inv['id']} is {inv['status']} with {got} of {inv['total_minor']} allocated"
            )

    # credit never negative, per client and currency
    balance: dict[tuple[int, str], int] = defaultdict(int)
    for row in credits:
        balance[(row["client_id"], row["currency"])] += row["amount_minor"]
    assert all(v >= 0 for v in balance.values()), f"negative credit: {dict(balance)}"

    # credit spent on invoices == allocations funded by credit, pair by pair
    entries = {row["id"]: row for row in credits}
    spent = sum(-row["amount_minor"] for row in credits if row["reason"] == CreditReason.applied_to_invoice)
    funded = [row for row in allocations if row["credit_entry_id"] is not None]
    assert spent == sum(row["amount_minor"] for row in funded), "credit used != allocations from credit"
    for row in funded:
        entry = entries[row["credit_entry_id"]]
        assert (
            entry["reason"] == CreditReason.applied_to_invoice
            and entry["amount_minor"] == -row["amount_minor"]
        )

    # money conservation, per payment (see the module docstring)
    refund_of = {row["id"]: row["payment_id"] for row in refunds}
    to_invoices: dict[int, int] = defaultdict(int)
    per_invoice: dict[tuple[int, int], int] = defaultdict(int)
    for row in allocations:
        payer = row["payment_id"] or refund_of.get(row["refund_id"])
        if payer is not None:
            to_invoices[payer] += row["amount_minor"]
            per_invoice[(payer, row["invoice_id"])] += row["amount_minor"]
    to_credit: dict[int, int] = defaultdict(int)
    for row in credits:
        if row["payment_id"] is not None:
            to_credit[row["payment_id"]] += row["amount_minor"]
    refunded: dict[int, int] = defaultdict(int)
    for row in refunds:
        refunded[row["payment_id"]] += row["amount_minor"]
    for key, amount in per_invoice.items():
        assert amount >= 0, f"payment {key[0]} takes back more than it paid on invoice {key[1]}: {amount}"
    for p in paid_in:
        pid = p["id"]
        assert p["refunded_minor"] == refunded[pid], f"payment {pid}: refunded_minor != sum of its refunds"
        if p["status"] not in SETTLED:
            assert (to_invoices[pid], to_credit[pid], refunded[pid]) == (0, 0, 0), (
                f"unsettled {p} moved money"
            )
            continue
        assert to_credit[pid] >= 0, f"payment {pid}: more credit taken back than it created"
        placed = to_invoices[pid] + to_credit[pid] + refunded[pid]
        assert p["amount_minor"] == placed, (
            f"payment {pid} of {p['amount_minor']} is not conserved: {to_invoices[pid]} on invoices + "
            f"{to_credit[pid]} in credit + {refunded[pid]} refunded = {placed}"
        )
        expected_status = (
            PaymentStatus.succeeded
            if p["refunded_minor"] == 0
            else PaymentStatus.refunded
            if p["refunded_minor"] == p["amount_minor"]
            else PaymentStatus.partially_refunded
        )
        assert p["status"] == expected_status, f"payment {pid}: {p['status']} with {p['refunded_minor']} back"
    # the global form: received - refunded == on invoices (payments and reversals) + credit from payments
    received = sum(p["amount_minor"] for p in paid_in if p["status"] in SETTLED)
    assert received - sum(refunded.values()) == sum(to_invoices.values()) + sum(to_credit.values())


async def ledger_snapshot() -> tuple[Any, ...]:
    """Every money row, to compare before and after a refused step."""
    return (
        await Invoice.all().order_by("id").values_list("id", "status", "total_minor"),
        await Payment.all().order_by("id").values_list("id", "amount_minor", "refunded_minor", "status"),
        await Allocation.all().order_by("id").values_list("id", "invoice_id", "amount_minor"),
        await CreditEntry.all().order_by("id").values_list("id", "amount_minor"),
        await Refund.all().order_by("id").values_list("id", "amount_minor"),
    )


async def alice_balance(world: World) -> int:
    """Alice's credit in USD."""
    return (await ledger.credit_balances(actor=world.staff, client_id=world.alice_id)).get(CURRENCY, 0)


async def open_dues(world: World) -> dict[int, int]:
    """What is still due on each of Alice's open invoices."""
    summaries = await Invoice.filter(client_id=world.alice_id, status=InvoiceStatus.open)
    allocated = await Allocation.filter(invoice_id__in=[i.id for i in summaries]).values(
        "invoice_id", "amount_minor"
    )
    dues = {inv.id: inv.total_minor for inv in summaries}
    for row in allocated:
        dues[row["invoice_id"]] -= row["amount_minor"]
    return dues


def _deletion_order() -> list[type[Model]]:
    """Every table but the kept ones, children before the tables they point to."""
    found = [
        obj
        for obj in vars(models).values()
        if inspect.isclass(obj) and issubclass(obj, Model) and obj is not Model and obj.__name__ not in KEEP
    ]
    order: list[type[Model]] = []

    def visit(model: type[Model], path: tuple[type[Model], ...]) -> None:
        if model in order or model in path:
            return
        for other in found:  # whatever points at `model` goes first
            refs = {
                other._meta.fields_map[f].related_model
                for f in other._meta.fk_fields | other._meta.o2o_fields
            }
            if model in refs and other is not model:
                visit(other, (*path, model))
        order.append(model)

    for model in found:
        visit(model, ())
    return order


async def reset_ledger() -> None:
    """Start an example from no money rows at all (users, clients and the saved card stay)."""
    for model in _deletion_order():
        if model is SandboxObject:
            await SandboxObject.exclude(kind__in=KEEP_SANDBOX_KINDS).delete()
        else:
            await model.all().delete()


async def _awaited(step: Awaitable[T]) -> T:
    return await step


# -- the machine ----------------------------------------------------------------------------------
PERCENT = st.integers(min_value=1, max_value=120)  # of what is available; above 100 must be refused


class LedgerMachine(RuleBasedStateMachine):
    """Random money operations on Alice's USD account; `loop` and `world` are set by the test."""

    loop: ClassVar[asyncio.AbstractEventLoop]
    world: ClassVar[World]

    invoices = Bundle("invoices")
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.run(reset_ledger())

    def run(self, step: Awaitable[T]) -> T:
        """Run a coroutine or a query on the test's event loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(_awaited(step), self.loop).result(timeout=120)

    def refused(self, coro: Awaitable[T], error: type[Exception] | None) -> T | None:
        """Run a step; it must raise `error` exactly when one is given, and then change nothing."""
        before = self.run(ledger_snapshot())
        try:
            result = self.run(coro)
        except (InvalidInput, Conflict) as exc:
            assert error is not None, f"refused unexpectedly: {exc!r}"
            assert isinstance(exc, error), f"expected {error.__name__}, got {exc!r}"
            assert self.run(ledger_snapshot()) == before, "a refused step changed the ledger"
            return None
        assert error is None, f"expected {error.__name__ if error else ''}, but it went through: {result!r}"
        return result

    @rule(target=invoices, amount=st.integers(min_value=1, max_value=20_000), days=st.integers(0, 30))
    def create_invoice(self, amount: int, days: int) -> int:
        invoice_id = self.run(invoice_for(self.world, amount, days=days))
        invoice = self.run(Invoice.get(id=invoice_id))
        assert (invoice.status, invoice.total_minor, invoice.currency) == (
            InvoiceStatus.open,
            amount,
            CURRENCY,
        )
        return invoice_id

    @rule(
        target=payments,
        amount=st.one_of(st.just("exact"), st.integers(min_value=1, max_value=30_000)),
        invoice=st.one_of(st.none(), invoices),
        confirm_credit=st.booleans(),
    )
    def record_offline_payment(self, amount: int | str, invoice: int | None, confirm_credit: bool) -> Any:
        dues = self.run(open_dues(self.world))
        if invoice is not None and invoice not in dues:
            expected_error: type[Exception] | None = InvalidInput  # paid already: not open
            available = 0
        else:
            available = dues[invoice] if invoice is not None else sum(dues.values())
            expected_error = None
        amount = (available or 1) if amount == "exact" else int(amount)
        if expected_error is None and amount > available and not confirm_credit:
            expected_error = Conflict
        balance = self.run(alice_balance(self.world))
        result = self.refused(
            ledger.record_offline_payment(
                actor=self.world.staff,
                client_id=self.world.alice_id,
                amount_minor=amount,
                currency=CURRENCY,
                method="bank_transfer",
                received_on=today(),
                invoice_id=invoice,
                overpayment_to_credit=confirm_credit,
            ),
            expected_error,
        )
        if result is None:
            return multiple()
        placed = min(amount, available)
        assert sum(a for _, a in result.allocations) == placed
        assert all(inv in dues and (invoice is None or inv == invoice) for inv, _ in result.allocations)
        assert result.credit_minor == amount - placed
        assert self.run(alice_balance(self.world)) == balance + amount - placed
        return result.payment_id

    @rule(invoice=invoices, percent=st.one_of(st.none(), PERCENT))
    def pay_from_credit(self, invoice: int, percent: int | None) -> None:
        dues = self.run(open_dues(self.world))
        balance = self.run(alice_balance(self.world))
        due = dues.get(invoice, 0)
        requested = None if percent is None else max(1, min(balance, due) * percent // 100)
        if invoice not in dues:
            expected_error: type[Exception] | None = Conflict  # already paid
        elif requested is None:
            expected_error = Conflict if min(balance, due) == 0 else None
        else:
            expected_error = InvalidInput if requested > min(balance, due) else None
        used = self.refused(
            payments.pay_from_credit(actor=self.world.staff, invoice_id=invoice, amount_minor=requested),
            expected_error,
        )
        if used is not None:
            assert used == (requested if requested is not None else min(balance, due))
            assert self.run(alice_balance(self.world)) == balance - used
            assert self.run(open_dues(self.world)).get(invoice, 0) == due - used

    @rule(amount=st.integers(min_value=1, max_value=20_000))
    def add_credit(self, amount: int) -> None:
        balance = self.run(alice_balance(self.world))
        self.refused(
            ledger.adjust_credit(
                actor=self.world.staff,
                client_id=self.world.alice_id,
                amount_minor=amount,
                currency=CURRENCY,
                note="Goodwill",
            ),
            None,
        )
        assert self.run(alice_balance(self.world)) == balance + amount

    @rule(percent=PERCENT)
    def remove_credit(self, percent: int) -> None:
        balance = self.run(alice_balance(self.world))
        amount = max(1, balance * percent // 100)
        self.refused(
            ledger.adjust_credit(
                actor=self.world.staff,
                client_id=self.world.alice_id,
                amount_minor=-amount,
                currency=CURRENCY,
                note="Correction",
            ),
            Conflict if amount > balance else None,
        )

    @rule(payment=payments, portion=st.one_of(st.just("all"), PERCENT))
    def refund(self, payment: int, portion: str | int) -> None:
        row = self.run(Payment.get(id=payment))
        left = row.amount_minor - row.refunded_minor
        amount = left if portion == "all" else max(1, left * int(portion) // 100)
        if row.status not in (PaymentStatus.succeeded, PaymentStatus.partially_refunded):
            expected_error: type[Exception] | None = Conflict
        elif amount > left:
            expected_error = InvalidInput
        else:
            expected_error = None
        if amount <= 0:
            return  # a fully refunded payment asked for "all": nothing to ask for
        self.refused(
            payments.refund_payment(
                actor=self.world.staff, payment_id=payment, amount_minor=amount, gateway=sandbox()
            ),
            expected_error,
        )
        if expected_error is None:
            assert self.run(Payment.get(id=payment)).refunded_minor == row.refunded_minor + amount

    @rule(target=payments, invoice=invoices)
    def pay_online(self, invoice: int) -> Any:
        due = self.run(open_dues(self.world)).get(invoice)
        outcome = self.refused(
            payments.pay_with_saved_method(
                actor=self.world.alice, purpose="invoice", target_id=invoice, gateway=sandbox()
            ),
            Conflict if due is None else None,
        )
        if outcome is None:
            return multiple()
        assert outcome.status == "succeeded", outcome
        paid = self.run(Payment.get(id=outcome.payment_id))
        assert (paid.status, paid.amount_minor) == (PaymentStatus.succeeded, due)
        assert self.run(Invoice.get(id=invoice)).status == InvoiceStatus.paid
        return paid.id

    @invariant()
    def ledger_holds(self) -> None:
        self.run(check_ledger())


async def test_ledger_invariants_hold_under_random_operations(world: World) -> None:
    """40 random sequences of up to 20 steps; each ends with every invariant still true."""
    await add_card(world)
    machine = type("Ledger", (LedgerMachine,), {"loop": asyncio.get_running_loop(), "world": world})
    await asyncio.to_thread(
        run_state_machine_as_test,
        machine,
        settings=settings(
            max_examples=40,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

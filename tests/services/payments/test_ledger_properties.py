"""The ledger invariants of DESIGN.md section 2 under random sequences of money operations (hypothesis).

A `RuleBasedStateMachine` drives the real services on the real database: create an invoice, record an
offline payment (partial, exact or over, to one invoice or oldest due first), use credit (all or part),
adjust credit (add, or remove within or beyond the balance), refund part or all of a payment, pay online
with the sandbox default card, pay everything due at once (`pay_everything`). After every step the
invariants below are checked; a step that is refused with `InvalidInput` or `Conflict` must be refused
exactly when the rules say so, and must change nothing.

Tortoise is async and needs its connections on the test's event loop, while hypothesis' state machines are
synchronous: the machine runs in a worker thread (`asyncio.to_thread`, which copies the context holding
Tortoise's connections) and hands each coroutine to the test's loop with `run_coroutine_threadsafe`, then
waits for it. The `db` fixture is per test, not per example, so every example starts by deleting what the
previous one wrote (users, clients and the saved card stay).

Budget: 60 examples of up to 20 steps (about 8 s on SQLite, 15 s on PostgreSQL).

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
is asserted exactly, per payment and summed over the settled payments (the global form:
received - refunded == allocations with a payment or refund id + credit entries with a payment id).
Pending and failed payments move nothing. `needs_review` does not mark unplaced money: an online payment
for an invoice that was paid meanwhile is flagged too, and its money is in credit. Credit that is spent
moves from the credit ledger to an allocation through a pair of rows: each `applied_to_invoice` entry
of -x has one allocation of +x with its `credit_entry_id`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tortoise.models import Model

from portal.billing import statements
from portal.core.clock import today
from portal.db import models
from portal.db.models import Allocation, CreditEntry, Invoice, Payment, Refund, SandboxObject
from portal.domain.errors import Conflict, InvalidInput
from portal.domain.status import CreditReason, InvoiceStatus, PaymentStatus
from portal.payments import charges, credit_payments, ledger, pay_all
from portal.payments import refunds as refunds_module
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox

T = TypeVar("T")
CURRENCY = "USD"
SETTLED = (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded)
# rows that survive from one example to the next: who acts, for whom, and the saved sandbox card
KEEP = {"User", "Client", "Organization", "TaxRate", "Plan", "PaymentMethod", "GatewayCustomer"}
KEEP_SANDBOX_KINDS = ("customer", "payment_method")


# -- the invariants (also used by test_concurrency.py) --------------------------------------------
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Ledger:
    """Every money row in the database, in id order."""

    invoices: Rows
    payments: Rows
    allocations: Rows
    credits: Rows
    refunds: Rows

    def balance(self, client_id: int, currency: str = CURRENCY) -> int:
        """A client's credit in one currency."""
        return sum(
            r["amount_minor"]
            for r in self.credits
            if (r["client_id"], r["currency"]) == (client_id, currency)
        )

    def dues(self, client_id: int) -> dict[int, int]:
        """What is still due on each open invoice of a client."""
        dues = {
            r["id"]: r["total_minor"]
            for r in self.invoices
            if r["client_id"] == client_id and r["status"] == InvoiceStatus.open
        }
        for row in self.allocations:
            if row["invoice_id"] in dues:
                dues[row["invoice_id"]] -= row["amount_minor"]
        return dues

    def payment(self, payment_id: int) -> dict[str, Any]:
        return next(r for r in self.payments if r["id"] == payment_id)

    def reversible(self, payment_id: int, client_id: int) -> int:
        """What a refund of a payment can take back: its unspent credit plus its money still on invoices."""
        created = sum(r["amount_minor"] for r in self.credits if r["payment_id"] == payment_id)
        credit = max(0, min(created, self.balance(client_id)))
        refund_ids = {r["id"] for r in self.refunds if r["payment_id"] == payment_id}
        placed = sum(
            r["amount_minor"]
            for r in self.allocations
            if r["payment_id"] == payment_id or r["refund_id"] in refund_ids
        )
        return credit + placed


async def read_ledger() -> Ledger:
    """Read every money row."""
    return Ledger(
        invoices=await Invoice.all().order_by("id").values("id", "client_id", "total_minor", "status"),
        payments=await Payment.all()
        .order_by("id")
        .values("id", "amount_minor", "refunded_minor", "status", "currency"),
        allocations=await Allocation.all()
        .order_by("id")
        .values("id", "invoice_id", "amount_minor", "payment_id", "credit_entry_id", "refund_id"),
        credits=await CreditEntry.all()
        .order_by("id")
        .values("id", "client_id", "currency", "amount_minor", "reason", "payment_id", "refund_id"),
        refunds=await Refund.all().order_by("id").values("id", "payment_id", "amount_minor"),
    )


async def check_ledger() -> Ledger:
    """Assert every ledger invariant of DESIGN.md section 2 over the whole database; return the rows."""
    state = await read_ledger()
    assert_invariants(state)
    return state


def assert_invariants(state: Ledger) -> None:
    """The invariants, on rows already read."""
    for row in state.allocations:
        sources = [row["payment_id"], row["credit_entry_id"], row["refund_id"]]
        assert sum(s is not None for s in sources) == 1, f"allocation without exactly one source: {row}"

    # 0 <= allocated <= total, and paid exactly when fully allocated
    allocated: dict[int, int] = defaultdict(int)
    for row in state.allocations:
        allocated[row["invoice_id"]] += row["amount_minor"]
    for inv in state.invoices:
        got, total = allocated[inv["id"]], inv["total_minor"]
        assert 0 <= got <= total, f"invoice {inv['id']}: allocated {got} of {total}"
        if inv["status"] in (InvoiceStatus.open, InvoiceStatus.paid):
            assert (inv["status"] == InvoiceStatus.paid) == (got == total), (
                f"invoice {inv['id']} is {inv['status']} with {got} of {total} allocated"
            )

    # credit never negative, per client and currency
    balance: dict[tuple[int, str], int] = defaultdict(int)
    for row in state.credits:
        balance[(row["client_id"], row["currency"])] += row["amount_minor"]
    assert all(v >= 0 for v in balance.values()), f"negative credit: {dict(balance)}"

    # credit spent on invoices == allocations funded by credit, pair by pair
    entries = {row["id"]: row for row in state.credits}
    spent = [row for row in state.credits if row["reason"] == CreditReason.applied_to_invoice]
    funded = [row for row in state.allocations if row["credit_entry_id"] is not None]
    assert sum(-row["amount_minor"] for row in spent) == sum(row["amount_minor"] for row in funded), (
        "credit used on invoices != allocations from credit"
    )
    for row in funded:
        entry = entries[row["credit_entry_id"]]
        assert entry["reason"] == CreditReason.applied_to_invoice, f"{row} funded by {entry}"
        assert entry["amount_minor"] == -row["amount_minor"], f"{row} funded by {entry}"

    # money conservation, per payment (see the module docstring)
    refund_of = {row["id"]: row["payment_id"] for row in state.refunds}
    to_invoices: dict[int, int] = defaultdict(int)
    per_invoice: dict[tuple[int, int], int] = defaultdict(int)
    for row in state.allocations:
        payer = row["payment_id"] or refund_of.get(row["refund_id"])
        if payer is not None:
            to_invoices[payer] += row["amount_minor"]
            per_invoice[(payer, row["invoice_id"])] += row["amount_minor"]
    to_credit: dict[int, int] = defaultdict(int)
    for row in state.credits:
        if row["payment_id"] is not None:
            to_credit[row["payment_id"]] += row["amount_minor"]
    refunded: dict[int, int] = defaultdict(int)
    for row in state.refunds:
        refunded[row["payment_id"]] += row["amount_minor"]
    for (pid, invoice_id), amount in per_invoice.items():
        assert amount >= 0, f"payment {pid} takes back more than it paid on invoice {invoice_id}: {amount}"
    for p in state.payments:
        pid = p["id"]
        assert p["refunded_minor"] == refunded[pid], f"payment {pid}: refunded_minor != sum of its refunds"
        if p["status"] not in SETTLED:
            moved = (to_invoices[pid], to_credit[pid], refunded[pid])
            assert moved == (0, 0, 0), f"{p['status']} payment {pid} moved money: {moved}"
            continue
        assert to_credit[pid] >= 0, f"payment {pid}: more credit taken back than it created"
        placed = to_invoices[pid] + to_credit[pid] + refunded[pid]
        assert p["amount_minor"] == placed, (
            f"payment {pid} of {p['amount_minor']} is not conserved: {to_invoices[pid]} on invoices + "
            f"{to_credit[pid]} in credit + {refunded[pid]} refunded = {placed}"
        )
        back = p["refunded_minor"]
        expected_status = (
            PaymentStatus.succeeded
            if back == 0
            else PaymentStatus.refunded
            if back == p["amount_minor"]
            else PaymentStatus.partially_refunded
        )
        assert p["status"] == expected_status, f"payment {pid} is {p['status']} with {back} refunded"
    # the global form: received - refunded == on invoices (payments and reversals) + credit from payments
    received = sum(p["amount_minor"] for p in state.payments if p["status"] in SETTLED)
    assert received - sum(refunded.values()) == sum(to_invoices.values()) + sum(to_credit.values())


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
            meta = other._meta
            refs = {meta.fields_map[f].related_model for f in meta.fk_fields | meta.o2o_fields}
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
AMOUNT = st.integers(min_value=1, max_value=20_000)
PERCENT = st.integers(min_value=1, max_value=120)  # of what is available; above 100 must be refused
FIRST_OPEN, LAST_OPEN = "first open", "last open"  # an open invoice, chosen when the step runs
OPEN_PICKS = st.sampled_from([FIRST_OPEN, LAST_OPEN])
Expected = type[Exception] | None


class LedgerMachine(RuleBasedStateMachine):
    """Random money operations on Alice's USD account; `loop` and `world` are set by the test.

    `self.state` holds the rows as they are after the last step, already checked by `assert_invariants`:
    every rule runs exactly one service call through `step`, which reads and checks the ledger again.
    """

    loop: ClassVar[asyncio.AbstractEventLoop]
    world: ClassVar[World]

    invoices = Bundle("invoices")
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.run(reset_ledger())
        self.state = self.run(check_ledger())

    def run(self, step: Awaitable[T]) -> T:
        """Run a coroutine or a query on the test's event loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(_awaited(step), self.loop).result(timeout=120)

    def step(self, call: Awaitable[T], error: Expected) -> T | None:
        """Run one service call: it must raise `error` exactly when one is given, and then change nothing.

        Whatever happens, the ledger is read and every invariant checked before the next step.
        """
        try:
            result = self.run(call)
        except (InvalidInput, Conflict) as exc:
            assert error is not None, f"refused unexpectedly: {exc!r}"
            assert isinstance(exc, error), f"expected {error.__name__}, got {exc!r}"
            assert self.run(check_ledger()) == self.state, "a refused step changed the ledger"
            return None
        self.state = self.run(check_ledger())
        assert error is None, f"expected {error.__name__ if error else ''}, but it went through: {result!r}"
        return result

    @property
    def credit(self) -> int:
        return self.state.balance(self.world.alice_id)

    @property
    def dues(self) -> dict[int, int]:
        return self.state.dues(self.world.alice_id)

    def resolve(self, invoice: int | str | None) -> int | None:
        """An invoice id from the bundle as is; 'first open' / 'last open' picked now (None if none)."""
        if not isinstance(invoice, str):
            return invoice
        if not self.dues:
            return None
        return min(self.dues) if invoice == FIRST_OPEN else max(self.dues)

    @initialize(target=invoices, amount=AMOUNT, days=st.integers(0, 30))
    def first_invoice(self, amount: int, days: int) -> int:
        return self.create_invoice(amount, days)

    @rule(target=invoices, amount=AMOUNT, days=st.integers(0, 30))
    def create_invoice(self, amount: int, days: int) -> int:
        invoice_id = self.step(invoice_for(self.world, amount, days=days), None)
        assert invoice_id is not None
        invoice = next(r for r in self.state.invoices if r["id"] == invoice_id)
        assert (invoice["status"], invoice["total_minor"]) == (InvoiceStatus.open, amount)
        assert self.dues[invoice_id] == amount
        return invoice_id

    @rule(
        target=payments,
        amount=st.one_of(st.just("exact"), st.integers(min_value=1, max_value=30_000)),
        invoice=st.one_of(st.none(), st.just(FIRST_OPEN), invoices),
        confirm_credit=st.booleans(),
    )
    def record_offline_payment(
        self, amount: int | str, invoice: int | str | None, confirm_credit: bool
    ) -> Any:
        dues, balance = self.dues, self.credit
        target = self.resolve(invoice)
        if target is not None and target not in dues:
            error: Expected = InvalidInput  # paid already: not open
            available = 0
        else:
            available = dues[target] if target is not None else sum(dues.values())
            error = None
        amount = (available or 1) if amount == "exact" else int(amount)
        if error is None and amount > available and not confirm_credit:
            error = Conflict  # more than is due, and nobody confirmed that the rest becomes credit
        result = self.step(
            ledger.record_offline_payment(
                actor=self.world.staff,
                client_id=self.world.alice_id,
                amount_minor=amount,
                currency=CURRENCY,
                method="bank_transfer",
                received_on=today(),
                invoice_id=target,
                overpayment_to_credit=confirm_credit,
            ),
            error,
        )
        if result is None:
            return multiple()
        placed = min(amount, available)
        assert sum(a for _, a in result.allocations) == placed
        assert all(inv in dues and target in (None, inv) for inv, _ in result.allocations)
        assert result.credit_minor == amount - placed
        assert self.credit == balance + amount - placed
        return result.payment_id

    @precondition(lambda self: self.credit > 0 and self.dues)
    @rule(invoice=st.one_of(OPEN_PICKS, invoices), percent=st.one_of(st.none(), PERCENT))
    def pay_from_credit(self, invoice: int | str, percent: int | None) -> None:
        dues, balance = self.dues, self.credit
        target = self.resolve(invoice)
        assert target is not None
        usable = min(balance, dues.get(target, 0))
        requested = None if percent is None else max(1, usable * percent // 100)
        if target not in dues:
            error: Expected = Conflict  # already paid
        elif requested is None:
            error = Conflict if usable == 0 else None
        else:
            error = InvalidInput if requested > usable else None
        used = self.step(
            credit_payments.pay_from_credit(
                actor=self.world.staff, invoice_id=target, amount_minor=requested
            ),
            error,
        )
        if used is not None:
            assert used == (usable if requested is None else requested)
            assert self.credit == balance - used
            assert self.dues.get(target, 0) == dues[target] - used

    @rule(amount=AMOUNT)
    def grant_credit(self, amount: int) -> None:
        balance = self.credit
        self.step(
            ledger.adjust_credit(
                actor=self.world.staff,
                client_id=self.world.alice_id,
                amount_minor=amount,
                currency=CURRENCY,
                note="Goodwill",
            ),
            None,
        )
        assert self.credit == balance + amount

    @precondition(lambda self: self.credit > 0)
    @rule(percent=PERCENT)
    def remove_credit(self, percent: int) -> None:
        balance = self.credit
        amount = max(1, balance * percent // 100)
        self.step(
            ledger.adjust_credit(
                actor=self.world.staff,
                client_id=self.world.alice_id,
                amount_minor=-amount,
                currency=CURRENCY,
                note="Correction",
            ),
            Conflict if amount > balance else None,
        )
        assert self.credit == (balance if amount > balance else balance - amount)

    @rule(payment=payments, portion=st.one_of(st.just("all"), PERCENT))
    def refund(self, payment: int, portion: str | int) -> None:
        row = self.state.payment(payment)
        left = row["amount_minor"] - row["refunded_minor"]
        amount = left if portion == "all" else max(1, left * int(portion) // 100)
        if amount <= 0:
            return  # "all" of a fully refunded payment: there is nothing to ask for
        if row["status"] not in (PaymentStatus.succeeded, PaymentStatus.partially_refunded):
            error: Expected = Conflict
        else:
            # a refund takes back only what it can: credit still unspent and money still on invoices
            reversible = self.state.reversible(payment, self.world.alice_id)
            error = InvalidInput if amount > left or amount > reversible else None
        self.step(
            refunds_module.refund_payment(
                actor=self.world.staff, payment_id=payment, amount_minor=amount, gateway=sandbox()
            ),
            error,
        )
        if error is None:
            assert self.state.payment(payment)["refunded_minor"] == row["refunded_minor"] + amount

    @precondition(lambda self: self.dues)
    @rule(target=payments, invoice=st.one_of(OPEN_PICKS, invoices))
    def pay_online(self, invoice: int | str) -> Any:
        target = self.resolve(invoice)
        assert target is not None
        due = self.dues.get(target)
        outcome = self.step(
            charges.pay_with_saved_method(
                actor=self.world.alice, purpose="invoice", target_id=target, gateway=sandbox()
            ),
            Conflict if due is None else None,  # already paid
        )
        if outcome is None:
            return multiple()
        assert outcome.status == "succeeded", outcome
        paid = self.state.payment(outcome.payment_id)
        assert (paid["status"], paid["amount_minor"]) == (PaymentStatus.succeeded, due)
        assert target not in self.dues
        return paid["id"]

    @precondition(lambda self: self.dues)
    @rule(target=payments, shown_stale=st.booleans())
    def pay_everything(self, shown_stale: bool) -> Any:
        """Pay everything due at once with the saved card (payments.pay_all): oldest due first, one payment;
        a figure that is no longer what is due (`shown_stale`) is refused and charges nothing."""
        dues = self.dues
        total = sum(dues.values())
        outcome = self.step(
            pay_all.pay_with_saved_method(
                actor=self.world.alice,
                currency=CURRENCY,
                expected_minor=total + 1 if shown_stale else total,
                gateway=sandbox(),
            ),
            Conflict if shown_stale else None,
        )
        if outcome is None:
            return multiple()
        assert outcome.status == "succeeded", outcome
        paid = self.state.payment(outcome.payment_id)
        assert (paid["status"], paid["amount_minor"]) == (PaymentStatus.succeeded, total)
        assert not self.dues
        return paid["id"]

    @rule()
    def statement_closes_on_the_ledger(self) -> None:
        """The statement of the whole period closes on what the ledger says is owed minus credit; its open
        invoices are the ledger's amounts due and its credit the credit ledger."""
        statement = self.run(
            statements.build_statement(
                actor=self.world.staff, client_id=self.world.alice_id, start=statements.EARLIEST, end=today()
            )
        )
        owed, credit = sum(self.dues.values()), self.credit
        assert statement.closing.get(CURRENCY, 0) == owed - credit, (statement.closing, owed, credit)
        for block in statement.blocks:
            assert (block.currency, block.opening_minor) == (CURRENCY, 0)
            assert (block.open_minor, block.credit_at_end_minor) == (owed, credit)
            assert block.open_minor - block.unapplied_minor == block.closing_minor


async def test_ledger_invariants_hold_under_random_operations(world: World) -> None:
    """60 random sequences of up to 20 steps; after each step every invariant still holds."""
    await add_card(world)
    machine = type("Ledger", (LedgerMachine,), {"loop": asyncio.get_running_loop(), "world": world})
    await asyncio.to_thread(
        run_state_machine_as_test,
        machine,
        settings=settings(
            max_examples=60,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


async def test_refunding_a_payment_whose_credit_was_spent_does_not_create_money(world: World) -> None:
    """The shortest sequence the machine finds, written out: pay 1000 with nothing due (all credit), use the
    credit on an invoice, refund the payment. The refund can take back neither the credit nor the invoice
    allocation that credit paid, so it must be refused or must reopen the invoice; either way the ledger
    must stay conserved.
    """
    paid = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=1000,
        currency=CURRENCY,
        method="cash",
        received_on=today(),
        overpayment_to_credit=True,
    )
    invoice_id = await invoice_for(world, 1000, days=5)
    assert await credit_payments.pay_from_credit(actor=world.staff, invoice_id=invoice_id) == 1000
    try:
        await refunds_module.refund_payment(actor=world.staff, payment_id=paid.payment_id, amount_minor=1000)
    except (Conflict, InvalidInput):
        pass  # refusing is a correct answer
    await check_ledger()

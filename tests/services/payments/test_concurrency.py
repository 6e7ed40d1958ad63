"""Races that must stay exactly-once: several requests for the same money at the same moment.

`asyncio.gather` of service calls is real concurrency on PostgreSQL (Tortoise keeps a pool, each task's
transaction has its own connection); on SQLite the transactions take turns, and the answers must be the
same. Every call must end in a result or a domain error a page can show (`Conflict`, `InvalidInput`), never
in a database error such as a deadlock or a unique violation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from portal.billing import billing_requests
from portal.core.clock import now_utc, today
from portal.db.models import (
    Allocation,
    BillingRequest,
    CreditEntry,
    Invoice,
    NumberSequence,
    Payment,
    Refund,
    SandboxObject,
)
from portal.domain.errors import Conflict, InvalidInput
from portal.domain.status import BillingRequestStatus, InvoiceStatus, PaymentStatus
from portal.payments import charges, credit_payments, ledger
from portal.payments import refunds as refunds_module
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox
from tests.services.payments.test_ledger_properties import check_ledger

T = TypeVar("T")


async def outcome(call: Awaitable[T]) -> T | str | BaseException:
    """The call's result, the name of the domain error it raised, or any other exception it raised."""
    try:
        return await call
    except (Conflict, InvalidInput) as exc:
        return type(exc).__name__
    except Exception as exc:  # reported by `failures`, after the ledger has been checked
        return exc


def failures(results: list) -> list[BaseException]:
    """Exceptions that are not domain errors (a deadlock, a unique violation...)."""
    return [r for r in results if isinstance(r, BaseException)]


async def credit(world: World) -> int:
    return (await ledger.credit_balances(actor=world.staff, client_id=world.alice_id)).get("USD", 0)


async def test_five_concurrent_pay_now_clicks_charge_once(world: World) -> None:
    await add_card(world)
    invoice_id = await invoice_for(world, 4321)

    click = charges.pay_with_saved_method
    results = await asyncio.gather(
        *(
            outcome(click(actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()))
            for _ in range(5)
        )
    )
    assert await Payment.filter(status=PaymentStatus.succeeded).count() == 1
    assert await Payment.all().count() == 1
    assert await SandboxObject.filter(kind="payment_intent").count() == 1
    assert sum(await Allocation.filter(invoice_id=invoice_id).values_list("amount_minor", flat=True)) == 4321
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    await check_ledger()
    assert not failures(results), results
    statuses = sorted(r if isinstance(r, str) else r.status for r in results)
    assert statuses == ["Conflict"] * 4 + ["succeeded"], results


async def test_the_same_offline_payment_submitted_five_times_at_once_is_recorded_once(world: World) -> None:
    invoice_id = await invoice_for(world, 10_000)

    async def submit() -> ledger.PaymentResult:
        return await ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=2500,
            currency="USD",
            method="bank_transfer",
            received_on=today(),
            reference="TRX-1",
            idempotency_key="record-payment-dialog-7",
        )

    results = await asyncio.gather(*(outcome(submit()) for _ in range(5)))
    assert await Payment.all().count() == 1
    assert sum(await Allocation.filter(invoice_id=invoice_id).values_list("amount_minor", flat=True)) == 2500
    await check_ledger()
    # and every submitter is told about that one payment (a page cannot show a database error)
    errors = failures(results)
    assert not errors, f"a duplicate submission failed instead of returning the first payment: {errors!r}"
    assert [r.duplicate for r in results].count(False) == 1, results
    assert len({r.payment_id for r in results}) == 1, results


async def test_two_invoices_competing_for_the_same_credit_never_overdraw_it(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=1000, currency="USD", note="Prepaid"
    )
    first, second = await invoice_for(world, 800), await invoice_for(world, 800)
    calls = [
        credit_payments.pay_from_credit(actor=world.staff, invoice_id=invoice_id)
        for invoice_id in (first, second, first, second, first, second)
    ]
    results = await asyncio.gather(*(outcome(call) for call in calls))
    await check_ledger()
    used = [r for r in results if isinstance(r, int)]
    assert sum(used) <= 1000, results  # never more than there is
    assert not failures(results), results
    assert all(isinstance(r, int) or r == "Conflict" for r in results), results
    assert sum(used) == 1000, results  # and all of it, since 1600 was due
    assert await credit(world) == 0
    spent = await CreditEntry.filter(reason="applied_to_invoice").values_list("amount_minor", flat=True)
    assert sorted(spent) == [-800, -200]


async def test_overpayments_and_uses_of_credit_at_once_keep_the_ledger_whole(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=5000, currency="USD", note="Prepaid"
    )
    invoice_ids = [await invoice_for(world, 3000, days=d) for d in (1, 2, 3)]
    overpayments = [
        ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=4000,
            currency="USD",
            method="cash",
            received_on=today(),
            overpayment_to_credit=True,
        )
        for _ in range(3)
    ]
    uses = [credit_payments.pay_from_credit(actor=world.staff, invoice_id=i) for i in invoice_ids * 2]
    results = await asyncio.gather(*(outcome(call) for call in [*overpayments, *uses]))
    await check_ledger()
    assert not failures(results), results
    assert all(isinstance(r, ledger.PaymentResult) for r in results[:3]), results
    assert all(isinstance(r, int) or r == "Conflict" for r in results[3:]), results
    # 5000 credit + 12000 received, 9000 due: whatever the order, everything is paid and 8000 is left
    assert {i.status for i in await Invoice.filter(id__in=invoice_ids)} == {InvoiceStatus.paid}
    assert await credit(world) == 8000


async def test_ten_invoices_created_at_once_get_gapless_unique_numbers(world: World) -> None:
    ids = await asyncio.gather(*(outcome(invoice_for(world, 100 + n)) for n in range(10)))
    assert not failures(ids), ids
    numbers = sorted(await Invoice.filter(id__in=ids).values_list("number", flat=True))
    year = today().year
    assert numbers == [f"INV-{year}-{n:04d}" for n in range(1, 11)]
    assert (await NumberSequence.get(name=f"invoice:{year}")).next_value == 11


async def test_five_expiry_jobs_at_once_expire_each_request_exactly_once(world: World) -> None:
    for n in range(20):
        await billing_requests.create_billing_request(
            actor=world.staff,
            client_id=world.alice_id,
            email="alice@x.test",
            currency="USD",
            amount_minor=1000 + n,
            success_url="https://example.test/ok",
            cancel_url="https://example.test/cancel",
            billing_type="one_time",
        )
    await BillingRequest.all().update(expires_at=now_utc() - timedelta(minutes=1))
    counts = await asyncio.gather(*(outcome(billing_requests.expire_due()) for _ in range(5)))
    assert not failures(counts), counts
    assert sum(counts) == 20, counts
    assert await BillingRequest.filter(status=BillingRequestStatus.expired).count() == 20
    assert (
        await Invoice.filter(billing_request_id__not_isnull=True, status=InvoiceStatus.deleted).count() == 20
    )
    assert await billing_requests.expire_due() == 0


async def test_three_refunds_of_one_payment_at_once_never_refund_more_than_was_paid(world: World) -> None:
    await invoice_for(world, 1000)
    paid = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=1000,
        currency="USD",
        method="cash",
        received_on=today(),
    )
    results = await asyncio.gather(
        *(
            outcome(
                refunds_module.refund_payment(actor=world.staff, payment_id=paid.payment_id, amount_minor=400)
            )
            for _ in range(3)
        )
    )
    await check_ledger()
    refunds = await Refund.filter(payment_id=paid.payment_id).values_list("amount_minor", flat=True)
    assert sum(refunds) <= 1000, refunds
    assert not failures(results), results
    # each refund that went through is the 400 that was asked for, never silently less
    assert all(amount == 400 for amount in refunds), refunds
    assert len(refunds) == sum(isinstance(r, int) for r in results), results

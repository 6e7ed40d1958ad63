"""My Billing with many open invoices (issue 17): the oldest due few, all of them counted and summed by the
database to exactly what the ledger says is due, and the rest a page at a time, oldest due first."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.clients import dashboard
from portal.core.clock import today
from portal.db.models import CreditRequest, Invoice
from portal.payments import credit_payments, ledger
from tests.services.conftest import World


async def _open_invoices(world: World, count: int, currency: str = "USD") -> list[int]:
    """`count` sent invoices for Alice, due one day apart, newest due first (so creation order is not the
    order the dashboard must show)."""
    ids = []
    for n in range(count):
        ids.append(
            await invoices.create_invoice(
                actor=world.staff,
                client_id=world.alice_id,
                due_date=today() + timedelta(days=count - n),
                currency=currency,
                lines=[LineDraft(f"Service {n}", Decimal(1), 10_000 + n)],
            )
        )
    return ids


async def test_the_summary_counts_and_sums_every_open_item_exactly_as_the_ledger(world: World) -> None:
    usd = await _open_invoices(world, 12)
    eur = await _open_invoices(world, 2, currency="EUR")
    # a partial offline payment, credit applied, and a pending credit request
    await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=2_500,
        currency="USD",
        method="cash",
        received_on=today(),
        invoice_id=usd[3],
    )
    await ledger.adjust_credit(
        actor=world.admin, client_id=world.alice_id, amount_minor=700, currency="EUR", note="goodwill"
    )
    await credit_payments.pay_from_credit(actor=world.alice, invoice_id=eur[0], amount_minor=700)
    await CreditRequest.create(
        client_id=world.alice_id, amount_minor=5_000, currency="USD", description="Top-up"
    )

    summary = await dashboard.open_summary(actor=world.alice, client_id=world.alice_id)

    expected: dict[str, int] = {"USD": 5_000}
    for invoice in await Invoice.filter(client_id=world.alice_id, status="open"):
        expected[invoice.currency] = expected.get(invoice.currency, 0) + await ledger.amount_due(invoice)
    assert summary.totals == dict(sorted(expected.items()))
    assert (summary.invoices, summary.requests, summary.count) == (14, 1, 15)
    # My Billing's to-do reads the same in one statement fewer: the same sums, and the first few listed
    todo = await dashboard.todo(actor=world.alice, client_id=world.alice_id, limit=4)
    assert todo.summary == summary
    assert todo.items == await dashboard.payables(actor=world.alice, client_id=world.alice_id, limit=4)
    assert sum(1 for item in todo.items if item.purpose == "invoice") == 4


async def test_the_dashboard_shows_the_oldest_due_few_and_pages_through_the_rest(world: World) -> None:
    ids = await _open_invoices(world, 12)
    oldest_first = list(reversed(ids))  # the last one created is due first

    shown = await dashboard.payables(actor=world.alice, client_id=world.alice_id, limit=5)
    assert [p.id for p in shown] == oldest_first[:5]

    first = await dashboard.open_invoices_page(
        actor=world.alice, client_id=world.alice_id, page=1, page_size=5
    )
    last = await dashboard.open_invoices_page(
        actor=world.alice, client_id=world.alice_id, page=3, page_size=5
    )
    assert (first.total, first.pages) == (12, 3)
    assert [p.id for p in first.rows] == oldest_first[:5]
    assert [p.id for p in last.rows] == oldest_first[10:]
    everything = await dashboard.payables(actor=world.alice, client_id=world.alice_id)
    assert [p.id for p in everything] == oldest_first  # no limit: all of them, as before

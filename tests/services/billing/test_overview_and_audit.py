"""The console overview (receivables, payments per day, expiring requests, payments to review, recent
activity) and the audit log (filters, paging, details in words), with the role rules of each function."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise.log import db_client_logger

from portal.accounts import impersonation
from portal.accounts.sessions import load_actor
from portal.billing import invoices, overview
from portal.billing.invoices import LineDraft
from portal.core import audit
from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.db.models import AuditEntry, BillingRequest, Client, Invoice, Payment
from portal.domain.errors import Forbidden, InvalidInput, NotFound
from portal.payments import credit_payments, ledger, refunds
from tests.services.conftest import World


async def _invoice(
    world: World, amount: int, *, client_id: int | None = None, due_in: int = 10, send: bool = True
) -> int:
    due = today() + timedelta(days=due_in)
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=[LineDraft("Work", Decimal(1), amount)],
        issue_date=min(today(), due),
        due_date=due,
        send=send,
    )


async def _paid(world: World, invoice_id: int, amount: int, currency: str, client_id: int) -> None:
    await ledger.record_offline_payment(
        actor=world.staff,
        client_id=client_id,
        amount_minor=amount,
        currency=currency,
        method="cash",
        received_on=today(),
        invoice_id=invoice_id,
    )


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    seen: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.funcName.startswith("execute_"):
                seen.append(str(record.args[0] if record.args else record.msg))

    handler, level = Handler(logging.DEBUG), db_client_logger.level
    db_client_logger.addHandler(handler)
    db_client_logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        db_client_logger.removeHandler(handler)
        db_client_logger.setLevel(level)


# -- receivables -------------------------------------------------------------------------------------
async def test_receivables_are_amounts_due_per_currency_with_the_overdue_part(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _invoice(world, 10_000)  # USD, due in 10 days
    late = await _invoice(world, 5_000, due_in=-10)  # USD, overdue, partly paid below
    await _paid(world, late, 2_000, "USD", world.alice_id)
    settled = await _invoice(world, 700)
    await _paid(world, settled, 700, "USD", world.alice_id)  # paid in full: not a receivable
    await _invoice(world, 9_999, send=False)  # a draft is not owed
    await _invoice(world, 3_000, client_id=world.bob_id, due_in=-1)  # JPY, overdue

    def no_invoice_rows(*args: Any, **kwargs: Any) -> Invoice:
        raise AssertionError("the receivables loaded invoice rows instead of summing them in SQL")

    monkeypatch.setattr(Invoice, "_init_from_db", classmethod(no_invoice_rows))
    rows = await overview.receivables(actor=world.staff)

    assert [(r.currency, r.open_minor, r.open_count, r.overdue_minor, r.overdue_count) for r in rows] == [
        ("JPY", 3_000, 1, 3_000, 1),
        ("USD", 13_000, 2, 3_000, 1),
    ]


async def test_receivables_are_the_ledgers_amounts_due_summed_by_the_database(world: World) -> None:
    """Partial payments, credit applied and a refund that reopens a paid invoice, in three currencies: the
    overview's SQL aggregates say exactly what the ledger's own amount_due says, invoice by invoice."""
    carol = await Client.create(name="Carol Cole", email="carol@x.test", currency="EUR")
    partly = await _invoice(world, 10_000)  # USD, due later
    await _paid(world, partly, 2_500, "USD", world.alice_id)
    refunded = await _invoice(world, 5_000, due_in=-3)  # paid in full, then 1,500 given back: open again
    payment = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=5_000,
        currency="USD",
        method="cash",
        received_on=today(),
        invoice_id=refunded,
    )
    await refunds.refund_payment(actor=world.staff, payment_id=payment.payment_id, amount_minor=1_500)
    on_credit = await _invoice(world, 3_000, due_in=-20)  # overdue, 1,200 of it paid from credit
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=1_200, currency="USD", note="goodwill"
    )
    await credit_payments.pay_from_credit(actor=world.staff, invoice_id=on_credit)
    settled = await _invoice(world, 800, due_in=-5)
    await _paid(world, settled, 800, "USD", world.alice_id)  # paid: owes nothing
    await _invoice(world, 9_999, send=False)  # a draft is not owed
    late_yen = await _invoice(world, 7_000, client_id=world.bob_id, due_in=-1)
    await _paid(world, late_yen, 1_000, "JPY", world.bob_id)
    await _invoice(world, 4_000, client_id=world.bob_id)
    await _invoice(world, 12_345, client_id=carol.id, due_in=5)

    expected: dict[str, list[int]] = {}
    for invoice in await Invoice.filter(status="open"):
        due = await ledger.amount_due(invoice)
        late = invoice.due_date < today()
        row = expected.setdefault(invoice.currency, [0, 0, 0, 0])
        row[0] += due
        row[1] += 1
        row[2] += due if late else 0
        row[3] += 1 if late else 0
    with _statements() as seen:
        rows = await overview.receivables(actor=world.staff)

    # two aggregates (the invoices' totals, the allocations on them), whatever the number of invoices
    assert len(seen) == 2 and all("SUM(" in sql and "GROUP BY" in sql for sql in seen), seen
    assert {
        r.currency: [r.open_minor, r.open_count, r.overdue_minor, r.overdue_count] for r in rows
    } == expected
    assert [(r.currency, r.open_minor, r.open_count, r.overdue_minor, r.overdue_count) for r in rows] == [
        ("EUR", 12_345, 1, 0, 0),
        ("JPY", 10_000, 2, 6_000, 1),
        ("USD", 7_500 + 1_500 + 1_800, 3, 1_500 + 1_800, 2),
    ]


async def test_nothing_owed_means_no_receivables(world: World) -> None:
    assert await overview.receivables(actor=world.admin) == []


# -- payments per day ------------------------------------------------------------------------------
async def _payment(
    client_id: int, amount: int, currency: str, days_ago: int, status: str = "succeeded"
) -> None:
    await Payment.create(
        client_id=client_id,
        amount_minor=amount,
        currency=currency,
        status=status,
        source="offline",
        method="cash",
        received_on=today() - timedelta(days=days_ago),
    )


async def test_payments_of_the_last_30_days_per_day_and_currency(world: World) -> None:
    await _payment(world.alice_id, 1_000, "USD", 0)
    await _payment(world.alice_id, 250, "USD", 0)
    await _payment(world.alice_id, 4_000, "USD", 29, status="partially_refunded")  # received, then refunded
    await _payment(world.bob_id, 3_000, "JPY", 3)
    await _payment(world.alice_id, 9_000, "USD", 30)  # too old
    await _payment(world.alice_id, 8_000, "USD", 1, status="failed")  # never received
    await _payment(world.alice_id, 7_000, "USD", 2, status="pending")

    data = await overview.payments_by_day(actor=world.staff)

    assert len(data.days) == 30 and data.days[-1] == today() and data.days[0] == today() - timedelta(days=29)
    assert sorted(data.series) == ["JPY", "USD"]
    usd, jpy = data.series["USD"], data.series["JPY"]
    assert usd[-1] == 1_250 and usd[0] == 4_000 and sum(usd) == 5_250
    assert jpy[-4] == 3_000 and sum(jpy) == 3_000
    assert all(isinstance(v, int) for v in usd + jpy)
    assert not data.empty


async def test_no_payments_gives_an_empty_chart(world: World) -> None:
    data = await overview.payments_by_day(actor=world.staff)
    assert data.empty and data.series == {} and len(data.days) == 30


# -- billing requests about to expire and payments to review ---------------------------------------
async def _request(world: World, *, hours: float, status: str = "pending", email: str = "x@x.test") -> int:
    row = await BillingRequest.create(
        client_id=world.alice_id,
        email=email,
        description="Deposit",
        currency="USD",
        amount_minor=5_000,
        success_url="https://example.test/ok",
        cancel_url="https://example.test/no",
        status=status,
        sent_at=now_utc(),
        expires_at=now_utc() + timedelta(hours=hours),
    )
    return row.id


async def test_pending_requests_expiring_within_six_hours_soonest_first(world: World) -> None:
    later = await _request(world, hours=5.5)
    sooner = await _request(world, hours=1)
    await _request(world, hours=7)  # not yet
    await _request(world, hours=-1)  # already expired
    await _request(world, hours=2, status="paid")  # paid: nothing to chase

    rows = await overview.expiring_requests(actor=world.staff)

    assert [r.id for r in rows] == [sooner, later]
    assert rows[0].amount_minor == 5_000 and rows[0].currency == "USD"


async def test_payments_flagged_for_review_are_listed(world: World) -> None:
    flagged = await Payment.create(
        client_id=world.alice_id,
        amount_minor=1_234,
        currency="USD",
        status="succeeded",
        source="online",
        method="card",
        received_on=today(),
        needs_review=True,
        review_note="Paid twice",
    )
    await _payment(world.alice_id, 500, "USD", 0)

    rows = await overview.payments_needing_review(actor=world.staff)

    assert [(r.id, r.client_name, r.amount_minor, r.note) for r in rows] == [
        (flagged.id, "Alice Archer", 1_234, "Paid twice")
    ]


async def test_the_overview_in_one_call(world: World) -> None:
    await _invoice(world, 10_000)
    await _payment(world.alice_id, 1_000, "USD", 0)
    data = await overview.get_overview(actor=world.staff)
    assert [r.currency for r in data.receivables] == ["USD"]
    assert data.payments.series["USD"][-1] == 1_000
    assert [a.action for a in data.activity] == ["invoice.create"]
    assert data.expiring_requests == [] and data.needs_review == []


# -- the audit log ---------------------------------------------------------------------------------
async def _entry(
    actor: Actor | None,
    action: str,
    *,
    client_id: int | None = None,
    at: datetime | None = None,
    **details: Any,
) -> int:
    await audit.record(actor=actor, action=action, client_id=client_id, details=details or None)
    row = await AuditEntry.all().order_by("-id").first()
    assert row is not None
    if at is not None:
        await AuditEntry.filter(id=row.id).update(at=at)
    return row.id


async def test_the_log_is_newest_first_and_paged_on_the_server(world: World) -> None:
    base = datetime(2026, 11, 1, 12, tzinfo=UTC)
    ids = [await _entry(world.staff, "note.test", at=base + timedelta(minutes=n)) for n in range(30)]

    first = await audit.list_entries(actor=world.admin)
    second = await audit.list_entries(actor=world.admin, page=2)
    beyond = await audit.list_entries(actor=world.admin, page=99)

    assert first.total == 30 and first.pages == 2 and first.page_size == 25
    assert [r.id for r in first.rows] == ids[::-1][:25]
    assert [r.id for r in second.rows] == ids[::-1][25:]
    assert beyond.page == 2 and [r.id for r in beyond.rows] == ids[::-1][25:]
    assert first.rows[0].actor_email == "staff@x.test"


async def test_the_log_filters_by_actor_client_action_and_dates(world: World) -> None:
    day = datetime(2026, 11, 10, 9, tzinfo=UTC)
    by_admin = await _entry(world.admin, "credit.adjust", client_id=world.alice_id, at=day)
    by_staff = await _entry(world.staff, "credit.adjust", client_id=world.bob_id, at=day + timedelta(days=1))
    login = await _entry(world.alice, "login", client_id=world.alice_id, at=day + timedelta(days=2))
    system = await _entry(None, "billing_request.expire", at=day + timedelta(days=3))

    async def ids(**filters: Any) -> list[int]:
        return [r.id for r in (await audit.list_entries(actor=world.admin, **filters)).rows]

    assert await ids() == [system, login, by_staff, by_admin]
    assert await ids(actor_email="ADMIN@") == [by_admin]
    assert await ids(actor_email="x.test") == [login, by_staff, by_admin]
    assert await ids(client_id=world.alice_id) == [login, by_admin]
    assert await ids(action="credit.adjust") == [by_staff, by_admin]
    assert await ids(date_from=date(2026, 11, 11), date_to=date(2026, 11, 12)) == [login, by_staff]
    assert await ids(date_from=date(2026, 11, 13)) == [system]
    assert await ids(date_to=date(2026, 11, 10)) == [by_admin]
    assert await ids(actor_email="admin@", client_id=world.bob_id) == []


async def test_a_backwards_date_range_and_an_unknown_client_are_refused(world: World) -> None:
    with pytest.raises(InvalidInput) as caught:
        await audit.list_entries(actor=world.admin, date_from=date(2026, 11, 12), date_to=date(2026, 11, 1))
    assert (
        caught.value.field == "date_to" and caught.value.message == "The end date is before the start date."
    )
    with pytest.raises(NotFound):
        await audit.list_entries(actor=world.admin, client_id=999_999)


async def test_details_read_as_text(world: World) -> None:
    await _entry(world.staff, "payment.record_offline", amount_minor=1_234, currency="USD", method="cash")
    await _entry(world.staff, "client.auto_charge", enabled=False, reason="last card removed")
    await _entry(world.staff, "credit.apply", amount_minor=500)
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="Ticket 9")
    inside = await load_actor(user_id=world.admin.user_id, impersonation_id=view.id)
    assert inside is not None
    await audit.record(actor=inside, action="quote.approved", details={"comment": "Looks good"})

    rows = {r.action: r for r in (await audit.list_entries(actor=world.admin)).rows}

    assert rows["payment.record_offline"].details == "Amount: $12.34 · Method: Cash"
    assert rows["payment.record_offline"].action_label == "Recorded an offline payment"
    assert rows["client.auto_charge"].details == "Enabled: no · Reason: last card removed"
    assert rows["credit.apply"].details == ""  # no currency to read it in: no amount rather than a wrong one
    start = rows["impersonation.start"]
    assert start.details == f"Reason: Ticket 9 · Time limit (minutes): 30 · View as the client: #{view.id}"
    approved = rows["quote.approved"]
    assert approved.actor_email == "admin@x.test" and approved.client_name == "Alice Archer"
    assert approved.impersonation_id == view.id
    assert approved.details == f"Comment: Looks good · View as the client: #{view.id}"
    assert approved.action_label == "Quote approved"


async def test_the_filter_options_list_the_actions_that_occur_and_the_clients(world: World) -> None:
    await _entry(world.staff, "login")
    await _entry(world.staff, "credit.adjust")
    await _entry(world.admin, "credit.adjust")
    options = await audit.filter_options(actor=world.admin)
    assert options.actions == [("credit.adjust", "Adjusted credit"), ("login", "Signed in")]
    assert options.clients == [(world.alice_id, "Alice Archer"), (world.bob_id, "Bob Baker")]


async def test_recent_activity_is_the_latest_entries(world: World) -> None:
    ids = [await _entry(world.staff, "login") for _ in range(5)]
    assert [r.id for r in await audit.recent(actor=world.staff, limit=3)] == ids[::-1][:3]


# -- who may call what ------------------------------------------------------------------------------
async def _viewing_as_alice(world: World) -> Actor:
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="Roles test")
    actor = await load_actor(user_id=world.admin.user_id, impersonation_id=view.id)
    assert actor is not None and actor.is_impersonating
    return actor


STAFF_CALLS: list[tuple[str, Callable[[Actor], Awaitable[object]]]] = [
    ("receivables", lambda a: overview.receivables(actor=a)),
    ("payments_by_day", lambda a: overview.payments_by_day(actor=a)),
    ("expiring_requests", lambda a: overview.expiring_requests(actor=a)),
    ("payments_needing_review", lambda a: overview.payments_needing_review(actor=a)),
    ("get_overview", lambda a: overview.get_overview(actor=a)),
    ("recent", lambda a: audit.recent(actor=a)),
]
ADMIN_CALLS: list[tuple[str, Callable[[Actor], Awaitable[object]]]] = [
    ("list_entries", lambda a: audit.list_entries(actor=a)),
    ("filter_options", lambda a: audit.filter_options(actor=a)),
]


@pytest.mark.parametrize(("name", "call"), STAFF_CALLS, ids=[n for n, _ in STAFF_CALLS])
async def test_overview_functions_are_for_staff_and_admins(
    world: World, name: str, call: Callable[[Actor], Awaitable[object]]
) -> None:
    await call(world.staff)
    await call(world.admin)
    for refused in (world.alice, await _viewing_as_alice(world)):
        with pytest.raises(Forbidden):
            await call(refused)


@pytest.mark.parametrize(("name", "call"), ADMIN_CALLS, ids=[n for n, _ in ADMIN_CALLS])
async def test_the_audit_log_is_for_admins_only(
    world: World, name: str, call: Callable[[Actor], Awaitable[object]]
) -> None:
    await call(world.admin)
    for refused in (world.staff, world.alice, await _viewing_as_alice(world)):
        with pytest.raises(Forbidden):
            await call(refused)

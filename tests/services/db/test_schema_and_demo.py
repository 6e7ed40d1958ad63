"""The migrated schema matches the models, demo data, the clients list, billing request expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import Tortoise, connections

from portal import demo
from portal.billing import billing_requests, invoices
from portal.clients import profiles
from portal.core.clock import now_utc
from portal.db.config import tortoise_config
from portal.db.models import (
    BillingRequest,
    Client,
    CreditEntry,
    Invoice,
    PaymentMethod,
    Quote,
    Subscription,
    User,
)
from portal.domain.errors import Forbidden
from portal.domain.status import BillingRequestStatus, InvoiceStatus
from portal.payments import ledger
from tests.services.conftest import World


async def _columns(table: str, is_postgres: bool) -> set[str]:
    conn = connections.get("default")
    if is_postgres:
        rows = await conn.execute_query_dict(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1", [table]
        )
        return {row["column_name"] for row in rows}
    rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
    return {row["name"] for row in rows}


async def test_every_model_column_exists_after_migrating(db: str, is_postgres: bool) -> None:
    """Guards the trap we hit: an autodetected migration that silently dropped foreign-key columns."""
    for model in Tortoise.apps["models"].values():
        expected = set(model._meta.fields_db_projection.values())
        assert expected <= await _columns(model._meta.db_table, is_postgres), model.__name__


async def test_the_migrations_match_the_models(db: str) -> None:
    from tortoise.context import TortoiseContext
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config(db)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert writers == [], "models changed without a migration: run `.venv/bin/tortoise makemigrations`"


async def test_demo_data_covers_what_the_portal_shows(db: str) -> None:
    logins = await demo.load_demo()
    assert {login.email for login in logins} >= {"admin@demo.test", "staff@demo.test", "client@demo.test"}
    assert {u.role for u in await User.all()} == {"admin", "staff", "client"}
    assert sorted(c.currency for c in await Client.all()) == ["EUR", "JPY", "USD"]
    ada = await Client.get(email="client@demo.test")
    summaries = await invoices.open_invoices(
        actor=_admin(await User.get(email="admin@demo.test")), client_id=ada.id
    )
    assert any(s.is_overdue for s in summaries) and any(not s.is_overdue for s in summaries)
    assert await Invoice.filter(client_id=ada.id, status=InvoiceStatus.paid).count() == 1
    assert sum(e.amount_minor for e in await CreditEntry.filter(client_id=ada.id)) == 2500
    assert {q.kind for q in await Quote.all()} == {"estimate", "proposal"}
    assert {b.status for b in await BillingRequest.all()} == {"pending", "expired"}
    assert await Subscription.all().count() == 2
    assert await PaymentMethod.filter(gateway="sandbox").count() == 4
    # a second run changes nothing
    await demo.load_demo()
    assert await Client.all().count() == 3


def _admin(user: User):
    from tests.services.conftest import staff_actor

    return staff_actor(user.id, admin=True)


async def test_clients_list_searches_and_pages_on_the_server(world: World) -> None:
    for i in range(30):
        await Client.create(name=f"Zed {i:02}", company="Zeta Corp" if i % 2 else "", email=f"z{i}@x.test")
    page1 = await profiles.list_clients(actor=world.staff, search="zeta", page=1, page_size=10)
    assert page1.total == 15 and len(page1.rows) == 10
    page2 = await profiles.list_clients(actor=world.staff, search="zeta", page=2, page_size=10)
    assert len(page2.rows) == 5 and not {r.id for r in page1.rows} & {r.id for r in page2.rows}
    by_email = await profiles.list_clients(actor=world.staff, search="ALICE@")
    assert [r.name for r in by_email.rows] == ["Alice Archer"]
    with pytest.raises(Forbidden):
        await profiles.list_clients(actor=world.alice)


async def test_pending_billing_requests_expire_after_24_hours(world: World) -> None:
    now = now_utc()
    common = dict(
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_minor=1000,
        success_url="https://x.test/ok",
        cancel_url="https://x.test/no",
        sent_at=now - timedelta(hours=25),
    )
    due = await BillingRequest.create(**common, expires_at=now - timedelta(hours=1))
    fresh = await BillingRequest.create(**common, expires_at=now + timedelta(hours=1))
    paid = await BillingRequest.create(**common, expires_at=now - timedelta(hours=1), status="paid")
    assert await billing_requests.expire_due() == 1
    assert (await BillingRequest.get(id=due.id)).status == BillingRequestStatus.expired
    assert (await BillingRequest.get(id=fresh.id)).status == BillingRequestStatus.pending
    assert (await BillingRequest.get(id=paid.id)).status == BillingRequestStatus.paid
    assert await billing_requests.expire_due() == 0


async def test_profile_shows_plans_and_is_private(world: World) -> None:
    await Subscription.create(
        client_id=world.alice_id, description="Care plan", amount_minor=100, currency="USD"
    )
    profile = await profiles.get_profile(actor=world.alice, client_id=world.alice_id)
    assert profile.plans == ["Care plan"] and profile.initials == "AA" and profile.company == "Archery Co"
    from portal.domain.errors import NotFound

    with pytest.raises(NotFound):
        await profiles.get_profile(actor=world.bob, client_id=world.alice_id)


async def test_credit_balance_is_per_currency(world: World) -> None:
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=500, currency="USD", note="a"
    )
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=7, currency="JPY", note="b"
    )
    assert await ledger.credit_balances(actor=world.alice, client_id=world.alice_id) == {"USD": 500, "JPY": 7}

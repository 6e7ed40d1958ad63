"""Services run against a real database: an SQLite file per test, or PostgreSQL when
TEST_DATABASE_URL is set (the Makefile does that in a separate pytest run when CI=true)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise, connections

from portal import gateway_events
from portal.core.actors import Actor
from portal.db.config import tortoise_config
from portal.db.lifecycle import migrate
from portal.domain.status import Role
from portal.payments.gateways import selector
from tests.support import copy_template

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
_pg_migrated = False


async def _reset_postgres(url: str) -> None:
    """Recreate the schema once per run (migrations included), then empty every table per test."""
    global _pg_migrated
    if not _pg_migrated:
        await Tortoise.init(config=tortoise_config(url))
        await connections.get("default").execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        await Tortoise.close_connections()
        await migrate(url)
        _pg_migrated = True
    await Tortoise.init(config=tortoise_config(url))
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'tortoise_migrations'"
    )
    names = ", ".join(f'"{row["tablename"]}"' for row in rows)
    await conn.execute_script(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(autouse=True)
def sandbox_events() -> None:
    """The sandbox's events go to the webhook handlers, as main.py wires them at start-up."""
    selector.on_sandbox_event(gateway_events.ingest)


@pytest.fixture(autouse=True)
def documents_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Issued documents are stored in the test's own folder (on PostgreSQL as on SQLite)."""
    folder = tmp_path / "documents"
    monkeypatch.setenv("DOCUMENTS_DIR", str(folder))
    return folder


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[str]:
    """An empty, migrated database for one test; yields its URL."""
    if POSTGRES_URL:
        await _reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = copy_template(tmp_path / "test.sqlite3", with_demo=False)
        await Tortoise.init(config=tortoise_config(url))
    try:
        yield url
    finally:
        await Tortoise.close_connections()


@pytest.fixture
def is_postgres() -> bool:
    """True in the PostgreSQL run."""
    return bool(POSTGRES_URL)


def staff_actor(user_id: int, *, admin: bool = False) -> Actor:
    """An actor for a staff or admin user id."""
    return Actor(
        user_id=user_id, role=Role.admin if admin else Role.staff, email="staff@x.test", name="Staff"
    )


def client_actor(user_id: int, client_id: int) -> Actor:
    """An actor for a client user."""
    return Actor(user_id=user_id, role=Role.client, email="c@x.test", name="Client", client_id=client_id)


class World:
    """Two clients with a sign-in each, a staff member and an admin."""

    def __init__(self) -> None:
        self.admin: Actor
        self.staff: Actor
        self.alice: Actor
        self.bob: Actor
        self.alice_id: int
        self.bob_id: int


_password_hash: str | None = None


async def add_user(email: str, role: Role, client_id: int | None = None) -> int:
    """A user whose password is 'correct horse battery' (hashed once per run: argon2 is slow on purpose)."""
    global _password_hash
    from portal.accounts import passwords
    from portal.db.models import User

    if _password_hash is None:
        _password_hash = await passwords.hash_password("correct horse battery")
    user = await User.create(email=email, password_hash=_password_hash, role=role.value, client_id=client_id)
    return user.id


@pytest.fixture
async def world(db: str) -> World:
    """Accounts to act with (passwords are 'correct horse battery')."""
    from portal.db.models import Client

    w = World()
    admin_id = await add_user("admin@x.test", Role.admin)
    staff_id = await add_user("staff@x.test", Role.staff)
    alice = await Client.create(
        name="Alice Archer", company="Archery Co", email="alice@x.test", currency="USD"
    )
    bob = await Client.create(name="Bob Baker", email="bob@x.test", currency="JPY")
    w.admin = staff_actor(admin_id, admin=True)
    w.staff = staff_actor(staff_id)
    w.alice = client_actor(await add_user("alice@x.test", Role.client, alice.id), alice.id)
    w.bob = client_actor(await add_user("bob@x.test", Role.client, bob.id), bob.id)
    w.alice_id, w.bob_id = alice.id, bob.id
    return w

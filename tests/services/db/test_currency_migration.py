"""Migration 0003 keeps the value of amounts stored under babel 2.18's decimals when ISO 4217 has more."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as tortoise_migrate

from portal.db.config import tortoise_config
from tests.services.conftest import POSTGRES_URL

OLD = [(1, "LBP", 1500), (2, "IQD", 7), (3, "USD", 1999), (4, "HUF", 1999)]  # stored under babel 2.18


async def _fresh_database(tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the PostgreSQL test schema dropped and created again."""
    if not POSTGRES_URL:
        return f"sqlite://{tmp_path / 'old.sqlite3'}"
    await Tortoise.init(config=tortoise_config(POSTGRES_URL))
    try:
        await connections.get("default").execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await Tortoise.close_connections()
    return POSTGRES_URL


async def _seed_old_amounts() -> None:
    """A client with invoices in LBP and IQD (0 decimals under babel 2.18), USD and HUF (unchanged)."""
    conn = connections.get("default")
    await conn.execute_script(
        "INSERT INTO client (id, name, company, email, phone, avatar_path, currency, billing_address, locale,"
        " reminders_enabled, auto_charge, archived, created_at) VALUES"
        " (1, 'C', '', 'c@x.test', '', '', 'LBP', '', 'en', true, false, false, '2026-01-01 00:00:00')"
    )
    for invoice_id, currency, total in OLD:  # constants only: one statement text for both databases
        await conn.execute_script(
            "INSERT INTO invoice (id, client_id, number, status, currency, issue_date, due_date, notes,"
            f" subtotal_minor, tax_minor, total_minor, created_at, updated_at) VALUES ({invoice_id}, 1,"
            f" 'INV-{invoice_id}', 'sent', '{currency}', '2026-01-01', '2026-01-31', '', {total}, 0, {total},"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
        await conn.execute_script(
            "INSERT INTO invoice_line (invoice_id, position, description, quantity, unit_price_minor,"
            " tax_name, tax_rate, net_minor, tax_minor, gross_minor) VALUES"
            f" ({invoice_id}, 1, 'Work', '1', {total}, '', '0', {total}, 0, {total})"
        )


async def _amounts() -> tuple[dict[str, int], dict[str, int]]:
    """Invoice totals and line unit prices by currency."""
    conn = connections.get("default")
    totals = await conn.execute_query_dict("SELECT currency, total_minor FROM invoice")
    lines = await conn.execute_query_dict(
        "SELECT i.currency, l.unit_price_minor FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id"
    )
    return (
        {r["currency"]: r["total_minor"] for r in totals},
        {r["currency"]: r["unit_price_minor"] for r in lines},
    )


async def test_lbp_and_iqd_amounts_keep_their_value_and_others_do_not_move(tmp_path: Path) -> None:
    config = tortoise_config(await _fresh_database(tmp_path))
    await tortoise_migrate(config=config, target="models.0002_payments")
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    try:
        await _seed_old_amounts()
    finally:
        await Tortoise.close_connections()

    await tortoise_migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config)
    try:
        totals, lines = await _amounts()
        if POSTGRES_URL:  # leave the shared schema empty, as the other tests expect it
            await connections.get("default").execute_script("TRUNCATE invoice_line, invoice, client CASCADE")
    finally:
        await Tortoise.close_connections()
    assert totals == {"LBP": 150_000, "IQD": 7_000, "USD": 1999, "HUF": 1999}
    assert lines == totals

"""The benchmark data, written fast: rows built as tuples and inserted in bulk (SQLite: one executemany per
table in a transaction; PostgreSQL: COPY), with fixed ids so that every benchmark process finds them.

    python -m bench.seed --database-url URL     # migrate and fill an empty database (the runner does this
                                                # once per database and run, then copies or reuses it)

The full layout (`FULL`): 10,000 clients (a twentieth archived) and 200,000 invoices:
- client 1, "My Billing": 1,000 open invoices (a tenth partly paid, some twice), 100 paid, 20 drafts;
  20 subscriptions (active, past due, canceled; with and without a plan), 10 saved methods (default,
  expiring, expired), 3 pending credit requests, credit in the ledger, 5 quotes awaiting a decision;
- client 2: the same with 10 open invoices and 3 paid;
- clients 3..102: one signed-in dashboard each (user dash<n>@bench.test), 2 methods, 2 subscriptions;
- every other invoice spread over clients 3..10,000: 55 % paid, 35 % open (a fifth partly paid), 10 % drafts;
- users: admin@bench.test, staff@bench.test, client1@ and client2@bench.test, dash<n>@, login<n>@bench.test
  (all with the password `bench-password`, hashed once with the portal's own argon2 settings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise import Tortoise
from tortoise.fields import BooleanField, DateField, DatetimeField, DecimalField, JSONField
from tortoise.models import Model

from bench import common
from portal.accounts import passwords
from portal.core.clock import today
from portal.db import models as m
from portal.db.lifecycle import database

PASSWORD = "bench-password"
ADMIN_USER, STAFF_USER = 1, 2
BILLING_CLIENT, SMALL_CLIENT = 1, 2
DASHBOARD_CLIENTS = range(3, 103)
LOGIN_USERS = 10
PLANS = 5
_FIRST = ["Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Nia"]
_LAST = ["Archer", "Baker", "Cooper", "Dyer", "Fisher", "Gardner", "Hunter", "Mason", "Potter", "Smith"]


@dataclass(frozen=True)
class Layout:
    """How much of everything to write."""

    clients: int = 10_000
    invoices: int = 200_000  # in all, the two featured clients' included
    billing_open: int = 1_000
    billing_paid: int = 100
    billing_drafts: int = 20
    small_open: int = 10
    small_paid: int = 3
    subscriptions: int = 20  # of each featured client
    methods: int = 10  # of each featured client
    billing_requests: int = 200

    @property
    def featured_invoices(self) -> int:
        return self.billing_open + self.billing_paid + self.billing_drafts + self.small_open + self.small_paid


FULL = Layout()


def dashboard_email(client_id: int) -> str:
    return f"dash{client_id}@bench.test"


def login_email(n: int) -> str:
    return f"login{n}@bench.test"


def dashboard_user_id(client_id: int) -> int:
    return 2 + client_id  # 1 admin, 2 staff, 3 client1@, 4 client2@, then one per dashboard client (5..104)


# --- bulk insert ------------------------------------------------------------------------------------


class Writer:
    """Inserts plain dicts into a model's table, filling in the model's defaults, in bulk."""

    def __init__(self) -> None:
        self.postgres = common.dialect() == "postgres"
        self.now = datetime.now(UTC)
        self.written: dict[str, int] = {}

    def _converter(self, field: Any) -> Callable[[Any], Any] | None:
        """How a Python value of this field is written (None: as it is)."""
        if isinstance(field, JSONField):
            return lambda v: v if v is None else json.dumps(v, separators=(",", ":"))
        if self.postgres:
            return None
        if isinstance(field, BooleanField):
            return lambda v: v if v is None else int(v)
        if isinstance(field, DatetimeField):
            return lambda v: v if v is None else v.isoformat(" ")
        if isinstance(field, DateField):
            return lambda v: v if v is None else v.isoformat()
        if isinstance(field, DecimalField):
            return lambda v: v if v is None else str(v)
        return None

    def _default(self, field: Any) -> Any:
        if isinstance(field, DatetimeField) and (field.auto_now or field.auto_now_add):
            return self.now
        default = field.default
        return default() if callable(default) else default

    async def insert(self, model: type[Model], rows: Iterable[dict[str, Any]]) -> int:
        meta = model._meta
        names = list(meta.fields_db_projection)
        fields = [meta.fields_map[name] for name in names]
        converters = [self._converter(f) for f in fields]
        defaults = [
            c(self._default(f)) if c else self._default(f) for f, c in zip(fields, converters, strict=True)
        ]
        plan = list(zip(names, converters, defaults, strict=True))
        records = []
        for row in rows:
            if len(row) > len(names) or not row.keys() <= meta.fields_db_projection.keys():
                raise KeyError(f"{model.__name__} has no {sorted(set(row) - set(names))}")
            records.append(
                tuple(
                    (conv(row[name]) if conv else row[name]) if name in row else default
                    for name, conv, default in plan
                )
            )
        if not records:
            return 0
        table = meta.db_table
        names = list(meta.fields_db_projection.values())
        db = common.conn()
        if self.postgres:
            async with db.acquire_connection() as connection:
                await connection.copy_records_to_table(table, records=records, columns=names)
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
                )
        else:
            placeholders = ", ".join("?" for _ in names)
            quoted = ", ".join(f'"{n}"' for n in names)
            await db.execute_many(f'INSERT INTO "{table}" ({quoted}) VALUES ({placeholders})', records)
        self.written[table] = self.written.get(table, 0) + len(records)
        return len(records)


# --- the data ---------------------------------------------------------------------------------------


def _client(n: int, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": n, "name": name, "email": f"client{n}@bench.test", "currency": "USD", **extra}


def _clients(layout: Layout) -> list[dict[str, Any]]:
    rows = [
        _client(BILLING_CLIENT, "Bench Billing", company="Billing & Co"),
        _client(SMALL_CLIENT, "Bench Small", company="Small & Co"),
    ]
    for n in range(3, layout.clients + 1):
        first, last = _FIRST[(n * 7) % len(_FIRST)], _LAST[(n * 11) % len(_LAST)]
        rows.append(
            _client(n, f"{first} {last}", company=f"{last} & Co {n % 97}", archived=n % 20 == 0 and n > 102)
        )
    return rows


def _users(layout: Layout, password_hash: str) -> list[dict[str, Any]]:
    def user(n: int, email: str, role: str, client_id: int | None = None) -> dict[str, Any]:
        return {
            "id": n,
            "email": email,
            "role": role,
            "client_id": client_id,
            "password_hash": password_hash,
            "full_name": email.split("@")[0].title(),
        }

    rows = [
        user(ADMIN_USER, "admin@bench.test", "admin"),
        user(STAFF_USER, "staff@bench.test", "staff"),
        user(3, "client1@bench.test", "client", BILLING_CLIENT),
        user(4, "client2@bench.test", "client", SMALL_CLIENT),
    ]
    for client_id in DASHBOARD_CLIENTS:
        if client_id <= layout.clients:
            rows.append(user(dashboard_user_id(client_id), dashboard_email(client_id), "client", client_id))
    first_login = max(r["id"] for r in rows) + 1
    for n in range(LOGIN_USERS):  # half staff, half clients of the dashboard range
        client_id = DASHBOARD_CLIENTS[n] if n % 2 and DASHBOARD_CLIENTS[n] <= layout.clients else None
        rows.append(user(first_login + n, login_email(n), "client" if client_id else "staff", client_id))
    return rows


def _methods(client_id: int, count: int, first_id: int, on: date) -> list[dict[str, Any]]:
    """Saved cards: the first is the default, one expires this month, one next month, one has expired."""
    rows = []
    for k in range(count):
        year, month = 2030, 1 + k % 12
        if k == 1:
            year, month = on.year, on.month
        elif k == 2:
            nxt = (on.replace(day=1) + timedelta(days=32)).replace(day=1)
            year, month = nxt.year, nxt.month
        elif k == 3:
            year, month = on.year - 1, 12
        rows.append(
            {
                "id": first_id + k,
                "client_id": client_id,
                "gateway": "sandbox",
                "gateway_ref": f"pm_bench_{client_id}_{k}",
                "brand": ("visa", "mastercard", "amex")[k % 3],
                "last4": f"{4000 + k:04d}",
                "exp_month": month,
                "exp_year": year,
                "is_default": k == 0,
            }
        )
    return rows


def _subscriptions(
    client_id: int, count: int, first_id: int, method_ids: Sequence[int], now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for k in range(count):
        status = "active" if k % 7 < 5 else ("past_due" if k % 7 == 5 else "canceled")
        rows.append(
            {
                "id": first_id + k,
                "client_id": client_id,
                "plan_id": 1 + k % PLANS if k % 4 else None,
                "description": f"Retainer {k}",
                "amount_minor": 5_000 + 100 * k,
                "currency": "USD",
                "interval": ("month", "year", "week")[k % 3],
                "interval_count": 1 + k % 2,
                "status": status,
                "payment_method_id": method_ids[k % len(method_ids)] if method_ids else None,
                "gateway_ref": f"sub_bench_{client_id}_{k}",
                "current_period_start": now - timedelta(days=10),
                "current_period_end": now + timedelta(days=20 + k),
                "cancel_at_period_end": k % 5 == 4,
                "canceled_at": now - timedelta(days=3) if status == "canceled" else None,
            }
        )
    return rows


class InvoiceRows:
    """Invoices and the allocations that (partly) pay them, with consecutive ids."""

    def __init__(self) -> None:
        self.invoices: list[dict[str, Any]] = []
        self.allocations: list[dict[str, Any]] = []
        self.next_invoice = 1
        self.next_allocation = 1

    def add(self, client_id: int, status: str, n: int, *, partly: bool = False, twice: bool = False) -> None:
        invoice_id = self.next_invoice
        self.next_invoice += 1
        total = 10_000 + n % 9_973
        issue = date(2025, 1, 1) + timedelta(days=n % 600)
        self.invoices.append(
            {
                "id": invoice_id,
                "client_id": client_id,
                "number": None if status == "draft" else f"INV-{invoice_id:07d}",
                "status": status,
                "currency": "USD",
                "issue_date": issue,
                "due_date": issue + timedelta(days=(n * 37) % 90),  # not in id order, with ties
                "subtotal_minor": total,
                "total_minor": total,
            }
        )
        if status == "paid":
            self._allocate(invoice_id, total)
        elif partly:
            self._allocate(invoice_id, total // 3)
            if twice:
                self._allocate(invoice_id, 1_234)

    def _allocate(self, invoice_id: int, amount: int) -> None:
        self.allocations.append(
            {"id": self.next_allocation, "invoice_id": invoice_id, "amount_minor": amount, "currency": "USD"}
        )
        self.next_allocation += 1

    def featured(self, client_id: int, open_count: int, paid: int, drafts: int) -> None:
        for n in range(open_count):
            self.add(client_id, "open", n, partly=n % 10 == 3, twice=n % 50 == 3)
        for n in range(paid):
            self.add(client_id, "paid", open_count + n)
        for n in range(drafts):
            self.add(client_id, "draft", open_count + paid + n)


async def seed(layout: Layout = FULL) -> dict[str, int]:
    """Fill an empty, migrated database; returns rows written per table."""
    writer = Writer()
    on, now = today(), writer.now
    if not writer.postgres:  # throw-away data: no need to wait for the disk
        await common.conn().execute_script("PRAGMA synchronous=OFF")
    password_hash = await passwords.hash_password(PASSWORD)
    await writer.insert(m.Organization, [{"id": 1, "name": "Bench Agency"}])
    await writer.insert(
        m.Plan,
        [
            {"id": k, "name": f"Plan {k}", "amount_minor": 1_000 * k, "currency": "USD", "interval": "month"}
            for k in range(1, PLANS + 1)
        ],
    )
    await writer.insert(m.Client, _clients(layout))
    await writer.insert(m.User, _users(layout, password_hash))

    methods, subscriptions = [], []
    for client_id in (BILLING_CLIENT, SMALL_CLIENT):
        own = _methods(client_id, layout.methods, len(methods) + 1, on)
        methods += own
        subscriptions += _subscriptions(
            client_id, layout.subscriptions, len(subscriptions) + 1, [r["id"] for r in own], now
        )
    for client_id in DASHBOARD_CLIENTS:
        if client_id <= layout.clients:
            own = _methods(client_id, 2, len(methods) + 1, on)
            methods += own
            subscriptions += _subscriptions(client_id, 2, len(subscriptions) + 1, [own[0]["id"]], now)
    await writer.insert(m.PaymentMethod, methods)
    await writer.insert(m.Subscription, subscriptions)

    rows = InvoiceRows()
    rows.featured(BILLING_CLIENT, layout.billing_open, layout.billing_paid, layout.billing_drafts)
    rows.featured(SMALL_CLIENT, layout.small_open, layout.small_paid, 0)
    others = list(range(3, layout.clients + 1))
    for n in range(layout.invoices - layout.featured_invoices if others else 0):
        kind = n % 20
        status = "paid" if kind < 11 else ("open" if kind < 18 else "draft")
        rows.add(others[n % len(others)], status, n, partly=kind == 12)
    await writer.insert(m.Invoice, rows.invoices)
    await writer.insert(m.Allocation, rows.allocations)

    await writer.insert(
        m.CreditRequest,
        [
            {
                "id": 1 + k + 3 * j,
                "client_id": client_id,
                "description": f"Prepaid hours {k}",
                "amount_minor": 20_000 + k,
                "currency": "USD",
                "due_date": on + timedelta(days=10 * k),
            }
            for j, client_id in enumerate((BILLING_CLIENT, SMALL_CLIENT))
            for k in range(3)
        ],
    )
    await writer.insert(
        m.CreditEntry,
        [
            {
                "id": 1,
                "client_id": BILLING_CLIENT,
                "currency": "USD",
                "amount_minor": 5_000,
                "reason": "adjustment",
            },
            {
                "id": 2,
                "client_id": BILLING_CLIENT,
                "currency": "USD",
                "amount_minor": -1_000,
                "reason": "applied",
            },
            {
                "id": 3,
                "client_id": SMALL_CLIENT,
                "currency": "USD",
                "amount_minor": 2_500,
                "reason": "adjustment",
            },
        ],
    )
    quotes = []
    for j, client_id in enumerate((BILLING_CLIENT, SMALL_CLIENT)):
        for k in range(7):
            quotes.append(
                {
                    "id": len(quotes) + 1,
                    "kind": "estimate" if k % 2 else "proposal",
                    "client_id": client_id,
                    "number": None if k >= 5 else f"Q-{j}-{k:03d}",
                    "title": f"Website phase {k}",
                    "status": "sent" if k < 5 else "draft",
                    "currency": "USD",
                    "issue_date": on - timedelta(days=k),
                    "valid_until": on + timedelta(days=30),
                    "subtotal_minor": 100_000 + k,
                    "total_minor": 100_000 + k,
                }
            )
    await writer.insert(m.Quote, quotes)
    await writer.insert(
        m.BillingRequest,
        [
            {
                "id": k + 1,
                "client_id": 3 + k % max(1, layout.clients - 2),
                "email": f"request{k}@bench.test",
                "description": f"Deposit {k}",
                "currency": "USD",
                "amount_minor": 10_000 + k,
                "success_url": "https://example.test/thanks",
                "cancel_url": "https://example.test/cancel",
                "status": ("pending", "paid", "expired")[k % 3],
                "sent_at": now - timedelta(hours=k),
                "expires_at": now + timedelta(hours=24 - k),
            }
            for k in range(layout.billing_requests)
        ],
    )
    if writer.postgres:
        await common.conn().execute_script("ANALYZE")
    return writer.written


async def add_open_invoices(client_id: int, count: int) -> None:
    """`count` more open invoices (a tenth partly paid) for one client, after whatever it has."""
    db = common.conn()
    top = await db.execute_query_dict(
        'SELECT COALESCE(MAX(i.id), 0) AS i, (SELECT COALESCE(MAX(id), 0) FROM "allocation") AS a '
        'FROM "invoice" i'
    )
    rows = InvoiceRows()
    rows.next_invoice, rows.next_allocation = int(top[0]["i"]) + 1, int(top[0]["a"]) + 1
    for n in range(count):
        rows.add(client_id, "open", 10_000 + n, partly=n % 10 == 3, twice=n % 50 == 3)
    writer = Writer()
    await writer.insert(m.Invoice, rows.invoices)
    await writer.insert(m.Allocation, rows.allocations)


async def create(url: str, layout: Layout = FULL) -> tuple[float, dict[str, int]]:
    """Create (PostgreSQL) or start (SQLite) the database, migrate and seed it; returns seconds taken."""
    started = time.perf_counter()
    if common.is_postgres(url):
        await common.recreate_postgres(url)
    async with database(url):
        written = await seed(layout)
    await Tortoise.close_connections()
    return time.perf_counter() - started, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    common.check_disposable(args.database_url)
    seconds, written = asyncio.run(create(args.database_url))
    total = sum(written.values())
    print(f"seeded {total:,} rows in {seconds:.1f} s: {', '.join(f'{k} {v:,}' for k, v in written.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

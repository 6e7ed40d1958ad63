"""Dashboard benchmark: the services behind the dashboard and the clients list against raw SQL.

Run on one database per process (Tortoise cannot switch from SQLite to PostgreSQL inside a process):

    python -m bench.dashboard                              # a fresh temporary SQLite file
    python -m bench.dashboard --database-url postgres://postgres@127.0.0.1:5432/test

The PostgreSQL database's public schema is dropped and recreated first. Every figure is a ratio (or a
count) measured side by side in this run; the process exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.log import db_client_logger

from portal.db.config import tortoise_config
from portal.db.lifecycle import database
from portal.db.models import Allocation, Client, Invoice
from portal.domain.status import InvoiceStatus, Role
from portal.services import clients, invoices
from portal.services.actors import Actor

WARMUP = 5
REPETITIONS = 40
BIG_CLIENT_INVOICES = 1_000
SMALL_CLIENT_INVOICES = 10
CLIENT_COUNT = 10_000
PAGE_SIZE = 25

OPEN_INVOICES_TARGET = 3.0
CLIENTS_PAGE_TARGET = 2.0
QUERY_COUNT_TARGET = 12

ACTOR = Actor(user_id=1, role=Role.staff, email="b@x", name="Bench")

# The same data open_invoices returns, in one statement. Placeholders are written $n (PostgreSQL) and
# turned into ?n for SQLite by `_sql`.
OPEN_INVOICES_SQL = """
SELECT i.id, i.number, i.client_id, i.status, i.currency, i.issue_date, i.due_date, i.total_minor,
       i.total_minor - COALESCE(SUM(a.amount_minor), 0) AS amount_due_minor
FROM invoice i
LEFT JOIN allocation a ON a.invoice_id = i.id
WHERE i.client_id = $1 AND i.status = $2
GROUP BY i.id
ORDER BY i.due_date, i.id
"""
CLIENTS_COUNT_SQL = "SELECT COUNT(*) AS total FROM client WHERE archived = $1"
CLIENTS_PAGE_SQL = """
SELECT id, name, company, email, currency
FROM client
WHERE archived = $1
ORDER BY name, id
LIMIT $2 OFFSET $3
"""

_FIRST = ["Ada", "Ben", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Nia"]
_LAST = ["Archer", "Baker", "Cooper", "Dyer", "Fisher", "Gardner", "Hunter", "Mason", "Potter", "Smith"]


@dataclass(frozen=True)
class Figure:
    """One printed line: `name: value (target ...) ok|MISS`."""

    name: str
    value: str
    target: str
    ok: bool

    def line(self) -> str:
        return f"{self.name}: {self.value} (target {self.target}) {'ok' if self.ok else 'MISS'}"


@dataclass(frozen=True)
class Dataset:
    """The ids the measurements need and what the seed put in."""

    big_client_id: int
    small_client_id: int
    big_total_minor: int
    big_allocated_minor: int
    active_clients: int


class QueryCounter(logging.Handler):
    """Counts the statements Tortoise's clients log just before executing them (one per execute_* call)."""

    EXECUTORS = frozenset(
        {"execute_insert", "execute_many", "execute_query", "execute_query_dict", "execute_script"}
    )

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Connection pool messages go to the same logger: count only the executors' lines.
        if record.funcName in self.EXECUTORS:
            self.count += 1
            self.statements.append(str(record.args[0] if record.args else record.msg).split()[0])


@contextmanager
def counting_queries() -> Iterator[QueryCounter]:
    """Count SQL statements executed inside the block (the db_client logger at DEBUG, restored after)."""
    counter = QueryCounter()
    level, propagate = db_client_logger.level, db_client_logger.propagate
    db_client_logger.addHandler(counter)
    db_client_logger.setLevel(logging.DEBUG)
    db_client_logger.propagate = False
    try:
        yield counter
    finally:
        db_client_logger.removeHandler(counter)
        db_client_logger.setLevel(level)
        db_client_logger.propagate = propagate


def _conn() -> BaseDBAsyncClient:
    return connections.get("default")


def _dialect() -> str:
    return _conn().capabilities.dialect


def _sql(text: str) -> str:
    """Our $n placeholders as the current dialect wants them (SQLite: ?n)."""
    return text if _dialect() == "postgres" else re.sub(r"\$(\d+)", r"?\1", text)


async def _server_version() -> str:
    conn = _conn()
    if _dialect() == "postgres":
        rows = await conn.execute_query_dict("SHOW server_version")
        return f"PostgreSQL {rows[0]['server_version'].split()[0]}"
    rows = await conn.execute_query_dict("SELECT sqlite_version() AS v")
    return f"SQLite {rows[0]['v']}"


# --- data -------------------------------------------------------------------------------------------


async def _add_invoices(client_id: int, prefix: str, count: int, status: str, start: int = 0) -> None:
    """`count` invoices, due dates shuffled against id order and with ties (the order has to matter)."""
    base = date(2026, 1, 1)
    rows = [
        Invoice(
            client_id=client_id,
            number=f"{prefix}-{start + n:05}" if status != InvoiceStatus.draft else None,
            status=status,
            currency="USD",
            issue_date=base,
            due_date=base + timedelta(days=(count - n) * 37 % 400),
            subtotal_minor=10_000 + n,
            tax_minor=0,
            total_minor=10_000 + n,
        )
        for n in range(count)
    ]
    await Invoice.bulk_create(rows, batch_size=500)


async def _allocate(client_id: int) -> int:
    """One allocation on a tenth of the open invoices (two on a fiftieth); returns their sum."""
    open_rows = await Invoice.filter(client_id=client_id, status=InvoiceStatus.open).order_by("id")
    allocations = []
    for n, inv in enumerate(open_rows):
        if n % 10 == 3:
            allocations.append(
                Allocation(invoice_id=inv.id, amount_minor=inv.total_minor // 3, currency="USD")
            )
        if n % 50 == 3:  # a second one on some of them
            allocations.append(Allocation(invoice_id=inv.id, amount_minor=1_234, currency="USD"))
    on_open = sum(a.amount_minor for a in allocations)
    paid = await Invoice.filter(client_id=client_id, status=InvoiceStatus.paid)
    allocations += [
        Allocation(invoice_id=inv.id, amount_minor=inv.total_minor, currency="USD") for inv in paid
    ]
    await Allocation.bulk_create(allocations, batch_size=500)
    return on_open


async def seed() -> Dataset:
    """10,000 clients (a twentieth archived, repeated names), one with 1,000 open invoices, one with 10."""
    rng = random.Random(20261121)
    people = []
    for n in range(CLIENT_COUNT - 2):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        people.append(
            Client(
                name=name,
                company=f"{name.split()[1]} & Co {n % 97}",
                email=f"client{n}@bench.test",
                currency="USD",
                archived=n % 20 == 0,
            )
        )
    await Client.bulk_create(people, batch_size=1_000)
    big = await Client.create(name="Bench Big", email="big@bench.test", currency="USD")
    small = await Client.create(name="Bench Small", email="small@bench.test", currency="USD")

    await _add_invoices(big.id, "BIG", BIG_CLIENT_INVOICES, InvoiceStatus.open)
    await _add_invoices(big.id, "BIGPAID", 100, InvoiceStatus.paid)
    await _add_invoices(big.id, "", 20, InvoiceStatus.draft)
    await _add_invoices(small.id, "SMALL", SMALL_CLIENT_INVOICES, InvoiceStatus.open)
    await _add_invoices(small.id, "SMALLPAID", 3, InvoiceStatus.paid)
    # Other clients' open invoices, so the client filter has something to leave out.
    others = await Client.filter(archived=False).order_by("id").limit(50).values_list("id", flat=True)
    for n, other_id in enumerate(others):
        await _add_invoices(other_id, f"O{n}", 4, InvoiceStatus.open)

    big_allocated = await _allocate(big.id)
    await _allocate(small.id)
    big_total = sum(10_000 + n for n in range(BIG_CLIENT_INVOICES))
    active = sum(1 for c in people if not c.archived) + 2
    return Dataset(big.id, small.id, big_total, big_allocated, active)


# --- the two sides ----------------------------------------------------------------------------------


async def service_open_invoices(client_id: int) -> list[tuple[Any, ...]]:
    rows = await invoices.open_invoices(actor=ACTOR, client_id=client_id)
    return [
        (r.id, r.number, str(r.issue_date), str(r.due_date), r.total_minor, r.amount_due_minor) for r in rows
    ]


async def sql_open_invoices(client_id: int) -> list[tuple[Any, ...]]:
    rows = await _conn().execute_query_dict(_sql(OPEN_INVOICES_SQL), [client_id, InvoiceStatus.open.value])
    return [
        (
            r["id"],
            r["number"],
            str(r["issue_date"]),
            str(r["due_date"]),
            int(r["total_minor"]),
            int(r["amount_due_minor"]),
        )
        for r in rows
    ]


async def service_clients_page() -> tuple[int, list[tuple[Any, ...]]]:
    page = await clients.list_clients(actor=ACTOR, page=1)
    return page.total, [(r.id, r.name, r.company, r.email, r.currency) for r in page.rows]


async def sql_clients_page() -> tuple[int, list[tuple[Any, ...]]]:
    conn = _conn()
    count = await conn.execute_query_dict(_sql(CLIENTS_COUNT_SQL), [False])
    rows = await conn.execute_query_dict(_sql(CLIENTS_PAGE_SQL), [False, PAGE_SIZE, 0])
    return int(count[0]["total"]), [
        (r["id"], r["name"], r["company"], r["email"], r["currency"]) for r in rows
    ]


# --- checks before timing ---------------------------------------------------------------------------


def _check(condition: bool, message: str) -> None:
    """An assertion that `python -O` cannot skip."""
    if not condition:
        raise AssertionError(message)


async def verify(data: Dataset) -> None:
    """Both sides do the same work and return the same thing; the counter counts what runs."""
    service, sql = (
        await service_open_invoices(data.big_client_id),
        await sql_open_invoices(data.big_client_id),
    )
    _check(len(service) == BIG_CLIENT_INVOICES, f"open_invoices returned {len(service)} rows")
    _check(service == sql, "open_invoices and the SQL return different ids, dates or amounts")
    _check([r[3] for r in service] == sorted(r[3] for r in service), "not oldest due first")
    _check(sum(r[4] for r in service) == data.big_total_minor, "totals differ from the seed")
    allocated = sum(r[4] - r[5] for r in service)
    _check(
        allocated == data.big_allocated_minor > 0, f"allocations: {allocated} != {data.big_allocated_minor}"
    )
    small = await service_open_invoices(data.small_client_id)
    _check(small == await sql_open_invoices(data.small_client_id), "small client: service and SQL differ")
    _check(len(small) == SMALL_CLIENT_INVOICES, f"small client has {len(small)} open invoices")

    total, rows = await service_clients_page()
    _check((total, rows) == await sql_clients_page(), "list_clients and the SQL return different pages")
    _check(total == data.active_clients and len(rows) == PAGE_SIZE, f"{total} clients, {len(rows)} rows")
    _check(len({r[1] for r in rows}) < PAGE_SIZE, "the first page should repeat names (id tie-break)")

    with counting_queries() as counter:
        await _conn().execute_query_dict("SELECT 1 AS one")
        await Client.filter(archived=False).count()
        await Invoice.filter(client_id=data.small_client_id).order_by("id")
        await invoices.allocated_by_invoice([r[0] for r in small])
    _check(counter.count == 4, f"the query counter saw {counter.count} of 4 statements: {counter.statements}")


# --- measurements -----------------------------------------------------------------------------------


async def paired_medians(
    a: Callable[[], Awaitable[object]], b: Callable[[], Awaitable[object]], repetitions: int = REPETITIONS
) -> tuple[float, float]:
    """Median seconds of a and of b, run alternately (a-b, b-a, ...) after a warm-up."""
    for _ in range(WARMUP):
        await a()
        await b()
    gc.collect()
    times: dict[int, list[float]] = {0: [], 1: []}
    sides = (a, b)
    for n in range(repetitions):
        for side in (0, 1) if n % 2 == 0 else (1, 0):
            start = time.perf_counter()
            await sides[side]()
            times[side].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _ratio_figure(name: str, service: float, sql: float, target: float) -> tuple[Figure, str]:
    ratio = round(service / sql, 2)  # judged as printed, so "2.00 (target <= 2)" is never a MISS
    detail = f"  # {name}: service {service * 1e3:.2f} ms, sql {sql * 1e3:.2f} ms (medians of {REPETITIONS})"
    return Figure(name, f"{ratio:.2f}", f"<= {target:g}", ratio <= target), detail


async def measure(data: Dataset) -> list[tuple[Figure, str]]:
    results = []
    big = data.big_client_id
    service, sql = await paired_medians(
        lambda: invoices.open_invoices(actor=ACTOR, client_id=big),
        lambda: _conn().execute_query_dict(_sql(OPEN_INVOICES_SQL), [big, InvoiceStatus.open.value]),
    )
    results.append(_ratio_figure("open_invoices_vs_sql", service, sql, OPEN_INVOICES_TARGET))

    service, sql = await paired_medians(lambda: clients.list_clients(actor=ACTOR, page=1), sql_clients_page)
    results.append(_ratio_figure("clients_first_page_vs_sql", service, sql, CLIENTS_PAGE_TARGET))

    counts = []
    for client_id in (data.small_client_id, data.big_client_id):
        with counting_queries() as counter:
            await invoices.open_invoices(actor=ACTOR, client_id=client_id)
        counts.append(counter.count)
    small, big_count = counts
    ok = small == big_count <= QUERY_COUNT_TARGET
    figure = Figure(
        "dashboard_queries_10_vs_1000", f"{small} vs {big_count}", f"equal and <= {QUERY_COUNT_TARGET}", ok
    )
    results.append((figure, ""))
    return results


# --- run --------------------------------------------------------------------------------------------


async def _reset_postgres(url: str) -> None:
    await Tortoise.init(config=tortoise_config(url))
    try:
        await _conn().execute_script("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await Tortoise.close_connections()


async def run(url: str) -> bool:
    """Seed, verify, measure and print; True when every target is met."""
    if url.startswith(("postgres://", "postgresql://", "asyncpg://", "psycopg://")):
        await _reset_postgres(url)
    async with database(url):
        started = time.perf_counter()
        data = await seed()
        seeded = time.perf_counter() - started
        print(
            f"== dashboard benchmark on {_dialect()} ({await _server_version()}): {CLIENT_COUNT:,} clients, "
            f"{BIG_CLIENT_INVOICES:,} open invoices; medians of {REPETITIONS} after {WARMUP} warm-up "
            f"(seeded in {seeded:.1f} s) ==",
            flush=True,
        )
        await verify(data)
        results = await measure(data)
    for figure, detail in results:
        print(figure.line())
        if detail:
            print(detail)
    sys.stdout.flush()
    return all(figure.ok for figure, _ in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a fresh temporary SQLite file")
    args = parser.parse_args(argv)
    if args.database_url:
        if args.database_url.startswith("sqlite://"):
            path = Path(args.database_url.removeprefix("sqlite://").split("?", 1)[0])
            if path.exists():
                parser.error(f"{path} exists: the benchmark needs a fresh database")
        return 0 if asyncio.run(run(args.database_url)) else 1
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        return 0 if asyncio.run(run(f"sqlite://{folder}/bench.sqlite3")) else 1


if __name__ == "__main__":
    sys.exit(main())

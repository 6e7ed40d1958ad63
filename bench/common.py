"""What every benchmark shares: the printed figures, paired timings, loop latency, statement counting, the
databases (a temporary SQLite file, a PostgreSQL database of our own) and the command line.

Every figure is a ratio (or a count) of two things measured side by side in the same process, so that the
speed of the machine cancels out. A benchmark module defines `async def run(url, *, seeded) ->
(title, figures)` and ends with `sys.exit(main(run, __doc__))`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import os
import re
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.log import db_client_logger

WARMUP = 5
REPETITIONS = 20
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "asyncpg://", "psycopg://")
BENCH_DATABASE = "bench"  # the PostgreSQL database the benchmarks create, fill and drop (never `test`)


# --- figures ----------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One printed line, `name: value (target ...) ok|MISS`, and the `#` lines that explain it."""

    name: str
    value: str
    target: str
    ok: bool
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.name}: {self.value} (target {self.target}) {'ok' if self.ok else 'MISS'}"


def at_most(name: str, value: float, target: float, *details: str, unit: str = "") -> Figure:
    """A ratio (or an amount of `unit`) that must not exceed `target`, judged as printed: '3.00 (target
    <= 3)' is met."""
    shown = round(value, 2)
    suffix = f" {unit}" if unit else ""
    return Figure(name, f"{shown:.2f}{suffix}", f"<= {target:g}{suffix}", shown <= target, list(details))


def at_least(name: str, value: float, target: float, *details: str) -> Figure:
    """A ratio that must reach `target` (judged as printed)."""
    shown = round(value, 2)
    return Figure(name, f"{shown:.2f}", f">= {target:g}", shown >= target, list(details))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


# --- timing -----------------------------------------------------------------------------------------


async def paired_medians(
    a: Callable[[], Awaitable[object]],
    b: Callable[[], Awaitable[object]],
    *,
    repetitions: int = REPETITIONS,
    warmup: int = WARMUP,
) -> tuple[float, float]:
    """Median seconds of `a` and of `b`, run alternately (a-b, b-a, ...) after `warmup` rounds of both."""
    for _ in range(warmup):
        await a()
        await b()
    gc.collect()
    times: tuple[list[float], list[float]] = ([], [])
    sides = (a, b)
    for n in range(repetitions):
        for side in (0, 1) if n % 2 == 0 else (1, 0):
            start = time.perf_counter()
            await sides[side]()
            times[side].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class LoopTicker:
    """Measures event-loop latency: a coroutine sleeps `interval` again and again and records how late it
    wakes up. While the loop runs other work without yielding, the ticker wakes up late."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(time.perf_counter() - start - self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def window(self, seconds: float) -> list[float]:
        """The lateness samples of the next `seconds` (the ticker must be running)."""
        first = len(self.samples)
        await asyncio.sleep(seconds)
        return self.samples[first:]


def rss_bytes() -> int:
    """This process's resident memory (VmRSS in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


# --- counting SQL statements ------------------------------------------------------------------------


class QueryCounter(logging.Handler):
    """Counts the statements Tortoise's database clients execute: every execute_* method of every client
    (SQLite, asyncpg, and their transaction wrappers) logs the statement on `tortoise.db_client` just
    before running it, once per call. BEGIN/COMMIT are not counted (the clients do not log them)."""

    EXECUTORS = frozenset(
        {"execute_insert", "execute_many", "execute_query", "execute_query_dict", "execute_script"}
    )

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def emit(self, record: logging.LogRecord) -> None:
        # connection pool messages go to the same logger: count only the executors' lines
        if record.funcName in self.EXECUTORS:
            self.statements.append(str(record.args[0] if record.args else record.msg))


@contextmanager
def counting_queries() -> Iterator[QueryCounter]:
    """Count the SQL statements executed inside the block (the logger is put back as it was after)."""
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


def statement_summary(statements: list[str]) -> str:
    """'3 x SELECT ... FROM "payment_method"'-style lines, to see what a count is made of."""
    shapes: dict[str, int] = {}
    for sql in statements:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        outer = sql
        while (inner := re.sub(r"\([^()]*\)", "", outer)) != outer:  # leave subqueries out
            outer = inner
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', outer, re.IGNORECASE)
        key = f"{verb} {table.group(1) if table else ''}".strip()
        shapes[key] = shapes.get(key, 0) + 1
    return ", ".join(f"{n} x {shape}" if n > 1 else shape for shape, n in shapes.items())


# --- databases --------------------------------------------------------------------------------------


def conn() -> BaseDBAsyncClient:
    return connections.get("default")


def dialect() -> str:
    return conn().capabilities.dialect


def sql(text: str) -> str:
    """Placeholders written $1, $2 (PostgreSQL) as the current dialect wants them (SQLite: ?1, ?2)."""
    return text if dialect() == "postgres" else re.sub(r"\$(\d+)", r"?\1", text)


async def server_version() -> str:
    if dialect() == "postgres":
        rows = await conn().execute_query_dict("SHOW server_version")
        return f"PostgreSQL {rows[0]['server_version'].split()[0]}"
    rows = await conn().execute_query_dict("SELECT sqlite_version() AS v")
    return f"SQLite {rows[0]['v']}"


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def dialect_of(url: str) -> str:
    """'postgres' or 'sqlite': the prefix of every figure's name."""
    return "postgres" if is_postgres(url) else "sqlite"


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def postgres_target() -> str:
    """The PostgreSQL URL to benchmark on, or '' for SQLite only.

    BENCH_DATABASE_URL names the database to use outright; otherwise, when DATABASE_URL points at
    PostgreSQL, the benchmarks use a database called `bench` on that server. Either way the database is
    dropped and created again, so its name must end in 'bench' (never the `test` database or real data).
    """
    explicit = os.environ.get("BENCH_DATABASE_URL", "").strip()
    if explicit:
        url = explicit
    else:
        configured = os.environ.get("DATABASE_URL", "").strip()
        if not is_postgres(configured):
            return ""
        url = with_database(configured, BENCH_DATABASE)
    check_disposable(url)
    return url


def check_disposable(url: str) -> None:
    """Refuse to drop a PostgreSQL database that does not look like ours."""
    if is_postgres(url) and not database_name(url).endswith(BENCH_DATABASE):
        raise SystemExit(
            f"refusing to use {database_name(url)!r}: the benchmarks drop and recreate their database, "
            f"so its name must end in {BENCH_DATABASE!r}"
        )


async def recreate_postgres(url: str) -> None:
    """Drop the benchmark database (disconnecting anyone still on it) and create it empty."""
    import asyncpg

    check_disposable(url)
    name = database_name(url)
    parts = urlsplit(url)
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_postgres(url: str) -> None:
    """Drop a benchmark database that is no longer needed."""
    import asyncpg

    check_disposable(url)
    parts = urlsplit(url)
    admin = await asyncpg.connect(urlunsplit(("postgresql", parts.netloc, "/postgres", "", "")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


# --- command line -----------------------------------------------------------------------------------

Runner = Callable[..., Awaitable[tuple[str, list[Figure]]]]
"""`async def run(url, *, seeded) -> (title, figures)`."""


def report(title: str, figures: list[Figure]) -> bool:
    """Print the figures (and their details); True when every target is met."""
    print(title)
    for figure in figures:
        print(figure.line())
        for detail in figure.details:
            print(f"  # {detail}")
    sys.stdout.flush()
    return all(figure.ok for figure in figures)


def main(run: Runner, doc: str | None, argv: list[str] | None = None) -> int:
    """`python -m bench.<name> [--database-url URL] [--seeded]`: exit 1 when a target is missed, 2 when
    the benchmark itself fails.

    Without --database-url: a fresh SQLite file in a temporary folder. With --seeded the database already
    holds `bench.seed`'s data (the `python -m bench` runner seeds once per database and run)."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    parser.add_argument("--database-url", default="", help="default: a fresh temporary SQLite file")
    parser.add_argument("--seeded", action="store_true", help="the database already holds bench.seed's data")
    args = parser.parse_args(argv)
    try:
        if args.database_url:
            check_disposable(args.database_url)
            return 0 if report(*asyncio.run(run(args.database_url, seeded=args.seeded))) else 1
        with tempfile.TemporaryDirectory(prefix="bench-") as folder:
            return 0 if report(*asyncio.run(run(f"sqlite://{folder}/bench.sqlite3", seeded=False))) else 1
    except Exception:  # a benchmark that breaks is not a missed target: exit 2, the runner says FAILED
        traceback.print_exc()
        return 2

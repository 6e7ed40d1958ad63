"""`python -m bench` (`make bench`): every benchmark on SQLite, then on PostgreSQL when DATABASE_URL (or
BENCH_DATABASE_URL) points at PostgreSQL.

The data (10,000 clients, 200,000 invoices, ...) is generated once per database and run (bench/seed.py):
SQLite into a temporary folder, copied afresh for each benchmark; PostgreSQL into a database of its own
(`bench` on DATABASE_URL's server, created, and dropped at the end). Each benchmark runs in its own
process (Tortoise cannot switch from SQLite to PostgreSQL inside one, and NiceGUI's app is global).
Prints every figure, `name: value (target ...) ok|MISS`, then all of them again as a summary; exits 1
if any target is missed or a benchmark fails.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = [
    "bench.dashboard",
    "bench.queries",
    "bench.webhooks",
    "bench.logins",
    "bench.connections",
    "bench.pages_http",  # adds an invoice, paid in part, after the figures it would change
    "bench.paint",
    # after every page figure: these add rows of their own (an invoice; reminders and lapsed billing
    # requests; 216 cards and paid invoices), which on PostgreSQL the next modules would see
    "bench.pdf",
    "bench.jobs",
    "bench.burst",
]


def _run(command: list[str], figures: list[str]) -> bool:
    """Run one process, echoing its output as it comes; True when it exits 0 with no MISS line."""
    started = time.perf_counter()
    missed = False
    before = len(figures)
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            text = line.rstrip()
            if text.endswith((" ok", " MISS")) and not text.startswith(" "):
                figures.append(text)
                missed = missed or text.endswith(" MISS")
    took = time.perf_counter() - started
    label = command[2]
    broke = child.returncode not in (0, 1) or (child.returncode == 1 and len(figures) == before)
    if broke:  # a crash, or exit 1 (Python's own for an uncaught error) without a single figure
        print(f"!! {label} failed (exit code {child.returncode}) after {took:.0f} s", flush=True)
        figures.append(f"{label}: FAILED (exit code {child.returncode})")
        return False
    print(f"   ({command[2]} took {took:.0f} s)", flush=True)
    return child.returncode == 0 and not missed


def _pass(url: str, cache: Path, figures: list[str]) -> bool:
    """Seed `url` once, then run every benchmark on it (SQLite: on a fresh copy of the seeded file)."""
    seeded = url
    if not common.is_postgres(url):
        seeded = f"sqlite://{cache / 'seed.sqlite3'}"
    if not _run([sys.executable, "-m", "bench.seed", "--database-url", seeded], figures):
        return False
    results = []
    for module in BENCHMARKS:
        target = seeded
        if not common.is_postgres(url):
            copy = cache / "run.sqlite3"
            for leftover in cache.glob("run.sqlite3*"):
                leftover.unlink()
            shutil.copyfile(cache / "seed.sqlite3", copy)
            target = f"sqlite://{copy}"
        results.append(_run([sys.executable, "-m", module, "--database-url", target, "--seeded"], figures))
    return all(results)


def main() -> int:
    started = time.perf_counter()
    postgres = common.postgres_target()
    figures: list[str] = []
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        print("== SQLite ==", flush=True)
        results.append(_pass("sqlite://", Path(folder), figures))
    if postgres:
        print(f"== PostgreSQL: database {common.database_name(postgres)!r} ==", flush=True)
        try:
            results.append(_pass(postgres, Path(), figures))
        finally:
            asyncio.run(common.drop_postgres(postgres))
    else:
        print("(PostgreSQL skipped: DATABASE_URL does not point at PostgreSQL)", flush=True)
    print(f"== summary ({time.perf_counter() - started:.0f} s) ==")
    for line in figures:
        print(line)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bench`: every benchmark on SQLite, then on PostgreSQL when BENCH_DATABASE_URL is set.

Each database runs in its own process (Tortoise cannot switch from SQLite to PostgreSQL inside one).
Exits 1 if any figure is a MISS or any pass fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ["bench.dashboard"]


def _passes() -> list[list[str]]:
    """One command per benchmark and database: SQLite always, then PostgreSQL when asked for."""
    postgres = os.environ.get("BENCH_DATABASE_URL", "").strip()
    commands = [[sys.executable, "-m", module] for module in BENCHMARKS]
    if postgres:
        commands += [[sys.executable, "-m", module, "--database-url", postgres] for module in BENCHMARKS]
    return commands


def _run(command: list[str]) -> bool:
    """Run one pass, echoing its output as it comes; True when it exits 0 with no MISS line."""
    missed = False
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            missed = missed or line.rstrip().endswith(" MISS")
    if child.returncode not in (0, 1):
        print(f"{' '.join(command[1:])} failed (exit code {child.returncode})", file=sys.stderr)
    return child.returncode == 0 and not missed


def main() -> int:
    results = [_run(command) for command in _passes()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

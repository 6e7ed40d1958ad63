"""Helpers shared by the test tiers: template databases built once per run, then copied per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TEMPLATES: dict[str, Path] = {}


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a portal subprocess started from pytest (without pytest's markers)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_CURRENT_TEST", "NICEGUI_USER_SIMULATION"}}
    env.update(extra)
    return env


def _run_cli(*args: str, database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portal", *args],
        cwd=ROOT,
        env=child_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python -m portal {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def sqlite_template(*, with_demo: bool) -> Path:
    """A migrated SQLite file (optionally with the demo data), made once per test run."""
    key = "demo" if with_demo else "empty"
    if key not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix=f"portal-template-{key}-"))
        path = folder / "template.sqlite3"
        url = f"sqlite://{path}"
        _run_cli("migrate", database_url=url)
        if with_demo:
            _run_cli("demo", database_url=url)
        _TEMPLATES[key] = path
    return _TEMPLATES[key]


def copy_template(target: Path, *, with_demo: bool) -> str:
    """Copy the template to `target`, with the documents its invoices and receipts stored beside it (the
    portal's default DOCUMENTS_DIR: `documents` beside the database), and return its database URL."""
    template = sqlite_template(with_demo=with_demo)
    shutil.copyfile(template, target)
    if (template.parent / "documents").is_dir():
        shutil.copytree(template.parent / "documents", target.parent / "documents", dirs_exist_ok=True)
    return f"sqlite://{target}"

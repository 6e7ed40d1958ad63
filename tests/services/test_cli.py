"""The command line: migrate, demo, create-admin, as an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, child_env


def _portal(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", *args],
        cwd=ROOT,
        env=child_env(DATABASE_URL=url),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_demo_and_create_admin_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'cli.sqlite3'}"
    assert _portal("migrate", url=url).stdout.strip() == "Database is up to date."
    first = _portal("demo", url=url)
    assert "Demo data loaded." in first.stdout
    assert "client@demo.test" in first.stdout and "password: demo-password" in first.stdout
    again = _portal("demo", url=url)
    assert "not loaded again" in again.stdout

    created = _portal("create-admin", "boss@agency.test", url=url, stdin="a long password\na long password\n")
    assert created.returncode == 0, created.stderr
    assert "Administrator boss@agency.test created." in created.stdout
    weak = _portal("create-admin", "weak@agency.test", url=url, stdin="short\nshort\n")
    assert weak.returncode == 2 and "Use at least 10 characters." in weak.stderr
    mismatch = _portal("create-admin", "m@agency.test", url=url, stdin="a long password\nanother one!!\n")
    assert mismatch.returncode == 2 and "do not match" in mismatch.stderr

"""UI tests: NiceGUI's simulated user against main.py, on a fresh copy of the demo database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nicegui.testing import User

from tests.support import copy_template


@pytest.fixture(autouse=True)
def demo_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point main.py at a private copy of the demo database (migrated, demo loaded)."""
    url = copy_template(tmp_path / "ui.sqlite3", with_demo=True)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("AUTO_MIGRATE", "false")
    monkeypatch.setenv("JOBS_ENABLED", "false")
    monkeypatch.setenv(
        "PUBLIC_URL", "http://test"
    )  # the simulated browser's host, so redirects keep the cookie
    yield url


async def sign_in(user: User, email: str, password: str = "demo-password", *, path: str = "/login") -> None:
    """Fill in the sign-in form and submit it."""
    await user.open(path)
    user.find(marker="email").type(email)
    user.find(marker="password").type(password)
    user.find(marker="sign-in").click()

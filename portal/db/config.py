"""Tortoise configuration built from the settings, and the migration runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portal.config import get_settings

APP = "models"


def _prepare_sqlite(url: str) -> None:
    """Create the folder an SQLite file lives in."""
    if url.startswith("sqlite://") and ":memory:" not in url:
        path = Path(url.removeprefix("sqlite://").split("?", 1)[0])
        path.parent.mkdir(parents=True, exist_ok=True)


def tortoise_config(database_url: str | None = None) -> dict[str, Any]:
    """The Tortoise config dict for one database URL (default: DATABASE_URL)."""
    url = database_url or get_settings().database_url
    _prepare_sqlite(url)
    return {
        "connections": {"default": url},
        "apps": {
            APP: {
                "models": ["portal.db.models"],
                "default_connection": "default",
                "migrations": "portal.db.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def run_migrations(database_url: str | None = None) -> None:
    """Apply every pending migration (Tortoise's own migration engine)."""
    # lazy: only a migration needs the engine, and it costs every process that opens the database ~0.35 s
    from tortoise.migrations.api import migrate  # noqa: PLC0415

    await migrate(config=tortoise_config(database_url))


class _LazyConfig(dict):
    """TORTOISE_ORM for the `tortoise` CLI: resolved when the CLI reads it."""

    def __init__(self) -> None:
        super().__init__(tortoise_config())


TORTOISE_ORM: dict[str, Any] = _LazyConfig()

"""Opening and closing the database: for the web app's lifespan, the CLI and tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise
from tortoise.contrib.fastapi import RegisterTortoise

from portal.db.config import run_migrations, tortoise_config

_ORIGINAL_LIFESPAN = "_portal_original_lifespan"


async def migrate(database_url: str | None = None) -> None:
    """Apply pending migrations and close the connections they used."""
    try:
        await run_migrations(database_url)
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def database(database_url: str | None = None, *, auto_migrate: bool = True) -> AsyncIterator[None]:
    """Migrate (optionally), then keep Tortoise open for the duration of the block."""
    if auto_migrate:
        await migrate(database_url)
    async with RegisterTortoise(config=tortoise_config(database_url)):
        yield


def install_lifespan(app: Any, *, database_url: str, auto_migrate: bool) -> None:
    """Open the database inside the app's lifespan, before any page or startup handler runs.

    NiceGUI's tests execute main.py again for every test, so the original lifespan is kept aside and
    wrapped afresh each time instead of wrapping the previous wrapper.
    """
    original = getattr(app.router, _ORIGINAL_LIFESPAN, None)
    if original is None:
        original = app.router.lifespan_context
        setattr(app.router, _ORIGINAL_LIFESPAN, original)

    @asynccontextmanager
    async def lifespan(inner_app: Any) -> AsyncIterator[Any]:
        async with database(database_url, auto_migrate=auto_migrate), original(inner_app) as state:
            yield state

    app.router.lifespan_context = lifespan

"""Prepare a migrated demo database for the exports and import test: every account and client speaks the
given language. Run as `python -m tests.e2e.exports_import_seed LANG DATABASE_URL`."""

from __future__ import annotations

import asyncio
import sys

from portal.db.lifecycle import database
from portal.db.models import Client, User


async def seed(language: str) -> None:
    """Everyone reads the portal in `language`."""
    async with database():
        await User.all().update(locale=language)
        await Client.all().update(locale=language)


if __name__ == "__main__":
    asyncio.run(seed(sys.argv[1]))
    print("EXPORTS_IMPORT_SEED=ok")

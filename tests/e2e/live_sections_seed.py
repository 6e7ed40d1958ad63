"""Prepare a migrated demo database for the live-sections test: every account and client speaks the given
language, and print the ids the test opens.

Run as `python -m tests.e2e.live_sections_seed LANG DATABASE_URL` (DATABASE_URL also set in the
environment); prints one line `LIVE_SECTIONS_SEED={json}`.
"""

from __future__ import annotations

import asyncio
import json
import sys

from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, User


async def seed(language: str) -> dict[str, object]:
    """Ada's client id and her open invoices, oldest due first, after setting everyone's language."""
    async with database():
        await User.all().update(locale=language)
        await Client.all().update(locale=language)
        ada = await Client.get(email="client@demo.test")
        invoices = await Invoice.filter(client_id=ada.id, status="open").order_by("due_date", "id")
        return {"client_id": ada.id, "invoices": [invoice.id for invoice in invoices]}


if __name__ == "__main__":
    print("LIVE_SECTIONS_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))))

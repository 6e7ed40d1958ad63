"""Seed a migrated demo database for tests/e2e/test_statements_e2e.py: the demo client (Ada Lovelace) declines
the demo estimate with a comment and reads the portal in the given language.

Run as `python -m tests.e2e.statements_seed <locale> <database url>` with DATABASE_URL set (a process of its
own); it writes through the use cases and prints one line `STATEMENTS_SEED={json}`."""

from __future__ import annotations

import asyncio
import json
import sys

from portal.billing import quotes
from portal.core.actors import Actor
from portal.db.lifecycle import database
from portal.db.models import Client, Quote, User
from portal.domain.status import Role

COMMENT = "Too expensive for this year"


async def seed(locale: str) -> dict[str, object]:
    """The declined estimate (id and number) and Ada's client id."""
    async with database():
        row = await User.get(email="client@demo.test")
        assert row.client_id is not None
        ada = Actor(user_id=row.id, role=Role.client, email=row.email, name="Ada", client_id=row.client_id)
        estimate = await Quote.get(kind="estimate", client_id=row.client_id)
        await quotes.decide(actor=ada, quote_id=estimate.id, approve=False, comment=COMMENT)
        await User.filter(email="client@demo.test").update(locale=locale)
        await Client.filter(id=row.client_id).update(locale=locale)
    return {"quote_id": estimate.id, "number": estimate.number, "client_id": row.client_id}


if __name__ == "__main__":
    print("STATEMENTS_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))), flush=True)

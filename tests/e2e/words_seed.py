"""Seed a migrated demo database for tests/e2e/test_words_e2e.py: a voided invoice and a zero-total one for
the demo client, and the reading language of the demo admin and client.

Run as `python -m tests.e2e.words_seed <locale> <database url>` with DATABASE_URL set (a process of its own);
it writes through the use cases and prints one line `WORDS_SEED={json}`."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from decimal import Decimal

from portal.billing import invoice_editor, invoices
from portal.billing.invoices import LineDraft
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, User
from portal.domain.status import Role


async def seed(locale: str) -> dict[str, object]:
    """The two invoices (ids and numbers), with everyone reading in `locale`."""
    async with database():
        row = await User.get(email="admin@demo.test")
        admin = Actor(user_id=row.id, role=Role.admin, email=row.email, name=row.full_name)
        client_user = await User.get(email="client@demo.test")
        client_id = client_user.client_id
        assert client_id is not None
        due = today() + timedelta(days=14)
        voided = await invoices.create_invoice(
            actor=admin,
            client_id=client_id,
            lines=[LineDraft("Cancelled audit", Decimal(1), 25000)],
            due_date=due,
        )
        await invoice_editor.void_invoice(actor=admin, invoice_id=voided)
        free = await invoices.create_invoice(
            actor=admin, client_id=client_id, lines=[LineDraft("Free setup", Decimal(1), 0)], due_date=due
        )
        await User.filter(email__in=["admin@demo.test", "client@demo.test"]).update(locale=locale)
        await Client.filter(id=client_id).update(locale=locale)
        numbers = dict(await Invoice.filter(id__in=[voided, free]).values_list("id", "number"))
    return {"void_id": voided, "void_number": numbers[voided], "free_id": free, "free_number": numbers[free]}


if __name__ == "__main__":
    print("WORDS_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))), flush=True)

"""Prepare a migrated demo database for the receipts test: every account and client speaks the given language;
print Ada (her id and email), her oldest open invoice (id, number, amount due), the organization's name and
whether it emails receipts for offline payments (its default, left as it is).

Run as `python -m tests.e2e.receipts_seed LANG DATABASE_URL` (DATABASE_URL also set in the environment);
prints one line `RECEIPTS_SEED={json}`.
"""

from __future__ import annotations

import asyncio
import json
import sys

from portal.core.organization import get_organization
from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, User
from portal.payments import ledger


async def seed(language: str) -> dict[str, object]:
    """Set everyone's language; Ada, her oldest open invoice, and the organization's receipt setting."""
    async with database():
        await User.all().update(locale=language)
        await Client.all().update(locale=language)
        ada = await Client.get(email="client@demo.test")
        invoice = await Invoice.filter(client_id=ada.id, status="open").order_by("due_date", "id").first()
        assert invoice is not None
        org = await get_organization()
        return {
            "client_id": ada.id,
            "client_email": ada.email,
            "invoice_id": invoice.id,
            "number": invoice.number,
            "due": await ledger.amount_due(invoice),
            "org": org.name,
            "email_offline_receipts": org.email_offline_receipts,
        }


if __name__ == "__main__":
    print("RECEIPTS_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))))

"""Prepare a migrated demo database for the staff-credit test: every account and client speaks the given
language; print Ada's oldest open invoice (id, number, amount due) and her USD credit.

Run as `python -m tests.e2e.staff_credit_seed LANG DATABASE_URL` (DATABASE_URL also set in the
environment); prints one line `STAFF_CREDIT_SEED={json}`.
"""

from __future__ import annotations

import asyncio
import json
import sys

from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, User
from portal.payments import ledger


async def seed(language: str) -> dict[str, object]:
    """Set everyone's language; Ada's oldest open invoice and her credit."""
    async with database():
        await User.all().update(locale=language)
        await Client.all().update(locale=language)
        ada = await Client.get(email="client@demo.test")
        invoice = await Invoice.filter(client_id=ada.id, status="open").order_by("due_date", "id").first()
        assert invoice is not None
        return {
            "invoice_id": invoice.id,
            "number": invoice.number,
            "due": await ledger.amount_due(invoice),
            "credit": await ledger.credit_balance(ada.id, "USD"),
        }


if __name__ == "__main__":
    print("STAFF_CREDIT_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))))

"""Seed a migrated demo database for the invoice-presentation test: for Ada (USD, English) and Émile (EUR,
French), a partial bank transfer on their newest open invoice and a payment link to it.

Run as `python -m tests.e2e.presentation_seed` with DATABASE_URL set; prints one line
`PRESENTATION_SEED={json}` mapping the locale to the invoice id and the link's token.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, User
from portal.domain.status import Role
from portal.payments import ledger, links

CLIENTS = {"en": "client@demo.test", "fr": "emile@demo.test"}
PARTIAL = 50_000


async def seed() -> dict[str, dict[str, object]]:
    """Per locale: the invoice id and a payment-link token, after a partial payment."""
    out: dict[str, dict[str, object]] = {}
    async with database():
        row = await User.get(email="admin@demo.test")
        admin = Actor(user_id=row.id, role=Role.admin, email=row.email, name=row.full_name)
        for locale, email in CLIENTS.items():
            client = await Client.get(email=email)
            invoice = await Invoice.filter(client_id=client.id, status="open").order_by("-due_date").first()
            assert invoice is not None
            await ledger.record_offline_payment(
                actor=admin,
                client_id=client.id,
                amount_minor=PARTIAL,
                currency=invoice.currency,
                method="bank_transfer",
                received_on=today(),
                reference=f"PART-{locale}",
                invoice_id=invoice.id,
            )
            token = await links.issue(
                purpose="invoice", target_id=invoice.id, expires_at=now_utc() + timedelta(days=7)
            )
            out[locale] = {"invoice_id": invoice.id, "token": token, "total_minor": invoice.total_minor}
    return out


if __name__ == "__main__":
    print("PRESENTATION_SEED=" + json.dumps(asyncio.run(seed())), flush=True)

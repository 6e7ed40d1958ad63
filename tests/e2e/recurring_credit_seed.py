"""Prepare a migrated demo database for the recurring-request-from-credit test (issue 15 item 5): everyone
speaks the given language; Ada (USD credit, a default Visa) gets a monthly billing request she can pay from
credit; Émile gets EUR credit, no saved card any more, and a monthly billing request of his own.

Run as `python -m tests.e2e.recurring_credit_seed LANG DATABASE_URL` (DATABASE_URL also set in the
environment); prints one line `RECURRING_CREDIT_SEED={json}`. The helpers also serve the UI test (database
already open).
"""

from __future__ import annotations

import asyncio
import json
import sys

from portal.billing import billing_requests
from portal.core.actors import Actor
from portal.core.clock import now_utc
from portal.db.lifecycle import database
from portal.db.models import Client, Invoice, PaymentMethod, User
from portal.domain.status import Role
from portal.payments import ledger

DESCRIPTION = "Website care plan"


async def staff() -> Actor:
    """The demo staff member."""
    user = await User.get(email="staff@demo.test")
    return Actor(user_id=user.id, role=Role.staff, email=user.email, name=user.full_name)


async def recurring_request(email: str, currency: str, amount_minor: int) -> dict[str, object]:
    """A monthly billing request for the client signed in as `email`: its invoice's id, number, amount."""
    client = await Client.get(email=email)
    sent = await billing_requests.create_billing_request(
        actor=await staff(),
        client_id=client.id,
        email=email,
        currency=currency,
        amount_minor=amount_minor,
        success_url="https://agency.test/thanks",
        cancel_url="https://agency.test/cancelled",
        billing_type="recurring",
        interval="month",
        description=DESCRIPTION,
    )
    invoice = await Invoice.get(id=sent.invoice_id)
    return {
        "request_id": sent.id,
        "invoice_id": invoice.id,
        "number": invoice.number,
        "due": await ledger.amount_due(invoice),
    }


async def without_saved_cards(email: str) -> None:
    """The client removed every saved card (nothing for a subscription to renew on)."""
    client = await Client.get(email=email)
    await PaymentMethod.filter(client_id=client.id).update(is_default=False, detached_at=now_utc())


async def give_credit(email: str, currency: str, amount_minor: int) -> None:
    """Credit for the client, added by staff."""
    client = await Client.get(email=email)
    await ledger.adjust_credit(
        actor=await staff(), client_id=client.id, amount_minor=amount_minor, currency=currency, note="Prepaid"
    )


async def seed(language: str) -> dict[str, object]:
    """Set everyone's language; Ada's and Émile's recurring requests; Émile's credit, his cards gone."""
    async with database():
        await User.all().update(locale=language)
        await Client.all().update(locale=language)
        ada = await recurring_request("client@demo.test", "USD", 2000)
        await without_saved_cards("emile@demo.test")
        await give_credit("emile@demo.test", "EUR", 5000)
        emile = await recurring_request("emile@demo.test", "EUR", 3000)
        ada_id = (await Client.get(email="client@demo.test")).id
        return {"ada": {**ada, "credit": await ledger.credit_balance(ada_id, "USD")}, "emile": emile}


if __name__ == "__main__":
    print("RECURRING_CREDIT_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))))

"""Prepare a migrated demo database for the refunds test: every account and client speaks the given language;
print the demo's paid invoice (Logo design) and the bank transfer that paid it.

Run as `python -m tests.e2e.refunds_seed LANG DATABASE_URL`; prints one line `REFUNDS_SEED={json}`.
"""

from __future__ import annotations

import asyncio
import json
import sys

from portal.db.lifecycle import database
from portal.db.models import Allocation, Client, Payment, User


async def seed(language: str) -> dict[str, object]:
    async with database():
        await User.all().update(locale=language)
        await Client.all().update(locale=language)
        payment = await Payment.get(reference="BT-2291")
        allocation = await Allocation.filter(payment_id=payment.id).first()
        assert allocation is not None
        return {"payment_id": payment.id, "invoice_id": allocation.invoice_id, "amount": payment.amount_minor}


if __name__ == "__main__":
    print("REFUNDS_SEED=" + json.dumps(asyncio.run(seed(sys.argv[1]))))

"""Seed a migrated demo database with a client whose every field is an attribute-breaking payload.

Run as `python -m tests.e2e.xss_seed` with DATABASE_URL set (a process of its own, so the test process
never opens Tortoise); it writes through the use cases and prints one line `XSS_SEED={json}`.

Each payload sets `window.__xss` (to a number saying which payload ran) if any page ever lets it out of
its text: a quote closing an attribute value, markup, a Vue template expression, a JavaScript template.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

from PIL import Image

from portal.accounts import sessions
from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.clients import profiles
from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.db.lifecycle import database
from portal.db.models import User
from portal.domain.status import Role
from portal.payments import ledger, links


def _vue(number: int) -> str:
    """A Vue template expression that runs code through the Function constructor if compiled."""
    return "{{''.constructor.constructor('__xss=" + str(number) + "')()}}"


NAME = (
    "Ada' onmouseover='window.__xss=1' style='position:fixed;inset:0' y='"
    '" onclick="window.__xss=2" x="'
    "<img src=x onerror=window.__xss=3>" + _vue(4) + "`${window.__xss=5}`"
)
COMPANY = (
    'Co" onmouseover="window.__xss=11" style="position:fixed;inset:0" y="'
    "' onclick='window.__xss=12' x='"
    "<img src=x onerror=window.__xss=13>" + _vue(14) + "`${window.__xss=15}`"
)
# no whitespace and one @: still a valid address for the portal's check
EMAIL = "x'\"><img/src=x/onerror=window.__xss=21>" + _vue(22) + "`${window.__xss=23}`@evil.test"
AVATAR_FILE_NAME = (
    "ava' onerror='window.__xss=31' x='<img src=x onerror=window.__xss=32>"
    + _vue(33)
    + "`${window.__xss=34}`.png"
)
LINE = "Design <img src=x onerror=window.__xss=41> ' onmouseover='window.__xss=42' " + _vue(43)
NOTES = 'Thanks " onmouseover="window.__xss=51" <img src=x onerror=window.__xss=52> ' + _vue(53)
REFERENCE = "Ref ' onmouseover='window.__xss=61' <img src=x onerror=window.__xss=62>"
LOGIN_EMAIL = "xss-client@demo.test"
PASSWORD = "demo-password"


def png() -> bytes:
    """A small valid PNG."""
    buffer = BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


async def seed() -> dict[str, object]:
    """The client, its login, an invoice with a partial payment and a payment link; their ids."""
    async with database():
        row = await User.get(email="admin@demo.test")
        admin = Actor(user_id=row.id, role=Role.admin, email=row.email, name=row.full_name)
        client_id = await profiles.create_client(
            actor=admin,
            form=profiles.ClientForm(name=NAME, company=COMPANY, email=EMAIL, currency="USD"),
            avatar=png(),
        )
        await sessions.create_user(
            email=LOGIN_EMAIL, password=PASSWORD, role=Role.client, full_name=NAME, client_id=client_id
        )
        invoice_id = await invoices.create_invoice(
            actor=admin,
            client_id=client_id,
            lines=[LineDraft(LINE, Decimal(1), 20000, Decimal(0))],
            notes=NOTES,
            due_date=today() + timedelta(days=10),
        )
        paid = await ledger.record_offline_payment(
            actor=admin,
            client_id=client_id,
            amount_minor=1000,
            currency="USD",
            method="bank_transfer",
            received_on=today(),
            reference=REFERENCE,
            invoice_id=invoice_id,
        )
        token = await links.issue(
            purpose="invoice", target_id=invoice_id, expires_at=now_utc() + timedelta(days=7)
        )
        profile = await profiles.get_profile(actor=admin, client_id=client_id)
    return {
        "client_id": client_id,
        "invoice_id": invoice_id,
        "payment_id": paid.payment_id,
        "token": token,
        "avatar_path": profile.avatar_path,
    }


if __name__ == "__main__":
    print("XSS_SEED=" + json.dumps(asyncio.run(seed())), flush=True)

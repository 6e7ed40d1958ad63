"""A client with many open invoices (issue 17): My Billing shows the oldest due ten, says how many there are
and links the page that lists them all, 25 at a time, oldest due first, each with Pay now."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from nicegui.testing import User

from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.models import Client, Invoice
from portal.db.models import User as Account
from portal.domain.money import format_money
from portal.domain.status import Role
from portal.payments import ledger
from tests.ui.conftest import sign_in
from tests.ui.test_pay_now import _emit


async def _many_open_invoices(count: int) -> int:
    """Give Ada `count` more open invoices (she has 2 in the demo); return her client id."""
    ada = await Client.get(email="client@demo.test")
    staff = await Account.get(email="staff@demo.test")
    actor = Actor(user_id=staff.id, role=Role.staff, email=staff.email, name=staff.full_name)
    for n in range(count):
        await invoices.create_invoice(
            actor=actor,
            client_id=ada.id,
            due_date=today() + timedelta(days=30 + n),
            lines=[LineDraft(f"Retainer {n}", Decimal(1), 10_000)],
        )
    return ada.id


def _rows(user: User) -> list[dict]:
    return user.find(marker="open-invoices").elements.pop().rows


async def test_my_billing_shows_the_oldest_due_ten_and_counts_the_rest(user: User) -> None:
    ada_id = await _many_open_invoices(28)  # 30 open in all
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="more-open", retries=50)
    await user.should_see("The oldest due 10 of your 30 open items are shown here.")
    oldest = await invoices.open_query(ada_id).limit(10).values_list("number", flat=True)
    assert [row["number"] for row in _rows(user)] == oldest
    owed = sum([await ledger.amount_due(i) for i in await Invoice.filter(client_id=ada_id, status="open")])
    await user.should_see(marker="total-open", content=format_money(owed, "USD"))  # all 30, not the ten

    user.find(marker="all-open").click()
    await user.should_see("Page 1 of 2 · 30 open invoices", retries=50)
    assert len(_rows(user)) == 25
    user.find(marker="next-page").click()
    await user.should_see("Page 2 of 2 · 30 open invoices", retries=50)
    last = await Invoice.filter(client_id=ada_id, status="open").order_by("due_date", "id").offset(25)
    await asyncio.sleep(0.1)
    assert [row["number"] for row in _rows(user)] == [invoice.number for invoice in last]


async def test_pay_now_on_the_page_of_all_open_invoices_pays_that_one(user: User) -> None:
    await _many_open_invoices(12)
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="more-open", retries=50)
    await user.open("/billing/open")
    await user.should_see("Page 1 of 1 · 14 open invoices", retries=50)
    row = _rows(user)[0]
    _emit(user, user.find(marker="open-invoices").elements.pop(), "pay", row["key"])
    await user.should_see(f"Pay invoice {row['number']}", retries=50)
    user.find(marker="pay-confirm").click()
    await user.should_see("Page 1 of 1 · 13 open invoices", retries=100)  # the list redrew itself once
    assert row["key"] not in [r["key"] for r in _rows(user)]
    await user.should_see(marker="open-message")

"""My Billing's to-do panel and live updates, as the demo client sees them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui
from nicegui.testing import User

from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.models import Client, Quote
from portal.db.models import User as UserRow
from portal.domain.status import Role
from portal.payments import credit_requests, ledger
from tests.ui.conftest import sign_in
from tests.ui.test_pay_now import _emit


async def _dashboard(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)


def _quote_rows(user: User) -> list[dict]:
    found = user.find(marker="quotes").elements
    return found.pop().rows if found else []


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(100):
        try:
            if check():
                return
        except AssertionError:  # the section is being redrawn: its table is not there this instant
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def _rows(user: User) -> list[dict]:
    return user.find(marker="open-invoices").elements.pop().rows


async def _staff() -> Actor:
    staff = await UserRow.get(email="staff@demo.test")
    return Actor(user_id=staff.id, role=Role.staff, email=staff.email, name="Sam Staff")


async def test_estimates_and_proposals_wait_for_a_decision(user: User) -> None:
    await _dashboard(user)
    estimate = await Quote.get(kind="estimate")
    proposal = await Quote.get(kind="proposal")
    await user.should_see(marker="quotes")
    table = user.find(marker="quotes").elements.pop()
    assert [(r["document"], r["title"]) for r in table.rows] == [  # their numbers, never a draft's
        (f"Estimate {estimate.number}", "Mobile app prototype"),
        (f"Proposal {proposal.number}", "Annual retainer 2027"),
    ]
    _emit(user, table, "approve", estimate.id)
    await _until(lambda: [r["id"] for r in _quote_rows(user)] == [proposal.id])
    _emit(user, user.find(marker="quotes").elements.pop(), "decline", proposal.id)
    await user.should_see(f"Decline Proposal {proposal.number}?", retries=20)
    user.find(marker="decline-comment").type("Too early for us")
    user.find(marker="decline-confirm").click()
    await user.should_not_see(marker="quotes", retries=50)
    decided = {q.kind: q for q in await Quote.all()}
    assert decided["estimate"].status == "approved" and decided["estimate"].decided_at is not None
    assert decided["proposal"].status == "declined"
    assert decided["proposal"].decision_comment == "Too early for us"
    client_user = await UserRow.get(email="client@demo.test")
    assert decided["proposal"].decided_by_id == client_user.id


async def test_a_card_about_to_expire_asks_to_be_replaced(user: User) -> None:
    await _dashboard(user)
    await user.should_see("Mastercard •••• 4444")
    await user.should_see("expires soon: replace it to keep payments going.")


async def test_credit_can_be_applied_from_the_to_do_panel(user: User) -> None:
    await _dashboard(user)
    await user.should_see("You have $25.00 of credit.")
    user.find(marker="apply-credit").click()
    await user.should_see("Pay invoice", retries=20)
    choice = user.find(marker="pay-with").elements.pop()
    assert isinstance(choice, ui.radio) and choice.value == "credit"


async def test_credit_requests_are_listed_with_pay_now(user: User) -> None:
    await _dashboard(user)
    ada = await Client.get(email="client@demo.test")
    await credit_requests.create_credit_request(
        actor=await _staff(), client_id=ada.id, amount_minor=10000, description="Prepaid support hours"
    )
    await user.open("/billing")
    await user.should_see("My Billing")
    row = next(r for r in _rows(user) if r["number"] == "Prepaid support hours")
    assert (row["amount_due"], row["status"]) == ("$100.00", "Pending")


async def test_a_payment_recorded_by_staff_shows_up_without_a_reload(user: User) -> None:
    """The open page is refreshed by the event the service publishes after commit (no polling timer);
    the latency itself is a benchmark figure, not a timed assertion here."""
    await _dashboard(user)
    overdue = next(r for r in _rows(user) if r["status"] == "Overdue")
    ada = await Client.get(email="client@demo.test")
    await ledger.record_offline_payment(
        actor=await _staff(),
        client_id=ada.id,
        amount_minor=10000,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
        reference="BT-77",
        invoice_id=int(overdue["key"].split(":")[1]),
    )
    row = None
    for _ in range(100):
        row = next((r for r in _rows(user) if r["key"] == overdue["key"]), None)
        if row and row["amount_due"] == "$140.00":
            break
        await asyncio.sleep(0.05)
    assert row and row["amount_due"] == "$140.00"


async def test_everything_paid_shows_a_friendly_empty_state(user: User) -> None:
    await _dashboard(user)
    ada = await Client.get(email="client@demo.test")
    await Quote.all().update(status="approved")
    await ledger.record_offline_payment(
        actor=await _staff(),
        client_id=ada.id,
        amount_minor=1_000_000,
        currency="USD",
        method="cash",
        received_on=today(),
        overpayment_to_credit=True,
    )
    await user.open("/billing")
    await user.should_see("Nothing to pay")
    await user.should_not_see(marker="open-invoices")

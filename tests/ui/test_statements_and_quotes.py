"""The statement of account and decided quotes as people use them: the client's History lists a declined
proposal with its decision and PDF and leads to the statement; the statement page (period presets, a bad
period, the pay link, the PDF) for the client in English and French; staff open it from the client record."""

from __future__ import annotations

import asyncio
from datetime import date

from nicegui import ui
from nicegui.testing import User

from portal import i18n
from portal.billing import quotes, statements
from portal.core.actors import Actor
from portal.core.clock import today
from portal.db.models import Client, Invoice, Quote
from portal.db.models import User as UserRow
from portal.domain.money import format_money
from portal.domain.status import Role
from tests.ui.conftest import sign_in


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def _text(user: User, marker: str) -> str:
    label = _element(user, marker)
    assert isinstance(label, ui.label)
    return label.text


def _rows(user: User, marker: str) -> list[dict]:
    table = _element(user, marker)
    assert isinstance(table, ui.table)
    return table.rows


async def _wait_for(predicate, what: str) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _client_actor(email: str) -> Actor:
    row = await UserRow.get(email=email)
    return Actor(user_id=row.id, role=Role.client, email=row.email, name="Client", client_id=row.client_id)


async def _staff_actor() -> Actor:
    row = await UserRow.get(email="staff@demo.test")
    return Actor(user_id=row.id, role=Role.staff, email=row.email, name="Sam")


async def _decline_the_proposal() -> Quote:
    proposal = await Quote.get(kind="proposal")
    actor = await _client_actor("client@demo.test")
    await quotes.decide(actor=actor, quote_id=proposal.id, approve=False, comment="Too early for us")
    return proposal


async def test_history_lists_the_declined_proposal_and_leads_to_the_statement(user: User) -> None:
    proposal = await _decline_the_proposal()
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="nav-billing", retries=50)
    await user.open("/billing/history")
    await user.should_see("Estimates and proposals")
    (row,) = _rows(user, "decided-quotes")
    assert row["decision"] == "Declined" and row["comment"] == "Too early for us"
    assert row["decided_on"] == i18n.format_date(today(), "en")
    assert row["href"] == f"/billing/quotes/{proposal.id}"
    assert row["pdf_href"] == f"/billing/quotes/{proposal.id}/pdf"
    assert row["document"].startswith(f"Proposal {proposal.number}")
    response = await user.http_client.get(row["pdf_href"])
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    await user.should_see(marker="statement-link")
    await user.open(f"/billing/quotes/{proposal.id}")
    await user.should_see(marker="quote-pdf")
    await user.should_see(f"Declined on {i18n.format_date(today(), 'en')}")


async def test_the_client_statement_shows_balances_aging_the_pay_link_and_the_pdf(user: User) -> None:
    ada = await Client.get(email="client@demo.test")
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="nav-billing", retries=50)
    await user.open("/billing/statement")
    await user.should_see("Statement of account")
    await user.should_see(marker="statement-USD")
    expected = await statements.build_statement(
        actor=await _staff_actor(), client_id=ada.id, start=date(today().year, 1, 1), end=today()
    )
    block = expected.block("USD")
    assert block is not None
    assert _text(user, "closing-USD") == format_money(block.closing_minor, "USD")
    assert _text(user, "opening-USD") == format_money(block.opening_minor, "USD")
    (aging,) = _rows(user, "aging-USD")
    assert aging["total"] == format_money(block.open_minor, "USD")
    descriptions = [r["description"] for r in _rows(user, "statement-lines-USD")]
    numbers = [i.number for i in await Invoice.filter(client_id=ada.id, status__in=["open", "paid"])]
    issued_this_year = [n for n in numbers if any(n in d for d in descriptions)]
    assert issued_this_year, descriptions
    assert _element(user, "period-preset").value == "year"  # type: ignore[attr-defined]
    if block.balance_now_minor > 0:
        link = _element(user, "pay-all-USD")
        assert link.props["href"] == "/billing/pay-all/USD"
    pdf_link = _element(user, "statement-pdf")
    response = await user.http_client.get(pdf_link.props["href"])
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert response.headers["content-disposition"].startswith('attachment; filename="statement-Ada-Lovelace-')
    # the console's PDF route is staff-only
    response = await user.http_client.get(f"/admin/clients/{ada.id}/statement/pdf")
    assert response.status_code == 404


async def test_a_bad_period_is_explained_and_the_year_so_far_shown(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="nav-billing", retries=50)
    await user.open(f"/billing/statement?from={today().isoformat()}&to=2001-01-01")
    await user.should_see("The start date must be on or before the end date.")
    await user.should_see(marker="statement-dates")
    assert _element(user, "period-from").value == date(today().year, 1, 1).isoformat()  # type: ignore[attr-defined]
    response = await user.http_client.get("/billing/statement/pdf?from=nonsense")
    assert response.status_code == 400


async def test_the_statement_in_french(user: User) -> None:
    await sign_in(user, "emile@demo.test")
    await user.should_see(marker="nav-billing", retries=50)
    await user.open("/billing/statement?from=2001-01-01")
    await user.should_see("Relevé de compte")
    await user.should_see("Compte en EUR")
    await user.should_see("Solde de clôture au")
    (aging,) = _rows(user, "aging-EUR")
    assert set(aging) >= {"current", "1_30", "31_60", "61_90", "over_90", "total"}
    columns = [c["label"] for c in _element(user, "aging-EUR").columns]  # type: ignore[attr-defined]
    assert columns == ["Non échu", "1-30 jours", "31-60 jours", "61-90 jours", "Plus de 90 jours", "Total"]


async def test_staff_open_the_statement_from_the_client_record(user: User) -> None:
    ada = await Client.get(email="client@demo.test")
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(f"/admin/clients/{ada.id}")
    await user.should_see(marker="action-statement")
    user.find(marker="action-statement").click()
    await user.should_see("Statement of account · Ada Lovelace", retries=50)
    await user.should_see(marker="statement-USD")
    await user.should_not_see(marker="pay-all-USD")  # paying is the client's
    lines = _rows(user, "statement-lines-USD")
    assert any(r["href"].startswith("/admin/invoices/") for r in lines)
    response = await user.http_client.get(f"/admin/clients/{ada.id}/statement/pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    await user.open("/admin/clients/99999/statement")
    await user.should_see(marker="not-found")


async def test_the_console_quote_list_says_the_decision(user: User) -> None:
    await _decline_the_proposal()
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open("/admin/quotes")
    await _wait_for(lambda: len(_rows(user, "quotes")) == 2, "the two demo quotes")
    rows = {r["kind"]: r for r in _rows(user, "quotes")}
    day = i18n.format_date(today(), "en")
    assert rows["proposal"]["decision"] == f"Declined on {day} · Too early for us"
    assert rows["estimate"]["decision"] == ""

"""The console overview (/admin) and the audit log (/admin/audit) as staff and admins see them, and the
console navigation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from nicegui import ui
from nicegui.testing import User

from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.db.models import Allocation, AuditEntry, BillingRequest, Client, Invoice, Payment
from portal.db.models import User as UserRow
from portal.domain.money import format_money
from portal.domain.status import Role
from portal.payments import ledger
from tests.ui.conftest import sign_in

CONSOLE_LINKS = ["overview", "clients", "invoices", "quotes", "requests", "plans"]
ADMIN_LINKS = ["audit", "settings"]


async def _due_by_currency() -> dict[str, tuple[int, int]]:
    """What the demo data owes, worked out row by row (the page must agree with this)."""
    due: dict[str, list[int]] = {}
    for invoice in await Invoice.filter(status="open"):
        allocated = sum(a.amount_minor for a in await Allocation.filter(invoice_id=invoice.id))
        amounts = due.setdefault(invoice.currency, [0, 0])
        amounts[0] += invoice.total_minor - allocated
        if invoice.due_date < today():
            amounts[1] += invoice.total_minor - allocated
    return {currency: (a[0], a[1]) for currency, a in due.items()}


def _element(user: User, marker: str) -> ui.element:
    return user.find(marker=marker).elements.pop()


async def _staff_actor() -> Actor:
    staff = await UserRow.get(email="staff@demo.test")
    return Actor(user_id=staff.id, role=Role.staff, email=staff.email, name="Sam Staff")


async def test_staff_land_on_the_overview_with_receivables_per_currency(user: User) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="receivables", retries=50)

    expected = await _due_by_currency()
    assert set(expected) == {"USD", "EUR", "JPY"}
    for currency, (open_minor, overdue_minor) in expected.items():
        await user.should_see(format_money(open_minor, currency))
        await user.should_see(marker=f"overdue-{currency}")
        overdue = _element(user, f"overdue-{currency}")
        assert format_money(overdue_minor, currency) in overdue.text
    assert expected["USD"][1] > 0  # the demo has an overdue USD invoice: the figure is not trivially zero


async def test_the_payments_chart_has_one_series_per_currency_in_major_units(user: User) -> None:
    ada = await Client.get(email="client@demo.test")
    await Payment.create(
        client_id=ada.id,
        amount_minor=12_345,
        currency="USD",
        status="succeeded",
        source="offline",
        method="cash",
        received_on=today() - timedelta(days=2),
    )
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="payments-chart", retries=50)

    chart = _element(user, "payments-chart")
    assert isinstance(chart, ui.echart)
    options = chart.options
    assert len(options["xAxis"]["data"]) == 30
    by_currency = {series["name"]: series["data"] for series in options["series"]}
    received = await Payment.filter(status__in=["succeeded", "partially_refunded", "refunded"]).values(
        "currency", "amount_minor", "received_on"
    )
    assert set(by_currency) == {row["currency"] for row in received}
    usd_two_days_ago = sum(
        r["amount_minor"]
        for r in received
        if r["currency"] == "USD" and r["received_on"] == today() - timedelta(2)
    )
    assert by_currency["USD"][-3] == usd_two_days_ago / 100  # dollars on the chart, cents in the database
    assert by_currency["USD"][-3] >= 123.45


async def test_recent_activity_expiring_requests_and_payments_to_review(user: User) -> None:
    ada = await Client.get(email="client@demo.test")
    soon = await BillingRequest.create(
        client_id=ada.id,
        email="client@demo.test",
        description="Deposit for the redesign",
        currency="USD",
        amount_minor=50_000,
        success_url="https://example.test/ok",
        cancel_url="https://example.test/cancel",
        status="pending",
        sent_at=now_utc() - timedelta(hours=20),
        expires_at=now_utc() + timedelta(hours=2),
    )
    await sign_in(user, "admin@demo.test")
    await user.should_see(marker="recent-activity", retries=50)

    activity = _element(user, "recent-activity").rows
    newest = await AuditEntry.all().order_by("-at", "-id").first()
    assert newest is not None and activity and activity[0]["id"] == newest.id
    assert activity[0]["action"] == "Signed in" and activity[0]["who"] == "Alex Admin"
    expiring = _element(user, "expiring-requests").rows
    assert [row["id"] for row in expiring] == [soon.id]  # the demo's 24-hour request is not "about to expire"
    assert expiring[0]["amount"] == "$500.00" and expiring[0]["expires"].startswith("in 1 h")
    await user.should_see(marker="audit-link")
    await user.should_not_see(marker="needs-review")

    payment = await Payment.filter(client_id=ada.id).first()
    assert payment is not None
    await Payment.filter(id=payment.id).update(
        needs_review=True, review_note="Amount differs from the invoice"
    )
    await user.open("/admin")
    rows = _element(user, "needs-review").rows
    assert [(row["id"], row["client"], row["note"]) for row in rows] == [
        (payment.id, "Ada Lovelace", "Amount differs from the invoice")
    ]


async def test_the_overview_follows_payments_recorded_elsewhere(user: User) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="open-USD", retries=50)
    before = (await _due_by_currency())["USD"][0]
    await user.should_see(format_money(before, "USD"))
    ada = await Client.get(email="client@demo.test")

    await ledger.record_offline_payment(
        actor=await _staff_actor(),
        client_id=ada.id,
        amount_minor=1_000,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
    )

    await user.should_see(format_money(before - 1_000, "USD"), retries=50)


async def test_the_console_navigation_by_role(user: User) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="receivables", retries=50)
    for name in CONSOLE_LINKS:
        await user.should_see(marker=f"nav-{name}")
    for name in ADMIN_LINKS:
        await user.should_not_see(marker=f"nav-{name}")
    await user.should_not_see(marker="audit-link")
    await user.open("/admin/audit")
    await user.should_see("You do not have access to this page.")
    await user.should_not_see(marker="audit-entries")


async def test_admins_get_all_eight_console_links(user: User) -> None:
    await sign_in(user, "admin@demo.test")
    await user.should_see(marker="receivables", retries=50)
    for name in CONSOLE_LINKS + ADMIN_LINKS:
        await user.should_see(marker=f"nav-{name}")
    drawer = _element(user, "nav-drawer")
    assert isinstance(drawer, ui.left_drawer)
    (nav,) = [e for e in drawer.descendants() if e.props.get("links")]  # the links: one element
    links = nav.props["links"]
    assert [link["href"] for link in links] == [
        "/admin",
        "/admin/clients",
        "/admin/invoices",
        "/admin/quotes",
        "/admin/requests",
        "/admin/plans",
        "/admin/exports",
        "/admin/audit",
        "/settings/organization",
    ]
    assert [link["current"] for link in links][:2] == [True, False]  # where we are


async def test_a_client_cannot_open_the_overview(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open("/admin")
    await user.should_see("You do not have access to this page.")
    await user.should_not_see(marker="receivables")
    await user.should_not_see(marker="nav-drawer")


# -- the audit log ---------------------------------------------------------------------------------
async def _wait_rows(user: User, check: Callable[[list[dict]], bool], tries: int = 100) -> list[dict]:
    table = _element(user, "audit-entries")
    for _ in range(tries):
        if check(table.rows):
            return table.rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"the audit table never matched: {table.rows}")


async def test_the_audit_log_filters_and_pages(user: User) -> None:
    staff = await UserRow.get(email="staff@demo.test")
    ada = await Client.get(email="client@demo.test")
    base = datetime(2026, 1, 15, 10, tzinfo=UTC)
    for n in range(30):
        entry = await AuditEntry.create(
            actor_id=staff.id,
            on_behalf_of_id=ada.id,
            action="credit.adjust",
            subject=f"client:{ada.id}",
            details={"amount_minor": 100 + n, "currency": "USD"},
        )
        await AuditEntry.filter(id=entry.id).update(at=base + timedelta(minutes=n))
    total = await AuditEntry.all().count() + 1  # + the admin's sign-in below

    await sign_in(user, "admin@demo.test")
    await user.should_see(marker="receivables", retries=50)
    await user.open("/admin/audit")
    await user.should_see(marker="audit-entries", retries=50)

    rows = _element(user, "audit-entries").rows
    assert len(rows) == 25 and rows[0]["action"] == "Signed in"
    await user.should_see(f"Page 1 of 2 · {total} entries")

    user.find(marker="audit-actor").type("staff@")
    rows = await _wait_rows(user, lambda r: len(r) == 25 and all(x["action"] == "Adjusted credit" for x in r))
    assert rows[0]["details"] == "Amount: $1.29"  # newest first, details in words
    assert rows[0]["who"] == "Sam Staff (staff@demo.test)" and rows[0]["client"] == "Ada Lovelace"
    await user.should_see("Page 1 of 2 · 30 entries")
    user.find(marker="next-page").click()
    rows = await _wait_rows(user, lambda r: len(r) == 5)
    assert rows[-1]["details"] == "Amount: $1.00"

    _element(user, "audit-from").set_value("2026-01-16")  # as the picker sets it
    await _wait_rows(user, lambda r: r == [])
    await user.should_see("Page 1 of 1 · 0 entries")
    _element(user, "audit-from").set_value("2026-01-15")
    await _wait_rows(user, lambda r: len(r) == 25)
    _element(user, "audit-to").set_value("2026-01-10")
    date_to = _element(user, "audit-to")
    for _ in range(100):
        if date_to.error:
            break
        await asyncio.sleep(0.05)
    assert date_to.error == "The end date is before the start date."  # shown under the To field
    assert len(_element(user, "audit-entries").rows) == 25  # a bad range changes nothing


async def test_the_audit_log_filters_by_client_and_action(user: User) -> None:
    await sign_in(user, "admin@demo.test")
    await user.should_see(marker="receivables", retries=50)
    yuki = await Client.get(email="yuki@demo.test")
    await user.open("/admin/audit")
    await user.should_see(marker="audit-entries", retries=50)

    client_select = _element(user, "audit-client")
    assert isinstance(client_select, ui.select)
    client_select.set_value(yuki.id)
    expected = await AuditEntry.filter(on_behalf_of_id=yuki.id).count()
    assert expected > 0
    rows = await _wait_rows(user, lambda r: len(r) == min(expected, 25))
    assert {row["client"] for row in rows} == {"Yuki Tanaka"}

    client_select.set_value(None)
    action_select = _element(user, "audit-action")
    action_select.set_value("login")
    rows = await _wait_rows(user, lambda r: r and all(x["action"] == "Signed in" for x in r))
    assert len(rows) == await AuditEntry.filter(action="login").count()

"""Viewing the portal as a client, as an admin sees it: the reason dialog, the banner on every page, Stop,
the session that changes each time, the view that ends by itself, and the trail it leaves."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from nicegui.testing import User

from portal.core.clock import now_utc
from portal.db.models import AuditEntry, Client, ImpersonationSession
from portal.db.models import User as UserRow
from tests.ui.conftest import sign_in


def _session_id(user: User) -> str | None:
    cookie = user.http_client.cookies.get("session")
    if not cookie:
        return None
    payload = cookie.split(".")[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))["id"]


async def _ada() -> Client:
    return await Client.get(email="client@demo.test")


async def _admin_on_adas_record(user: User) -> Client:
    ada = await _ada()
    await sign_in(user, "admin@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(f"/admin/clients/{ada.id}")
    await user.should_see(marker="impersonate", retries=50)
    return ada


async def _start_viewing(user: User, reason: str = "Ticket 42: cannot find an invoice") -> None:
    user.find(marker="impersonate").click()
    await user.should_see("View the portal as Ada Lovelace", retries=20)
    user.find(marker="impersonate-reason").type(reason)
    user.find(marker="impersonate-start").click()


async def test_an_admin_views_as_the_client_with_a_banner_and_stops(user: User) -> None:
    ada = await _admin_on_adas_record(user)
    before = _session_id(user)

    await _start_viewing(user)

    await user.should_see("Viewing as Ada Lovelace", retries=50)
    await user.should_see(marker="open-invoices")  # Ada's own My Billing
    await user.should_see("Analytical Engines Ltd")
    during = _session_id(user)
    assert before and during and during != before
    session = await ImpersonationSession.get(client_id=ada.id)
    assert session.reason == "Ticket 42: cannot find an invoice" and session.ended_at is None
    # the banner is on every page of the view, and the console is closed meanwhile
    await user.open("/billing/history")
    await user.should_see("Viewing as Ada Lovelace")
    await user.open("/admin/clients")
    await user.should_see("Stop impersonating to use the console.")
    await user.should_not_see(marker="clients")
    await user.should_see(marker="stop-impersonation")

    user.find(marker="stop-impersonation").click()

    await user.should_see("You are no longer viewing the portal as Ada Lovelace.", retries=50)
    await user.should_not_see(marker="impersonation-banner")
    await user.should_see(marker="impersonate")  # back on Ada's record in the console
    after = _session_id(user)
    assert after and after not in (before, during)
    assert (await ImpersonationSession.get(id=session.id)).ended_at is not None
    actions = [e.action for e in await AuditEntry.filter(action__startswith="impersonation.").order_by("id")]
    assert actions == ["impersonation.start", "impersonation.stop"]
    # the notice is shown once
    await user.open("/admin")
    await user.should_not_see("You are no longer viewing the portal as Ada Lovelace.")


async def test_a_reason_is_required(user: User) -> None:
    ada = await _admin_on_adas_record(user)
    user.find(marker="impersonate").click()
    await user.should_see("View the portal as Ada Lovelace", retries=20)
    user.find(marker="impersonate-reason").type("   ")
    user.find(marker="impersonate-start").click()

    await user.should_see(
        "Say why you need to view the portal as this client (for example a support ticket).", retries=50
    )
    await user.should_not_see(marker="impersonation-banner")
    assert not await ImpersonationSession.filter(client_id=ada.id).exists()


async def test_staff_get_no_view_as_client_button(user: User) -> None:
    ada = await _ada()
    await sign_in(user, "staff@demo.test")
    await user.should_see("Overview", retries=50)
    await user.open(f"/admin/clients/{ada.id}")
    await user.should_see("Ada Lovelace", retries=50)
    await user.should_see(marker="client-actions")
    await user.should_not_see(marker="impersonate")
    await user.should_not_see("View as client")


async def test_the_view_ends_by_itself_and_the_next_page_is_the_console_with_a_notice(user: User) -> None:
    ada = await _admin_on_adas_record(user)
    await _start_viewing(user)
    await user.should_see("Viewing as Ada Lovelace", retries=50)
    during = _session_id(user)
    limit = now_utc() - timedelta(seconds=1)
    await ImpersonationSession.filter(client_id=ada.id).update(expires_at=limit)

    await user.open("/billing")

    await user.should_see("Your view as Ada Lovelace has ended", retries=50)
    await user.should_not_see(marker="impersonation-banner")
    await user.should_see(marker="receivables")  # the console overview
    assert _session_id(user) != during
    session = await ImpersonationSession.get(client_id=ada.id)
    assert session.ended_at is not None
    expired = await AuditEntry.get(action="impersonation.expired")
    admin = await UserRow.get(email="admin@demo.test")
    assert (expired.actor_id, expired.on_behalf_of_id) == (admin.id, ada.id)


async def test_the_client_sees_the_visit_in_its_access_history(user: User) -> None:
    await _admin_on_adas_record(user)
    await _start_viewing(user, reason="Ticket 77: wrong address on the invoice")
    await user.should_see("Viewing as Ada Lovelace", retries=50)
    user.find(marker="stop-impersonation").click()
    await user.should_see("You are no longer viewing the portal as Ada Lovelace.", retries=50)
    user.find(marker="sign-out").click()
    await user.should_see("Sign in to your billing portal", retries=50)

    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open("/billing/history")

    rows = user.find(marker="access-history").elements.pop().rows
    assert len(rows) == 1
    assert rows[0]["reason"] == "Ticket 77: wrong address on the invoice"
    assert rows[0]["admin"].startswith("Alex Admin")
    assert rows[0]["started"].endswith("UTC") and rows[0]["ended"].endswith("UTC")

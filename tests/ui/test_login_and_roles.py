"""Sign-in, sign-out, lockout, role gating and the `next` redirect, as a user sees them."""

from __future__ import annotations

import asyncio
import base64
import json

from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import sign_in


def _session_id(user: User) -> str | None:
    cookie = user.http_client.cookies.get("session")
    if not cookie:
        return None
    payload = cookie.split(".")[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))["id"]


async def test_a_client_signs_in_and_lands_on_my_billing(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.should_see("Ada Lovelace")
    await user.should_see("Analytical Engines Ltd")
    table = user.find(marker="open-invoices").elements.pop()
    assert isinstance(table, ui.table)
    numbers = [row["number"] for row in table.rows]
    assert len(numbers) == 2 and all(n.startswith("INV-") for n in numbers)
    assert {row["status"] for row in table.rows} == {"Open", "Overdue"}
    await user.should_see("$25.00")  # the demo credit
    await user.should_see("Sandbox")


async def test_staff_sign_in_and_land_on_the_console(user: User) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see(marker="page-title", retries=50)
    assert user.find(marker="page-title").elements.pop().text == "Overview"  # /admin
    await user.open("/admin/clients")
    await user.should_see(marker="clients")
    table = user.find(marker="clients").elements.pop()
    assert {row["name"] for row in table.rows} == {"Ada Lovelace", "Émile Durand", "Yuki Tanaka"}


async def test_the_console_search_filters_clients(user: User) -> None:
    await sign_in(user, "admin@demo.test")
    await user.should_see(marker="page-title", retries=50)
    await user.open("/admin/clients")
    await user.should_see(marker="clients")
    user.find(marker="client-search").type("tanaka")
    table = user.find(marker="clients").elements.pop()
    for _ in range(100):
        if [row["name"] for row in table.rows] == ["Yuki Tanaka"]:
            break
        await asyncio.sleep(0.05)
    assert [row["name"] for row in table.rows] == ["Yuki Tanaka"]
    await user.should_see("Page 1 of 1 · 1 client")


async def test_a_wrong_password_is_refused_with_a_clear_message(user: User) -> None:
    await sign_in(user, "client@demo.test", "not the password")
    await user.should_see("Wrong email or password.", retries=50)
    await user.should_not_see("My Billing")


async def test_an_unknown_email_gets_the_same_message(user: User) -> None:
    await sign_in(user, "nobody@demo.test", "not the password")
    await user.should_see("Wrong email or password.", retries=50)


async def _submit_and_wait(user: User, email: str, password: str) -> None:
    """Submit the form and wait until the server has answered (the password field is cleared on failure)."""
    user.find(marker="email").clear().type(email)
    password_input = user.find(marker="password").clear().type(password)
    user.find(marker="sign-in").click()
    field = password_input.elements.pop()
    for _ in range(100):
        if field.value == "":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sign-in form did not answer")


async def test_five_failures_lock_the_account_and_say_when_to_retry(user: User) -> None:
    await user.open("/login")
    for _ in range(5):
        await _submit_and_wait(user, "client@demo.test", "wrong password!")
        await user.should_see("Wrong email or password.")
    await _submit_and_wait(user, "client@demo.test", "demo-password")
    await user.should_see("Too many failed sign-in attempts. Try again after", retries=50)
    await user.should_not_see("My Billing")


async def test_a_client_opening_the_console_sees_not_allowed_and_no_data(user: User) -> None:
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    await user.open("/admin/clients")
    await user.should_see("You do not have access to this page.")
    await user.should_not_see(marker="clients")
    await user.should_not_see("Yuki Tanaka")


async def test_staff_opening_my_billing_sees_not_allowed(user: User) -> None:
    await sign_in(user, "staff@demo.test")
    await user.should_see("Clients", retries=50)
    await user.open("/billing")
    await user.should_see("You do not have access to this page.")
    await user.should_not_see(marker="open-invoices")


async def test_signed_out_visitors_are_sent_to_login_and_back_after_signing_in(user: User) -> None:
    response = await user.http_client.get("/billing")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fbilling"
    await sign_in(user, "admin@demo.test", path="/login?next=%2Fbilling")
    # an admin has no billing page of their own: the next page is honoured and says so
    await user.should_see("You do not have access to this page.", retries=50)


async def test_signing_in_and_out_starts_a_new_session(user: User) -> None:
    await user.open("/login")
    before = _session_id(user)
    user.find(marker="email").type("client@demo.test")
    user.find(marker="password").type("demo-password")
    user.find(marker="sign-in").click()
    await user.should_see("My Billing", retries=50)
    during = _session_id(user)
    assert before and during and before != during
    user.find(marker="sign-out").click()
    await user.should_see("Sign in to your billing portal", retries=50)
    after = _session_id(user)
    assert after and after != during
    await user.open("/billing")
    await user.should_see("Sign in to your billing portal")


async def test_an_offsite_next_is_ignored(user: User) -> None:
    await sign_in(user, "client@demo.test", path="/login?next=%2F%2Fevil.example%2F")
    await user.should_see("My Billing", retries=50)

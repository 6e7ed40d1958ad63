"""The console's clients as staff see them: the list, the create and edit form, the invitation and the
set-password page, and a client's record with the credit adjustment."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from PIL import Image

from portal.clients import profiles
from portal.db.models import AuditEntry, Client, CreditEntry, OutboxEmail
from portal.db.models import User as UserRow
from tests.ui.conftest import sign_in


@pytest.fixture(autouse=True)
def avatar_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Avatars go to a private folder, never the project's data/ folder."""
    folder = tmp_path / "avatars"
    monkeypatch.setattr(profiles, "AVATAR_DIR", folder)
    yield folder


async def _wait_for(predicate: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    for _ in range(200):
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _table(user: User, marker: str) -> ui.table:
    table = user.find(marker=marker).elements.pop()
    assert isinstance(table, ui.table)
    return table


def _rows(user: User, marker: str) -> list[dict[str, Any]]:
    return list(_table(user, marker).rows)


def _names(user: User) -> list[str]:
    """The names on the page, sorted (the database's collation decides where 'Émile' goes)."""
    return sorted(row["name"] for row in _rows(user, "clients"))


async def _names_become(user: User, expected: list[str]) -> None:
    await _wait_for(lambda: _names(user) == sorted(expected), f"clients {expected} (got {_names(user)})")


async def _staff_on(user: User, path: str, marker: str, email: str = "staff@demo.test") -> None:
    await sign_in(user, email)
    await user.should_see(marker="nav-overview", retries=50)
    await user.open(path)
    await user.should_see(marker=marker, retries=50)


async def _client_id(email: str) -> int:
    return (await Client.get(email=email)).id


# -- the list ---------------------------------------------------------------------------------------------
async def test_the_list_searches_and_filters_on_the_server(user: User) -> None:
    await _staff_on(user, "/admin/clients", "clients")
    await _names_become(user, ["Ada Lovelace", "Émile Durand", "Yuki Tanaka"])
    ada = next(r for r in _rows(user, "clients") if r["name"] == "Ada Lovelace")
    assert ada["has_overdue"] is True and ada["open_due"].startswith("$")

    user.find(marker="client-search").type("atelier")
    await _names_become(user, ["Émile Durand"])
    user.find(marker="client-search").clear()
    await _names_become(user, ["Ada Lovelace", "Émile Durand", "Yuki Tanaka"])

    user.find(marker="filter-overdue").click()
    await _names_become(user, ["Ada Lovelace"])
    await user.should_see("Page 1 of 1 · 1 client")
    user.find(marker="filter-overdue").click()
    await _names_become(user, ["Ada Lovelace", "Émile Durand", "Yuki Tanaka"])

    user.find(marker="filter-currency").click()
    user.find("JPY").click()
    await _names_become(user, ["Yuki Tanaka"])


async def test_the_list_pages_and_rows_open_the_record(user: User) -> None:
    await Client.bulk_create([Client(name=f"Zed {i:02}", email=f"zed{i}@x.test") for i in range(30)])
    await _staff_on(user, "/admin/clients", "clients")
    await user.should_see("Page 1 of 2 · 33 clients")
    assert len(_rows(user, "clients")) == 25
    user.find(marker="next-page").click()
    await _wait_for(lambda: len(_rows(user, "clients")) == 8, "the second page")
    second = _names(user)
    await user.should_see("Page 2 of 2 · 33 clients")
    user.find(marker="prev-page").click()
    await _wait_for(lambda: len(_rows(user, "clients")) == 25, "the first page again")
    assert not set(second) & set(_names(user))
    assert len(set(second) | set(_names(user))) == 33

    yuki = await _client_id("yuki@demo.test")
    user.find(marker="client-search").type("yuki")
    await _names_become(user, ["Yuki Tanaka"])
    user.find(marker="clients").trigger("rowClick", [{}, _rows(user, "clients")[0], 0])
    await user.should_see(marker="client-header", retries=50)
    await user.should_see("yuki@demo.test")
    assert user.back_history[-1] == f"/admin/clients/{yuki}"


# -- create and edit --------------------------------------------------------------------------------------
def _fill(user: User, **values: str) -> None:
    for marker, value in values.items():
        user.find(marker=marker).clear().type(value)


def _png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 40), "blue").save(out, format="PNG")
    return out.getvalue()


async def _upload(user: User, name: str, data: bytes, content_type: str) -> None:
    upload = user.find(marker="client-avatar").elements.pop()
    assert isinstance(upload, ui.upload)
    with user:
        await upload.handle_uploads([ui.upload.SmallFileUpload(name, content_type, data)])


async def test_creating_a_client_names_the_wrong_fields_then_saves(user: User, avatar_dir: Path) -> None:
    await _staff_on(user, "/admin/clients", "new-client")
    user.find(marker="new-client").click()
    await user.should_see(marker="client-form", retries=50)
    _fill(user, **{"client-name": "Carla Cruz", "client-email": "carla-at-example", "client-currency": "XYZ"})
    user.find(marker="client-save").click()
    await user.should_see("Enter a valid email address, like name@example.com.", retries=50)
    await user.should_see("'XYZ' is not an ISO currency code; use three letters like USD or EUR.")
    assert not await Client.exists(name="Carla Cruz")

    _fill(user, **{"client-email": "CLIENT@demo.test", "client-currency": "eur"})
    user.find(marker="client-save").click()
    await user.should_see("Ada Lovelace already uses this email address.", retries=50)

    await _upload(user, "evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml")
    await user.should_see("Upload a PNG or JPEG picture.")
    await _upload(user, "carla.png", _png(), "image/png")
    await user.should_see("carla.png will be used once you save.")
    _fill(user, **{"client-email": "carla@example.test", "client-company": "Cruz & Co"})
    user.find(marker="client-save").click()
    await user.should_see(marker="client-header", retries=50)
    await user.should_see("carla@example.test")
    client = await Client.get(email="carla@example.test")
    assert (client.name, client.company, client.currency) == ("Carla Cruz", "Cruz & Co", "EUR")
    assert client.avatar_path.startswith("/uploads/avatars/")
    response = await user.http_client.get(client.avatar_path)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert (await user.http_client.get("/uploads/avatars/..%2F..%2Fmain.py")).status_code == 404


async def test_editing_a_client(user: User) -> None:
    yuki = await _client_id("yuki@demo.test")
    await _staff_on(user, f"/admin/clients/{yuki}", "action-edit")
    user.find(marker="action-edit").click()
    await user.should_see(marker="client-form", retries=50)
    await user.should_see("Edit Yuki Tanaka")
    _fill(user, **{"client-name": "", "client-company": "Tanaka Design"})
    user.find(marker="client-save").click()
    await user.should_see("Enter the client's name.", retries=50)
    _fill(user, **{"client-name": "Yuki Tanaka"})
    user.find(marker="client-reminders").click()
    user.find(marker="client-save").click()
    await user.should_see(marker="client-header", retries=50)
    await user.should_see("Tanaka Design")
    await user.should_see("Reminders off")
    client = await Client.get(id=yuki)
    assert client.company == "Tanaka Design" and client.reminders_enabled is False
    assert await AuditEntry.exists(action="client.update", on_behalf_of_id=yuki)


# -- invitation and set-password ----------------------------------------------------------------------------
async def test_invite_then_set_a_password_from_the_email_and_sign_in(
    user: User, create_user: Callable[[], User]
) -> None:
    carla = await Client.create(name="Carla Cruz", email="carla@example.test", currency="EUR")
    await _staff_on(user, f"/admin/clients/{carla.id}", "action-invite")
    await user.should_see("No login yet")
    user.find(marker="action-invite").click()
    await user.should_see("A set-password link was emailed to carla@example.test", retries=50)
    await user.should_see("Invited, no password set yet")
    email = await OutboxEmail.get(client_id=carla.id, kind="invitation")
    link = re.search(r"http://test(/set-password\?token=[A-Za-z0-9_\-]+)", email.text_body)
    assert link, email.text_body

    invited = create_user()
    await invited.open(link.group(1))
    await invited.should_see("For Carla Cruz (carla@example.test).")
    invited.find(marker="new-password").type("a long new password")
    invited.find(marker="confirm-password").type("a long new passwort")
    invited.find(marker="set-password").click()
    await invited.should_see("The two passwords are not the same.", retries=50)
    invited.find(marker="confirm-password").clear().type("a long new password")
    invited.find(marker="set-password").click()
    await invited.should_see("Your password is set. Sign in with your email and new password.", retries=50)
    assert (await UserRow.get(email="carla@example.test")).password_hash

    await sign_in(invited, "carla@example.test", "a long new password")
    await invited.should_see("My Billing", retries=50)
    await invited.should_see("Carla Cruz")

    used = create_user()
    await used.open(link.group(1))
    await used.should_see("This link has already been used.")
    await used.should_not_see(marker="new-password")


async def test_a_tampered_set_password_link_is_refused(user: User) -> None:
    await user.open("/set-password?token=not-a-real-token-at-all-0123456789")
    await user.should_see("This link is not valid. Check that you copied the whole link from the email.")
    await user.should_not_see(marker="set-password")


# -- the record -------------------------------------------------------------------------------------------
async def test_the_record_shows_every_section_of_the_client(user: User) -> None:
    ada = await _client_id("client@demo.test")
    await OutboxEmail.create(
        kind="invoice",
        message_id="<failed@x>",
        client_id=ada,
        to_address="client@demo.test",
        subject="Invoice INV-lost",
        text_body="x",
        status="failed",
        last_error="550 mailbox unavailable",
    )
    await _staff_on(user, f"/admin/clients/{ada}", "client-header")
    await user.should_see("Ada Lovelace")
    await user.should_see("Analytical Engines Ltd")
    await user.should_see("Credit: $25.00")
    await user.should_see("Can log in as client@demo.test")
    await user.should_see("1 email to this client could not be delivered: see Emails.")
    for marker in (
        "invoices",
        "quotes",
        "billing-requests",
        "credit-requests",
        "subscriptions",
        "payment-methods",
        "credit-ledger",
        "payments",
        "emails",
        "audit",
    ):
        await user.should_see(marker=marker)
    invoices = _rows(user, "invoices")
    assert len(invoices) == 3 and {r["status"] for r in invoices} == {"Open", "Overdue", "Paid"}
    assert sorted(r["kind"] for r in _rows(user, "quotes")) == ["Estimate", "Proposal"]
    assert {r["status"] for r in _rows(user, "billing-requests")} == {"Pending", "Expired"}
    assert [r["name"] for r in _rows(user, "subscriptions")] == ["Website Care"]
    labels = [r["label"] for r in _rows(user, "payment-methods")]
    assert labels[0].startswith("Visa •••• 4242 (12/") and labels[1].startswith("Mastercard •••• 4444")
    assert [r["reference"] for r in _rows(user, "payments")] == ["BT-2291"]
    assert _rows(user, "credit-ledger")[0]["note"] == "Goodwill credit for a delay"
    failed = [r for r in _rows(user, "emails") if r["failed"]]
    assert [(r["subject"], r["status"], r["last_error"]) for r in failed] == [
        ("Invoice INV-lost", "Failed", "550 mailbox unavailable")
    ]
    assert "credit.adjust" in {r["action"] for r in _rows(user, "audit")}
    for marker in ("action-new-invoice", "action-new-estimate", "action-record-payment", "action-invite"):
        await user.should_see(marker=marker)
    await user.should_not_see(marker="impersonate")  # staff cannot view as a client


async def test_an_admin_can_view_as_the_client_from_the_record(user: User) -> None:
    ada = await _client_id("client@demo.test")
    await _staff_on(user, f"/admin/clients/{ada}", "client-header", email="admin@demo.test")
    await user.should_see(marker="impersonate")


async def test_the_credit_adjustment_needs_a_reason_and_never_goes_below_zero(user: User) -> None:
    ada = await _client_id("client@demo.test")
    await _staff_on(user, f"/admin/clients/{ada}", "action-adjust-credit")
    user.find(marker="action-adjust-credit").click()
    await user.should_see(marker="credit-dialog", retries=50)
    user.find(marker="credit-amount").type("10")
    user.find(marker="credit-save").click()
    await user.should_see("Give a reason for the adjustment.", retries=50)
    assert await CreditEntry.filter(client_id=ada).count() == 1

    user.find("Remove credit").click()
    user.find(marker="credit-amount").clear().type("30")
    user.find(marker="credit-note").type("Typo in the goodwill credit")
    user.find(marker="credit-save").click()
    await user.should_see("The client has only $25.00 of credit.", retries=50)
    assert await CreditEntry.filter(client_id=ada).count() == 1

    user.find(marker="credit-amount").clear().type("5")
    user.find(marker="credit-save").click()
    await user.should_see("Credit: $20.00", retries=50)
    await user.should_not_see(marker="credit-dialog")
    entry = await CreditEntry.filter(client_id=ada).order_by("-id").first()
    assert entry is not None and (entry.amount_minor, entry.note) == (-500, "Typo in the goodwill credit")
    assert _rows(user, "credit-ledger")[0]["amount"] == "-$5.00"


async def test_a_business_clients_numbers_are_checked_then_shown_on_the_record(user: User) -> None:
    emile = await _client_id("emile@demo.test")
    await _staff_on(user, f"/admin/clients/{emile}/edit", "client-form")
    await user.should_not_see(marker="client-vat-number")  # a person until marked as a business
    user.find(marker="client-business").click()
    await user.should_see(marker="client-vat-number", retries=50)
    user.find(marker="client-country").elements.pop().set_value("FR")
    _fill(
        user,
        **{
            "client-postcode": "75011",
            "client-city": "Paris",
            "client-company-id": "732 829 321",
            "client-vat-number": "FR40303265046",
        },
    )
    user.find(marker="client-save").click()
    await user.should_see(
        "The check digits of this VAT number do not match: look for a typing mistake.", retries=50
    )
    await user.should_see("The check digit of this SIREN or SIRET does not match: look for a typing mistake.")
    assert (await Client.get(id=emile)).vat_number == ""

    _fill(user, **{"client-company-id": "732 829 320", "client-vat-number": "fr 40 303 265 045"})
    user.find(marker="client-save").click()
    await user.should_see(marker="client-header", retries=50)
    await user.should_see("Register no. 732829320 · VAT no. FR40303265045")
    client = await Client.get(id=emile)
    assert (client.is_business, client.postcode, client.city, client.country) == (
        True,
        "75011",
        "Paris",
        "FR",
    )

"""The console's clients: list (search, filters, paging, amount due), create and edit with the avatar,
invitations and set-password links, the client record, and who may do each of these."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tortoise import connections

from portal.accounts import invitations, sessions
from portal.clients import client_record, profiles
from portal.clients.profiles import ClientForm
from portal.core import clock
from portal.core.actors import Actor
from portal.db.models import (
    Allocation,
    AuditEntry,
    BillingRequest,
    Client,
    CreditEntry,
    CreditRequest,
    Invoice,
    OneTimeToken,
    OutboxEmail,
    Payment,
    PaymentMethod,
    Quote,
    Refund,
    Subscription,
    User,
)
from portal.domain.errors import Conflict, Forbidden, InvalidFields, InvalidInput, NotFound
from portal.domain.status import Role
from portal.domain.tokens import hash_token
from tests.services.conftest import World


@pytest.fixture(autouse=True)
def avatar_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Avatars go to a private folder, never the project's data/ folder."""
    folder = tmp_path / "avatars"
    monkeypatch.setattr(profiles, "AVATAR_DIR", folder)
    yield folder


@pytest.fixture(autouse=True)
def real_clock() -> Iterator[None]:
    yield
    clock.set_now(None)


def _form(**changes: Any) -> ClientForm:
    base = ClientForm(
        name="Carla Cruz",
        company="Cruz & Co",
        email="carla@x.test",
        currency="EUR",
        billing_address="1 Rue de la Paix\nParis",
        locale="fr",
        reminders_enabled=False,
    )
    return replace(base, **changes)


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def _picture(fmt: str = "PNG", size: tuple[int, int] = (800, 600), mode: str = "RGB") -> bytes:
    out = BytesIO()
    Image.new(mode, size, "red").save(out, format=fmt)
    return out.getvalue()


async def _invoice(
    client_id: int, *, total: int, due: date, status: str = "open", currency: str = "USD"
) -> int:
    invoice = await Invoice.create(
        client_id=client_id,
        status=status,
        currency=currency,
        issue_date=due - timedelta(days=30),
        due_date=due,
        subtotal_minor=total,
        total_minor=total,
    )
    return invoice.id


class QueryCounter:
    """Counts the SQL statements sent on the default connection."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        conn = connections.get("default")
        for name in ("execute_query", "execute_query_dict"):
            original = getattr(conn, name)

            def counted(sql: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.statements.append(sql)
                return _original(sql, *args, **kwargs)

            monkeypatch.setattr(conn, name, counted)


# -- the list -------------------------------------------------------------------------------------------
async def test_search_matches_name_company_and_email(world: World) -> None:
    await Client.create(name="Dora Diaz", company="Zenith Labs", email="dora@zenith.test")
    by_name = await profiles.list_clients(actor=world.staff, search="archer")
    by_company = await profiles.list_clients(actor=world.staff, search="ZENITH")
    by_email = await profiles.list_clients(actor=world.staff, search="bob@")
    assert [r.name for r in by_name.rows] == ["Alice Archer"]
    assert [r.name for r in by_company.rows] == ["Dora Diaz"]
    assert [r.name for r in by_email.rows] == ["Bob Baker"]
    assert (await profiles.list_clients(actor=world.staff, search="nobody-here")).total == 0


async def test_the_overdue_filter_keeps_only_clients_with_an_open_invoice_past_due(world: World) -> None:
    today = clock.today()
    carol = await Client.create(name="Carol Chen", email="carol@x.test")
    dan = await Client.create(name="Dan Dumas", email="dan@x.test")
    await _invoice(world.alice_id, total=5000, due=today - timedelta(days=3))  # overdue
    await _invoice(world.bob_id, total=5000, due=today + timedelta(days=3), currency="JPY")  # not yet due
    await _invoice(carol.id, total=5000, due=today - timedelta(days=30), status="paid")  # paid
    await _invoice(dan.id, total=5000, due=today - timedelta(days=30), status="draft")  # never sent

    page = await profiles.list_clients(actor=world.staff, has_overdue=True)
    assert [r.name for r in page.rows] == ["Alice Archer"] and page.total == 1
    assert page.rows[0].has_overdue is True
    everyone = await profiles.list_clients(actor=world.staff)
    assert everyone.total == 4
    assert {r.name: r.has_overdue for r in everyone.rows}["Bob Baker"] is False


async def test_the_currency_filter_and_a_wrong_currency(world: World) -> None:
    await Client.create(name="Yann Yen", email="yann@x.test", currency="JPY")
    jpy = await profiles.list_clients(actor=world.staff, currency="jpy")
    assert [r.name for r in jpy.rows] == ["Bob Baker", "Yann Yen"]
    both = await profiles.list_clients(actor=world.staff, currency="JPY", search="yann")
    assert [r.name for r in both.rows] == ["Yann Yen"]
    assert await profiles.client_currencies(actor=world.staff) == ["JPY", "USD"]
    with pytest.raises(InvalidInput) as wrong:
        await profiles.list_clients(actor=world.staff, currency="XYZ")
    assert wrong.value.field == "currency"


async def test_pages_and_totals(world: World) -> None:
    await Client.bulk_create([Client(name=f"Page {i:02}", email=f"p{i}@x.test") for i in range(23)])
    first = await profiles.list_clients(actor=world.staff, search="page", page=1, page_size=10)
    third = await profiles.list_clients(actor=world.staff, search="page", page=3, page_size=10)
    assert (first.total, first.pages, len(first.rows)) == (23, 3, 10)
    assert [r.name for r in third.rows] == ["Page 20", "Page 21", "Page 22"]
    huge = await profiles.list_clients(actor=world.staff, page_size=10_000)
    assert huge.page_size == profiles.MAX_PAGE_SIZE


async def test_open_amount_due_is_per_currency_and_minus_what_was_paid(world: World) -> None:
    today = clock.today()
    first = await _invoice(world.alice_id, total=10000, due=today + timedelta(days=5))
    await _invoice(world.alice_id, total=2500, due=today + timedelta(days=9))
    await _invoice(world.alice_id, total=700, due=today + timedelta(days=9), currency="EUR")
    await _invoice(world.alice_id, total=99999, due=today, status="paid")
    await Allocation.create(invoice_id=first, amount_minor=4000, currency="USD")
    page = await profiles.list_clients(actor=world.staff, search="alice")
    assert page.rows[0].open_due == {"USD": 8500, "EUR": 700}
    assert page.rows[0].has_overdue is False
    bob = await profiles.list_clients(actor=world.staff, search="bob")
    assert bob.rows[0].open_due == {}


async def test_the_list_stays_three_queries_with_ten_thousand_clients(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await Client.bulk_create(
        [Client(name=f"Bulk {i:05}", email=f"bulk{i}@x.test", currency="USD") for i in range(10_000)],
        batch_size=1000,
    )
    overdue = await Client.create(name="Bulk 99999 late", email="late@x.test")
    await _invoice(overdue.id, total=100, due=clock.today() - timedelta(days=1))
    counter = QueryCounter(monkeypatch)
    page = await profiles.list_clients(actor=world.staff, search="bulk", page=7)
    assert page.total == 10_001 and len(page.rows) == profiles.PAGE_SIZE
    assert page.rows[0].name == f"Bulk {6 * profiles.PAGE_SIZE:05}"
    assert len(counter.statements) == 3, counter.statements
    assert all("LIMIT" in sql or "COUNT" in sql or "GROUP BY" in sql for sql in counter.statements)

    counter.statements.clear()
    late = await profiles.list_clients(actor=world.staff, has_overdue=True, currency="USD")
    assert [r.name for r in late.rows] == ["Bulk 99999 late"]
    assert len(counter.statements) == 3
    assert any("IN (SELECT" in sql for sql in counter.statements)  # the filter is SQL, not Python


async def test_the_first_page_brings_the_currencies_and_still_costs_three_queries(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await Client.create(name="Yann Yen", email="yann@x.test", currency="JPY")
    await Client.create(name="Old Client", email="old@x.test", currency="EUR", archived=True)
    counter = QueryCounter(monkeypatch)
    first = await profiles.list_clients(actor=world.staff, page=1, page_size=2, with_currencies=True)
    assert first.currencies == ("JPY", "USD")  # an archived client's currency is not offered
    assert (first.total, first.pages, [r.name for r in first.rows]) == (3, 2, ["Alice Archer", "Bob Baker"])
    assert len(counter.statements) == 3, counter.statements  # counted per currency, the page, what is due

    counter.statements.clear()
    yen = await profiles.list_clients(actor=world.staff, currency="JPY", with_currencies=True)
    assert yen.currencies == ("JPY", "USD") and yen.total == 2  # filtered: counted on its own
    assert [r.name for r in yen.rows] == ["Bob Baker", "Yann Yen"]
    assert (await profiles.list_clients(actor=world.staff)).currencies == ()  # not asked for


# -- create and edit -------------------------------------------------------------------------------------
async def test_create_client_stores_clean_values_and_audits(world: World) -> None:
    client_id = await profiles.create_client(
        actor=world.staff, form=_form(name="  Carla Cruz ", email=" Carla@X.test ", currency="eur")
    )
    client = await Client.get(id=client_id)
    assert (client.name, client.email, client.currency, client.locale) == (
        "Carla Cruz",
        "carla@x.test",
        "EUR",
        "fr",
    )
    assert client.reminders_enabled is False and client.billing_address == "1 Rue de la Paix\nParis"
    entry = await AuditEntry.get(action="client.create")
    assert entry.on_behalf_of_id == client_id and entry.actor_id == world.staff.user_id
    form = await profiles.get_client_form(actor=world.staff, client_id=client_id)
    assert form.email == "carla@x.test" and form.id == client_id


async def test_every_wrong_field_is_named_and_nothing_is_saved(world: World) -> None:
    before = await Client.all().count()
    with pytest.raises(InvalidFields) as wrong:
        await profiles.create_client(
            actor=world.staff,
            form=_form(name=" ", email="carla-at-x", currency="XYZ", locale="de", company="x" * 201),
        )
    errors = wrong.value.errors
    assert set(errors) == {"name", "email", "currency", "locale", "company"}
    assert errors["email"] == "Enter a valid email address, like name@example.com."
    assert "'XYZ' is not an ISO currency code" in errors["currency"]
    assert errors["name"] == "Enter the client's name."
    with pytest.raises(InvalidFields) as empty:
        await profiles.create_client(actor=world.staff, form=_form(email="", currency=""))
    assert empty.value.errors == {
        "email": "Enter an email address.",
        "currency": "Choose a currency by its three-letter ISO code, like USD or EUR.",
    }
    assert await Client.all().count() == before
    assert not await AuditEntry.exists(action="client.create")


async def test_a_second_client_with_the_same_email_is_refused(world: World) -> None:
    with pytest.raises(InvalidFields) as dup:
        await profiles.create_client(actor=world.staff, form=_form(email="ALICE@x.test"))
    assert dup.value.errors == {"email": "Alice Archer already uses this email address."}
    with pytest.raises(InvalidFields) as both:  # every problem at once, the duplicate included
        await profiles.create_client(
            actor=world.staff, form=_form(name="", email="bob@X.test"), avatar=b"GIF89a"
        )
    assert both.value.errors == {
        "name": "Enter the client's name.",
        "email": "Bob Baker already uses this email address.",
        "avatar": "Upload a PNG or JPEG picture.",
    }
    with pytest.raises(InvalidFields):
        await profiles.update_client(
            actor=world.staff, client_id=world.bob_id, form=_form(email="alice@x.test")
        )
    assert (await Client.get(id=world.bob_id)).email == "bob@x.test"


async def test_editing_changes_the_client_and_its_login_email(world: World) -> None:
    saved = await profiles.update_client(
        actor=world.staff,
        client_id=world.alice_id,
        form=_form(name="Alice Archer-Smith", email="alice.smith@x.test", currency="GBP", locale="en"),
    )
    assert saved.name == "Alice Archer-Smith" and saved.currency == "GBP"
    assert await User.filter(client_id=world.alice_id).values_list("email", flat=True) == [
        "alice.smith@x.test"
    ]
    entry = await AuditEntry.get(action="client.update")
    assert set(entry.details["changed"]) >= {"name", "email", "currency", "company", "billing_address"}
    # signing in now uses the new email
    actor = await sessions.authenticate(email="alice.smith@x.test", password="correct horse battery")
    assert actor.client_id == world.alice_id


async def test_editing_to_an_email_a_staff_member_signs_in_with_is_refused(world: World) -> None:
    with pytest.raises(InvalidFields) as taken:
        await profiles.update_client(
            actor=world.staff, client_id=world.alice_id, form=_form(email="staff@x.test")
        )
    assert taken.value.errors == {"email": "Someone else signs in with this email address."}
    with pytest.raises(NotFound):
        await profiles.update_client(actor=world.staff, client_id=999_999, form=_form())


# -- avatars ---------------------------------------------------------------------------------------------
async def test_a_png_avatar_is_reencoded_shrunk_and_served_from_the_uploads(
    world: World, avatar_dir: Path
) -> None:
    client_id = await profiles.create_client(
        actor=world.staff, form=_form(), avatar=_picture("PNG", (1200, 900))
    )
    path = (await Client.get(id=client_id)).avatar_path
    assert path.startswith("/uploads/avatars/") and path.endswith(".png")
    stored = profiles.avatar_file(path.rsplit("/", 1)[-1])
    assert stored is not None and stored.parent == avatar_dir
    with Image.open(stored) as image:
        assert image.format == "PNG" and max(image.size) == profiles.AVATAR_SIZE


async def test_a_jpeg_avatar_becomes_a_png_and_replacing_it_deletes_the_old_file(
    world: World, avatar_dir: Path
) -> None:
    await profiles.update_client(
        actor=world.staff, client_id=world.alice_id, form=_form(), avatar=_picture("PNG", (64, 64))
    )
    first = avatar_dir / (await Client.get(id=world.alice_id)).avatar_path.rsplit("/", 1)[-1]
    await profiles.update_client(
        actor=world.staff, client_id=world.alice_id, form=_form(), avatar=_picture("JPEG", (64, 64))
    )
    second = avatar_dir / (await Client.get(id=world.alice_id)).avatar_path.rsplit("/", 1)[-1]
    assert not first.exists() and second.exists()
    assert second.read_bytes().startswith(b"\x89PNG")
    await profiles.update_client(
        actor=world.staff, client_id=world.alice_id, form=_form(), remove_avatar=True
    )
    assert (await Client.get(id=world.alice_id)).avatar_path == "" and not second.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "Upload a PNG or JPEG picture.",
        ),
        (_picture("GIF", (10, 10), "P"), "Upload a PNG or JPEG picture."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "Upload a PNG or JPEG picture."),
        (b"\x89PNG" + b"\x00" * (2 * 1024 * 1024), "The picture is larger than 2 MB; choose a smaller one."),
        (b"", "The picture is empty."),
    ],
    ids=["svg", "gif", "broken-png", "too-large", "empty"],
)
async def test_a_wrong_avatar_is_refused_and_nothing_changes(
    world: World, avatar_dir: Path, data: bytes, message: str
) -> None:
    with pytest.raises(InvalidInput) as wrong:
        await profiles.update_client(
            actor=world.staff, client_id=world.alice_id, form=_form(), avatar=data or b"\0"
        )
    if data:
        assert (wrong.value.field, wrong.value.message) == ("avatar", message)
    with pytest.raises(InvalidInput) as checked:
        profiles.check_avatar(data)
    assert checked.value.message == message
    client = await Client.get(id=world.alice_id)
    assert client.name == "Alice Archer" and client.avatar_path == ""
    assert _files(avatar_dir) == []


def test_only_names_we_made_can_be_served(avatar_dir: Path) -> None:
    avatar_dir.mkdir(parents=True)
    (avatar_dir / ("a" * 32 + ".png")).write_bytes(b"x")
    assert profiles.avatar_file("a" * 32 + ".png") is not None
    for name in ("../secret.png", "a" * 32 + ".svg", "..%2F" + "a" * 27 + ".png", "b" * 32 + ".png", ""):
        assert profiles.avatar_file(name) is None


# -- invitations -------------------------------------------------------------------------------------------
def _token_of(email: OutboxEmail) -> str:
    found = re.search(r"/set-password\?token=([A-Za-z0-9_\-]+)", email.text_body)
    assert found, email.text_body
    return found.group(1)


async def test_inviting_creates_a_login_without_password_and_queues_the_link(world: World) -> None:
    carla = await Client.create(name="Carla Cruz", email="Carla@x.test", locale="fr")
    sent = await invitations.invite_client(actor=world.staff, client_id=carla.id)
    user = await User.get(id=sent.user_id)
    assert (user.email, user.role, user.client_id, user.password_hash) == (
        "carla@x.test",
        "client",
        carla.id,
        "",
    )
    assert sent.created_user and sent.expires_at - clock.now_utc() > timedelta(hours=71)
    email = await OutboxEmail.get(id=sent.outbox_id)
    assert (email.kind, email.to_address, email.client_id, email.status) == (
        "invitation",
        "carla@x.test",
        carla.id,
        "queued",
    )
    token = _token_of(email)
    stored = await OneTimeToken.get(user_id=user.id, purpose="set_password")
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert await AuditEntry.exists(action="client.invite", on_behalf_of_id=carla.id)
    # nobody can sign in with an empty password meanwhile
    with pytest.raises(InvalidInput):
        await sessions.authenticate(email="carla@x.test", password="")
    target = await invitations.check_set_password_token(token=token)
    assert (target.email, target.name, target.locale) == ("carla@x.test", "Carla Cruz", "fr")


async def test_a_set_password_link_works_once(world: World) -> None:
    carla = await Client.create(name="Carla Cruz", email="carla@x.test")
    sent = await invitations.invite_client(actor=world.staff, client_id=carla.id)
    token = _token_of(await OutboxEmail.get(id=sent.outbox_id))
    with pytest.raises(InvalidInput) as mismatch:
        await invitations.set_password(token=token, password="long enough pw", confirm="long enough pX")
    assert mismatch.value.field == "confirm"
    with pytest.raises(InvalidInput) as weak:
        await invitations.set_password(token=token, password="short", confirm="short")
    assert weak.value.field == "password" and weak.value.message == "Use at least 10 characters."

    assert await invitations.set_password(token=token, password="a fine password", confirm="a fine password")
    actor = await sessions.authenticate(email="carla@x.test", password="a fine password")
    assert actor.client_id == carla.id
    with pytest.raises(NotFound) as again:
        await invitations.set_password(token=token, password="another password", confirm="another password")
    assert "already been used" in again.value.message
    await sessions.authenticate(email="carla@x.test", password="a fine password")  # unchanged


async def test_an_expired_or_tampered_link_changes_nothing(world: World) -> None:
    sent = await invitations.invite_client(actor=world.staff, client_id=world.bob_id)  # reuses Bob's login
    assert not sent.created_user and sent.user_id == (await User.get(email="bob@x.test")).id
    token = _token_of(await OutboxEmail.get(id=sent.outbox_id))
    before = (await User.get(id=sent.user_id)).password_hash
    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), "", "x" * 43, token + "x"):
        with pytest.raises(NotFound) as bad:
            await invitations.set_password(token=forged, password="new password!", confirm="new password!")
        assert "not valid" in bad.value.message
    clock.set_now(clock.now_utc() + timedelta(hours=72, seconds=1))
    with pytest.raises(NotFound) as expired:
        await invitations.check_set_password_token(token=token)
    assert "expired" in expired.value.message
    with pytest.raises(NotFound):
        await invitations.set_password(token=token, password="new password!", confirm="new password!")
    assert (await User.get(id=sent.user_id)).password_hash == before
    assert not await AuditEntry.exists(action="user.set_password")


async def test_a_new_invitation_replaces_the_old_link(world: World) -> None:
    first = await invitations.invite_client(actor=world.staff, client_id=world.alice_id)
    second = await invitations.invite_client(actor=world.admin, client_id=world.alice_id)
    assert first.user_id == second.user_id
    old = _token_of(await OutboxEmail.get(id=first.outbox_id))
    new = _token_of(await OutboxEmail.get(id=second.outbox_id))
    with pytest.raises(NotFound):
        await invitations.check_set_password_token(token=old)
    assert (await invitations.check_set_password_token(token=new)).email == "alice@x.test"


async def test_two_uses_of_one_link_at_once_set_one_password(world: World) -> None:
    sent = await invitations.invite_client(actor=world.staff, client_id=world.alice_id)
    token = _token_of(await OutboxEmail.get(id=sent.outbox_id))
    results = await asyncio.gather(
        invitations.set_password(token=token, password="first password", confirm="first password"),
        invitations.set_password(token=token, password="second password", confirm="second password"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NotFound", "str"]
    assert await OneTimeToken.filter(user_id=sent.user_id, used_at__isnull=True).count() == 0
    assert await AuditEntry.filter(action="user.set_password").count() == 1


async def test_inviting_refuses_an_email_someone_else_signs_in_with(world: World) -> None:
    twin = await Client.create(name="Staff Twin", email="staff@x.test")
    with pytest.raises(Conflict) as taken:
        await invitations.invite_client(actor=world.staff, client_id=twin.id)
    assert "Someone else already signs in with staff@x.test" in taken.value.message
    assert not await OutboxEmail.exists() and not await OneTimeToken.exists(purpose="set_password")
    with pytest.raises(NotFound):
        await invitations.invite_client(actor=world.staff, client_id=999_999)


# -- the record -------------------------------------------------------------------------------------------
async def _history_for(world: World) -> None:
    cid, today = world.alice_id, clock.today()
    late = await _invoice(cid, total=12000, due=today - timedelta(days=2))
    await Allocation.create(invoice_id=late, amount_minor=2000, currency="USD")
    await _invoice(cid, total=5000, due=today + timedelta(days=10), status="draft")
    await Quote.create(kind="estimate", client_id=cid, title="Site", currency="USD", issue_date=today)
    await Quote.create(
        kind="proposal",
        client_id=cid,
        title="Retainer",
        currency="USD",
        issue_date=today - timedelta(days=40),
        valid_until=today - timedelta(days=10),
        status="sent",
        number="PRO-0001",
    )
    await BillingRequest.create(
        client_id=cid, email="alice@x.test", currency="USD", amount_minor=900, success_url="x", cancel_url="y"
    )
    await CreditRequest.create(client_id=cid, amount_minor=5000, currency="USD", description="Prepay")
    visa = await PaymentMethod.create(
        client_id=cid,
        gateway="sandbox",
        gateway_ref="pm_1",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2028,
    )
    await PaymentMethod.create(
        client_id=cid, gateway="sandbox", gateway_ref="pm_2", brand="mastercard", last4="4444"
    )
    await PaymentMethod.create(
        client_id=cid,
        gateway="sandbox",
        gateway_ref="pm_3",
        brand="amex",
        last4="0005",
        detached_at=clock.now_utc(),
    )
    await Subscription.create(
        client_id=cid, description="Care", amount_minor=4900, currency="USD", payment_method=visa
    )
    payment = await Payment.create(
        client_id=cid,
        amount_minor=2000,
        currency="USD",
        source="offline",
        method="bank_transfer",
        received_on=today,
        reference="BT-1",
        refunded_minor=500,
        status="partially_refunded",
    )
    await Refund.create(payment=payment, amount_minor=500, currency="USD", reason="Goodwill")
    await CreditEntry.create(
        client_id=cid, currency="USD", amount_minor=2500, reason="adjustment", note="Sorry"
    )
    await CreditEntry.create(client_id=cid, currency="USD", amount_minor=-1000, reason="applied_to_invoice")
    await CreditEntry.create(client_id=cid, currency="EUR", amount_minor=300, reason="adjustment")
    await OutboxEmail.create(
        kind="invoice",
        message_id="<a@x>",
        client_id=cid,
        to_address="alice@x.test",
        subject="Invoice 1",
        text_body="x",
        status="failed",
        last_error="550 mailbox unavailable",
        attempts=5,
    )
    await OutboxEmail.create(
        kind="invoice",
        message_id="<b@x>",
        client_id=cid,
        to_address="alice@x.test",
        subject="Invoice 2",
        text_body="x",
        status="sent",
        sent_at=clock.now_utc(),
    )
    await OutboxEmail.create(
        kind="invoice",
        message_id="<c@x>",
        client_id=world.bob_id,
        to_address="bob@x.test",
        subject="Bob's",
        text_body="x",
        status="failed",
    )
    await AuditEntry.create(
        actor_id=world.staff.user_id, on_behalf_of_id=cid, action="invoice.send", subject="x"
    )
    await AuditEntry.create(actor_id=world.staff.user_id, on_behalf_of_id=world.bob_id, action="bob.thing")


async def test_the_record_gathers_every_list_of_the_client(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _history_for(world)
    counter = QueryCounter(monkeypatch)
    record = await client_record.get_client_record(actor=world.staff, client_id=world.alice_id)
    assert len(counter.statements) <= 20, len(counter.statements)

    head = record.header
    assert (head.name, head.company, head.initials, head.login, head.login_email) == (
        "Alice Archer",
        "Archery Co",
        "AA",
        "active",
        "alice@x.test",
    )
    assert head.credit == {"EUR": 300, "USD": 1500} and head.auto_charge is False
    invoices = {i.status: i for i in record.invoices.items}
    assert invoices["open"].amount_due_minor == 10000 and invoices["open"].overdue
    assert invoices["draft"].amount_due_minor is None
    assert sorted((q.kind, q.status) for q in record.quotes.items) == [
        ("estimate", "draft"),
        ("proposal", "expired"),  # sent, and past its date: never shown as "Sent"
    ]
    assert [r.amount_minor for r in record.billing_requests.items] == [900]
    assert [r.description for r in record.credit_requests.items] == ["Prepay"]
    assert [(s.name, s.method) for s in record.subscriptions.items] == [("Care", "Visa •••• 4242 (12/2028)")]
    assert [m.label for m in record.methods.items] == ["Mastercard •••• 4444", "Visa •••• 4242 (12/2028)"]
    usd = [c for c in record.credit.items if c.currency == "USD"]
    assert [(c.amount_minor, c.balance_minor) for c in usd] == [(-1000, 1500), (2500, 2500)]
    (payment,) = record.payments.items
    assert payment.refunded_minor == 500 and [(r.amount_minor, r.reason) for r in payment.refunds] == [
        (500, "Goodwill")
    ]
    assert {e.subject: e.failed for e in record.emails.items} == {"Invoice 1": True, "Invoice 2": False}
    assert record.failed_emails == 1
    assert [a.action for a in record.audit.items] == ["invoice.send"]
    assert record.audit.items[0].who == "staff@x.test"


async def test_long_lists_show_the_latest_and_say_how_many(world: World) -> None:
    await OutboxEmail.bulk_create(
        [
            OutboxEmail(
                kind="k",
                message_id=f"<{i}@x>",
                client_id=world.alice_id,
                to_address="a@x.test",
                subject=f"Mail {i:02}",
                text_body="x",
            )
            for i in range(60)
        ]
    )
    record = await client_record.get_client_record(actor=world.staff, client_id=world.alice_id)
    assert len(record.emails.items) == 50 and record.emails.total == 60 and record.emails.truncated
    assert not record.invoices.truncated and record.invoices.total == 0
    small = await client_record.get_client_record(actor=world.staff, client_id=world.alice_id, limit=5)
    assert len(small.emails.items) == 5 and small.emails.total == 60
    with pytest.raises(NotFound):
        await client_record.get_client_record(actor=world.staff, client_id=999_999)


# -- who may do what ----------------------------------------------------------------------------------------
def _impersonating(world: World) -> Actor:
    return Actor(
        user_id=world.alice.user_id,
        role=Role.client,
        email="alice@x.test",
        name="Alice",
        client_id=world.alice_id,
        impersonator_id=world.admin.user_id,
        impersonation_id=1,
    )


def _calls(world: World) -> dict[str, Any]:
    cid = world.alice_id
    return {
        "list_clients": lambda a: profiles.list_clients(actor=a),
        "client_currencies": lambda a: profiles.client_currencies(actor=a),
        "new_client_form": lambda a: profiles.new_client_form(actor=a),
        "get_client_form": lambda a: profiles.get_client_form(actor=a, client_id=cid),
        "create_client": lambda a: profiles.create_client(actor=a, form=_form()),
        "update_client": lambda a: profiles.update_client(
            actor=a, client_id=cid, form=_form(email="alice@x.test")
        ),
        "invite_client": lambda a: invitations.invite_client(actor=a, client_id=cid),
        "get_client_record": lambda a: client_record.get_client_record(actor=a, client_id=cid),
    }


@pytest.mark.parametrize(
    "name",
    [
        "list_clients",
        "client_currencies",
        "new_client_form",
        "get_client_form",
        "create_client",
        "update_client",
        "invite_client",
        "get_client_record",
    ],
)
async def test_clients_and_impersonating_admins_are_refused_and_nothing_changes(
    world: World, name: str
) -> None:
    call = _calls(world)[name]
    for actor in (world.alice, _impersonating(world)):
        with pytest.raises(Forbidden):
            await call(actor)
    assert await Client.all().count() == 2
    assert (await Client.get(id=world.alice_id)).name == "Alice Archer"
    assert not await OutboxEmail.exists() and not await OneTimeToken.exists()


@pytest.mark.parametrize("admin", [False, True], ids=["staff", "admin"])
async def test_staff_and_admins_may_do_all_of_it(world: World, admin: bool) -> None:
    actor = world.admin if admin else world.staff
    for name, call in _calls(world).items():
        assert await call(actor) is not None, name

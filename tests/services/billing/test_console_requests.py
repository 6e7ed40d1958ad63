"""Billing requests in the console: every field checked at once, the list and its filters, payment links,
deleting only what is pending, and who may do any of it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.billing import billing_requests
from portal.core.clock import now_utc
from portal.db.models import AuditEntry, BillingRequest, Invoice, OutboxEmail, PaymentLink
from portal.domain.errors import Conflict, Forbidden, InvalidFields, InvalidInput, NotFound
from portal.domain.status import BillingRequestStatus, InvoiceStatus
from portal.payments import links
from tests.services.conftest import World

GOOD = dict(
    email="alice@x.test",
    currency="USD",
    amount_text="20.00",
    success_url="https://agency.test/ok",
    cancel_url="https://agency.test/no",
    billing_type="one_time",
    description="Rush fee",
)


async def _send(world: World, **changes: object) -> billing_requests.SentRequest:
    fields = {"actor": world.staff, "client_id": world.alice_id, **GOOD, **changes}
    return await billing_requests.create_billing_request(**fields)  # type: ignore[arg-type]


async def test_typed_amounts_are_parsed_for_the_currency(world: World) -> None:
    usd = await _send(world, amount_text="1,234.50")
    yen = await _send(world, currency="jpy", amount_text="5000")
    assert (await BillingRequest.get(id=usd.id)).amount_minor == 123450
    request = await BillingRequest.get(id=yen.id)
    assert (request.amount_minor, request.currency) == (5000, "JPY")
    assert (await Invoice.get(id=yen.invoice_id)).total_minor == 5000


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": ""}, "email", "Enter the email address the request goes to."),
        ({"email": "ada@"}, "email", "Enter a valid email address, like name@example.com."),
        ({"currency": ""}, "currency", "Enter a currency code, like USD or EUR."),
        ({"currency": "ABC"}, "currency", "ABC is not a currency code we know."),
        ({"amount_text": ""}, "amount", "Enter an amount."),
        ({"amount_text": "0"}, "amount", "The amount must be greater than zero."),
        ({"amount_text": "-5"}, "amount", "The amount cannot be negative."),
        ({"amount_text": "10.999"}, "amount", "USD amounts have at most 2 decimal places."),
        ({"currency": "JPY", "amount_text": "10.5"}, "amount", "JPY amounts have no decimal places."),
        ({"amount_text": "ten"}, "amount", "'ten' is not a valid amount."),
        ({"success_url": "ftp://agency.test"}, "success_url", "The success URL must start with https:// or"),
        ({"success_url": "https://"}, "success_url", "Enter the full success URL"),
        ({"cancel_url": "https://agency.test/" + "x" * 500}, "cancel_url", "The cancel URL is too long"),
        ({"billing_type": ""}, "billing_type", "Choose one-time or recurring."),
        ({"billing_type": "recurring"}, "interval", "Choose how often a recurring request repeats."),
        ({"description": "x" * 301}, "description", "The description is too long"),
    ],
)
async def test_each_bad_field_gets_its_own_message_and_nothing_is_sent(
    world: World, changes: dict, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        await _send(world, **changes)
    assert error.value.field == field
    assert error.value.message.startswith(message)
    assert await BillingRequest.all().count() == 0
    assert await Invoice.all().count() == 0
    assert await OutboxEmail.all().count() == 0


async def test_every_wrong_field_is_reported_at_once(world: World) -> None:
    with pytest.raises(InvalidFields) as error:
        await _send(world, email="nope", amount_text="0", success_url="", cancel_url="x", billing_type="?")
    assert set(error.value.errors) == {"email", "amount", "success_url", "cancel_url", "billing_type"}
    assert await BillingRequest.all().count() == 0


# -- success and cancel URLs: where the payer's browser is sent ------------------------------------------
LOCAL_TARGETS = [
    ("https://localhost/ok", "localhost"),
    ("https://shop.localhost:8443/ok", "shop.localhost"),
    ("https://LOCALHOST./ok", "localhost."),
    ("https://127.0.0.1/ok", "127.0.0.1"),
    ("https://127.1/ok", "127.1"),  # what a browser reads as 127.0.0.1, like the two below
    ("https://2130706433/ok", "2130706433"),
    ("https://0x7f.0.0.1/ok", "0x7f.0.0.1"),
    ("https://[::1]/ok", "::1"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
    ("https://[fe80::1%25eth0]/ok", "fe80::1%eth0"),
    ("https://10.1.2.3/ok", "10.1.2.3"),
    ("https://172.16.0.1/ok", "172.16.0.1"),
    ("https://172.31.255.254/ok", "172.31.255.254"),
    ("https://192.168.1.1/ok", "192.168.1.1"),
    ("https://[fc00::1]/ok", "fc00::1"),
    ("https://[fd12:3456::1]/ok", "fd12:3456::1"),
    ("https://[::ffff:192.168.0.1]/ok", "::ffff:192.168.0.1"),  # IPv4-mapped IPv6 is the IPv4 address
    ("https://0.0.0.0/ok", "0.0.0.0"),
    ("https://[::]/ok", "::"),
]


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTAL_ENV=production (the settings are read again when the environment changes)."""
    monkeypatch.setenv("PORTAL_ENV", "production")


@pytest.mark.parametrize(("url", "host"), LOCAL_TARGETS)
async def test_in_production_urls_cannot_point_to_local_or_private_hosts(
    world: World, production: None, url: str, host: str
) -> None:
    for field in ("success_url", "cancel_url"):
        with pytest.raises(InvalidInput) as error:
            await _send(world, **{field: url})
        assert error.value.field == field
        which = "success" if field == "success_url" else "cancel"
        assert error.value.message == f"The {which} URL cannot point to a private or local address ({host})."
    assert await BillingRequest.all().count() == 0
    assert await OutboxEmail.all().count() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://agency.test/ok", "The success URL must start with https://"),
        ("HTTP://agency.test/ok", "The success URL must start with https://"),
        ("ftp://agency.test/ok", "The success URL must start with https://"),
        ("javascript:alert(1)", "Enter the full success URL, starting with https://"),
        ("agency.test/ok", "Enter the full success URL, starting with https://"),
        ("https://", "Enter the full success URL, starting with https://"),
        ("https://999.1.1.1/ok", "Enter the full success URL, starting with https://"),
        ("", "Enter the full success URL, starting with https://"),
    ],
)
async def test_in_production_only_full_https_urls_are_accepted_and_the_message_says_so(
    world: World, production: None, url: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        await _send(world, success_url=url)
    assert (error.value.field, error.value.message) == ("success_url", message)


async def test_in_production_public_https_hosts_and_addresses_are_accepted(
    world: World, production: None
) -> None:
    for url in (
        "https://agency.test/ok",
        "https://8.8.8.8/ok",
        "https://172.32.0.1/ok",
        "https://[2606:4700::1]/",
    ):
        sent = await _send(world, success_url=url, cancel_url=url)
        request = await BillingRequest.get(id=sent.id)
        assert (request.success_url, request.cancel_url) == (url, url)


async def test_in_production_every_wrong_url_is_reported_at_once_with_its_own_rule(
    world: World, production: None
) -> None:
    with pytest.raises(InvalidFields) as error:
        await _send(
            world, success_url="http://agency.test/ok", cancel_url="https://169.254.169.254/x", email="x"
        )
    assert error.value.errors == {
        "email": "Enter a valid email address, like name@example.com.",
        "success_url": "The success URL must start with https://",
        "cancel_url": "The cancel URL cannot point to a private or local address (169.254.169.254).",
    }


@pytest.mark.parametrize("url", ["http://agency.test/ok", *(url for url, _host in LOCAL_TARGETS)])
async def test_outside_production_http_and_local_hosts_are_allowed_for_testing(
    world: World, url: str
) -> None:
    sent = await _send(world, success_url=url, cancel_url=url.replace("/ok", "/no"))
    assert (await BillingRequest.get(id=sent.id)).success_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://agency.test/ok", "The cancel URL must start with https:// or http://"),
        ("agency.test/ok", "Enter the full cancel URL, starting with https:// or http://"),
        ("", "Enter the full cancel URL, starting with https:// or http://"),
    ],
)
async def test_outside_production_the_message_names_both_schemes(
    world: World, url: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        await _send(world, cancel_url=url)
    assert (error.value.field, error.value.message) == ("cancel_url", message)


async def test_a_recurring_request_keeps_its_interval_and_a_one_time_one_drops_it(world: World) -> None:
    monthly = await _send(world, billing_type="recurring", interval="month")
    once = await _send(world, billing_type="one_time", interval="month")
    assert (await BillingRequest.get(id=monthly.id)).interval == "month"
    assert (await BillingRequest.get(id=once.id)).interval is None


async def test_the_list_filters_by_status_mode_and_email_and_pages(world: World) -> None:
    pending = await _send(world)
    paid = await _send(world, email="payer@x.test")
    await BillingRequest.filter(id=paid.id).update(status=BillingRequestStatus.paid)
    lapsed = await _send(world, email="late@x.test")  # its 24 hours are over, the job has not run yet
    await BillingRequest.filter(id=lapsed.id).update(expires_at=now_utc() - timedelta(minutes=1))
    live = await _send(world, email="live@x.test")
    await BillingRequest.filter(id=live.id).update(mode="live")

    everything = await billing_requests.list_billing_requests(actor=world.staff)
    assert everything.total == 4
    assert [r.id for r in everything.rows] == [live.id, lapsed.id, paid.id, pending.id]  # newest first

    pending_page = await billing_requests.list_billing_requests(actor=world.staff, status="pending")
    assert {r.id for r in pending_page.rows} == {pending.id, live.id}
    row = next(r for r in pending_page.rows if r.id == pending.id)
    assert row.can_delete and row.can_copy_link
    assert row.seconds_left is not None and 23 * 3600 < row.seconds_left <= 24 * 3600
    assert row.client_name == "Alice Archer"

    expired = await billing_requests.list_billing_requests(actor=world.staff, status="expired")
    assert [(r.id, r.status, r.seconds_left, r.can_delete) for r in expired.rows] == [
        (lapsed.id, "expired", None, False)
    ]
    assert [
        r.id for r in (await billing_requests.list_billing_requests(actor=world.staff, mode="live")).rows
    ] == [live.id]
    assert [
        r.id for r in (await billing_requests.list_billing_requests(actor=world.staff, search="PAYER")).rows
    ] == [paid.id]

    first = await billing_requests.list_billing_requests(actor=world.staff, page_size=3)
    second = await billing_requests.list_billing_requests(actor=world.staff, page=2, page_size=3)
    assert (first.pages, len(first.rows), len(second.rows)) == (2, 3, 1)
    assert second.rows[0].id == pending.id


@pytest.mark.parametrize(("changes", "field"), [({"status": "lost"}, "status"), ({"mode": "prod"}, "mode")])
async def test_an_unknown_filter_is_refused(world: World, changes: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        await billing_requests.list_billing_requests(actor=world.staff, **changes)
    assert error.value.field == field


async def test_a_copied_link_pays_the_request_and_expires_with_it(world: World) -> None:
    sent = await _send(world)
    url = await billing_requests.billing_request_link(actor=world.staff, request_id=sent.id)
    assert url != sent.link and "/pay/" in url
    view = await links.view(token=url.rsplit("/", 1)[-1])
    assert (view.state, view.target_id, view.amount_due_minor) == ("open", sent.id, 2000)
    newest = await PaymentLink.filter(billing_request_id=sent.id).order_by("-id").first()
    assert newest is not None
    assert newest.expires_at == (await BillingRequest.get(id=sent.id)).expires_at
    assert await AuditEntry.filter(action="billing_request.link").count() == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [("paid", "already paid"), ("expired", "has expired"), ("deleted", "does not exist")],
)
async def test_no_link_for_a_request_that_cannot_be_paid(world: World, status: str, message: str) -> None:
    sent = await _send(world)
    await BillingRequest.filter(id=sent.id).update(status=status)
    with pytest.raises((Conflict, NotFound), match=message):
        await billing_requests.billing_request_link(actor=world.staff, request_id=sent.id)


async def test_deleting_a_pending_request_voids_its_invoice_and_links(world: World) -> None:
    sent = await _send(world)
    await billing_requests.delete_billing_request(actor=world.staff, request_id=sent.id)
    request = await BillingRequest.get(id=sent.id)
    assert request.status == BillingRequestStatus.deleted and request.deleted_at is not None
    assert (await Invoice.get(id=sent.invoice_id)).status == InvoiceStatus.deleted
    with pytest.raises(NotFound):
        await links.view(token=sent.link.rsplit("/", 1)[-1])
    assert await AuditEntry.filter(action="billing_request.delete").count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "paid"}, "This billing request is paid, so it cannot be deleted."),
        ({"status": "expired"}, "This billing request has expired, so it cannot be deleted."),
        ({"expires_at": "past"}, "This billing request has expired, so it cannot be deleted."),
        ({"status": "deleted"}, "This billing request is already deleted."),
    ],
)
async def test_only_a_pending_request_can_be_deleted(world: World, changes: dict, message: str) -> None:
    sent = await _send(world)
    if changes.get("expires_at") == "past":
        changes = {"expires_at": now_utc() - timedelta(seconds=1)}
    await BillingRequest.filter(id=sent.id).update(**changes)
    before = await BillingRequest.get(id=sent.id)
    with pytest.raises(Conflict) as error:
        await billing_requests.delete_billing_request(actor=world.staff, request_id=sent.id)
    assert error.value.message.startswith(message)
    after = await BillingRequest.get(id=sent.id)
    assert (after.status, after.deleted_at) == (before.status, before.deleted_at)


# -- roles -----------------------------------------------------------------------------------------------
async def test_a_client_can_do_none_of_it(world: World) -> None:
    sent = await _send(world)
    with pytest.raises(Forbidden):
        await _send(world, actor=world.alice)
    with pytest.raises(Forbidden):
        await billing_requests.list_billing_requests(actor=world.alice)
    with pytest.raises(Forbidden):
        await billing_requests.billing_request_link(actor=world.alice, request_id=sent.id)
    with pytest.raises(Forbidden):
        await billing_requests.delete_billing_request(actor=world.alice, request_id=sent.id)
    assert (await BillingRequest.get(id=sent.id)).status == BillingRequestStatus.pending
    assert await BillingRequest.all().count() == 1


async def test_staff_and_admins_can_do_all_of_it(world: World) -> None:
    for actor in (world.staff, world.admin):
        sent = await _send(world, actor=actor)
        assert (await billing_requests.list_billing_requests(actor=actor)).total >= 1
        assert "/pay/" in await billing_requests.billing_request_link(actor=actor, request_id=sent.id)
        await billing_requests.delete_billing_request(actor=actor, request_id=sent.id)
        assert (await BillingRequest.get(id=sent.id)).status == BillingRequestStatus.deleted

"""Break-it tests for payment links and uploaded pictures.

Links (what `tests/ui/test_pay_now.py` does not already try): a token only ever reaches its own invoice;
tampered tokens, and the stored hash used as a token, reach nothing; an expired link cannot start a
checkout; a revoked link (voided invoice, deleted request, revoked row) reads as invalid everywhere.

Uploads: the client avatar (`clients.check_avatar`, `update_client`) and the organization logo
(`settings.clean_logo`, `upload_logo`) refuse the same hostile files: SVG, an HTML page, a PNG or JPEG
that also carries a web page or a script (in a chunk, a comment, or after its end), a GIF that is also a
script, a file whose content is not what its signature says, oversize files and decompression bombs.
Real PNG and JPEG pictures are accepted, and what is stored is re-encoded: other bytes than the upload,
always a PNG, ending where the image ends. A file's name never reaches these services (the pages pass the
bytes only), so the content decides: a JPEG named `.png` is taken as the JPEG it is and stored as a real
PNG, and a file whose content contradicts its signature ("png signature, jpeg inside") is refused.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from portal.billing import billing_requests, invoice_editor, invoices
from portal.billing.invoices import LineDraft
from portal.clients import profiles
from portal.core import clock, images, organization
from portal.core.clock import now_utc, today
from portal.db.models import (
    BillingRequest,
    Client,
    Invoice,
    OutboxEmail,
    Payment,
    PaymentLink,
    SandboxObject,
)
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.tokens import hash_token
from portal.i18n import format_datetime
from portal.payments import links, sandbox_checkout
from portal.payments.gateways.protocol import NewCard
from portal.settings import template
from tests.services.conftest import World
from tests.services.payment_fixtures import sandbox

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOKEN = re.compile(r"/pay/([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The sandbox takes the payments; uploads go to folders of this test."""
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    monkeypatch.setattr(profiles, "AVATAR_DIR", tmp_path / "avatars")
    monkeypatch.setattr(organization, "UPLOADS_DIR", tmp_path / "uploads")


# -- links ------------------------------------------------------------------------------------------
async def _emailed_invoice(world: World, amount: int, client_id: int | None = None) -> tuple[int, str]:
    """An invoice sent by email the way staff send it; its id and the token of the link in the email."""
    before = set(await OutboxEmail.all().values_list("id", flat=True))
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=[LineDraft("Work", Decimal(1), amount, Decimal(0))],
        due_date=today() + timedelta(days=10),
    )
    (email,) = [e for e in await OutboxEmail.all() if e.id not in before]
    found = TOKEN.search(email.text_body)
    assert found, email.text_body
    return invoice_id, found.group(1)


async def _counts() -> tuple[int, ...]:
    return (
        await PaymentLink.all().count(),
        await Payment.all().count(),
        await OutboxEmail.all().count(),
        await SandboxObject.all().count(),
    )


async def test_a_token_shows_and_pays_its_own_invoice_and_never_another(world: World) -> None:
    first, token = await _emailed_invoice(world, 1500)
    second, _other = await _emailed_invoice(world, 2600)
    bobs, _bob_token = await _emailed_invoice(world, 3700, client_id=world.bob_id)
    numbers = {i: (await Invoice.get(id=i)).number for i in (first, second, bobs)}

    shown = await links.view(token=token)
    assert (shown.target_id, shown.reference, shown.amount_due_minor) == (first, numbers[first], 1500)

    outcome = await links.pay_with_new_method(token=token)
    session_id = outcome.redirect_url.rsplit("/", 1)[-1]
    page = await sandbox().checkout_details(session_id)
    assert page["amount_total"] == 1500 and numbers[first] in page["description"]
    assert numbers[second] not in page["description"]
    await sandbox().complete_checkout(
        session_id, card=NewCard("4242424242424242", 12, today().year + 2, "123")
    )

    assert [p.invoice_id for p in await Payment.all()] == [first]
    assert (await Invoice.get(id=first)).status == "paid"
    for untouched, amount in ((second, 2600), (bobs, 3700)):
        summary = await invoices.get_invoice_summary(actor=world.staff, invoice_id=untouched)
        assert (summary.status, summary.amount_due_minor) == ("open", amount)
    # the same link now says paid, and cannot start a second payment
    assert (await links.view(token=token)).state == "paid"
    with pytest.raises(Conflict):
        await links.pay_with_new_method(token=token)
    assert await Payment.all().count() == 1


async def test_checkout_sessions_cannot_be_guessed_from_one_another(world: World) -> None:
    _first, one = await _emailed_invoice(world, 100)
    _second, two = await _emailed_invoice(world, 200)
    sessions = [
        (await links.pay_with_new_method(token=token)).redirect_url.rsplit("/", 1)[-1] for token in (one, two)
    ]
    randoms = [re.search(r"([0-9a-f]{16,})$", session) for session in sessions]
    assert all(randoms), sessions  # at least 64 random bits at the end of each id
    assert randoms[0].group(1) != randoms[1].group(1)  # type: ignore[union-attr]
    neighbour = sessions[0][:-1] + format((int(sessions[0][-1], 16) + 1) % 16, "x")
    with pytest.raises(NotFound):  # a session id one step away from a real one is no checkout page
        await sandbox_checkout.details(session_id=neighbour)


def _tampered(token: str) -> dict[str, str]:
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    return {
        "last character changed": flipped,
        "one character short": token[:-1],
        "one character more": token + "x",
        "upper-cased": token.upper() if token.upper() != token else token.lower(),
        "with spaces": f" {token} ",
        "percent-encoded": "".join(f"%{ord(c):02X}" for c in token),
        "the stored hash itself": hash_token(token),
        "empty": "",
    }


async def test_tampered_tokens_and_the_stored_hash_reach_nothing_and_write_nothing(world: World) -> None:
    _invoice_id, token = await _emailed_invoice(world, 900)
    await PaymentLink.all().update(expires_at=now_utc() - timedelta(days=1))  # renewable, if it were valid
    before = await _counts()
    for case, bad in _tampered(token).items():
        for attempt in (
            links.view(token=bad),
            links.pay_with_new_method(token=bad),
            links.send_fresh_link(token=bad),
        ):
            with pytest.raises(NotFound) as caught:
                await attempt
            assert caught.value.message == "This payment link is not valid.", case
    assert await _counts() == before
    assert (await links.view(token=token)).state == "expired"  # the real one still works


async def test_an_expired_link_cannot_start_a_checkout(world: World) -> None:
    _invoice_id, token = await _emailed_invoice(world, 900)
    await PaymentLink.all().update(expires_at=now_utc() - timedelta(seconds=1))
    before = await _counts()
    with pytest.raises(Conflict) as caught:
        await links.pay_with_new_method(token=token)
    assert caught.value.message == "This link has expired."
    assert await _counts() == before


async def test_a_voided_invoices_link_is_invalid_everywhere(world: World) -> None:
    invoice_id, token = await _emailed_invoice(world, 900)
    await invoice_editor.void_invoice(actor=world.staff, invoice_id=invoice_id)
    before = await _counts()
    for attempt in (
        links.view(token=token),
        links.pay_with_new_method(token=token),
        links.send_fresh_link(token=token),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert await _counts() == before


async def test_a_revoked_link_is_invalid_even_while_its_invoice_is_open(world: World) -> None:
    invoice_id, token = await _emailed_invoice(world, 900)
    assert await links.revoke_for(purpose="invoice", target_id=invoice_id) == 1
    with pytest.raises(NotFound):
        await links.view(token=token)
    with pytest.raises(NotFound):
        await links.pay_with_new_method(token=token)
    assert (await Invoice.get(id=invoice_id)).status == "open" and await Payment.all().count() == 0


async def test_a_deleted_billing_requests_link_stops_working(world: World) -> None:
    sent = await billing_requests.create_billing_request(
        actor=world.staff,
        client_id=world.alice_id,
        email="alice@x.test",
        currency="USD",
        amount_minor=2000,
        success_url="https://agency.test/ok",
        cancel_url="https://agency.test/no",
        billing_type="one_time",
    )
    token = TOKEN.search(sent.link).group(1)  # type: ignore[union-attr]
    assert (await links.view(token=token)).state == "open"
    await billing_requests.delete_billing_request(actor=world.staff, request_id=sent.id)
    for attempt in (links.view(token=token), links.pay_with_new_method(token=token)):
        with pytest.raises(NotFound):
            await attempt
    assert await Payment.all().count() == 0
    assert (await BillingRequest.get(id=sent.id)).status == "deleted"


# -- "Email me a new link": bounded, and honest about what it did -----------------------------------------
async def _expired_invoice_link(world: World, amount: int = 900) -> tuple[int, str]:
    """An emailed invoice whose link has expired (the invoice email is then marked sent, out of the way)."""
    invoice_id, token = await _emailed_invoice(world, amount)
    await PaymentLink.filter(invoice_id=invoice_id).update(expires_at=now_utc() - timedelta(days=1))
    return invoice_id, token


async def _new_link_rows() -> tuple[int, int]:
    return await PaymentLink.all().count(), await OutboxEmail.filter(kind="new_link").count()


async def test_ten_clicks_make_one_new_link_and_one_email_and_each_answer_says_which(world: World) -> None:
    invoice_id, token = await _expired_invoice_link(world)
    before_links, _none = await _new_link_rows()
    renewals = [await links.send_fresh_link(token=token) for _ in range(10)]

    assert await _new_link_rows() == (before_links + 1, 1)
    assert [r.sent for r in renewals] == [True] + [False] * 9
    assert renewals[0].message == "We sent a new link to a****@x.test."
    (email,) = await OutboxEmail.filter(kind="new_link")
    asked = format_datetime(email.created_at)
    assert renewals[1].message == (
        f"A new link to a****@x.test is already on its way (asked for on {asked}). It should arrive in a few "
        "minutes; no other link was sent."
    )
    assert len({r.message for r in renewals[1:]}) == 1
    # the one new link works, the expired one still says expired
    fresh = TOKEN.search(email.text_body).group(1)  # type: ignore[union-attr]
    assert (await links.view(token=fresh)).state == "open"
    assert (await links.view(token=token)).state == "expired"

    # once the email has gone out, the answer says when (and still sends nothing)
    sent_at = now_utc() - timedelta(minutes=5)
    await OutboxEmail.filter(id=email.id).update(status="sent", sent_at=sent_at)
    again = await links.send_fresh_link(token=token)
    assert (again.sent, again.address) == (False, "a****@x.test")
    assert again.message == (
        f"We already sent a new link to a****@x.test on {format_datetime(sent_at)}, so we did not send "
        "another. Please check your inbox and spam folder."
    )
    assert await _new_link_rows() == (before_links + 1, 1)
    assert (await Invoice.get(id=invoice_id)).status == "open"


async def test_clicks_at_the_same_moment_still_make_one_new_link(world: World) -> None:
    _invoice_id, token = await _expired_invoice_link(world)
    before_links, _none = await _new_link_rows()
    renewals = await asyncio.gather(*(links.send_fresh_link(token=token) for _ in range(5)))
    assert sorted(r.sent for r in renewals) == [False] * 4 + [True]
    assert await _new_link_rows() == (before_links + 1, 1)


async def test_another_expired_link_of_the_same_invoice_reuses_the_new_one(world: World) -> None:
    invoice_id, first = await _expired_invoice_link(world)
    await invoice_editor.resend_invoice(actor=world.staff, invoice_id=invoice_id)
    (resent,) = [e for e in await OutboxEmail.filter(kind="invoice").order_by("-id")][:1]
    second = TOKEN.search(resent.text_body).group(1)  # type: ignore[union-attr]
    await PaymentLink.filter(invoice_id=invoice_id).update(expires_at=now_utc() - timedelta(days=1))
    before = await _new_link_rows()

    assert (await links.send_fresh_link(token=first)).sent is True
    assert (await links.send_fresh_link(token=second)).sent is False
    assert await _new_link_rows() == (before[0] + 1, before[1] + 1)


async def test_an_address_gets_at_most_three_new_links_a_day_across_its_invoices(world: World) -> None:
    tokens = [(await _expired_invoice_link(world, 100 + n))[1] for n in range(5)]
    before = await _new_link_rows()
    renewals = [await links.send_fresh_link(token=token) for token in tokens]

    assert [r.sent for r in renewals] == [True, True, True, False, False]
    assert await _new_link_rows() == (before[0] + 3, before[1] + 3)
    first = await OutboxEmail.filter(kind="new_link").order_by("id").first()
    assert first is not None
    again = format_datetime(first.created_at + links.RENEWAL_WINDOW)
    assert renewals[3].message == (
        "We have sent 3 new links to a****@x.test in the last 24 hours, so we did not send another. "
        f"Please check your inbox, or ask again after {again}."
    )
    # Bob's address has its own allowance
    bob_invoice, bob_token = await _emailed_invoice(world, 500, client_id=world.bob_id)
    await PaymentLink.filter(invoice_id=bob_invoice).update(expires_at=now_utc() - timedelta(days=1))
    assert (await links.send_fresh_link(token=bob_token)).sent is True


async def test_a_day_later_a_new_click_sends_a_new_link_and_the_earlier_one_keeps_working(
    world: World,
) -> None:
    _invoice_id, token = await _expired_invoice_link(world)
    assert (await links.send_fresh_link(token=token)).sent is True
    (first_email,) = await OutboxEmail.filter(kind="new_link")
    first_link = TOKEN.search(first_email.text_body).group(1)  # type: ignore[union-attr]
    clock.set_now(now_utc() + links.RENEWAL_WINDOW + timedelta(minutes=1))
    try:
        renewal = await links.send_fresh_link(token=token)
        assert (renewal.sent, renewal.message) == (True, "We sent a new link to a****@x.test.")
        assert await OutboxEmail.filter(kind="new_link").count() == 2
        assert (await links.view(token=first_link)).state == "open"
    finally:
        clock.set_now(None)


async def test_a_new_link_the_mail_server_refused_or_that_was_revoked_does_not_block_another(
    world: World,
) -> None:
    _invoice_id, token = await _expired_invoice_link(world)
    assert (await links.send_fresh_link(token=token)).sent is True
    await OutboxEmail.filter(kind="new_link").update(status="failed")  # never delivered
    assert (await links.send_fresh_link(token=token)).sent is True
    newest = await PaymentLink.all().order_by("-id").first()
    assert newest is not None
    await PaymentLink.filter(id=newest.id).update(revoked_at=now_utc())
    assert (await links.send_fresh_link(token=token)).sent is True
    assert await OutboxEmail.filter(kind="new_link").count() == 3  # the address's allowance, now used up
    assert (await links.send_fresh_link(token=token)).message.startswith("A new link to a****@x.test is")
    await OutboxEmail.filter(kind="new_link").update(status="failed")
    renewal = await links.send_fresh_link(token=token)
    assert renewal.sent is False and renewal.message.startswith("We have sent 3 new links to a****@x.test")
    assert await OutboxEmail.filter(kind="new_link").count() == 3


# -- uploads ----------------------------------------------------------------------------------------
def _picture(fmt: str, size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(out, format=fmt, **save)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _png_claiming(width: int, height: int, *, rows: int = 1) -> bytes:
    """A few dozen bytes that announce a huge picture: a decompression bomb's header (with the pixel data
    of `rows` rows of 1 pixel, so that only the header's claim is large)."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    pixels = zlib.compress(b"\x00" * (rows * (1 + 3 * min(width, 1))))
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def _png_with_text(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return _picture("PNG", pnginfo=info)


HOSTILE: dict[str, bytes] = {
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
    "svg with an xml prolog": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    "an html page": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "png then an html page": _picture("PNG") + b"<html><script>alert(document.cookie)</script></html>",
    "png with a script in a text chunk": _png_with_text("<script>fetch('/x')</script>"),
    "png then a zip": _picture("PNG") + b"PK\x03\x04" + b"payload" * 20,
    "jpeg with a script in its comment": _picture("JPEG", comment=b"<script>alert(1)</script>"),
    "jpeg then an html page": _picture("JPEG") + b"<html><body onload=alert(1)></body></html>",
    "gif that is also a script": _picture("GIF") + b";alert(document.domain)//",
    "png signature, jpeg inside": PNG_SIGNATURE + _picture("JPEG"),
    "a decompression bomb (1x1 claiming 30000x30000)": _png_claiming(30_000, 30_000),
    "a bomb below pillow's own limit (9000x9000)": _png_claiming(9_000, 9_000),
}
OVERSIZE = {
    "avatar": PNG_SIGNATURE + b"\x00" * (profiles.AVATAR_MAX_BYTES + 1),
    "logo": PNG_SIGNATURE + b"\x00" * (images.LOGO_MAX_BYTES + 1),
}
CHECKS: dict[str, Callable[[bytes], object]] = {"avatar": profiles.check_avatar, "logo": images.clean_logo}


@pytest.mark.parametrize("upload", list(CHECKS))
@pytest.mark.parametrize("case", [*HOSTILE, "oversize"])
def test_hostile_files_are_refused_with_a_message_for_their_field(upload: str, case: str) -> None:
    data = OVERSIZE[upload] if case == "oversize" else HOSTILE[case]
    with pytest.raises(InvalidInput) as caught:
        CHECKS[upload](data)
    assert caught.value.field == upload and caught.value.message


def test_the_bomb_case_really_announces_a_huge_picture() -> None:
    """The bomb above is a valid PNG header: refusal comes from its size, not from a broken file."""
    with Image.open(BytesIO(_png_claiming(1, 2, rows=2))) as small:
        assert small.size == (1, 2)
        small.load()
    with Image.open(BytesIO(_png_claiming(9_000, 9_000))) as big:
        assert big.size == (9_000, 9_000)


async def test_a_refused_avatar_changes_nothing(world: World) -> None:
    form = await profiles.get_client_form(actor=world.staff, client_id=world.alice_id)
    for case, data in HOSTILE.items():
        with pytest.raises(InvalidInput) as caught:
            await profiles.update_client(actor=world.staff, client_id=world.alice_id, form=form, avatar=data)
        assert caught.value.field == "avatar", case
    assert (await Client.get(id=world.alice_id)).avatar_path == ""
    assert not profiles.AVATAR_DIR.exists() or not list(profiles.AVATAR_DIR.iterdir())


def _stored_png_is_clean(stored: bytes, upload: bytes) -> None:
    assert stored != upload and stored.startswith(PNG_SIGNATURE)
    assert stored.endswith(_chunk(b"IEND", b"")), "bytes after the end of the stored image"
    lowered = stored.lower()
    assert b"<script" not in lowered and b"comment" not in lowered and b"secret-note" not in lowered
    with Image.open(BytesIO(stored)) as image:
        assert image.format == "PNG"
        image.load()


ACCEPTED = {
    "png": _picture("PNG", (300, 200)),
    "jpeg": _picture("JPEG", (300, 200)),
    "png with harmless metadata": _png_with_text("secret-note: taken at home"),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
async def test_real_pictures_are_stored_re_encoded_without_anything_else(world: World, case: str) -> None:
    upload = ACCEPTED[case]
    form = await profiles.get_client_form(actor=world.staff, client_id=world.alice_id)
    await profiles.update_client(actor=world.staff, client_id=world.alice_id, form=form, avatar=upload)
    avatar = (await Client.get(id=world.alice_id)).avatar_path
    stored = profiles.avatar_file(avatar.rsplit("/", 1)[-1])
    assert stored is not None
    _stored_png_is_clean(stored.read_bytes(), upload)

    url = await template.upload_logo(actor=world.admin, data=upload)
    logo = organization.uploaded_file(url)
    assert logo is not None
    _stored_png_is_clean(logo.read_bytes(), upload)

"""Settings (admin only): organization and logo, billing and tax rates, invoice template and numbering,
reminders, SMTP with a real test email through the aiosmtpd sink. Staff and clients are refused here, at
the service, whatever the page does."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from tortoise.transactions import in_transaction

from portal.billing import invoices, pdf
from portal.billing.invoices import LineDraft
from portal.core import organization, vault
from portal.core.clock import today
from portal.core.numbering import next_number, render_number, validate_pattern
from portal.core.organization import get_organization
from portal.db.models import AuditEntry, Client, Invoice, NumberSequence, Organization, TaxRate
from portal.domain.errors import Conflict, Forbidden, InvalidFields, InvalidInput, NotFound
from portal.payments import ledger
from portal.settings import billing_and_tax, business_details, email, reminder_schedule, template
from portal.settings.email import SmtpForm
from tests.services.billing.test_documents import pdf_text
from tests.services.conftest import World
from tests.smtp_sink import DEFAULT_FROM, SmtpSink

pytest_plugins = ["tests.conftest_smtp"]

DUE = today() + timedelta(days=14)
SMTP_USER, SMTP_PASSWORD = "mailer@agency.test", "s3cret-Pa55word"


@pytest.fixture(autouse=True)
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploaded files go to a folder of this test."""
    folder = tmp_path / "uploads"
    monkeypatch.setattr(organization, "UPLOADS_DIR", folder)
    return folder


def files(folder: Path) -> list[str]:
    """The names in a folder (none when it does not exist)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 20), mode: str = "RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 60) if mode == "RGB" else None).save(out, format=fmt, **save)
    return out.getvalue()


async def audits(action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(action=action).order_by("id")


def no_secret_in(entries: list[AuditEntry], *secrets: str) -> bool:
    text = json.dumps([e.details for e in entries])
    return not any(secret in text for secret in secrets)


# -- roles ------------------------------------------------------------------------------------------
ADMIN_CALLS: dict[str, Callable] = {
    "get_organization_settings": lambda a: business_details.get_organization_settings(actor=a),
    "update_organization": lambda a: business_details.update_organization(
        actor=a, name="X", billing_address="", bank_details=""
    ),
    "get_legal_identity": lambda a: business_details.get_legal_identity(actor=a),
    "update_legal_identity": lambda a: business_details.update_legal_identity(
        actor=a, values=business_details.LegalIdentityView("", "", "", "", "", "", "", False)
    ),
    "upload_logo": lambda a: template.upload_logo(actor=a, data=image_bytes()),
    "remove_logo": lambda a: template.remove_logo(actor=a),
    "get_billing_settings": lambda a: billing_and_tax.get_billing_settings(actor=a),
    "update_billing": lambda a: billing_and_tax.update_billing(
        actor=a, default_currency="EUR", apply_credit_automatically=True
    ),
    "create_tax_rate": lambda a: billing_and_tax.create_tax_rate(actor=a, name="GST", rate="5"),
    "update_tax_rate": lambda a: billing_and_tax.update_tax_rate(
        actor=a, tax_rate_id=1, name="GST", rate="6"
    ),
    "archive_tax_rate": lambda a: billing_and_tax.archive_tax_rate(actor=a, tax_rate_id=1),
    "delete_tax_rate": lambda a: billing_and_tax.delete_tax_rate(actor=a, tax_rate_id=1),
    "get_template": lambda a: template.get_template(actor=a),
    "update_template": lambda a: template.update_template(
        actor=a, theme_color="#112233", footer="F", number_pattern="F-{seq}"
    ),
    "next_invoice_number": lambda a: template.next_invoice_number(actor=a, number_pattern="F-{seq}"),
    "preview_invoice_pdf": lambda a: template.preview_invoice_pdf(
        actor=a, theme_color="#112233", footer="F", number_pattern="F-{seq}"
    ),
    "get_reminders": lambda a: reminder_schedule.get_reminders(actor=a),
    "update_reminders": lambda a: reminder_schedule.update_reminders(actor=a, enabled=False, offsets=[1]),
    "add_reminder": lambda a: reminder_schedule.add_reminder(actor=a, days="2", when="after"),
    "remove_reminder": lambda a: reminder_schedule.remove_reminder(actor=a, offset=7),
    "set_reminders_enabled": lambda a: reminder_schedule.set_reminders_enabled(actor=a, enabled=False),
    "get_email_settings": lambda a: email.get_email_settings(actor=a),
    "update_email_settings": lambda a: email.update_email_settings(actor=a, form=SmtpForm(mode="default")),
    "send_test_email": lambda a: email.send_test_email(actor=a, to="x@y.test", form=SmtpForm()),
}


@pytest.mark.parametrize("call", list(ADMIN_CALLS), ids=list(ADMIN_CALLS))
async def test_staff_and_clients_are_refused_and_nothing_changes(world: World, call: str) -> None:
    await TaxRate.create(id=1, name="VAT", rate=Decimal(20))
    await get_organization()
    org_before = await Organization.filter(id=1).values()
    for actor in (world.alice, world.staff):
        with pytest.raises(Forbidden):
            await ADMIN_CALLS[call](actor)
    assert await Organization.filter(id=1).values() == org_before
    assert await TaxRate.filter(id=1, name="VAT", archived=False).exists()
    assert await AuditEntry.all().count() == 0


async def test_an_impersonating_admin_is_refused(world: World) -> None:
    from dataclasses import replace

    impersonating = replace(world.admin, client_id=world.alice_id, impersonator_id=world.admin.user_id)
    with pytest.raises(Forbidden):
        await business_details.update_organization(
            actor=impersonating, name="X", billing_address="", bank_details=""
        )


@pytest.mark.parametrize(
    "call", ["get_billing_settings", "get_template", "get_reminders", "get_email_settings"]
)
async def test_an_admin_may_read_every_page(world: World, call: str) -> None:
    assert await ADMIN_CALLS[call](world.admin) is not None


# -- organization -----------------------------------------------------------------------------------
async def test_the_organization_is_saved_and_audited(world: World) -> None:
    view = await business_details.update_organization(
        actor=world.admin,
        name="  Acme Studio ",
        billing_address="1 Main St\r\nSpringfield",
        bank_details="IBAN FR76 3000 6000 0112 3456 7890 189",
    )
    assert (view.name, view.billing_address) == ("Acme Studio", "1 Main St\nSpringfield")
    org = await get_organization()
    assert (org.name, org.bank_details) == ("Acme Studio", "IBAN FR76 3000 6000 0112 3456 7890 189")
    (entry,) = await audits("settings.organization")
    assert entry.actor_id == world.admin.user_id
    assert entry.details == {"changed": ["name", "billing_address", "bank_details"], "name": "Acme Studio"}

    await business_details.update_organization(
        actor=world.admin,
        name="Acme Studio",
        billing_address=view.billing_address,
        bank_details=org.bank_details,
    )
    assert len(await audits("settings.organization")) == 1  # nothing changed, nothing recorded


async def test_bad_organization_fields_are_all_reported_and_nothing_changes(world: World) -> None:
    with pytest.raises(InvalidFields) as caught:
        await business_details.update_organization(
            actor=world.admin, name="   ", billing_address="x" * 1001, bank_details="ok"
        )
    assert caught.value.errors == {
        "name": "Enter the organization's name.",
        "billing_address": "The billing address is too long (1000 characters at most).",
    }
    assert (await get_organization()).name == "My Agency"
    assert await audits("settings.organization") == []


async def test_the_pay_page_shows_the_bank_details_from_the_settings(world: World) -> None:
    from portal.payments import links

    await business_details.update_organization(
        actor=world.admin, name="Acme", billing_address="", bank_details="Acme Ltd\nIBAN GB00 TEST"
    )
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000)],
        due_date=DUE,
    )
    token = await links.issue(
        purpose="invoice", target_id=invoice_id, expires_at=links.invoice_link_expiry(DUE)
    )
    view = await links.view(token=token)
    assert view.bank_details == "Acme Ltd\nIBAN GB00 TEST"


# -- logo -------------------------------------------------------------------------------------------
async def test_a_png_logo_is_re_encoded_capped_stored_at_random_and_used_by_the_pdf(
    world: World, uploads: Path
) -> None:
    url = await template.upload_logo(actor=world.admin, data=image_bytes(size=(2000, 1000)))
    assert url.startswith("/uploads/") and url.endswith(".png")
    (name,) = files(uploads)
    stored = uploads / name
    assert url == f"/uploads/{stored.name}" and len(stored.stem) == 32
    with Image.open(stored) as image:
        assert (image.format, image.size) == ("PNG", (512, 256))
    assert (await get_organization()).logo_path == url
    assert pdf.logo_file(url) == stored
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000)],
        due_date=DUE,
    )
    from portal.billing import documents

    detail = await documents.get_invoice(actor=world.alice, invoice_id=invoice_id)
    assert b"/Subtype /Image" in pdf.invoice_pdf(detail, compress=False)
    (entry,) = await audits("settings.logo")
    assert entry.details == {"logo": url, "width": 512, "height": 256}

    second = await template.upload_logo(actor=world.admin, data=image_bytes("JPEG", size=(300, 300)))
    assert second != url
    assert files(uploads) == [second.removeprefix("/uploads/")]  # the old one is gone
    with Image.open(uploads / second.removeprefix("/uploads/")) as image:
        assert (image.format, image.size) == ("PNG", (300, 300))

    await template.remove_logo(actor=world.admin)
    assert (await get_organization()).logo_path == ""
    assert files(uploads) == []


async def test_transparency_survives_and_metadata_does_not(world: World, uploads: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Someone private")
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, format="PNG", pnginfo=info)
    url = await template.upload_logo(actor=world.admin, data=out.getvalue())
    stored = uploads / url.removeprefix("/uploads/")
    assert b"Someone private" not in stored.read_bytes()
    with Image.open(stored) as image:
        assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0


def _png_with_text(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return image_bytes(pnginfo=info)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
MARKUP = (
    "This image also contains web page or script code, so it is refused. "
    "Save it again as a plain PNG or JPEG."
)
TRAILING = (
    "This file has extra data hidden after the image, so it is refused. Save it again as a plain PNG or JPEG."
)
REFUSED = {
    "svg": (SVG, "SVG images are not accepted, because they can carry scripts. Upload a PNG or JPEG."),
    "svg named png": (
        b"\n  <svg xmlns='http://www.w3.org/2000/svg'/>",
        "SVG images are not accepted, because they can carry scripts. Upload a PNG or JPEG.",
    ),
    "html": (
        b"<!DOCTYPE html><html></html>",
        "This file is a web page or other text, not an image. Upload a PNG or JPEG.",
    ),
    "gif": (image_bytes("GIF"), "This is a GIF image. Upload the logo as a PNG or JPEG."),
    "webp": (image_bytes("WEBP"), "This is a WEBP image. Upload the logo as a PNG or JPEG."),
    "pdf": (
        b"%PDF-1.7\n1 0 obj<<>>endobj",
        "This file is not a PNG or JPEG image. Upload the logo as a PNG or JPEG.",
    ),
    "empty": (b"", "The file is empty."),
    "too big": (
        b"\x89PNG\r\n\x1a\n" + b"\0" * (1024 * 1024),
        "The logo is larger than 1 MB. Upload a smaller PNG or JPEG.",
    ),
    "png signature, gif inside": (
        b"\x89PNG\r\n\x1a\n" + image_bytes("GIF"),
        "This file says it is a PNG image but cannot be read as one.",
    ),
    "truncated": (
        image_bytes(size=(200, 200))[:-40],
        "The image is damaged or incomplete and cannot be read.",
    ),
    "script in a text chunk": (
        _png_with_text("<script>fetch('/x')</script>"),
        MARKUP,
    ),
    "zip after the image": (
        image_bytes() + b"PK\x03\x04" + b"payload" * 20,
        TRAILING,
    ),
    "html after a jpeg": (
        image_bytes("JPEG") + b"<html><body>hi</body></html>",
        MARKUP,
    ),
    "data after a jpeg": (
        image_bytes("JPEG") + b"MZ\x90\x00 not an image",
        TRAILING,
    ),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
async def test_anything_but_a_clean_png_or_jpeg_is_refused_with_its_reason(
    world: World, uploads: Path, case: str
) -> None:
    await get_organization()
    await Organization.filter(id=1).update(logo_path="/static/favicon.png")
    data, message = REFUSED[case]
    with pytest.raises(InvalidInput) as caught:
        await template.upload_logo(actor=world.admin, data=data)
    assert (caught.value.field, caught.value.message) == ("logo", message)
    assert (await get_organization()).logo_path == "/static/favicon.png"
    assert files(uploads) == []
    assert await audits("settings.logo") == []


@pytest.mark.parametrize("side", [7_000, 20_000])
async def test_an_image_too_large_to_decode_is_refused_before_decoding(world: World, side: int) -> None:
    header = side.to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"  # side x side RGB, a few bytes of data
    idat = zlib.compress(b"\0" * 1000)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    with pytest.raises(
        InvalidInput, match=re.escape("The image has too many pixels to use as a logo (40 million at most).")
    ):
        await template.upload_logo(actor=world.admin, data=data)


def test_an_upload_url_resolves_only_to_a_random_png_name_inside_the_folder(uploads: Path) -> None:
    uploads.mkdir()
    name = "0123456789abcdef0123456789abcdef.png"
    (uploads / name).write_bytes(b"x")
    assert organization.uploaded_file(f"/uploads/{name}") == uploads / name
    for bad in (
        "/uploads/../secret.png",
        "/uploads/0123456789abcdef0123456789abcdef.svg",
        "/uploads/0123456789ABCDEF0123456789abcdef.png",
        f"/static/{name}",
        "/uploads/ffffffffffffffffffffffffffffffff.png",  # well formed but missing
    ):
        assert organization.uploaded_file(bad) is None, bad


# -- billing and tax rates --------------------------------------------------------------------------
async def test_the_default_currency_is_checked_and_the_credit_toggle_is_used(world: World) -> None:
    view = await billing_and_tax.update_billing(
        actor=world.admin, default_currency=" eur ", apply_credit_automatically=True
    )
    assert (view.default_currency, view.apply_credit_automatically) == ("EUR", True)
    (entry,) = await audits("settings.billing")
    assert entry.details == {"default_currency": "EUR", "apply_credit_automatically": True}
    for bad, message in (
        ("XYZ", "Unknown currency code 'XYZ'."),
        ("", "Choose a currency."),
        ("EURO", "Unknown currency code 'EURO'."),
    ):
        with pytest.raises(InvalidInput) as caught:
            await billing_and_tax.update_billing(
                actor=world.admin, default_currency=bad, apply_credit_automatically=False
            )
        assert (caught.value.field, caught.value.message) == ("default_currency", message)
    org = await get_organization()
    assert (org.default_currency, org.apply_credit_automatically) == ("EUR", True)

    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=3000, currency="USD", note="Prepaid"
    )
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000)],
        due_date=DUE,
    )
    assert await ledger.amount_due(await Invoice.get(id=invoice_id)) == 2000  # credit was used at once

    await billing_and_tax.update_billing(
        actor=world.admin, default_currency="EUR", apply_credit_automatically=False
    )
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=3000, currency="USD", note="More"
    )
    second = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000)],
        due_date=DUE,
    )
    assert await ledger.amount_due(await Invoice.get(id=second)) == 5000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20", "20"),
        ("8.875", "8.875"),
        (" 7,5 % ", "7.5"),
        ("0", "0"),
        ("100", "100"),
        ("12.34560", "12.3456"),
    ],
)
def test_rates_are_parsed_to_decimals(text: str, expected: str) -> None:
    assert billing_and_tax.parse_rate(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter the rate as a percentage, for example 20 or 8.875."),
        ("twenty", "Enter the rate as a percentage, for example 20 or 8.875."),
        ("1e2", "Enter the rate as a percentage, for example 20 or 8.875."),
        ("NaN", "Enter the rate as a percentage, for example 20 or 8.875."),
        ("-5", "The rate must be between 0% and 100%."),
        ("100.01", "The rate must be between 0% and 100%."),
        ("8.12345", "The rate can have at most 4 decimal places."),
    ],
)
def test_bad_rates_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        billing_and_tax.parse_rate(text)
    assert (caught.value.field, caught.value.message) == ("rate", message)


async def test_tax_rates_are_created_edited_archived_and_deleted_when_unused(world: World) -> None:
    gst = await billing_and_tax.create_tax_rate(actor=world.admin, name=" GST ", rate="5")
    assert (gst.name, gst.rate, gst.archived, gst.in_use, gst.label) == ("GST", "5", False, False, "GST 5%")
    with pytest.raises(InvalidInput, match=re.escape("GST 5% already exists.")):
        await billing_and_tax.create_tax_rate(actor=world.admin, name="GST", rate="5.000")
    with pytest.raises(InvalidFields) as caught:
        await billing_and_tax.create_tax_rate(actor=world.admin, name="", rate="abc")
    assert set(caught.value.errors) == {"name", "rate"}

    edited = await billing_and_tax.update_tax_rate(
        actor=world.admin, tax_rate_id=gst.id, name="GST", rate="5.5"
    )
    assert edited.rate == "5.5"
    archived = await billing_and_tax.archive_tax_rate(actor=world.admin, tax_rate_id=gst.id)
    assert archived.archived
    assert [r.name for r in await billing_and_tax.list_tax_rates(actor=world.staff)] == []
    assert [
        r.name for r in await billing_and_tax.list_tax_rates(actor=world.admin, include_archived=True)
    ] == ["GST"]
    with pytest.raises(
        InvalidInput, match=re.escape("GST 5.5% already exists in the archive: restore it instead.")
    ):
        await billing_and_tax.create_tax_rate(actor=world.admin, name="GST", rate="5.5")
    restored = await billing_and_tax.archive_tax_rate(actor=world.admin, tax_rate_id=gst.id, archived=False)
    assert not restored.archived

    await billing_and_tax.delete_tax_rate(actor=world.admin, tax_rate_id=gst.id)
    assert not await TaxRate.exists(id=gst.id)
    with pytest.raises(NotFound):
        await billing_and_tax.delete_tax_rate(actor=world.admin, tax_rate_id=gst.id)
    actions = [
        e.action for e in await AuditEntry.filter(action__startswith="settings.tax_rate").order_by("id")
    ]
    assert actions == [
        "settings.tax_rate.create",
        "settings.tax_rate.update",
        "settings.tax_rate.archive",
        "settings.tax_rate.restore",
        "settings.tax_rate.delete",
    ]


async def test_a_rate_used_on_an_invoice_or_a_quote_is_only_ever_archived(world: World) -> None:
    vat = await billing_and_tax.create_tax_rate(actor=world.admin, name="VAT", rate="20")
    sales = await billing_and_tax.create_tax_rate(actor=world.admin, name="Sales tax", rate="8.875")
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000, Decimal("20"), "VAT")],
        due_date=DUE,
    )
    from portal.db.models import Quote, QuoteLine

    quote = await Quote.create(kind="estimate", client_id=world.alice_id, currency="USD", issue_date=today())
    await QuoteLine.create(
        quote=quote,
        description="Audit",
        quantity=Decimal(1),
        unit_price_minor=1000,
        tax_name="Sales tax",
        tax_rate=Decimal("8.875"),
        net_minor=1000,
        tax_minor=89,
        gross_minor=1089,
    )
    rates = {r.name: r for r in (await billing_and_tax.get_billing_settings(actor=world.admin)).tax_rates}
    assert rates["VAT"].in_use and rates["Sales tax"].in_use

    for rate in (vat, sales):
        with pytest.raises(
            Conflict,
            match=re.escape("is used on invoices or quotes, so it cannot be deleted. Archive it instead."),
        ):
            await billing_and_tax.delete_tax_rate(actor=world.admin, tax_rate_id=rate.id)
        with pytest.raises(Conflict, match="so it cannot change"):
            await billing_and_tax.update_tax_rate(
                actor=world.admin, tax_rate_id=rate.id, name=rate.name, rate="21"
            )
        assert (await billing_and_tax.archive_tax_rate(actor=world.admin, tax_rate_id=rate.id)).archived
    assert await TaxRate.filter(archived=True).count() == 2
    line = await Invoice.get(id=invoice_id).prefetch_related("lines")
    assert [(x.tax_name, x.tax_rate) for x in line.lines] == [
        ("VAT", Decimal("20"))
    ]  # the invoice is untouched


# -- numbering and template -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("INV-{YYYY}-{seq:04}", "INV-2026-0042"),
        ("F{YY}{MM}/{seq}", "F2605/42"),
        ("{seq:06}", "000042"),
        ("  Q-{seq}  ", "Q-42"),
    ],
)
def test_number_patterns_are_rendered(pattern: str, expected: str) -> None:
    assert render_number(validate_pattern(pattern), year=2026, month=5, seq=42) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "Enter a number pattern, for example INV-{YYYY}-{seq:04}."),
        ("INV-{YYYY}", "The number pattern must contain {seq} (or {seq:0N}), the sequence number."),
        ("INV-{seq}-{seq:03}", "The number pattern can contain the sequence only once."),
        ("INV-{DD}-{seq}", "Unknown placeholder {DD}. The placeholders are {YYYY} {YY} {MM} {seq} {seq:0N}."),
        ("INV-{seq:4}", "Write the sequence as {seq} or {seq:0N}, for example {seq:04} for 0001."),
        ("INV-{seq:00}", "The sequence can be padded to 1 to 12 digits."),
        ("INV-{{seq}}", "Braces can only surround a placeholder such as {YYYY} or {seq}."),
        ("INV-}{seq}", "Braces can only surround a placeholder such as {YYYY} or {seq}."),
        ("INV\t{seq}", "The number pattern cannot contain tabs, line breaks or other control characters."),
        ("X" * 50 + "{seq}", "The number pattern is too long (60 characters at most)."),
    ],
)
def test_bad_number_patterns_are_refused_with_a_reason(pattern: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_pattern(pattern)
    assert (caught.value.field, caught.value.message) == ("number_pattern", message)


async def test_twenty_concurrent_numbers_are_distinct_and_consecutive(db: str) -> None:
    on = date(2026, 3, 1)

    async def take() -> str:
        async with in_transaction():
            return await next_number(kind="invoice", pattern="INV-{YYYY}-{seq:04}", on=on)

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == [f"INV-2026-{n:04d}" for n in range(1, 21)]
    assert (await NumberSequence.get(name="invoice:2026")).next_value == 21


async def test_a_pattern_without_a_year_never_restarts_so_numbers_cannot_repeat(db: str) -> None:
    first = await next_number(kind="invoice", pattern="N-{seq}", on=date(2026, 12, 31))
    second = await next_number(kind="invoice", pattern="N-{seq}", on=date(2027, 1, 1))
    yearly = await next_number(kind="invoice", pattern="Y{YY}-{seq}", on=date(2027, 1, 1))
    assert (first, second, yearly) == ("N-1", "N-2", "Y27-1")


async def test_the_template_is_saved_with_an_example_of_the_next_number(world: World) -> None:
    view = await template.get_template(actor=world.admin)
    year = today().year
    assert view.next_number == f"INV-{year}-0001"
    await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000)],
        due_date=DUE,
    )
    assert (
        await template.next_invoice_number(actor=world.admin, number_pattern="F{YYYY}/{seq:03}")
        == f"F{year}/002"
    )

    view = await template.update_template(
        actor=world.admin,
        theme_color="#0F766E",
        footer="Thank you!\nVAT GB123",
        number_pattern="F{YYYY}/{seq:03}",
    )
    assert (view.theme_color, view.footer, view.number_pattern) == (
        "#0f766e",
        "Thank you!\nVAT GB123",
        "F{YYYY}/{seq:03}",
    )
    assert view.next_number == f"F{year}/002"
    (entry,) = await audits("settings.template")
    assert entry.details == {
        "changed": ["theme_color", "invoice_footer", "invoice_number_pattern"],
        "theme_color": "#0f766e",
        "invoice_number_pattern": "F{YYYY}/{seq:03}",
    }
    number = (
        await Invoice.get(
            id=await invoices.create_invoice(
                actor=world.staff,
                client_id=world.alice_id,
                lines=[LineDraft("X", Decimal(1), 100)],
                due_date=DUE,
            )
        )
    ).number
    assert number == f"F{year}/002"  # the sequence went on without a gap


async def test_bad_template_fields_are_all_reported_and_a_pattern_repeating_a_number_is_refused(
    world: World,
) -> None:
    with pytest.raises(InvalidFields) as caught:
        await template.update_template(
            actor=world.admin, theme_color="blue", footer="x" * 301, number_pattern="INV"
        )
    assert caught.value.errors == {
        "theme_color": "Enter the colour as # and six hexadecimal digits, for example #2563eb.",
        "footer": "The footer is too long (300 characters at most).",
        "number_pattern": "The number pattern must contain {seq} (or {seq:0N}), the sequence number.",
    }
    await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Design", Decimal(1), 5000)],
        due_date=DUE,
    )
    await Invoice.filter(id=1).update(number="OLD-1")
    with pytest.raises(InvalidInput) as taken:
        await template.update_template(
            actor=world.admin, theme_color="#000000", footer="", number_pattern="OLD-{seq}"
        )
    assert taken.value.field == "number_pattern"
    assert "the next invoice would be OLD-1, which an invoice already has" in taken.value.message
    org = await get_organization()
    assert (org.theme_color, org.invoice_number_pattern) == ("#2563eb", "INV-{YYYY}-{seq:04}")
    assert await audits("settings.template") == []


async def test_the_preview_uses_the_unsaved_settings_and_saves_nothing(world: World) -> None:
    await template.upload_logo(actor=world.admin, data=image_bytes())
    preview = await template.preview_invoice_pdf(
        actor=world.admin, theme_color="#ff0000", footer="Registered in Narnia", number_pattern="PRV-{seq:05}"
    )
    assert preview.next_number == "PRV-00001"
    data = preview.pdf
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "Registered in Narnia" in text and "PRV-00001" in text and "Sample Client" in text
    assert b"1 0 0 rg" in data  # the red theme colour fills the title bar
    assert b"/Subtype /Image" in data  # with the saved logo
    org = await get_organization()
    assert (org.theme_color, org.invoice_footer, org.invoice_number_pattern) == (
        "#2563eb",
        "",
        "INV-{YYYY}-{seq:04}",
    )
    assert not await NumberSequence.exists()  # the example number was not taken
    with pytest.raises(InvalidFields):
        await template.preview_invoice_pdf(
            actor=world.admin, theme_color="#12345", footer="", number_pattern="{seq}"
        )


# -- reminders --------------------------------------------------------------------------------------
async def test_reminders_are_added_removed_and_switched_off(world: World) -> None:
    view = await reminder_schedule.get_reminders(actor=world.admin)
    assert (view.enabled, view.offsets) == (True, [-3, 0, 7])
    view = await reminder_schedule.add_reminder(actor=world.admin, days="14", when="after")
    view = await reminder_schedule.add_reminder(actor=world.admin, days="1", when="before")
    assert view.offsets == [-3, -1, 0, 7, 14]
    view = await reminder_schedule.remove_reminder(actor=world.admin, offset=0)
    assert view.offsets == [-3, -1, 7, 14]
    view = await reminder_schedule.set_reminders_enabled(actor=world.admin, enabled=False)
    assert (view.enabled, view.offsets) == (False, [-3, -1, 7, 14])
    org = await get_organization()
    assert (org.reminders_enabled, org.reminder_offsets) == (False, [-3, -1, 7, 14])
    assert [e.details for e in await audits("settings.reminders")][-1] == {
        "enabled": False,
        "offsets": [-3, -1, 7, 14],
    }
    assert [reminder_schedule.describe_offset(n) for n in (-3, -1, 0, 1, 7)] == [
        "3 days before the due date",
        "1 day before the due date",
        "On the due date",
        "1 day after the due date",
        "7 days after the due date",
    ]


@pytest.mark.parametrize(
    ("days", "when", "field", "message"),
    [
        ("3", "before", "days", "There is already a reminder 3 days before the due date."),
        ("", "on", "days", "There is already a reminder on the due date."),
        ("0", "after", "days", "Enter the number of days as a whole number above zero."),
        ("2.5", "after", "days", "Enter the number of days as a whole number above zero."),
        ("-2", "after", "days", "Enter the number of days as a whole number above zero."),
        (
            "61",
            "before",
            "days",
            "A reminder can be sent at most 60 days before or 365 days after the due date.",
        ),
        ("3", "sometime", "when", "Choose before, on or after the due date."),
    ],
)
async def test_bad_reminders_are_refused_and_change_nothing(
    world: World, days: str, when: str, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await reminder_schedule.add_reminder(actor=world.admin, days=days, when=when)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert (await get_organization()).reminder_offsets == [-3, 0, 7]


async def test_at_most_ten_reminders(world: World) -> None:
    with pytest.raises(InvalidInput, match="At most 10 reminders"):
        await reminder_schedule.update_reminders(actor=world.admin, enabled=True, offsets=list(range(1, 12)))


async def test_client_reminders_are_switched_by_staff_never_by_a_client(world: World) -> None:
    with pytest.raises(Forbidden):
        await reminder_schedule.set_client_reminders(
            actor=world.alice, client_id=world.alice_id, enabled=False
        )
    assert (await Client.get(id=world.alice_id)).reminders_enabled
    assert (
        await reminder_schedule.set_client_reminders(
            actor=world.staff, client_id=world.alice_id, enabled=False
        )
        is False
    )
    assert not (await Client.get(id=world.alice_id)).reminders_enabled
    (entry,) = await audits("client.reminders")
    assert (entry.on_behalf_of_id, entry.details) == (world.alice_id, {"enabled": False})
    with pytest.raises(NotFound):
        await reminder_schedule.set_client_reminders(actor=world.admin, client_id=9999, enabled=True)


# -- email ------------------------------------------------------------------------------------------
def custom_form(sink: SmtpSink | None = None, **changes) -> SmtpForm:
    values = {
        "mode": "custom",
        "host": sink.host if sink else "smtp.agency.test",
        "port": str(sink.port) if sink else "587",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "from_address": "invoices@agency.test",
        "reply_to": "accounts@agency.test",
        "tls": "none" if sink else "starttls",
    } | changes
    return SmtpForm(**values)


async def test_the_default_smtp_is_shown_without_its_password(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_HOST", "mail.internal")
    monkeypatch.setenv("SMTP_PORT", "2525")
    monkeypatch.setenv("SMTP_USERNAME", "portal")
    monkeypatch.setenv("SMTP_PASSWORD", "server-secret")
    view = await email.get_email_settings(actor=world.admin)
    assert view.mode == "default"
    assert (view.default.host, view.default.port, view.default.username, view.default.password_set) == (
        "mail.internal",
        2525,
        "portal",
        True,
    )
    assert "server-secret" not in repr(view)


async def test_a_custom_password_is_encrypted_kept_when_not_retyped_and_cleared_on_request(
    world: World,
) -> None:
    view = await email.update_email_settings(actor=world.admin, form=custom_form())
    assert (view.mode, view.host, view.port, view.password_saved) == ("custom", "smtp.agency.test", 587, True)
    assert SMTP_PASSWORD not in repr(view)
    org = await get_organization()
    assert (
        SMTP_PASSWORD not in org.smtp_password_enc and vault.decrypt(org.smtp_password_enc) == SMTP_PASSWORD
    )

    view = await email.update_email_settings(actor=world.admin, form=custom_form(password="", port="2587"))
    org = await get_organization()
    assert view.port == 2587 and vault.decrypt(org.smtp_password_enc) == SMTP_PASSWORD  # kept

    with pytest.raises(InvalidFields) as caught:
        await email.update_email_settings(
            actor=world.admin, form=custom_form(password="", clear_password=True)
        )
    assert caught.value.errors == {"password": "Enter the password for this username."}
    view = await email.update_email_settings(
        actor=world.admin, form=custom_form(username="", password="", clear_password=True)
    )
    assert not view.password_saved and (await get_organization()).smtp_password_enc == ""

    entries = await audits("settings.email")
    assert [e.details.get("password") for e in entries] == ["changed", "unchanged", "cleared"]
    assert entries[0].details["host"] == "smtp.agency.test"
    assert no_secret_in(entries, SMTP_PASSWORD, org.smtp_password_enc or "\x00")

    view = await email.update_email_settings(actor=world.admin, form=SmtpForm(mode="default", host="junk"))
    assert view.mode == "default" and view.host == "smtp.agency.test"  # the custom fields are kept for later


async def test_every_bad_smtp_field_is_reported_and_nothing_changes(world: World) -> None:
    form = custom_form(
        host="smtp://mail.example.com",
        port="99999",
        username="two words",
        from_address="Agency <billing@agency.test>",
        reply_to="nope",
        tls="ssl",
    )
    with pytest.raises(InvalidFields) as caught:
        await email.update_email_settings(actor=world.admin, form=form)
    assert caught.value.errors == {
        "host": "Enter only the server's name, without smtp:// (for example smtp.example.com).",
        "port": "The port is a whole number from 1 to 65535 (usually 587, 465 or 25).",
        "username": "The username cannot contain spaces or line breaks.",
        "from_address": "Enter a valid email address, for example billing@example.com.",
        "reply_to": "Enter a valid email address, for example billing@example.com.",
        "tls": "Choose how the connection is secured.",
    }
    for changes, field, message in (
        (
            {"host": "mail.example.com:587"},
            "host",
            "Put the port in the Port field, not after the server's name.",
        ),
        ({"host": "bad host!"}, "host", "Enter a valid server name, for example smtp.example.com."),
        ({"host": ""}, "host", "Enter the mail server's name, for example smtp.example.com."),
        ({"from_address": ""}, "from_address", "Enter an email address."),
        ({"username": "", "password": "p"}, "username", "Enter the username this password belongs to."),
        ({"password": "a\nb"}, "password", "The password cannot contain line breaks."),
        (
            {"clear_password": True},
            "password",
            "Either type a new password or clear the saved one, not both.",
        ),
        ({"mode": "other"}, "mode", "Choose the server's default mail settings or your own SMTP server."),
    ):
        with pytest.raises(InvalidInput) as one:
            await email.update_email_settings(actor=world.admin, form=custom_form(**changes))
        assert (one.value.field, one.value.message) == (field, message), changes
    org = await get_organization()
    assert (org.smtp_mode, org.smtp_host, org.smtp_password_enc) == ("default", "", "")
    assert await audits("settings.email") == []


async def test_ip_address_hosts_are_accepted(world: World) -> None:
    view = await email.update_email_settings(actor=world.admin, form=custom_form(host="127.0.0.1"))
    assert view.host == "127.0.0.1"
    view = await email.update_email_settings(actor=world.admin, form=custom_form(host="[::1]", password=""))
    assert view.host == "::1"


async def test_a_test_email_goes_through_the_default_server(world: World, smtp_sink: SmtpSink) -> None:
    await business_details.update_organization(
        actor=world.admin, name="Acme Studio", billing_address="", bank_details=""
    )
    result = await email.send_test_email(
        actor=world.admin, to="me@agency.test", form=SmtpForm(mode="default")
    )
    assert result == email.TestEmailResult(ok=True, message="Test email sent to me@agency.test.")
    (got,) = smtp_sink.messages
    assert got.rcpt_tos == ("me@agency.test",)
    assert str(got.message["From"]) == f"Acme Studio <{DEFAULT_FROM}>"
    (entry,) = await audits("settings.email.test")
    assert entry.details["ok"] is True and entry.details["to"] == "me@agency.test"


async def test_a_test_email_uses_the_typed_settings_and_the_saved_password(
    world: World, make_smtp_sink: Callable[..., SmtpSink]
) -> None:
    custom = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    await email.update_email_settings(actor=world.admin, form=custom_form(custom))
    result = await email.send_test_email(
        actor=world.admin, to="me@agency.test", form=custom_form(custom, password="")
    )
    assert result.ok, result.message
    (got,) = custom.messages
    assert got.login == SMTP_USER and got.mail_from == "invoices@agency.test"
    assert str(got.message["Reply-To"]) == "accounts@agency.test"
    assert no_secret_in(await AuditEntry.all(), SMTP_PASSWORD)


async def test_a_failed_test_email_shows_the_servers_exact_answer(
    world: World, make_smtp_sink: Callable[..., SmtpSink]
) -> None:
    custom = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    result = await email.send_test_email(
        actor=world.admin, to="me@agency.test", form=custom_form(custom, password="wrong")
    )
    assert result == email.TestEmailResult(
        ok=False,
        message="The test email was not sent: The mail server refused the username or password "
        "(535 5.7.8 Authentication credentials invalid).",
    )
    custom.refuse_next(1, code=550)
    result = await email.send_test_email(actor=world.admin, to="me@agency.test", form=custom_form(custom))
    assert not result.ok and "550 5.7.1 Message rejected by the test sink" in result.message
    assert custom.messages == []
    org = await get_organization()
    assert org.smtp_mode == "default" and org.smtp_password_enc == ""  # a test saves nothing
    assert no_secret_in(await AuditEntry.all(), SMTP_PASSWORD, "wrong")


async def test_a_test_email_needs_a_valid_address_and_valid_fields(world: World, smtp_sink: SmtpSink) -> None:
    with pytest.raises(InvalidFields) as caught:
        await email.send_test_email(actor=world.admin, to="not an address", form=custom_form(host=""))
    assert caught.value.errors == {
        "test_to": "Enter a valid email address, for example billing@example.com.",
        "host": "Enter the mail server's name, for example smtp.example.com.",
    }
    assert smtp_sink.messages == []

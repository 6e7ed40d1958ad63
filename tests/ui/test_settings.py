"""The settings pages as an admin uses them: organization and logo, billing and tax rates, the invoice
template with its live preview, reminders, and the mail server with a real test email (aiosmtpd sink)."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User
from PIL import Image

from portal.core import organization, vault
from portal.db.models import AuditEntry, Organization, TaxRate
from tests.services.billing.test_documents import pdf_text
from tests.smtp_sink import SmtpSink
from tests.ui.conftest import sign_in

pytest_plugins = ["tests.conftest_smtp"]

PAGES = ["organization", "billing", "template", "reminders", "email"]
SMTP_USER, SMTP_PASSWORD = "mailer@northwind.test", "s3cret-Pa55word"


@pytest.fixture(autouse=True)
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "uploads"
    monkeypatch.setattr(organization, "UPLOADS_DIR", folder)
    return folder


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _open(user: User, page: str) -> None:
    await sign_in(user, "admin@demo.test")
    await user.should_see("Clients", retries=50)
    await user.open(f"/settings/{page}")
    await user.should_see(marker="settings-nav")


def _png(size: tuple[int, int] = (64, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 90)).save(out, format="PNG")
    return out.getvalue()


async def _upload(user: User, data: bytes, name: str = "logo.png", content_type: str = "image/png") -> None:
    upload = _element(user, "logo-upload")
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([ui.upload.SmallFileUpload(name, content_type, data)])


# -- access and navigation --------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
async def test_every_settings_page_has_the_tabs_with_its_own_highlighted(user: User, page: str) -> None:
    await _open(user, page)
    for key in [*PAGES, "payments"]:
        link = _element(user, f"settings-nav-{key}")
        assert (link.props.get("aria-current") == "page") is (key == page), key


async def test_the_payments_page_has_the_tabs_too(user: User) -> None:
    await _open(user, "payments")
    assert _element(user, "settings-nav-payments").props.get("aria-current") == "page"
    user.find(marker="settings-nav-email").click()
    await user.should_see(marker="smtp-mode")


@pytest.mark.parametrize("email", ["staff@demo.test", "client@demo.test"])
async def test_staff_and_clients_are_not_allowed(user: User, email: str) -> None:
    await sign_in(user, email)
    await user.should_see("Sign out", retries=50)
    for page in PAGES:
        await user.open(f"/settings/{page}")
        await user.should_see("You do not have access to this page.")
        await user.should_not_see(marker="settings-nav")


# -- organization and logo --------------------------------------------------------------------------
async def test_the_organization_is_saved_and_a_missing_name_is_shown_at_the_field(user: User) -> None:
    await _open(user, "organization")
    assert _element(user, "org-name-input").value == "Northwind Studio"
    _element(user, "org-name-input").set_value("")
    user.find(marker="save-organization").click()
    await user.should_see("Please correct the fields marked in red.", retries=50)
    assert _element(user, "org-name-input").error == "Enter the organization's name."
    assert (await Organization.get(id=1)).name == "Northwind Studio"

    _element(user, "org-name-input").set_value("Northwind Studio Ltd")
    _element(user, "bank-details").set_value("IBAN GB00 NEW0 0000")
    user.find(marker="save-organization").click()
    await user.should_see("Organization saved.", retries=50)
    org = await Organization.get(id=1)
    assert (org.name, org.bank_details) == ("Northwind Studio Ltd", "IBAN GB00 NEW0 0000")
    assert _element(user, "org-name-input").error is None
    assert await AuditEntry.filter(action="settings.organization").count() == 1


async def test_the_legal_identity_names_each_wrong_number_then_saves(user: User) -> None:
    await _open(user, "organization")
    await user.should_see("Legal identity")
    _element(user, "company-id").set_value("732829321")
    _element(user, "org-vat-number").set_value("FR123")
    _element(user, "org-country").set_value("FR")
    _element(user, "late-penalty-rate").set_value("douze")
    user.find(marker="save-legal-identity").click()
    await user.should_see("Please correct the fields marked in red.", retries=50)
    assert (
        _element(user, "org-vat-number").error == "A VAT number of France does not have this many characters."
    )
    assert "check digit" in (_element(user, "company-id").error or "")
    assert _element(user, "late-penalty-rate").error == "Enter a rate in percent, like 12 or 10.5."
    org = await Organization.get(id=1)
    assert (org.vat_number, org.country) == ("GB980780684", "GB")  # the demo's, unchanged

    _element(user, "company-id").set_value("732 829 320 00074")
    _element(user, "org-vat-number").set_value("fr40303265045")
    _element(user, "late-penalty-rate").set_value("12,5")
    _element(user, "operation-nature").set_value("mixed")
    user.find(marker="vies-check").click()
    user.find(marker="vat-franchise").click()
    user.find(marker="save-legal-identity").click()
    await user.should_see("Legal identity saved.", retries=50)
    assert _element(user, "org-vat-number").value == "FR40303265045"
    org = await Organization.get(id=1)
    assert (org.late_penalty_rate, org.operation_nature, org.vat_franchise) == (
        Decimal("12.5"),
        "mixed",
        True,
    )
    assert (org.company_id, org.vat_number, org.country, org.vies_check_enabled) == (
        "73282932000074",
        "FR40303265045",
        "FR",
        True,
    )


async def test_a_logo_is_uploaded_served_as_a_png_and_an_svg_is_refused(user: User, uploads: Path) -> None:
    await _open(user, "organization")
    await user.should_see(marker="logo-none")

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    await _upload(user, svg, "logo.png")
    await user.should_see(
        "SVG images are not accepted, because they can carry scripts. Upload a PNG or JPEG.", retries=50
    )
    assert (await Organization.get(id=1)).logo_path == ""

    await _upload(user, _png())
    await user.should_see("Logo saved.", retries=50)
    url = (await Organization.get(id=1)).logo_path
    assert url.startswith("/uploads/")
    assert _element(user, "logo-image").props["src"] == url
    await user.should_not_see(marker="logo-none")

    response = await user.http_client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.content.startswith(b"\x89PNG")
    assert (await user.http_client.get("/uploads/..%2Fportal.sqlite3")).status_code == 404
    assert (await user.http_client.get("/uploads/" + "0" * 32 + ".png")).status_code == 404

    user.find(marker="logo-remove").click()
    await user.should_see("Logo removed: the portal's own logo is used.", retries=50)
    assert (await Organization.get(id=1)).logo_path == ""
    assert (await user.http_client.get(url)).status_code == 404


# -- billing ----------------------------------------------------------------------------------------
async def test_billing_defaults_are_saved_and_the_rounding_rule_is_stated(user: User) -> None:
    await _open(user, "billing")
    await user.should_see(
        "Tax is calculated per line and rounded half-up to the currency's smallest unit, "
        "then the lines are added."
    )
    _element(user, "default-currency").set_value("EUR")
    _element(user, "apply-credit").set_value(True)
    user.find(marker="save-billing").click()
    await user.should_see("Billing settings saved.", retries=50)
    org = await Organization.get(id=1)
    assert (org.default_currency, org.apply_credit_automatically) == ("EUR", True)


async def test_tax_rates_are_added_edited_archived_and_only_unused_ones_deleted(user: User) -> None:
    await _open(user, "billing")
    vat = await TaxRate.get(name="VAT")
    ny = await TaxRate.get(name="NY sales tax")
    await user.should_see(marker=f"tax-rate-{vat.id}-in-use")
    await user.should_not_see(marker=f"tax-rate-{vat.id}-delete")  # used on the demo's invoices
    await user.should_not_see(marker=f"tax-rate-{vat.id}-edit")

    _element(user, "new-tax-name").set_value("GST")
    _element(user, "new-tax-rate").set_value("5.12345")
    user.find(marker="add-tax-rate").click()
    await _wait_for(lambda: _element(user, "new-tax-rate").error is not None, "the rate error")
    assert _element(user, "new-tax-rate").error == "The rate can have at most 4 decimal places."
    _element(user, "new-tax-rate").set_value("5")
    user.find(marker="add-tax-rate").click()
    await user.should_see("GST 5% added.", retries=50)
    gst = await TaxRate.get(name="GST")
    await user.should_see(marker=f"tax-rate-{gst.id}")

    user.find(marker=f"tax-rate-{ny.id}-edit").click()
    _element(user, "edit-tax-rate").set_value("9")
    user.find(marker="edit-tax-save").click()
    await user.should_see("NY sales tax 9% saved.", retries=50)
    assert (await TaxRate.get(id=ny.id)).rate == 9

    user.find(marker=f"tax-rate-{vat.id}-archive").click()
    await user.should_see("VAT 20% archived.", retries=50)
    assert (await TaxRate.get(id=vat.id)).archived
    await user.should_see(marker=f"tax-rate-{vat.id}-restore")

    user.find(marker=f"tax-rate-{gst.id}-delete").click()
    await user.should_see("Delete the tax rate GST 5%?", retries=50)
    user.find(marker="delete-tax-confirm").click()
    await user.should_see("GST 5% deleted.", retries=50)
    assert not await TaxRate.exists(id=gst.id)
    assert await TaxRate.exists(id=vat.id)


# -- invoice template -------------------------------------------------------------------------------
def _preview_pdf(user: User) -> bytes:
    source = _element(user, "template-preview").props.get("src", "")
    prefix = "data:application/pdf;base64,"
    assert source.startswith(prefix), source[:40]
    return base64.b64decode(source.removeprefix(prefix))


async def test_the_preview_follows_the_unsaved_settings_and_saving_stores_them(user: User) -> None:
    await _open(user, "template")
    await _wait_for(lambda: bool(_element(user, "template-preview").props.get("src")), "the first preview")
    first = _preview_pdf(user)
    assert "Sample Client" in pdf_text(first)
    await user.should_see("Next invoice number: INV-", retries=20)

    _element(user, "footer").set_value("Registered in England 0123")
    _element(user, "number-pattern").set_value("NW{YY}-{seq:05}")
    await _wait_for(lambda: "Registered in England 0123" in pdf_text(_preview_pdf(user)), "a new preview")
    assert "NW" in _element(user, "next-number").text
    assert (await Organization.get(id=1)).invoice_footer == ""  # nothing saved yet

    _element(user, "theme-color").set_value("red")
    await _wait_for(lambda: _element(user, "theme-color").error is not None, "the colour error")
    assert _element(user, "theme-color").error == (
        "Enter the colour as # and six hexadecimal digits, for example #2563eb."
    )
    await user.should_see("The preview shows the last valid settings.")

    _element(user, "theme-color").set_value("#0F766E")
    user.find(marker="save-template").click()
    await user.should_see("Invoice template saved.", retries=50)
    org = await Organization.get(id=1)
    assert (org.theme_color, org.invoice_footer, org.invoice_number_pattern) == (
        "#0f766e",
        "Registered in England 0123",
        "NW{YY}-{seq:05}",
    )


async def test_a_bad_number_pattern_is_shown_at_its_field_and_not_saved(user: User) -> None:
    await _open(user, "template")
    _element(user, "number-pattern").set_value("INV-{DD}-{seq}")
    user.find(marker="save-template").click()
    await _wait_for(lambda: _element(user, "number-pattern").error is not None, "the pattern error")
    assert _element(user, "number-pattern").error == (
        "Unknown placeholder {DD}. The placeholders are {YYYY} {YY} {MM} {seq} {seq:0N}."
    )
    assert (await Organization.get(id=1)).invoice_number_pattern == "INV-{YYYY}-{seq:04}"


# -- reminders --------------------------------------------------------------------------------------
async def test_reminders_are_added_removed_and_switched_off(user: User) -> None:
    await _open(user, "reminders")
    for offset in (-3, 0, 7):
        await user.should_see(marker=f"reminder-{offset}")
    await user.should_see("3 days before the due date")

    _element(user, "reminder-days").set_value("14")
    _element(user, "reminder-when").set_value("after")
    user.find(marker="add-reminder").click()
    await user.should_see("14 days after the due date", retries=50)

    _element(user, "reminder-days").set_value("3")
    _element(user, "reminder-when").set_value("before")
    user.find(marker="add-reminder").click()
    await _wait_for(lambda: _element(user, "reminder-days").error is not None, "the duplicate error")
    assert _element(user, "reminder-days").error == "There is already a reminder 3 days before the due date."

    user.find(marker="remove-reminder-0").click()
    await user.should_see("Reminder removed.", retries=50)
    await user.should_not_see(marker="reminder-0")

    _element(user, "reminders-enabled").set_value(False)
    await user.should_see("Reminders are off: none are sent.", retries=50)
    org = await Organization.get(id=1)
    assert (org.reminders_enabled, org.reminder_offsets) == (False, [-3, 7, 14])


# -- email ------------------------------------------------------------------------------------------
def _fill_custom(user: User, sink: SmtpSink, **changes: str) -> None:
    values = {
        "smtp-host": sink.host,
        "smtp-port": str(sink.port),
        "smtp-username": SMTP_USER,
        "smtp-password": SMTP_PASSWORD,
        "smtp-from": "invoices@northwind.test",
        "smtp-reply-to": "",
        "smtp-tls": "none",
    } | changes
    _element(user, "smtp-mode").set_value("custom")
    for marker, value in values.items():
        _element(user, marker).set_value(value)


async def test_the_default_server_is_shown_without_secrets(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_HOST", "mail.internal")
    monkeypatch.setenv("SMTP_PORT", "2525")
    monkeypatch.setenv("SMTP_PASSWORD", "server-secret")
    monkeypatch.setenv("SMTP_USERNAME", "portal")
    await _open(user, "email")
    await user.should_see("Server: mail.internal:2525")
    await user.should_see("Login: portal (password set)")
    await user.should_not_see("server-secret")
    await user.should_not_see(marker="smtp-host")  # the custom fields are hidden in default mode


async def test_custom_smtp_is_saved_the_password_kept_and_a_test_email_arrives(
    user: User, make_smtp_sink: Callable[..., SmtpSink]
) -> None:
    sink = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    await _open(user, "email")
    _fill_custom(user, sink, **{"smtp-port": "99999"})
    user.find(marker="save-email").click()
    await _wait_for(lambda: _element(user, "smtp-port").error is not None, "the port error")
    assert (await Organization.get(id=1)).smtp_mode == "default"

    _fill_custom(user, sink)
    user.find(marker="save-email").click()
    await user.should_see("Email settings saved.", retries=50)
    password = _element(user, "smtp-password")
    assert password.value == "" and password.props["placeholder"] == "••• saved"
    org = await Organization.get(id=1)
    assert org.smtp_mode == "custom" and vault.decrypt(org.smtp_password_enc) == SMTP_PASSWORD
    assert SMTP_PASSWORD not in org.smtp_password_enc

    _element(user, "smtp-from").set_value("billing@northwind.test")  # saved again without retyping it
    user.find(marker="save-email").click()
    await user.should_see("Email settings saved.", retries=50)
    assert vault.decrypt((await Organization.get(id=1)).smtp_password_enc) == SMTP_PASSWORD

    _element(user, "test-to").set_value("alex@northwind.test")
    user.find(marker="send-test").click()
    await user.should_see("Test email sent to alex@northwind.test.", retries=100)
    (got,) = sink.messages
    assert got.login == SMTP_USER and got.rcpt_tos == ("alex@northwind.test",)


async def test_a_failing_test_email_shows_the_servers_answer(
    user: User, make_smtp_sink: Callable[..., SmtpSink]
) -> None:
    sink = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    await _open(user, "email")
    assert _element(user, "test-to").value == "admin@demo.test"  # the admin's own address by default
    _fill_custom(user, sink, **{"smtp-password": "wrong"})
    user.find(marker="send-test").click()
    await user.should_see(
        "The test email was not sent: The mail server refused the username or password "
        "(535 5.7.8 Authentication credentials invalid).",
        retries=100,
    )
    assert sink.messages == []
    assert (await Organization.get(id=1)).smtp_mode == "default"  # testing saves nothing


async def test_the_saved_password_can_be_cleared(user: User, make_smtp_sink: Callable[..., SmtpSink]) -> None:
    sink = make_smtp_sink(username=SMTP_USER, password=SMTP_PASSWORD)
    await _open(user, "email")
    _fill_custom(user, sink)
    user.find(marker="save-email").click()
    await user.should_see("Email settings saved.", retries=50)
    assert _element(user, "smtp-clear-password").visible

    _element(user, "smtp-username").set_value("")
    _element(user, "smtp-clear-password").set_value(True)
    user.find(marker="save-email").click()
    await _wait_for(
        lambda: _element(user, "smtp-password").props.get("placeholder") == "", "the cleared password"
    )
    assert (await Organization.get(id=1)).smtp_password_enc == ""
    await user.should_not_see(marker="smtp-clear-password")

"""The organization's settings (admin only): organization, billing and tax rates, the invoice template and
its preview, the reminder schedule, and the SMTP server with its test email.

Every change is checked here (a page guard is a convenience), validated field by field, stored in one
transaction with its audit entry, and never puts a secret in the audit details. The SMTP password is
encrypted at rest (portal/core/vault.py) and never leaves this module: views only say whether one is
saved.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_name
from PIL import Image, ImageOps, UnidentifiedImageError
from tortoise.transactions import in_transaction

from portal.billing import pdf
from portal.billing.documents import Letterhead, sample_invoice
from portal.core import audit, organization, vault
from portal.core.actors import Actor, require_admin, require_staff
from portal.core.clock import today
from portal.core.numbering import peek_next_number, validate_pattern
from portal.core.organization import get_organization
from portal.db.models import Client, Invoice, InvoiceLine, Organization, QuoteLine, TaxRate
from portal.domain.currencies import MINOR_UNITS
from portal.domain.errors import Conflict, InvalidFields, InvalidInput, NotFound
from portal.domain.money import normalize_currency
from portal.i18n import N_, _, get_locale
from portal.mail import transport
from portal.mail.transport import MailError, SmtpConfig

ROUNDING_RULE = N_(
    "Tax is calculated per line and rounded half-up to the currency's smallest unit, "
    "then the lines are added."
)
NAME_MAX = 200
TEXT_MAX = 1000
FOOTER_MAX = 300
TAX_NAME_MAX = 100
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 512
LOGO_MAX_PIXELS = 40_000_000
REMINDER_MAX_BEFORE = 60
REMINDER_MAX_AFTER = 365
REMINDERS_MAX = 10
SMTP_MODES = ("default", "custom")
TLS_MODES = ("none", "starttls", "tls")
TLS_LABELS = {
    "none": N_("None (plain text)"),
    "starttls": N_("STARTTLS (usually port 587)"),
    "tls": N_("TLS from the start (usually port 465)"),
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_RATE = re.compile(r"^(\d{1,3})(?:\.(\d+))?$")
_DAYS = re.compile(r"^\d{1,4}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})*$")
# markup that has no business inside a picture: an image that also parses as a web page or script
_MARKUP = (b"<svg", b"<html", b"<script", b"<body", b"<iframe", b"<!doctype", b"<?php", b"javascript:")


# --- views ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationView:
    """The organization page: who the agency is and how clients pay it by bank transfer."""

    name: str
    billing_address: str
    bank_details: str
    logo_url: str


@dataclass(frozen=True)
class TaxRateView:
    """A tax rate; `in_use` when an invoice or quote line carries it (then it can only be archived)."""

    id: int
    name: str
    rate: str  # '20', '8.875'
    archived: bool
    in_use: bool

    @property
    def label(self) -> str:
        """'VAT 20%'."""
        return f"{self.name} {self.rate}%"


@dataclass(frozen=True)
class BillingView:
    """Default currency, automatic use of credit and the tax rates."""

    default_currency: str
    apply_credit_automatically: bool
    tax_rates: list[TaxRateView]


@dataclass(frozen=True)
class TemplateView:
    """The invoice template and the number the next invoice will get."""

    logo_url: str
    theme_color: str
    footer: str
    number_pattern: str
    next_number: str


@dataclass(frozen=True)
class TemplatePreview:
    """A sample invoice drawn with unsaved template settings, and the next number they would give."""

    pdf: bytes
    next_number: str


@dataclass(frozen=True)
class RemindersView:
    """The reminder schedule: days relative to the due date (negative = before), sorted."""

    enabled: bool
    offsets: list[int]


@dataclass(frozen=True)
class DefaultSmtpView:
    """The server's own SMTP settings, as far as they can be shown (never the password)."""

    host: str
    port: int
    sender: str
    tls: str
    username: str
    password_set: bool


@dataclass(frozen=True)
class EmailView:
    """The mail settings page: which server, the custom server's fields, whether a password is saved."""

    mode: str  # default | custom
    host: str
    port: int
    username: str
    password_saved: bool
    from_address: str
    reply_to: str
    tls: str
    default: DefaultSmtpView


@dataclass(frozen=True)
class SmtpForm:
    """What the admin typed in the mail settings form; an empty password keeps the saved one."""

    mode: str = "default"
    host: str = ""
    port: str | int = 587
    username: str = ""
    password: str = ""
    from_address: str = ""
    reply_to: str = ""
    tls: str = "starttls"
    clear_password: bool = False


@dataclass(frozen=True)
class TestEmailResult:
    """What the test email did: `ok` and the message to show (the server's own answer on failure)."""

    ok: bool
    message: str


# --- shared checks --------------------------------------------------------------------------------------


def _text(value: str | None, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """Trimmed text (line breaks normalised); InvalidInput when empty but required, too long, or binary."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise InvalidInput(_("Enter {label}.", label=label), field=field)
    if len(text) > max_length:
        raise InvalidInput(
            _("{label} is too long ({most} characters at most).", label=label.capitalize(), most=max_length),
            field=field,
        )
    if any(not ch.isprintable() and ch not in "\n\t" for ch in text):
        raise InvalidInput(
            _("{label} contains characters that cannot be shown.", label=label.capitalize()), field=field
        )
    return text


def _raise_if_any(errors: dict[str, str | None]) -> None:
    problems = {field: message for field, message in errors.items() if message}
    if problems:
        raise InvalidFields(problems)


def _collect(errors: dict[str, str | None], field: str, check) -> object:
    """Run `check()`; an InvalidInput goes into `errors[field]` and the result is None."""
    try:
        return check()
    except InvalidInput as exc:
        errors[field] = exc.message
        return None


async def _save(org: Organization, fields: Iterable[str]) -> None:
    await org.save(update_fields=[*fields, "updated_at"])


_Details = Callable[[list[str]], dict[str, object]]


def _shown(changed: list[str], clean: Mapping[str, object], *fields: str) -> dict[str, object]:
    """Audit details: which fields changed, and the new values of `fields` among them."""
    return {"changed": changed, **{field: clean[field] for field in fields if field in changed}}


async def _update(
    org: Organization, clean: Mapping[str, object], actor: Actor, action: str, details: _Details
) -> None:
    """Write the fields of `clean` that differ from `org` in one transaction, audited as `action` with
    `details(changed fields)`; nothing at all when none differ."""
    changed = [field for field, value in clean.items() if getattr(org, field) != value]
    if changed:
        async with in_transaction():
            for field in changed:
                setattr(org, field, clean[field])
            await _save(org, changed)
            await audit.record(actor=actor, action=action, details=details(changed))


# --- organization ---------------------------------------------------------------------------------------


def _organization_view(org: Organization) -> OrganizationView:
    return OrganizationView(
        name=org.name,
        billing_address=org.billing_address,
        bank_details=org.bank_details,
        logo_url=org.logo_path,
    )


async def get_organization_settings(*, actor: Actor) -> OrganizationView:
    """The organization page's values."""
    require_admin(actor)
    return _organization_view(await get_organization())


async def update_organization(
    *, actor: Actor, name: str, billing_address: str, bank_details: str
) -> OrganizationView:
    """Change the name, billing address and bank details (shown on the pay page and on invoices)."""
    require_admin(actor)
    errors: dict[str, str | None] = {}
    clean = {
        "name": _collect(
            errors,
            "name",
            lambda: _text(
                name, field="name", label=_("the organization's name"), max_length=NAME_MAX, required=True
            ),
        ),
        "billing_address": _collect(
            errors,
            "billing_address",
            lambda: _text(
                billing_address, field="billing_address", label=_("the billing address"), max_length=TEXT_MAX
            ),
        ),
        "bank_details": _collect(
            errors,
            "bank_details",
            lambda: _text(
                bank_details, field="bank_details", label=_("the bank details"), max_length=TEXT_MAX
            ),
        ),
    }
    _raise_if_any(errors)
    org = await get_organization()
    await _update(org, clean, actor, "settings.organization", lambda changed: _shown(changed, clean, "name"))
    return _organization_view(org)


# --- logo -----------------------------------------------------------------------------------------------


def _png_end(data: bytes) -> int | None:
    """The offset just after a PNG's IEND chunk, or None when the chunks do not add up."""
    offset = len(_PNG_SIGNATURE)
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        offset += 12 + length
        if kind == b"IEND":
            return offset if offset <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    """The offset just after a JPEG's last end-of-image marker, or None when it has none."""
    at = data.rfind(b"\xff\xd9")
    return at + 2 if at > 0 else None


def hidden_content(data: bytes, kind: str) -> str | None:
    """What a PNG or JPEG that decodes also carries: 'markup' (web page or script code anywhere in it),
    'trailing' (bytes after the image's end, or chunks that do not add up), or None when it is clean.
    The logo's polyglot check, shared with the client avatar (`clients.check_avatar`)."""
    if any(marker in data.lower() for marker in _MARKUP):
        return "markup"
    end = _png_end(data) if kind == "PNG" else _jpeg_end(data)
    if end is None or data[end:].strip(b"\x00"):
        return "trailing"
    return None


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, field="logo")


def _sniff(data: bytes) -> str:
    """'PNG' or 'JPEG' from the file's first bytes, or InvalidInput saying what the file seems to be."""
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(_JPEG_SIGNATURE):
        return "JPEG"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        raise _refuse(_("SVG images are not accepted, because they can carry scripts. Upload a PNG or JPEG."))
    if head.startswith(b"<"):
        raise _refuse(_("This file is a web page or other text, not an image. Upload a PNG or JPEG."))
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format or ""
    except Exception:  # Pillow cannot identify it at all
        kind = ""
    if kind:
        raise _refuse(_("This is a {format} image. Upload the logo as a PNG or JPEG.", format=kind))
    raise _refuse(_("This file is not a PNG or JPEG image. Upload the logo as a PNG or JPEG."))


def _too_many_pixels() -> str:
    return _(
        "The image has too many pixels to use as a logo ({most} million at most).",
        most=LOGO_MAX_PIXELS // 1_000_000,
    )


def clean_logo(data: bytes) -> tuple[bytes, int, int]:
    """Check an uploaded logo by decoding it and return it re-encoded as a PNG (at most 512 px a side).

    Refused, each with its own message: an empty or too large file, SVG and other formats, a file whose
    content is not the PNG or JPEG its first bytes announce, a damaged image, an image too large to decode,
    and polyglots (an image that also carries a web page, a script or extra data after its end).
    Re-encoding keeps the pixels only: no metadata, comments or trailing bytes survive.
    """
    if not data:
        raise _refuse(_("The file is empty."))
    if len(data) > LOGO_MAX_BYTES:
        raise _refuse(_("The logo is larger than 1 MB. Upload a smaller PNG or JPEG."))
    kind = _sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower limit follows
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _refuse(_too_many_pixels()) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise _refuse(
            _("This file says it is a {format} image but cannot be read as one.", format=kind)
        ) from None
    with image:
        if image.format != kind:
            raise _refuse(_("This file says it is a {format} image but cannot be read as one.", format=kind))
        width, height = image.size
        if width < 1 or height < 1 or width * height > LOGO_MAX_PIXELS:
            raise _refuse(_too_many_pixels())
        try:
            image.load()
        except Exception:  # truncated or corrupt data (Pillow raises OSError, SyntaxError, ValueError...)
            raise _refuse(_("The image is damaged or incomplete and cannot be read.")) from None
        lowered = data.lower()
        if any(marker in lowered for marker in _MARKUP):
            raise _refuse(
                _(
                    "This image also contains web page or script code, so it is refused. "
                    "Save it again as a plain PNG or JPEG."
                )
            )
        end = _png_end(data) if kind == "PNG" else _jpeg_end(data)
        if end is None:
            raise _refuse(_("The image is damaged or incomplete and cannot be read."))
        if data[end:].strip(b"\x00"):
            raise _refuse(
                _(
                    "This file has extra data hidden after the image, so it is refused. "
                    "Save it again as a plain PNG or JPEG."
                )
            )
        picture = ImageOps.exif_transpose(image)
        has_alpha = picture.mode in ("RGBA", "LA", "PA") or (
            picture.mode == "P" and "transparency" in picture.info
        )
        picture = picture.convert("RGBA" if has_alpha else "RGB")
        picture.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, format="PNG", optimize=True)
        return out.getvalue(), picture.width, picture.height


def _remove_upload(url: str) -> None:
    """Delete an uploaded file that is no longer used (anything else is left alone)."""
    path = organization.uploaded_file(url)
    if path is not None:
        path.unlink(missing_ok=True)


def _store_upload(name: str, content: bytes) -> None:
    """Write a file into the uploads folder whole or not at all (a partial file is never served)."""
    folder = organization.UPLOADS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.part"
    partial.write_bytes(content)
    partial.replace(folder / name)


async def upload_logo(*, actor: Actor, data: bytes) -> str:
    """Check, re-encode and store a new logo under a random name; returns its URL ('/uploads/<hex>.png')."""
    require_admin(actor)
    png, width, height = await asyncio.to_thread(clean_logo, data)
    name = f"{secrets.token_hex(16)}.png"
    await asyncio.to_thread(_store_upload, name, png)
    url = organization.UPLOADS_URL + name
    org = await get_organization()
    previous = org.logo_path
    try:
        async with in_transaction():
            org.logo_path = url
            await _save(org, ["logo_path"])
            await audit.record(
                actor=actor, action="settings.logo", details={"logo": url, "width": width, "height": height}
            )
    except Exception:
        _remove_upload(url)
        raise
    if previous != url:
        _remove_upload(previous)
    return url


async def remove_logo(*, actor: Actor) -> None:
    """Go back to the portal's default logo."""
    require_admin(actor)
    org = await get_organization()
    previous = org.logo_path
    if not previous:
        return
    async with in_transaction():
        org.logo_path = ""
        await _save(org, ["logo_path"])
        await audit.record(actor=actor, action="settings.logo", details={"logo": ""})
    _remove_upload(previous)


# --- billing and tax rates ------------------------------------------------------------------------------


def currencies() -> dict[str, str]:
    """ISO 4217 codes with their names in the current language: {'EUR': 'EUR · Euro', ...}."""
    locale = get_locale()
    return {code: f"{code} · {get_currency_name(code, locale=locale)}" for code in sorted(MINOR_UNITS)}


def parse_rate(text: str | Decimal) -> Decimal:
    """A percentage as typed ('20', '8.875', '7,5 %') -> Decimal; 0 to 100 with 4 decimals at most."""
    raw = str(text if text is not None else "").strip().removesuffix("%").strip()
    if "," in raw and "." not in raw:
        raw = raw.replace(",", ".")
    if not raw:
        raise InvalidInput(_("Enter the rate as a percentage, for example 20 or 8.875."), field="rate")
    if raw.startswith("-"):
        raise InvalidInput(_("The rate must be between 0% and 100%."), field="rate")
    match = _RATE.match(raw)
    if match is None:
        raise InvalidInput(_("Enter the rate as a percentage, for example 20 or 8.875."), field="rate")
    if len((match.group(2) or "").rstrip("0")) > 4:
        raise InvalidInput(_("The rate can have at most 4 decimal places."), field="rate")
    try:
        rate = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        raise InvalidInput(
            _("Enter the rate as a percentage, for example 20 or 8.875."), field="rate"
        ) from None
    if not 0 <= rate <= 100:
        raise InvalidInput(_("The rate must be between 0% and 100%."), field="rate")
    return rate.quantize(Decimal("0.0001"))


def _rate_text(rate: Decimal) -> str:
    """'20.0000' -> '20', '8.8750' -> '8.875'."""
    return f"{Decimal(rate).normalize():f}"


async def _rates_in_use() -> set[tuple[str, Decimal]]:
    """Every (tax name, rate) an invoice or quote line carries."""
    used: set[tuple[str, Decimal]] = set()
    for model in (InvoiceLine, QuoteLine):
        for name, rate in await model.all().distinct().values_list("tax_name", "tax_rate"):
            used.add((name, Decimal(rate).normalize()))
    return used


def _rate_view(rate: TaxRate, used: set[tuple[str, Decimal]]) -> TaxRateView:
    return TaxRateView(
        id=rate.id,
        name=rate.name,
        rate=_rate_text(rate.rate),
        archived=rate.archived,
        in_use=(rate.name, Decimal(rate.rate).normalize()) in used,
    )


async def _is_in_use(rate: TaxRate) -> bool:
    return (rate.name, Decimal(rate.rate).normalize()) in await _rates_in_use()


async def list_tax_rates(*, actor: Actor, include_archived: bool = False) -> list[TaxRateView]:
    """The tax rates by name (staff need the active ones to write invoices; archived ones on request)."""
    require_staff(actor)
    query = TaxRate.all() if include_archived else TaxRate.filter(archived=False)
    used = await _rates_in_use()
    return [_rate_view(rate, used) for rate in await query.order_by("archived", "name", "rate", "id")]


async def get_billing_settings(*, actor: Actor) -> BillingView:
    """The billing page's values, with every tax rate (archived ones too)."""
    require_admin(actor)
    org = await get_organization()
    return BillingView(
        default_currency=org.default_currency,
        apply_credit_automatically=org.apply_credit_automatically,
        tax_rates=await list_tax_rates(actor=actor, include_archived=True),
    )


async def update_billing(
    *, actor: Actor, default_currency: str, apply_credit_automatically: bool
) -> BillingView:
    """Change the default currency of new clients and invoices, and whether credit pays new invoices."""
    require_admin(actor)
    try:
        currency = normalize_currency(default_currency or "")
    except InvalidInput:
        code = (default_currency or "").strip().upper()
        message = _("Choose a currency.") if not code else _("Unknown currency code '{code}'.", code=code)
        raise InvalidInput(message, field="default_currency") from None
    org = await get_organization()
    clean = {"default_currency": currency, "apply_credit_automatically": bool(apply_credit_automatically)}
    await _update(org, clean, actor, "settings.billing", lambda changed: {f: clean[f] for f in changed})
    return await get_billing_settings(actor=actor)


def _tax_name(name: str) -> str:
    return _text(name, field="name", label=_("a name for the tax"), max_length=TAX_NAME_MAX, required=True)


async def _check_duplicate(name: str, rate: Decimal, *, exclude_id: int | None = None) -> None:
    query = TaxRate.filter(name=name, rate=rate)
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    twin = await query.first()
    if twin is None:
        return
    label = f"{name} {_rate_text(rate)}%"
    if twin.archived:
        raise InvalidInput(
            _("{label} already exists in the archive: restore it instead.", label=label), field="name"
        )
    raise InvalidInput(_("{label} already exists.", label=label), field="name")


def _check_tax_rate(name: str, rate: str | Decimal) -> tuple[str, Decimal]:
    errors: dict[str, str | None] = {}
    clean_name = _collect(errors, "name", lambda: _tax_name(name))
    clean_rate = _collect(errors, "rate", lambda: parse_rate(rate))
    _raise_if_any(errors)
    assert isinstance(clean_name, str) and isinstance(clean_rate, Decimal)
    return clean_name, clean_rate


async def create_tax_rate(*, actor: Actor, name: str, rate: str | Decimal) -> TaxRateView:
    """Add a tax rate (name and percentage)."""
    require_admin(actor)
    clean_name, clean_rate = _check_tax_rate(name, rate)
    await _check_duplicate(clean_name, clean_rate)
    async with in_transaction():
        row = await TaxRate.create(name=clean_name, rate=clean_rate)
        await audit.record(
            actor=actor,
            action="settings.tax_rate.create",
            subject=f"tax_rate:{row.id}",
            details={"name": clean_name, "rate": _rate_text(clean_rate)},
        )
    return _rate_view(row, await _rates_in_use())


async def _tax_rate(tax_rate_id: int, *, lock: bool = False) -> TaxRate:
    query = TaxRate.select_for_update() if lock else TaxRate
    row = await query.get_or_none(id=tax_rate_id)
    if row is None:
        raise NotFound(_("That tax rate does not exist."))
    return row


async def update_tax_rate(*, actor: Actor, tax_rate_id: int, name: str, rate: str | Decimal) -> TaxRateView:
    """Rename or change an unused tax rate; one used on an invoice or quote keeps its name and percentage."""
    require_admin(actor)
    clean_name, clean_rate = _check_tax_rate(name, rate)
    async with in_transaction():
        row = await _tax_rate(tax_rate_id, lock=True)
        before = {"name": row.name, "rate": _rate_text(row.rate)}
        if row.name == clean_name and Decimal(row.rate) == clean_rate:
            return _rate_view(row, await _rates_in_use())
        if await _is_in_use(row):
            raise Conflict(
                _(
                    "{label} is used on invoices or quotes, so it cannot change. "
                    "Archive it and add a new rate instead.",
                    label=f"{row.name} {_rate_text(row.rate)}%",
                )
            )
        await _check_duplicate(clean_name, clean_rate, exclude_id=row.id)
        row.name, row.rate = clean_name, clean_rate
        await row.save(update_fields=["name", "rate"])
        await audit.record(
            actor=actor,
            action="settings.tax_rate.update",
            subject=f"tax_rate:{row.id}",
            details={"before": before, "name": clean_name, "rate": _rate_text(clean_rate)},
        )
    return _rate_view(row, await _rates_in_use())


async def archive_tax_rate(*, actor: Actor, tax_rate_id: int, archived: bool = True) -> TaxRateView:
    """Archive a rate (it is no longer offered for new lines; existing lines keep it) or restore it."""
    require_admin(actor)
    async with in_transaction():
        row = await _tax_rate(tax_rate_id, lock=True)
        if row.archived != archived:
            row.archived = archived
            await row.save(update_fields=["archived"])
            await audit.record(
                actor=actor,
                action="settings.tax_rate.archive" if archived else "settings.tax_rate.restore",
                subject=f"tax_rate:{row.id}",
                details={"name": row.name, "rate": _rate_text(row.rate)},
            )
    return _rate_view(row, await _rates_in_use())


async def delete_tax_rate(*, actor: Actor, tax_rate_id: int) -> None:
    """Delete a rate no invoice or quote line uses; a rate in use is only ever archived."""
    require_admin(actor)
    async with in_transaction():
        row = await _tax_rate(tax_rate_id, lock=True)
        if await _is_in_use(row):
            raise Conflict(
                _(
                    "{label} is used on invoices or quotes, so it cannot be deleted. Archive it instead.",
                    label=f"{row.name} {_rate_text(row.rate)}%",
                )
            )
        await row.delete()
        await audit.record(
            actor=actor,
            action="settings.tax_rate.delete",
            subject=f"tax_rate:{tax_rate_id}",
            details={"name": row.name, "rate": _rate_text(row.rate)},
        )


# --- invoice template -----------------------------------------------------------------------------------


def check_color(value: str) -> str:
    """'#2563EB' -> '#2563eb'; InvalidInput for anything but # and six hexadecimal digits."""
    color = (value or "").strip()
    if not _COLOR.match(color):
        raise InvalidInput(
            _("Enter the colour as # and six hexadecimal digits, for example #2563eb."), field="theme_color"
        )
    return color.lower()


def _check_footer(value: str) -> str:
    return _text(value, field="footer", label=_("the footer"), max_length=FOOTER_MAX)


def _check_template(theme_color: str, footer: str, number_pattern: str) -> tuple[str, str, str]:
    errors: dict[str, str | None] = {}
    color = _collect(errors, "theme_color", lambda: check_color(theme_color))
    text = _collect(errors, "footer", lambda: _check_footer(footer))
    pattern = _collect(errors, "number_pattern", lambda: validate_pattern(number_pattern))
    _raise_if_any(errors)
    return str(color), str(text), str(pattern)


async def next_invoice_number(*, actor: Actor, number_pattern: str) -> str:
    """The number the next invoice would get with this pattern (nothing is taken); InvalidInput if wrong."""
    require_admin(actor)
    return await peek_next_number(kind="invoice", pattern=validate_pattern(number_pattern), on=today())


async def get_template(*, actor: Actor) -> TemplateView:
    """The invoice template page's values."""
    require_admin(actor)
    org = await get_organization()
    upcoming = await peek_next_number(kind="invoice", pattern=org.invoice_number_pattern, on=today())
    return TemplateView(
        logo_url=org.logo_path,
        theme_color=org.theme_color,
        footer=org.invoice_footer,
        number_pattern=org.invoice_number_pattern,
        next_number=upcoming,
    )


async def update_template(
    *, actor: Actor, theme_color: str, footer: str, number_pattern: str
) -> TemplateView:
    """Change the theme colour, the footer and the number pattern of invoices."""
    require_admin(actor)
    color, text, pattern = _check_template(theme_color, footer, number_pattern)
    org = await get_organization()
    if pattern != org.invoice_number_pattern:
        upcoming = await peek_next_number(kind="invoice", pattern=pattern, on=today())
        if await Invoice.exists(number=upcoming):
            raise InvalidInput(
                _(
                    "With this pattern the next invoice would be {number}, which an invoice already has. "
                    "Choose a pattern that gives new numbers.",
                    number=upcoming,
                ),
                field="number_pattern",
            )
    clean = {"theme_color": color, "invoice_footer": text, "invoice_number_pattern": pattern}
    shown = ("theme_color", "invoice_number_pattern")
    await _update(org, clean, actor, "settings.template", lambda changed: _shown(changed, clean, *shown))
    return await get_template(actor=actor)


async def preview_invoice_pdf(
    *, actor: Actor, theme_color: str, footer: str, number_pattern: str
) -> TemplatePreview:
    """A sample invoice as a PDF with these (unsaved) template settings and the saved logo and address,
    with the number the next invoice would get."""
    require_admin(actor)
    color, text, pattern = _check_template(theme_color, footer, number_pattern)
    org = await get_organization()
    letterhead = Letterhead(
        name=org.name,
        address=org.billing_address,
        bank_details=org.bank_details,
        footer=text,
        theme_color=color,
        logo_path=org.logo_path,
    )
    number = await peek_next_number(kind="invoice", pattern=pattern, on=today())
    detail = sample_invoice(letterhead, number=number, currency=org.default_currency, issue_date=today())
    return TemplatePreview(
        pdf=await asyncio.to_thread(pdf.invoice_pdf, detail, compress=False), next_number=number
    )


# --- reminders ------------------------------------------------------------------------------------------


def describe_offset(days: int) -> str:
    """'3 days before the due date', 'On the due date', '1 day after the due date'."""
    if days == 0:
        return _("On the due date")
    if days == -1:
        return _("1 day before the due date")
    if days == 1:
        return _("1 day after the due date")
    if days < 0:
        return _("{days} days before the due date", days=-days)
    return _("{days} days after the due date", days=days)


def _reminders_view(org: Organization) -> RemindersView:
    offsets = sorted({int(n) for n in (org.reminder_offsets or []) if isinstance(n, int)})
    return RemindersView(enabled=org.reminders_enabled, offsets=offsets)


def _check_offsets(offsets: Sequence[int]) -> list[int]:
    clean: list[int] = []
    for value in offsets:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput(_("A reminder is a whole number of days."), field="offsets")
        if not -REMINDER_MAX_BEFORE <= value <= REMINDER_MAX_AFTER:
            raise InvalidInput(
                _(
                    "A reminder can be sent at most {before} days before or {after} days after the due date.",
                    before=REMINDER_MAX_BEFORE,
                    after=REMINDER_MAX_AFTER,
                ),
                field="offsets",
            )
        if value in clean:
            raise InvalidInput(
                _("There is already a reminder {when}.", when=describe_offset(value).lower()), field="offsets"
            )
        clean.append(value)
    if len(clean) > REMINDERS_MAX:
        raise InvalidInput(
            _("At most {most} reminders can be scheduled.", most=REMINDERS_MAX), field="offsets"
        )
    return sorted(clean)


async def get_reminders(*, actor: Actor) -> RemindersView:
    """The reminder schedule."""
    require_admin(actor)
    return _reminders_view(await get_organization())


async def update_reminders(*, actor: Actor, enabled: bool, offsets: Sequence[int]) -> RemindersView:
    """Switch reminders on or off and set the days (relative to the due date) they are sent on."""
    require_admin(actor)
    clean = _check_offsets(offsets)
    org = await get_organization()
    current = _reminders_view(org)
    if current.enabled == bool(enabled) and current.offsets == clean and org.reminder_offsets == clean:
        return current
    async with in_transaction():
        org.reminders_enabled = bool(enabled)
        org.reminder_offsets = clean
        await _save(org, ["reminders_enabled", "reminder_offsets"])
        await audit.record(
            actor=actor, action="settings.reminders", details={"enabled": bool(enabled), "offsets": clean}
        )
    return _reminders_view(org)


def reminder_offset(days: str | int, when: str) -> int:
    """The offset for 'N days before/after the due date' or 'on the due date' (when: before | on | after)."""
    if when == "on":
        return 0
    if when not in ("before", "after"):
        raise InvalidInput(_("Choose before, on or after the due date."), field="when")
    text = str(days if days is not None else "").strip()
    if not _DAYS.match(text) or int(text) == 0:
        raise InvalidInput(_("Enter the number of days as a whole number above zero."), field="days")
    return -int(text) if when == "before" else int(text)


async def add_reminder(*, actor: Actor, days: str | int, when: str) -> RemindersView:
    """Add one reminder to the schedule ('3' + 'before' = three days before the due date)."""
    require_admin(actor)
    offset = reminder_offset(days, when)
    current = _reminders_view(await get_organization())
    try:
        return await update_reminders(
            actor=actor, enabled=current.enabled, offsets=[*current.offsets, offset]
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="days") from None


async def remove_reminder(*, actor: Actor, offset: int) -> RemindersView:
    """Take one reminder off the schedule."""
    require_admin(actor)
    current = _reminders_view(await get_organization())
    if offset not in current.offsets:
        raise NotFound(_("That reminder is not in the schedule."))
    return await update_reminders(
        actor=actor, enabled=current.enabled, offsets=[n for n in current.offsets if n != offset]
    )


async def set_reminders_enabled(*, actor: Actor, enabled: bool) -> RemindersView:
    """Switch every reminder on or off (the schedule is kept)."""
    require_admin(actor)
    current = _reminders_view(await get_organization())
    return await update_reminders(actor=actor, enabled=enabled, offsets=current.offsets)


async def set_client_reminders(*, actor: Actor, client_id: int, enabled: bool) -> bool:
    """Send (or stop sending) payment reminders to one client; staff manage this on the client's record."""
    require_staff(actor)
    async with in_transaction():
        client = await Client.select_for_update().get_or_none(id=client_id)
        if client is None:
            raise NotFound(_("That client does not exist."))
        if client.reminders_enabled != bool(enabled):
            client.reminders_enabled = bool(enabled)
            await client.save(update_fields=["reminders_enabled"])
            await audit.record(
                actor=actor,
                action="client.reminders",
                subject=f"client:{client.id}",
                client_id=client.id,
                details={"enabled": bool(enabled)},
            )
    return bool(enabled)


# --- email (SMTP) ---------------------------------------------------------------------------------------


def _default_view() -> DefaultSmtpView:
    config = transport.default_config()
    return DefaultSmtpView(
        host=config.host,
        port=config.port,
        sender=config.sender,
        tls=config.tls,
        username=config.username,
        password_set=bool(config.password),
    )


def _email_view(org: Organization) -> EmailView:
    return EmailView(
        mode=org.smtp_mode if org.smtp_mode in SMTP_MODES else "default",
        host=org.smtp_host,
        port=org.smtp_port,
        username=org.smtp_username,
        password_saved=bool(org.smtp_password_enc),
        from_address=org.smtp_from,
        reply_to=org.smtp_reply_to,
        tls=org.smtp_tls if org.smtp_tls in TLS_MODES else "starttls",
        default=_default_view(),
    )


def check_email_address(value: str, *, field: str, required: bool = True) -> str:
    """A plain address ('billing@agency.example'), or InvalidInput on `field`."""
    address = (value or "").strip()
    if not address:
        if required:
            raise InvalidInput(_("Enter an email address."), field=field)
        return ""
    if len(address) > 254 or not _EMAIL.match(address):
        raise InvalidInput(_("Enter a valid email address, for example billing@example.com."), field=field)
    return address


def _check_host(value: str) -> str:
    host = (value or "").strip()
    if not host:
        raise InvalidInput(_("Enter the mail server's name, for example smtp.example.com."), field="host")
    if "://" in host:
        raise InvalidInput(
            _("Enter only the server's name, without smtp:// (for example smtp.example.com)."), field="host"
        )
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]")
    except ValueError:
        pass
    if ":" in host:
        raise InvalidInput(_("Put the port in the Port field, not after the server's name."), field="host")
    if not _HOSTNAME.match(host):
        raise InvalidInput(_("Enter a valid server name, for example smtp.example.com."), field="host")
    return host.lower().rstrip(".")


def _check_port(value: str | int) -> int:
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidInput(
            _("The port is a whole number from 1 to 65535 (usually 587, 465 or 25)."), field="port"
        )
    return int(text)


def _check_username(value: str) -> str:
    username = (value or "").strip()
    if len(username) > NAME_MAX:
        raise InvalidInput(
            _("The username is too long ({most} characters at most).", most=NAME_MAX), field="username"
        )
    if any(not ch.isprintable() or ch.isspace() for ch in username):
        raise InvalidInput(_("The username cannot contain spaces or line breaks."), field="username")
    return username


def _check_password(value: str) -> str:
    password = value or ""
    if len(password) > 500:
        raise InvalidInput(_("The password is too long (500 characters at most)."), field="password")
    if any(ch in password for ch in "\r\n\x00"):
        raise InvalidInput(_("The password cannot contain line breaks."), field="password")
    return password


def _check_tls(value: str) -> str:
    if value not in TLS_MODES:
        raise InvalidInput(_("Choose how the connection is secured."), field="tls")
    return value


@dataclass(frozen=True)
class _CleanSmtp:
    host: str
    port: int
    username: str
    from_address: str
    reply_to: str
    tls: str
    password: str  # the typed password ('' when none was typed)


def _check_smtp(form: SmtpForm, *, password_saved: bool) -> _CleanSmtp:
    """Every field of a custom SMTP form, all problems at once."""
    errors: dict[str, str | None] = {}
    host = _collect(errors, "host", lambda: _check_host(form.host))
    port = _collect(errors, "port", lambda: _check_port(form.port))
    username = _collect(errors, "username", lambda: _check_username(form.username))
    password = _collect(errors, "password", lambda: _check_password(form.password))
    sender = _collect(
        errors, "from_address", lambda: check_email_address(form.from_address, field="from_address")
    )
    reply_to = _collect(
        errors, "reply_to", lambda: check_email_address(form.reply_to, field="reply_to", required=False)
    )
    tls = _collect(errors, "tls", lambda: _check_tls(form.tls))
    if "password" not in errors:
        if form.clear_password and password:
            errors["password"] = _("Either type a new password or clear the saved one, not both.")
        elif username and not password and (form.clear_password or not password_saved):
            errors["password"] = _("Enter the password for this username.")
        elif password and not username and "username" not in errors:
            errors["username"] = _("Enter the username this password belongs to.")
    _raise_if_any(errors)
    return _CleanSmtp(
        host=str(host),
        port=int(port),  # type: ignore[arg-type]
        username=str(username),
        from_address=str(sender),
        reply_to=str(reply_to),
        tls=str(tls),
        password=str(password),
    )


def _check_mode(mode: str) -> str:
    if mode not in SMTP_MODES:
        raise InvalidInput(
            _("Choose the server's default mail settings or your own SMTP server."), field="mode"
        )
    return mode


async def get_email_settings(*, actor: Actor) -> EmailView:
    """The mail settings page's values (the password only as 'saved' or not)."""
    require_admin(actor)
    return _email_view(await get_organization())


async def update_email_settings(*, actor: Actor, form: SmtpForm) -> EmailView:
    """Use the server's default SMTP or the organization's own; an empty password keeps the saved one.

    In default mode only the choice is stored (the custom fields are kept for later); in custom mode every
    field is checked first and nothing changes when one is wrong.
    """
    require_admin(actor)
    mode = _check_mode(form.mode)
    org = await get_organization()
    if mode == "default":
        if org.smtp_mode != "default":
            async with in_transaction():
                org.smtp_mode = "default"
                await _save(org, ["smtp_mode"])
                await audit.record(actor=actor, action="settings.email", details={"mode": "default"})
        return _email_view(org)
    clean = _check_smtp(form, password_saved=bool(org.smtp_password_enc))
    if clean.password:
        password_change, encrypted = "changed", vault.encrypt(clean.password)
    elif form.clear_password:
        password_change, encrypted = ("cleared" if org.smtp_password_enc else "unchanged"), ""
    else:
        password_change, encrypted = "unchanged", org.smtp_password_enc
    values = {
        "smtp_mode": "custom",
        "smtp_host": clean.host,
        "smtp_port": clean.port,
        "smtp_username": clean.username,
        "smtp_from": clean.from_address,
        "smtp_reply_to": clean.reply_to,
        "smtp_tls": clean.tls,
    }
    changed = [field for field, value in values.items() if getattr(org, field) != value]
    if changed or password_change != "unchanged":
        async with in_transaction():
            for field in changed:
                setattr(org, field, values[field])
            org.smtp_password_enc = encrypted
            await _save(org, [*changed, "smtp_password_enc"])
            details = {field.removeprefix("smtp_"): values[field] for field in changed}
            details["password"] = password_change
            await audit.record(actor=actor, action="settings.email", details=details)
    return _email_view(org)


async def _test_config(form: SmtpForm, org: Organization) -> SmtpConfig:
    """The SMTP settings as typed (unsaved); the saved password when none was typed."""
    mode = _check_mode(form.mode)
    if mode == "default":
        return transport.default_config(sender_name=org.name)
    clean = _check_smtp(form, password_saved=bool(org.smtp_password_enc))
    password = clean.password or ("" if form.clear_password else vault.decrypt(org.smtp_password_enc))
    return SmtpConfig(
        host=clean.host,
        port=clean.port,
        username=clean.username,
        password=password,
        sender=clean.from_address,
        reply_to=clean.reply_to,
        tls=clean.tls,  # type: ignore[arg-type]
        sender_name=org.name,
    )


async def send_test_email(*, actor: Actor, to: str, form: SmtpForm) -> TestEmailResult:
    """Send a test email with the settings as typed (before saving them); the server's answer on failure."""
    require_admin(actor)
    errors: dict[str, str | None] = {}
    address = _collect(errors, "test_to", lambda: check_email_address(to, field="test_to"))
    org = await get_organization()
    try:
        config = await _test_config(form, org)
    except InvalidFields as exc:
        errors.update(exc.errors)
    except InvalidInput as exc:
        errors[exc.field or "mode"] = exc.message
    _raise_if_any(errors)
    try:
        await transport.send_test_email(to=str(address), config=config)
    except MailError as exc:
        result = TestEmailResult(
            ok=False, message=_("The test email was not sent: {reason}", reason=exc.message)
        )
    else:
        result = TestEmailResult(ok=True, message=_("Test email sent to {address}.", address=address))
    await audit.record(
        actor=actor,
        action="settings.email.test",
        details={"to": address, "mode": form.mode, "host": config.host, "port": config.port, "ok": result.ok},
    )
    return result

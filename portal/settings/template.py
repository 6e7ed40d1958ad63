"""The invoice template (theme colour, footer, number pattern, preview) and the logo upload (admin only)."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from portal.billing import pdf
from portal.billing.documents import Letterhead, sample_invoice
from portal.core import audit, organization
from portal.core.actors import Actor, require_admin
from portal.core.clock import today
from portal.core.images import clean_logo
from portal.core.numbering import peek_next_number, validate_pattern
from portal.core.organization import get_organization
from portal.db.models import Invoice
from portal.domain.errors import InvalidInput
from portal.i18n import _
from portal.settings.fields import (
    audit_details,
    clean_text,
    collect,
    raise_if_any,
    save_fields,
    update_fields,
)

FOOTER_MAX = 300
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


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


# --- logo -----------------------------------------------------------------------------------------------


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
            await save_fields(org, ["logo_path"])
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
        await save_fields(org, ["logo_path"])
        await audit.record(actor=actor, action="settings.logo", details={"logo": ""})
    _remove_upload(previous)


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
    return clean_text(value, field="footer", label=_("the footer"), max_length=FOOTER_MAX)


def _check_template(theme_color: str, footer: str, number_pattern: str) -> tuple[str, str, str]:
    errors: dict[str, str | None] = {}
    color = collect(errors, "theme_color", lambda: check_color(theme_color))
    text = collect(errors, "footer", lambda: _check_footer(footer))
    pattern = collect(errors, "number_pattern", lambda: validate_pattern(number_pattern))
    raise_if_any(errors)
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
    await update_fields(
        org, clean, actor, "settings.template", lambda changed: audit_details(changed, clean, *shown)
    )
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

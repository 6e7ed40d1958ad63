"""Clients: the console's list (search, filters, paging), creating and editing a client with its avatar,
and a client's own profile."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.functions import Count, Min
from tortoise.transactions import in_transaction

from portal import i18n
from portal.clients import vies
from portal.core import audit, clock
from portal.core.actors import Actor, check_client_access, require_staff
from portal.core.clock import today
from portal.core.images import hidden_content
from portal.core.organization import get_organization
from portal.core.paging import Page, bounds
from portal.db.models import Client, Invoice, PaymentMethod, Subscription, User
from portal.domain import identity
from portal.domain.errors import InvalidFields, InvalidInput, NotFound
from portal.domain.money import normalize_currency
from portal.domain.status import InvoiceStatus, Role, SubscriptionStatus
from portal.i18n import _

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class ClientRow:
    """A client as the console list shows it, with what is open on its invoices."""

    id: int
    name: str
    company: str
    email: str
    currency: str
    open_due: dict[str, int] = field(default_factory=dict)  # currency -> minor units still due
    has_overdue: bool = False


@dataclass(frozen=True)
class ClientPage(Page[ClientRow]):
    """One page of the clients list, and (when asked for) the currencies active clients are billed in."""

    currencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientProfile:
    """The header of a client's billing page."""

    id: int
    name: str
    company: str
    email: str
    currency: str
    avatar_path: str
    plans: list[str]
    payment_method_count: int

    @property
    def initials(self) -> str:
        """Up to two initials for an avatar without a picture."""
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"


async def list_clients(
    *,
    actor: Actor,
    search: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
    has_overdue: bool = False,
    currency: str = "",
    with_currencies: bool = False,
) -> ClientPage:
    """Staff: clients matching a search on name, company or email, one page at a time.

    `has_overdue` keeps clients with an open invoice past its due date (a subquery, not Python);
    `currency` keeps clients billed in that currency. Three queries whatever the number of clients:
    the count, the page, and what is due on the page's clients. `with_currencies` also lists the
    currencies of all active clients (the list's filter): counted per currency, which is the count too
    when nothing is filtered, so the first page costs no more statements.
    """
    require_staff(actor)
    page, page_size = bounds(page, page_size, MAX_PAGE_SIZE)
    query = Client.filter(archived=False)
    term, code = search.strip(), normalize_currency(currency) if currency.strip() else ""
    if term:
        query = query.filter(Q(name__icontains=term) | Q(company__icontains=term) | Q(email__icontains=term))
    if code:
        query = query.filter(currency=code)
    if has_overdue:
        overdue = Invoice.filter(status=InvoiceStatus.open, due_date__lt=today()).values("client_id")
        query = query.filter(id__in=Subquery(overdue))
    per_currency: dict[str, int] = {}
    if with_currencies:
        counted = (  # COUNT(*): the (archived, currency) index is enough, no row is read
            await Client.filter(archived=False)
            .group_by("currency")
            .annotate(n=RawSQL("COUNT(*)"))
            .values("currency", "n")
        )
        per_currency = {str(row["currency"]): int(row["n"]) for row in counted}
    if with_currencies and not (term or code or has_overdue):
        total = sum(per_currency.values())
    else:
        total = await query.count()
    found = (  # the five columns shown, as plain rows
        await query.order_by("name", "id")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .values("id", "name", "company", "email", "currency")
    )
    due, overdue_ids = await _open_due([c["id"] for c in found])
    rows = [
        ClientRow(
            c["id"],
            c["name"],
            c["company"],
            c["email"],
            c["currency"],
            due.get(c["id"], {}),
            has_overdue=c["id"] in overdue_ids,
        )
        for c in found
    ]
    return ClientPage(
        rows=rows, total=total, page=page, page_size=page_size, currencies=tuple(sorted(per_currency))
    )


# what is still due on each open invoice, summed per client and currency, in the database
_DUE_SQL = (
    'SUM("invoice"."total_minor" - COALESCE((SELECT SUM("allocation"."amount_minor") FROM "allocation" '
    'WHERE "allocation"."invoice_id" = "invoice"."id"), 0))'
)


async def _open_due(client_ids: list[int]) -> tuple[dict[int, dict[str, int]], set[int]]:
    """Amount due per currency of each client's open invoices, and which clients are overdue (one query)."""
    if not client_ids:
        return {}, set()
    rows = (
        await Invoice.filter(client_id__in=client_ids, status=InvoiceStatus.open)
        .annotate(due=RawSQL(_DUE_SQL), first_due=Min("due_date"))
        .group_by("client_id", "currency")
        .values("client_id", "currency", "due", "first_due")
    )
    due: dict[int, dict[str, int]] = {}
    overdue: set[int] = set()
    day = today()
    for row in rows:
        amount = int(row["due"] or 0)
        if amount:
            due.setdefault(row["client_id"], {})[row["currency"]] = amount
        if row["first_due"] is not None and _as_date(row["first_due"]) < day:
            overdue.add(row["client_id"])
    return due, overdue


def _as_date(value: date | datetime | str) -> date:
    """A date from what the driver returns for MIN(date) (a string on some SQLite versions)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def client_currencies(*, actor: Actor) -> list[str]:
    """Staff: the currencies clients are billed in (for the list's filter)."""
    require_staff(actor)
    codes = await Client.filter(archived=False).distinct().values_list("currency", flat=True)
    return sorted({str(code) for code in codes})


async def get_profile(*, actor: Actor, client_id: int) -> ClientProfile:
    """A client's name, company, avatar and current plans."""
    check_client_access(actor, client_id)
    saved_methods = PaymentMethod.filter(client_id=client_id, detached_at__isnull=True)
    client = (
        await Client.filter(id=client_id)
        .annotate(method_count=Subquery(saved_methods.annotate(n=Count("id")).values("n")))
        .first()
        .values("id", "name", "company", "email", "currency", "avatar_path", "method_count")
    )  # plain values: no model object
    if client is None:
        raise NotFound(_("That client does not exist."))
    subs = (
        await Subscription.filter(
            client_id=client_id, status__in=[SubscriptionStatus.active, SubscriptionStatus.past_due]
        )
        .order_by("id")
        .values_list("plan__name", "description")  # one statement, the plan joined in
    )
    plans = [plan if plan is not None else description for plan, description in subs]
    return ClientProfile(
        id=client["id"],
        name=client["name"],
        company=client["company"],
        email=client["email"],
        currency=client["currency"],
        avatar_path=client["avatar_path"],
        plans=plans,
        payment_method_count=int(client["method_count"] or 0),
    )


# -- create and edit (console) ----------------------------------------------------------------------
AVATAR_DIR = Path(__file__).resolve().parents[2] / "data" / "uploads" / "avatars"
AVATAR_URL = "/uploads/avatars"  # beside the logos under /uploads/<name> (settings)
AVATAR_MAX_BYTES = 2 * 1024 * 1024
AVATAR_MAX_PIXELS = 40_000_000  # a larger picture is refused before it is decoded
AVATAR_SIZE = 512  # stored avatars fit in a square of this many pixels
_AVATAR_NAME = re.compile(r"^[0-9a-f]{32}\.png$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
LOCALES = i18n.SUPPORTED


@dataclass(frozen=True)
class ClientForm:
    """What the create/edit form shows and sends (the avatar travels separately as bytes)."""

    name: str = ""
    company: str = ""
    email: str = ""
    currency: str = "USD"
    billing_address: str = ""
    locale: str = "en"
    reminders_enabled: bool = True
    avatar_path: str = ""
    # legal identity (issue 16): the address's postcode, city and country, and for a business its numbers
    postcode: str = ""
    city: str = ""
    country: str = ""  # ISO 3166-1 alpha-2, "" = not given
    is_business: bool = False
    company_id: str = ""  # SIREN/SIRET in France, the register number elsewhere
    vat_number: str = ""  # with its country prefix
    id: int | None = None
    # read only: what VIES said about vat_number ("" = not asked) and when
    vat_check: str = ""
    vat_checked_at: datetime | None = None


async def new_client_form(*, actor: Actor) -> ClientForm:
    """Staff: an empty form with the organization's default currency and locale."""
    require_staff(actor)
    org = await get_organization()
    return ClientForm(currency=org.default_currency, locale=i18n.normalize_locale(org.default_locale))


async def get_client_form(*, actor: Actor, client_id: int) -> ClientForm:
    """Staff: a client's editable fields."""
    require_staff(actor)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_("That client does not exist."))
    return _form_of(client)


def _form_of(client: Client) -> ClientForm:
    return ClientForm(
        id=client.id,
        name=client.name,
        company=client.company,
        email=client.email,
        currency=client.currency,
        billing_address=client.billing_address,
        locale=client.locale,
        reminders_enabled=client.reminders_enabled,
        avatar_path=client.avatar_path,
        postcode=client.postcode,
        city=client.city,
        country=client.country,
        is_business=client.is_business,
        company_id=client.company_id,
        vat_number=client.vat_number,
        vat_check=client.vat_check,
        vat_checked_at=client.vat_checked_at,
    )


def _clean(form: ClientForm) -> tuple[ClientForm, dict[str, str]]:
    """Trim and check every field: the cleaned form and a message per wrong field."""
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not name:
        errors["name"] = _("Enter the client's name.")
    elif len(name) > 200:
        errors["name"] = _("Use at most {count} characters.", count=200)
    company = form.company.strip()
    if len(company) > 200:
        errors["company"] = _("Use at most {count} characters.", count=200)
    email = (form.email or "").strip().lower()
    if not email:
        errors["email"] = _("Enter an email address.")
    elif len(email) > 254 or not _EMAIL.match(email):
        errors["email"] = _("Enter a valid email address, like name@example.com.")
    currency = ""
    code = (form.currency or "").strip()
    try:
        currency = normalize_currency(code)
    except InvalidInput:
        errors["currency"] = (
            _("'{code}' is not an ISO currency code; use three letters like USD or EUR.", code=code)
            if code
            else _("Choose a currency by its three-letter ISO code, like USD or EUR.")
        )
    address = form.billing_address.strip()
    if len(address) > 2000:
        errors["billing_address"] = _("Use at most {count} characters.", count=2000)
    if form.locale not in LOCALES:
        errors["locale"] = _("Choose English or French.")
    legal = _clean_identity(form, errors)
    cleaned = replace(
        form, name=name, company=company, email=email, currency=currency, billing_address=address, **legal
    )
    return cleaned, errors


def _clean_identity(form: ClientForm, errors: dict[str, str]) -> dict[str, Any]:
    """The address's postcode, city and country and the business numbers, checked by format and check
    digits; a message per wrong field goes into `errors`."""
    clean: dict[str, Any] = {}
    for key, most in (("postcode", 20), ("city", 100)):
        clean[key] = " ".join((getattr(form, key) or "").split())
        if len(clean[key]) > most:
            errors[key] = _("Use at most {count} characters.", count=most)
    checks = (
        ("country", lambda: identity.clean_country(form.country)),
        ("vat_number", lambda: identity.clean_vat_number(form.vat_number)),
        ("company_id", lambda: identity.clean_company_id(form.company_id, country=clean.get("country", ""))),
    )
    for key, check in checks:
        try:
            clean[key] = check()
        except InvalidInput as exc:
            errors[key] = exc.message
            clean[key] = getattr(form, key)
    if form.vat_number.strip() and not form.is_business and "vat_number" not in errors:
        errors["vat_number"] = _(
            "A VAT number belongs to a business: mark the client as a business, or clear it."
        )
    return clean


def check_form(form: ClientForm) -> tuple[ClientForm, dict[str, str]]:
    """The create form's own checks, without the database: the trimmed form and a message per wrong field
    (the client import checks each row of a file with them)."""
    return _clean(form)


async def _email_problem(email: str, *, client_id: int | None) -> str | None:
    """Another client has this email, or (for a client with a login) someone else signs in with it."""
    other = await Client.filter(email__iexact=email).exclude(id=client_id or 0).first()
    if other is not None:
        return _("{name} already uses this email address.", name=other.name)
    if client_id is not None and await User.exists(client_id=client_id):
        login = await User.get_or_none(email=email)
        if login is not None and login.client_id != client_id:
            return _("Someone else signs in with this email address.")
    return None


async def _validate(form: ClientForm, *, client_id: int | None, avatar: bytes | None) -> ClientForm:
    """The cleaned form, or InvalidFields naming every wrong field at once (nothing is written)."""
    form, errors = _clean(form)
    if "email" not in errors and (problem := await _email_problem(form.email, client_id=client_id)):
        errors["email"] = problem
    if avatar is not None:
        try:
            check_avatar(avatar)
        except InvalidInput as exc:
            errors["avatar"] = exc.message
    if errors:
        raise InvalidFields(errors)
    return form


def check_avatar(data: bytes) -> None:
    """Raise InvalidInput (field 'avatar') unless `data` is a PNG or JPEG of at most 2 MB."""
    if not data:
        raise InvalidInput(_("The picture is empty."), field="avatar")
    if len(data) > AVATAR_MAX_BYTES:
        raise InvalidInput(_("The picture is larger than 2 MB; choose a smaller one."), field="avatar")
    try:
        with Image.open(BytesIO(data)) as image:
            kind = image.format
            width, height = image.size
            if kind in ("PNG", "JPEG") and width * height <= AVATAR_MAX_PIXELS:
                image.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidInput(_("Upload a PNG or JPEG picture."), field="avatar") from None
    if kind not in ("PNG", "JPEG"):
        raise InvalidInput(_("Upload a PNG or JPEG picture."), field="avatar")
    if width * height > AVATAR_MAX_PIXELS:
        raise InvalidInput(_("The picture has too many pixels; choose a smaller one."), field="avatar")
    if hidden_content(data, kind):
        raise InvalidInput(
            _(
                "This picture also carries web page or script code, or data after the image, so it is "
                "refused. Save it again as a plain PNG or JPEG."
            ),
            field="avatar",
        )


def _encode_avatar(data: bytes) -> bytes:
    """Decode, straighten, shrink and re-encode as PNG (drops metadata and anything but pixels)."""
    try:
        with Image.open(BytesIO(data)) as source:
            source.load()
            image = ImageOps.exif_transpose(source) or source
            image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")
            image.thumbnail((AVATAR_SIZE, AVATAR_SIZE))
            out = BytesIO()
            image.save(out, format="PNG", optimize=True)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidInput(_("Upload a PNG or JPEG picture."), field="avatar") from None
    return out.getvalue()


async def _store_avatar(data: bytes) -> str:
    """Check, re-encode and write an avatar; return its URL path."""
    check_avatar(data)
    png = await asyncio.to_thread(_encode_avatar, data)
    name = f"{secrets.token_hex(16)}.png"

    def write() -> None:
        AVATAR_DIR.mkdir(parents=True, exist_ok=True)
        partial = AVATAR_DIR / f".{name}.part"
        partial.write_bytes(png)
        partial.replace(AVATAR_DIR / name)

    await asyncio.to_thread(write)
    return f"{AVATAR_URL}/{name}"


def avatar_file(name: str) -> Path | None:
    """The stored avatar called `name`, or None (a name we did not make, or a missing file)."""
    if not _AVATAR_NAME.match(name or ""):
        return None
    path = AVATAR_DIR / name
    return path if path.is_file() else None


def _drop_avatar(url: str) -> None:
    """Delete a stored avatar file (best effort: a leftover file harms nobody)."""
    if url.startswith(f"{AVATAR_URL}/") and (path := avatar_file(url.rsplit("/", 1)[-1])):
        path.unlink(missing_ok=True)


async def _vat_check(vat_number: str) -> tuple[str, datetime | None]:
    """What VIES says about a VAT number, and when, if the organization asks it ("", None otherwise)."""
    if not vat_number or not (await get_organization()).vies_check_enabled:
        return "", None
    return str(await vies.check_vat_number(vat_number)), clock.now_utc()


async def create_client(*, actor: Actor, form: ClientForm, avatar: bytes | None = None) -> int:
    """Staff: add a client; every wrong field is named, a second client with the same email is refused."""
    require_staff(actor)
    form = await _validate(form, client_id=None, avatar=avatar)
    vat_check, vat_checked_at = await _vat_check(form.vat_number)
    avatar_path = await _store_avatar(avatar) if avatar else ""
    try:
        async with in_transaction():
            client = await Client.create(
                name=form.name,
                company=form.company,
                email=form.email,
                currency=form.currency,
                billing_address=form.billing_address,
                locale=form.locale,
                reminders_enabled=form.reminders_enabled,
                avatar_path=avatar_path,
                **{key: getattr(form, key) for key in _IDENTITY},
                vat_check=vat_check,
                vat_checked_at=vat_checked_at,
            )
            await audit.record(
                actor=actor,
                action="client.create",
                subject=f"client:{client.id}",
                client_id=client.id,
                details={"name": form.name, "email": form.email, "currency": form.currency},
            )
    except BaseException:
        _drop_avatar(avatar_path)
        raise
    return client.id


_IDENTITY = ("postcode", "city", "country", "is_business", "company_id", "vat_number")
_EDITABLE = (
    "name",
    "company",
    "email",
    "currency",
    "billing_address",
    "locale",
    "reminders_enabled",
    *_IDENTITY,
)


async def update_client(
    *,
    actor: Actor,
    client_id: int,
    form: ClientForm,
    avatar: bytes | None = None,
    remove_avatar: bool = False,
) -> ClientForm:
    """Staff: change a client's details (and the email its login uses); return the saved form."""
    require_staff(actor)
    current = await Client.filter(id=client_id).values_list("vat_number", flat=True)
    if not current:
        raise NotFound(_("That client does not exist."))
    form = await _validate(form, client_id=client_id, avatar=avatar)
    asked = current[0] != form.vat_number  # VIES is asked about a new number only
    vat_check, vat_checked_at = await _vat_check(form.vat_number) if asked else ("", None)
    new_avatar = await _store_avatar(avatar) if avatar else ""
    try:
        async with in_transaction():
            client = await Client.select_for_update().get_or_none(id=client_id)
            if client is None:
                raise NotFound(_("That client does not exist."))
            old_avatar, old_email = client.avatar_path, client.email
            changed = [name for name in _EDITABLE if getattr(client, name) != getattr(form, name)]
            for name in changed:
                setattr(client, name, getattr(form, name))
            if new_avatar or remove_avatar:
                client.avatar_path = new_avatar
                changed.append("avatar")
            if "vat_number" in changed:
                client.vat_check, client.vat_checked_at = vat_check, vat_checked_at
            if changed:
                await client.save()
                if "email" in changed and not await User.exists(email=form.email):
                    # the login that used the old address follows the client to the new one
                    await User.filter(client_id=client_id, role=Role.client, email=old_email.lower()).update(
                        email=form.email
                    )
                await audit.record(
                    actor=actor,
                    action="client.update",
                    subject=f"client:{client_id}",
                    client_id=client_id,
                    details={"changed": changed},
                )
    except BaseException:
        _drop_avatar(new_avatar)
        raise
    if (new_avatar or remove_avatar) and old_avatar != client.avatar_path:
        _drop_avatar(old_avatar)
    return _form_of(client)

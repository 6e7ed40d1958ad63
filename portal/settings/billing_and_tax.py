"""Billing settings (default currency, automatic use of credit, receipts for offline payments) and the tax
rates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_name
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, require_admin, require_staff
from portal.core.organization import get_organization
from portal.db.models import InvoiceLine, QuoteLine, TaxRate
from portal.domain.currencies import MINOR_UNITS
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import normalize_currency
from portal.i18n import N_, _, get_locale
from portal.settings.fields import clean_text, collect, raise_if_any, update_fields

ROUNDING_RULE = N_(
    "Tax is calculated per line and rounded half-up to the currency's smallest unit, "
    "then the lines are added."
)
TAX_NAME_MAX = 100
_RATE = re.compile(r"^(\d{1,3})(?:\.(\d+))?$")


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
    """Default currency, automatic use of credit, receipts for offline payments and the tax rates."""

    default_currency: str
    apply_credit_automatically: bool
    tax_rates: list[TaxRateView]
    email_offline_receipts: bool = True


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
        email_offline_receipts=org.email_offline_receipts,
    )


async def update_billing(
    *,
    actor: Actor,
    default_currency: str,
    apply_credit_automatically: bool,
    email_offline_receipts: bool | None = None,
) -> BillingView:
    """Change the default currency of new clients and invoices, whether credit pays new invoices, and
    whether clients get a receipt by email for offline payments (None: unchanged)."""
    require_admin(actor)
    try:
        currency = normalize_currency(default_currency or "")
    except InvalidInput:
        code = (default_currency or "").strip().upper()
        message = _("Choose a currency.") if not code else _("Unknown currency code '{code}'.", code=code)
        raise InvalidInput(message, field="default_currency") from None
    org = await get_organization()
    clean = {"default_currency": currency, "apply_credit_automatically": bool(apply_credit_automatically)}
    if email_offline_receipts is not None:
        clean["email_offline_receipts"] = bool(email_offline_receipts)
    await update_fields(org, clean, actor, "settings.billing", lambda changed: {f: clean[f] for f in changed})
    return await get_billing_settings(actor=actor)


def _tax_name(name: str) -> str:
    return clean_text(
        name, field="name", label=_("a name for the tax"), max_length=TAX_NAME_MAX, required=True
    )


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
    clean_name = collect(errors, "name", lambda: _tax_name(name))
    clean_rate = collect(errors, "rate", lambda: parse_rate(rate))
    raise_if_any(errors)
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

"""The organization's name, billing address and bank details, and its legal identity (admin only)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from portal.core.actors import Actor, require_admin
from portal.core.organization import get_organization
from portal.db.models import Organization
from portal.domain import identity
from portal.domain.errors import InvalidInput
from portal.domain.mentions import NATURES
from portal.i18n import _
from portal.settings.fields import NAME_MAX, audit_details, clean_text, collect, raise_if_any, update_fields

TEXT_MAX = 1000


@dataclass(frozen=True)
class OrganizationView:
    """The organization page: who the agency is and how clients pay it by bank transfer."""

    name: str
    billing_address: str
    bank_details: str
    logo_url: str


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
        "name": collect(
            errors,
            "name",
            lambda: clean_text(
                name, field="name", label=_("the organization's name"), max_length=NAME_MAX, required=True
            ),
        ),
        "billing_address": collect(
            errors,
            "billing_address",
            lambda: clean_text(
                billing_address, field="billing_address", label=_("the billing address"), max_length=TEXT_MAX
            ),
        ),
        "bank_details": collect(
            errors,
            "bank_details",
            lambda: clean_text(
                bank_details, field="bank_details", label=_("the bank details"), max_length=TEXT_MAX
            ),
        ),
    }
    raise_if_any(errors)
    org = await get_organization()
    await update_fields(
        org, clean, actor, "settings.organization", lambda changed: audit_details(changed, clean, "name")
    )
    return _organization_view(org)


# -- legal identity (issue 16) ---------------------------------------------------------------------
IDENTITY_FIELDS = ("legal_name", "legal_form", "company_id", "vat_number", "postcode", "city", "country")


@dataclass(frozen=True)
class LegalIdentityView:
    """Who issues the invoices, as the law and an e-invoice name them; and whether VIES is asked about
    clients' VAT numbers."""

    legal_name: str
    legal_form: str
    company_id: str
    vat_number: str
    postcode: str
    city: str
    country: str
    vies_check_enabled: bool
    # what invoices issued from France say: services | goods | mixed; rates in percent as typed ("" = the
    # legal default penalty, no discount)
    operation_nature: str = "services"
    late_penalty_rate: str = ""
    early_payment_discount: str = ""
    vat_franchise: bool = False  # franchise en base: no VAT charged, article 293 B of the French tax code


def _percent_text(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def _identity_view(org: Organization) -> LegalIdentityView:
    return LegalIdentityView(
        **{field: getattr(org, field) for field in IDENTITY_FIELDS},
        vies_check_enabled=org.vies_check_enabled,
        operation_nature=org.operation_nature,
        late_penalty_rate=_percent_text(org.late_penalty_rate),
        early_payment_discount=_percent_text(org.early_payment_discount),
        vat_franchise=org.vat_franchise,
    )


def clean_percent(value: str, *, field: str) -> Decimal | None:
    """A rate in percent, 0 to 100 with at most 2 decimals ("," or "."), or None when left empty."""
    text = value.strip().replace(",", ".").removesuffix("%").strip()
    if not text:
        return None
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(_("Enter a rate in percent, like 12 or 10.5."), field=field) from None
    if not rate.is_finite() or not 0 <= rate <= 100 or rate != rate.quantize(Decimal("0.01")):
        raise InvalidInput(_("Enter a rate between 0 and 100 with at most 2 decimals."), field=field)
    return rate


async def get_legal_identity(*, actor: Actor) -> LegalIdentityView:
    """The legal identity card's values."""
    require_admin(actor)
    return _identity_view(await get_organization())


def _nature(value: str) -> str:
    if value not in NATURES:
        raise InvalidInput(_("Choose services, goods, or both."), field="operation_nature")
    return value


async def update_legal_identity(*, actor: Actor, values: LegalIdentityView) -> LegalIdentityView:
    """Change the legal identity; every wrong field is named at once and nothing is saved."""
    require_admin(actor)
    errors: dict[str, str | None] = {}
    country = collect(errors, "country", lambda: identity.clean_country(values.country))
    text = {
        field: collect(
            errors,
            field,
            lambda field=field, label=label, most=most: clean_text(
                getattr(values, field), field=field, label=label, max_length=most
            ).replace("\n", " "),
        )
        for field, label, most in (
            ("legal_name", _("the legal name"), NAME_MAX),
            ("legal_form", _("the legal form"), 100),
            ("postcode", _("the postcode"), 20),
            ("city", _("the city"), 100),
        )
    }
    clean = {
        **text,
        "company_id": collect(
            errors, "company_id", lambda: identity.clean_company_id(values.company_id, country=country or "")
        ),
        "vat_number": collect(errors, "vat_number", lambda: identity.clean_vat_number(values.vat_number)),
        "country": country,
        "vies_check_enabled": bool(values.vies_check_enabled),
        "vat_franchise": bool(values.vat_franchise),
        "operation_nature": collect(errors, "operation_nature", lambda: _nature(values.operation_nature)),
        "late_penalty_rate": collect(
            errors,
            "late_penalty_rate",
            lambda: clean_percent(values.late_penalty_rate, field="late_penalty_rate"),
        ),
        "early_payment_discount": collect(
            errors,
            "early_payment_discount",
            lambda: clean_percent(values.early_payment_discount, field="early_payment_discount"),
        ),
    }
    raise_if_any(errors)
    org = await get_organization()
    await update_fields(
        org,
        clean,
        actor,
        "settings.legal_identity",
        lambda changed: audit_details(changed, clean, "vat_number"),
    )
    return _identity_view(org)

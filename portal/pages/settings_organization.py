"""/settings/organization (admins only): name, address, bank details, legal identity, logo; /uploads/<name>
serves the logo."""

from __future__ import annotations

from fastapi.responses import FileResponse, PlainTextResponse, Response
from nicegui import app, ui

from portal.components import guard
from portal.components.country_select import country_select
from portal.components.feedback import Feedback
from portal.components.frame import signed_in_frame
from portal.components.logo_card import LogoCard
from portal.components.settings_form import settings_card, settings_input, settings_textarea
from portal.components.settings_nav import settings_nav
from portal.core import organization
from portal.core.actors import Actor
from portal.i18n import _
from portal.payments.branding import branding
from portal.settings.business_details import (
    TEXT_MAX,
    LegalIdentityView,
    OrganizationView,
    get_legal_identity,
    get_organization_settings,
    update_legal_identity,
    update_organization,
)
from portal.settings.fields import NAME_MAX

UPLOAD_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",  # each upload has a new random name
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": 'inline; filename="logo.png"',
}


class OrganizationForm:
    """Name, billing address and the bank details clients see when they pay by bank transfer."""

    def __init__(self, actor: Actor, view: OrganizationView) -> None:
        self.actor = actor
        with settings_card(_("Organization")):
            self.name = settings_input(_("Name"), view.name, "org-name-input", maxlength=str(NAME_MAX))
            self.address = settings_textarea(
                _("Billing address"), view.billing_address, "billing-address", max_length=TEXT_MAX
            )
            self.bank = settings_textarea(
                _("Bank details for transfers"),
                view.bank_details,
                "bank-details",
                max_length=TEXT_MAX,
            )
            ui.label(
                _(
                    "Shown to clients who choose to pay by bank transfer, on the payment page and on "
                    "invoices that are not paid yet."
                )
            ).classes("text-sm text-gray-600")
            self.save_button = ui.button(_("Save"), on_click=self.save).mark("save-organization")
            self.feedback = Feedback(
                "organization",
                {"name": self.name, "billing_address": self.address, "bank_details": self.bank},
            )

    async def save(self) -> None:
        view = await self.feedback.run(
            self.save_button,
            lambda: update_organization(
                actor=self.actor,
                name=self.name.value or "",
                billing_address=self.address.value or "",
                bank_details=self.bank.value or "",
            ),
        )
        if view is not None:
            self.name.set_value(view.name)
            self.address.set_value(view.billing_address)
            self.bank.set_value(view.bank_details)
            self.feedback.ok(_("Organization saved."))


class LegalIdentityForm:
    """Who issues the invoices, as the law names them: legal name and form, register and VAT numbers,
    postcode, city and country; and whether VIES is asked about clients' VAT numbers."""

    def __init__(self, actor: Actor, view: LegalIdentityView) -> None:
        self.actor = actor
        with settings_card(_("Legal identity")).mark("legal-identity"):
            ui.label(
                _(
                    "Printed on invoices and in e-invoices. In France: the SIREN or SIRET, the legal form "
                    'with its share capital ("SAS au capital de 10 000 €") and the VAT number.'
                )
            ).classes("text-sm text-gray-600")
            self.inputs = {
                "legal_name": settings_input(
                    _("Legal name (if not the name above)"), view.legal_name, "legal-name"
                ),
                "legal_form": settings_input(
                    _("Legal form and share capital"), view.legal_form, "legal-form"
                ),
                "company_id": settings_input(
                    _("Company register number (SIREN or SIRET in France)"), view.company_id, "company-id"
                ),
                "vat_number": settings_input(
                    _("VAT number, with its country prefix"), view.vat_number, "org-vat-number"
                ),
                "postcode": settings_input(_("Postcode"), view.postcode, "org-postcode"),
                "city": settings_input(_("City"), view.city, "org-city"),
                "country": country_select(view.country, "org-country"),
            }
            ui.label(_("On invoices issued from France")).classes("font-semibold pt-2")
            natures = {
                "services": _("Provision of services"),
                "goods": _("Sale of goods"),
                "mixed": _("Sale of goods and provision of services"),
            }
            self.inputs["operation_nature"] = (
                ui.select(natures, value=view.operation_nature, label=_("Nature of the operation"))
                .props("outlined")
                .classes("w-full")
                .mark("operation-nature")
            )
            self.inputs["late_penalty_rate"] = settings_input(
                _("Late payment penalty rate, % a year (empty: the ECB's rate plus 10 points)"),
                view.late_penalty_rate,
                "late-penalty-rate",
            )
            self.inputs["early_payment_discount"] = settings_input(
                _("Discount for early payment, % (empty: none)"),
                view.early_payment_discount,
                "early-payment-discount",
            )
            self.franchise = ui.switch(
                _("VAT exemption scheme for small businesses (franchise en base, article 293 B)"),
                value=view.vat_franchise,
            ).mark("vat-franchise")
            ui.label(
                _(
                    "Printed at the foot of each invoice in the client's language, with the fixed 40 € "
                    "recovery indemnity for business clients; under the franchise en base, an invoice "
                    'without VAT also says "VAT not applicable, article 293 B of the French General Tax '
                    'Code".'
                )
            ).classes("text-sm text-gray-600")
            self.vies = ui.switch(
                _("Check clients' VAT numbers with the EU's VIES service when they are saved"),
                value=view.vies_check_enabled,
            ).mark("vies-check")
            ui.label(
                _(
                    'Without an answer from VIES a number is saved as "could not be checked"; saving '
                    "never waits more than a few seconds."
                )
            ).classes("text-sm text-gray-600")
            self.save_button = ui.button(_("Save"), on_click=self.save).mark("save-legal-identity")
            self.feedback = Feedback("legal-identity", dict(self.inputs))

    async def save(self) -> None:
        values = LegalIdentityView(
            **{field: self.inputs[field].value or "" for field in self.inputs},
            vies_check_enabled=bool(self.vies.value),
            vat_franchise=bool(self.franchise.value),
        )
        view = await self.feedback.run(
            self.save_button, lambda: update_legal_identity(actor=self.actor, values=values)
        )
        if view is not None:
            for field, element in self.inputs.items():
                element.set_value(getattr(view, field))
            self.feedback.ok(_("Legal identity saved."))


# -- the uploaded logo ----------------------------------------------------------------------------
async def serve_upload(name: str) -> Response:
    """GET /uploads/{name}: an uploaded logo (always a re-encoded PNG), never anything else."""
    path = organization.uploaded_file(organization.UPLOADS_URL + name)
    if path is None:
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(path, media_type="image/png", headers=UPLOAD_HEADERS)


def register() -> None:
    """Add the organization page and the route serving the uploaded logo."""
    app.add_api_route(
        f"{organization.UPLOADS_URL}{{name}}", serve_upload, methods=["GET"], include_in_schema=False
    )

    @guard.page("/settings/organization", access=guard.Access.admin, title="Organization")
    async def organization_page(actor: Actor) -> None:
        view = await get_organization_settings(actor=actor)
        with signed_in_frame(actor, await branding(), _("Organization")):
            settings_nav("organization")
            OrganizationForm(actor, view)
            LegalIdentityForm(actor, await get_legal_identity(actor=actor))
            LogoCard(actor, view.logo_url)

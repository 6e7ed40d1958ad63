"""The client form of the console: the fields of a client with their errors, the avatar upload, Save."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nicegui import events, ui

from portal import i18n
from portal.clients import profiles
from portal.clients.profiles import ClientForm
from portal.components.country_select import country_select
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidFields, InvalidInput
from portal.i18n import _


def vat_check_text(check: str, checked_at: datetime | None) -> str:
    """What VIES said about a client's VAT number, for the form and the client record."""
    when = i18n.format_date(checked_at)
    if check == "valid":
        return _("VIES: registered ({date}).", date=when)
    if check == "invalid":
        return _("VIES: not registered ({date}); the number is kept, check it with the client.", date=when)
    return _(
        "VIES: could not be checked ({date}); the number's format and check digits are right.", date=when
    )


BUSINESS_ONLY = ("company_id", "vat_number")
COMMON_CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "NZD", "SGD"]


class ClientFormView:
    """The fields of a client, per-field errors, the avatar upload, Save."""

    def __init__(self, actor: Actor, form: ClientForm, client_id: int | None) -> None:
        self.actor = actor
        self.client_id = client_id
        self.avatar: bytes | None = None
        self.remove_avatar = False
        back = "/admin/clients" if client_id is None else f"/admin/clients/{client_id}"
        with ui.card().classes("w-full max-w-2xl gap-3").mark("client-form"):
            self.name = self._input(_("Name"), form.name, "client-name")
            self.company = self._input(_("Company"), form.company, "client-company")
            self.email = self._input(_("Email"), form.email, "client-email").props("type=email")
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.currency = (
                    ui.input(_("Currency (ISO code)"), value=form.currency, autocomplete=COMMON_CURRENCIES)
                    .props("outlined maxlength=3")
                    .classes("w-48")
                    .mark("client-currency")
                )
                self.locale = (
                    ui.select(dict(i18n.LABELS), value=form.locale, label=_("Language of emails and pages"))
                    .props("outlined")
                    .classes("grow")
                    .mark("client-locale")
                )
            self.billing_address = (
                ui.textarea(_("Billing address"), value=form.billing_address)
                .props("outlined autogrow")
                .classes("w-full")
                .mark("client-address")
            )
            self._identity_part(form)
            self.reminders = ui.switch(_("Send payment reminders"), value=form.reminders_enabled).mark(
                "client-reminders"
            )
            self._avatar_part(form)
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("client-form-error")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=lambda: ui.navigate.to(back)).props("flat no-caps").mark(
                    "client-cancel"
                )
                self.save_button = (
                    ui.button(_("Save client"), on_click=self.save).props("no-caps").mark("client-save")
                )
        self.fields: dict[str, Any] = {
            "name": self.name,
            "company": self.company,
            "email": self.email,
            "currency": self.currency,
            "locale": self.locale,
            "billing_address": self.billing_address,
            **self.identity,
        }

    def _identity_part(self, form: ClientForm) -> None:
        """Postcode, city, country; for a business its register and VAT numbers (and what VIES said)."""
        with ui.row().classes("w-full gap-3 no-wrap"):
            postcode = ui.input(_("Postcode"), value=form.postcode).props("outlined").classes("w-36")
            city = ui.input(_("City"), value=form.city).props("outlined").classes("grow")
        self.identity: dict[str, Any] = {
            "postcode": postcode.mark("client-postcode"),
            "city": city.mark("client-city"),
            "country": country_select(form.country, "client-country"),
        }
        self.is_business = ui.switch(_("A business (invoiced with its VAT number)"), value=form.is_business)
        self.is_business.mark("client-business")
        with ui.column().classes("w-full gap-3").bind_visibility_from(self.is_business, "value"):
            self.identity["company_id"] = self._input(
                _("Company register number (SIREN or SIRET in France)"), form.company_id, "client-company-id"
            )
            self.identity["vat_number"] = self._input(
                _("VAT number, with its country prefix"), form.vat_number, "client-vat-number"
            )
            if form.vat_number and form.vat_check:
                ui.label(vat_check_text(form.vat_check, form.vat_checked_at)).classes(
                    "text-sm text-gray-700"
                ).mark("client-vat-check")

    @staticmethod
    def _input(label: str, value: str, marker: str) -> ui.input:
        return ui.input(label, value=value).props("outlined").classes("w-full").mark(marker)

    def _avatar_part(self, form: ClientForm) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            if form.avatar_path:
                self.preview = (
                    ui.image(form.avatar_path).classes("w-16 h-16 rounded-full").mark("avatar-current")
                )
            with ui.column().classes("gap-1 grow"):
                ui.label(_("Avatar: a PNG or JPEG picture of at most 2 MB")).classes("text-sm text-gray-700")
                self.upload = (
                    ui.upload(
                        auto_upload=True,
                        max_file_size=profiles.AVATAR_MAX_BYTES,
                        on_upload=self.on_avatar,
                        on_rejected=self.on_rejected,
                    )
                    .props("accept='.png,.jpg,.jpeg,image/png,image/jpeg' flat bordered")
                    .classes("w-full")
                    .mark("client-avatar")
                )
                self.upload.props["aria-label"] = _("Avatar: a PNG or JPEG picture of at most 2 MB")
                self.avatar_note = ui.label().classes("text-sm").mark("avatar-note")
                self.avatar_error = ui.label().classes("text-sm text-red-700").props("role=alert")
                self.avatar_error.mark("avatar-error")
                if form.avatar_path:
                    ui.button(_("Remove the picture"), on_click=self.on_remove).props(
                        "flat dense no-caps color=red-7"
                    ).mark("avatar-remove")

    async def on_avatar(self, event: events.UploadEventArguments) -> None:
        """Check the picture at once; it is stored (re-encoded) when the client is saved."""
        if event.file.size() > profiles.AVATAR_MAX_BYTES:  # not even read
            self._refuse_avatar(_("The picture is larger than 2 MB; choose a smaller one."))
            return
        data = await event.file.read()
        try:
            profiles.check_avatar(data)
        except InvalidInput as exc:
            self._refuse_avatar(exc.message)
            return
        self.avatar, self.remove_avatar = data, False
        self.avatar_error.set_text("")
        self.avatar_note.set_text(_("{name} will be used once you save.", name=event.file.name))

    def on_rejected(self) -> None:
        """The browser refused the file (too large, or not a PNG or JPEG)."""
        self._refuse_avatar(_("Choose a PNG or JPEG picture of at most 2 MB."))

    def _refuse_avatar(self, message: str) -> None:
        self.avatar = None
        self.avatar_note.set_text("")
        self.avatar_error.set_text(message)

    def on_remove(self) -> None:
        self.avatar, self.remove_avatar = None, True
        self.avatar_error.set_text("")
        self.avatar_note.set_text(_("The picture will be removed once you save."))

    def _form(self) -> ClientForm:
        business = bool(self.is_business.value)
        return ClientForm(
            name=self.name.value or "",
            company=self.company.value or "",
            email=self.email.value or "",
            currency=(self.currency.value or "").upper(),
            billing_address=self.billing_address.value or "",
            locale=self.locale.value or "",
            reminders_enabled=bool(self.reminders.value),
            is_business=business,
            # a person has no register or VAT number: switching "a business" off clears them
            **{
                key: (element.value or "") if business or key not in BUSINESS_ONLY else ""
                for key, element in self.identity.items()
            },
        )

    async def save(self) -> None:
        for element in self.fields.values():
            element.error = None
        self.error.set_text("")
        self.save_button.props("loading")
        try:
            if self.client_id is None:
                saved_id = await profiles.create_client(
                    actor=self.actor, form=self._form(), avatar=self.avatar
                )
            else:
                await profiles.update_client(
                    actor=self.actor,
                    client_id=self.client_id,
                    form=self._form(),
                    avatar=self.avatar,
                    remove_avatar=self.remove_avatar,
                )
                saved_id = self.client_id
        except InvalidFields as exc:
            self._show_errors(exc.errors)
            return
        except InvalidInput as exc:
            self._show_errors({exc.field or "": exc.message})
            return
        except DomainError as exc:
            self.error.set_text(exc.message)
            return
        finally:
            self.save_button.props(remove="loading")
        ui.navigate.to(f"/admin/clients/{saved_id}")

    def _show_errors(self, errors: dict[str, str]) -> None:
        for field_name, message in errors.items():
            if field_name == "avatar":
                self.avatar_error.set_text(message)
            elif field_name in self.fields:
                self.fields[field_name].error = message
            else:
                self.error.set_text(message)
        if not self.error.text:  # near the button, for a field scrolled out of view
            self.error.set_text(_("Check the fields marked in red."))

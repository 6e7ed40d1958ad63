"""Settings (admins only): /settings/organization, /settings/billing, /settings/template,
/settings/reminders and /settings/email, with the tabs shared with /settings/payments; and /uploads/<name>,
which serves the uploaded logo.

Each action calls one service of `portal.settings.general`; its errors are shown next to the field they
belong to, anything else in the form's message line.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from fastapi.responses import FileResponse, PlainTextResponse, Response
from nicegui import app, events, ui

from portal import auth
from portal.components.attributes import set_props
from portal.components.feedback import Feedback
from portal.components.settings_nav import settings_nav
from portal.core import organization
from portal.core.actors import Actor
from portal.core.organization import branding
from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import N_, _
from portal.pages.common import signed_in_frame
from portal.settings import general
from portal.settings.general import (
    BillingView,
    EmailView,
    OrganizationView,
    RemindersView,
    SmtpForm,
    TaxRateView,
    TemplateView,
)

DEFAULT_LOGO = "/static/logo.svg"
UPLOAD_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",  # each upload has a new random name
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": 'inline; filename="logo.png"',
}
PREVIEW_DELAY = 0.6  # seconds without typing before the preview is drawn again
PREVIEW_CHECK = 0.2  # seconds between checks for changes to preview
WHEN_OPTIONS = {
    "before": N_("days before the due date"),
    "on": N_("on the due date"),
    "after": N_("days after the due date"),
}


# -- shared pieces --------------------------------------------------------------------------------
def _input(label: str, value: str, marker: str, **props: str) -> ui.input:
    field = set_props(ui.input(label, value=value).props("outlined"), props)
    return field.classes("w-full").mark(marker)


def _textarea(label: str, value: str, marker: str, *, max_length: int) -> ui.textarea:
    return (
        set_props(
            ui.textarea(label, value=value).props("outlined autogrow counter"), {"maxlength": max_length}
        )
        .classes("w-full")
        .mark(marker)
    )


def _card(title: str) -> ui.card:
    card = ui.card().classes("w-full max-w-3xl gap-3")
    with card:
        ui.label(title).classes("text-lg font-semibold")
    return card


class LogoCard:
    """The logo: what is used now, upload a new one (checked and re-encoded by the service), remove it."""

    def __init__(self, actor: Actor, logo_url: str, on_change: Callable[[], Any] | None = None) -> None:
        self.actor = actor
        self.on_change = on_change
        with _card(_("Logo")):
            ui.label(
                _("PNG or JPEG, at most 1 MB. It is resized to fit in 512 × 512 pixels and stored as a PNG.")
            ).classes("text-sm text-gray-600")
            with ui.row().classes("items-center gap-4"):
                self.image = ui.image(logo_url or DEFAULT_LOGO).classes("w-24 h-24").props("fit=contain")
                self.image.props["alt"] = _("Logo")
                self.image.mark("logo-image")
                self.none = ui.label(_("No logo yet: the portal's own logo is used.")).mark("logo-none")
            self.upload = (
                ui.upload(
                    label=_("Upload a logo"),
                    auto_upload=True,
                    max_file_size=general.LOGO_MAX_BYTES,
                    on_upload=self.uploaded,
                    on_rejected=self.rejected,
                )
                .props('accept=".png,.jpg,.jpeg,image/png,image/jpeg" flat bordered')
                .classes("w-full max-w-md")
                .mark("logo-upload")
            )
            self.remove_button = (
                ui.button(_("Remove logo"), icon="delete", on_click=self.remove)
                .props("flat color=negative no-caps")
                .mark("logo-remove")
            )
            self.feedback = Feedback("logo")
        self.show(logo_url)

    def show(self, url: str) -> None:
        self.image.set_source(url or DEFAULT_LOGO)
        self.none.set_visibility(not url)
        self.remove_button.set_visibility(bool(url))

    async def uploaded(self, event: events.UploadEventArguments) -> None:
        file = event.file
        if file.size() > general.LOGO_MAX_BYTES:  # refused before reading it into memory
            self.feedback.clear()
            self.feedback.fail(InvalidInput(_("The logo is larger than 1 MB. Upload a smaller PNG or JPEG.")))
            self.upload.reset()
            return
        data = await file.read()
        url = await self.feedback.run(None, lambda: general.upload_logo(actor=self.actor, data=data))
        self.upload.reset()
        if url is not None:
            self.show(url)
            self.feedback.ok(_("Logo saved."))
            await self._changed()

    def rejected(self) -> None:
        self.feedback.clear()
        self.feedback.fail(
            InvalidInput(_("Choose a PNG or JPEG file of at most 1 MB (other files are not accepted)."))
        )

    async def remove(self) -> None:
        self.feedback.clear()
        try:
            await general.remove_logo(actor=self.actor)
        except DomainError as exc:
            self.feedback.fail(exc)
            return
        self.show("")
        self.feedback.ok(_("Logo removed: the portal's own logo is used."))
        await self._changed()

    async def _changed(self) -> None:
        if self.on_change is not None:
            result = self.on_change()
            if result is not None:
                await result


# -- organization ---------------------------------------------------------------------------------
class OrganizationForm:
    """Name, billing address and the bank details clients see when they pay by bank transfer."""

    def __init__(self, actor: Actor, view: OrganizationView) -> None:
        self.actor = actor
        with _card(_("Organization")):
            self.name = _input(_("Name"), view.name, "org-name-input", maxlength=str(general.NAME_MAX))
            self.address = _textarea(
                _("Billing address"), view.billing_address, "billing-address", max_length=general.TEXT_MAX
            )
            self.bank = _textarea(
                _("Bank details for transfers"),
                view.bank_details,
                "bank-details",
                max_length=general.TEXT_MAX,
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
            lambda: general.update_organization(
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


# -- billing --------------------------------------------------------------------------------------
class BillingForm:
    """Default currency, automatic use of credit, and the rounding rule in words."""

    def __init__(self, actor: Actor, view: BillingView) -> None:
        self.actor = actor
        with _card(_("Billing")):
            self.currency = (
                ui.select(
                    general.currencies(),
                    label=_("Default currency"),
                    value=view.default_currency,
                    with_input=True,
                )
                .props("outlined")
                .classes("w-full max-w-md")
                .mark("default-currency")
            )
            ui.label(_("New clients and invoices start in this currency.")).classes("text-sm text-gray-600")
            self.credit = ui.switch(
                _("Apply credit automatically to new invoices"), value=view.apply_credit_automatically
            ).mark("apply-credit")
            ui.label(
                _(
                    "When a client has credit in the invoice's currency, it pays the new invoice "
                    "as far as it goes."
                )
            ).classes("text-sm text-gray-600")
            with ui.row().classes("items-start gap-2 no-wrap"):
                ui.icon("calculate").classes("text-gray-500")
                ui.label(_(general.ROUNDING_RULE)).classes("text-sm").mark("rounding-rule")
            self.save_button = ui.button(_("Save"), on_click=self.save).mark("save-billing")
            self.feedback = Feedback("billing", {"default_currency": self.currency})

    async def save(self) -> None:
        view = await self.feedback.run(
            self.save_button,
            lambda: general.update_billing(
                actor=self.actor,
                default_currency=self.currency.value or "",
                apply_credit_automatically=bool(self.credit.value),
            ),
        )
        if view is not None:
            self.feedback.ok(_("Billing settings saved."))


class TaxRates:
    """The tax rates: add, edit (unused ones), archive or restore, delete (unused ones, confirmed)."""

    def __init__(self, actor: Actor, rates: list[TaxRateView]) -> None:
        self.actor = actor
        self.rates = rates
        with _card(_("Tax rates")):
            ui.label(
                _(
                    "A rate used on an invoice or a quote keeps its name and percentage: archive it to stop "
                    "offering it, and add a new rate."
                )
            ).classes("text-sm text-gray-600")
            self.list = ui.column().classes("w-full gap-1").mark("tax-rates")
            ui.separator()
            ui.label(_("Add a tax rate")).classes("font-medium")
            with ui.row().classes("items-start gap-2 w-full"):
                self.new_name = (
                    ui.input(_("Name"), placeholder=_("e.g. VAT"))
                    .props("outlined dense")
                    .classes("w-48")
                    .mark("new-tax-name")
                )
                self.new_rate = (
                    ui.input(_("Rate"), placeholder="20")
                    .props('outlined dense suffix="%" inputmode=decimal')
                    .classes("w-32")
                    .mark("new-tax-rate")
                )
                self.add_button = ui.button(_("Add"), icon="add", on_click=self.add).mark("add-tax-rate")
            self.feedback = Feedback("tax-rates", {"name": self.new_name, "rate": self.new_rate})
        self.edit_dialog()
        self.draw()

    def draw(self) -> None:
        self.list.clear()
        with self.list:
            if not self.rates:
                ui.label(_("No tax rates yet.")).classes("text-gray-600").mark("no-tax-rates")
            for rate in self.rates:
                self._row(rate)

    def _row(self, rate: TaxRateView) -> None:
        marker = f"tax-rate-{rate.id}"
        with ui.row().classes("w-full items-center gap-2 py-1 border-b border-gray-100").mark(marker):
            ui.label(rate.name).classes("font-medium" + (" text-gray-500" if rate.archived else "")).mark(
                f"{marker}-name"
            )
            ui.label(f"{rate.rate}%").mark(f"{marker}-rate")
            if rate.archived:
                ui.badge(_("Archived"), color="grey").mark(f"{marker}-archived")
            if rate.in_use:
                ui.badge(_("In use"), color="blue").props("outline").mark(f"{marker}-in-use")
            ui.space()
            if not rate.in_use:
                ui.button(_("Edit"), on_click=lambda r=rate: self.open_edit(r)).props(
                    "flat dense no-caps"
                ).mark(f"{marker}-edit")
            if rate.archived:
                ui.button(_("Restore"), on_click=lambda r=rate: self.archive(r, False)).props(
                    "flat dense no-caps"
                ).mark(f"{marker}-restore")
            else:
                ui.button(_("Archive"), on_click=lambda r=rate: self.archive(r, True)).props(
                    "flat dense no-caps"
                ).mark(f"{marker}-archive")
            if not rate.in_use:
                ui.button(_("Delete"), on_click=lambda r=rate: self.confirm_delete(r)).props(
                    "flat dense no-caps color=negative"
                ).mark(f"{marker}-delete")

    async def reload(self) -> None:
        rates = await general.list_tax_rates(actor=self.actor, include_archived=True)
        self.rates = rates
        self.draw()

    async def add(self) -> None:
        view = await self.feedback.run(
            self.add_button,
            lambda: general.create_tax_rate(
                actor=self.actor, name=self.new_name.value or "", rate=self.new_rate.value or ""
            ),
        )
        if view is not None:
            self.new_name.set_value("")
            self.new_rate.set_value("")
            await self.reload()
            self.feedback.ok(_("{label} added.", label=view.label))

    async def archive(self, rate: TaxRateView, archived: bool) -> None:
        view = await self.feedback.run(
            None, lambda: general.archive_tax_rate(actor=self.actor, tax_rate_id=rate.id, archived=archived)
        )
        if view is not None:
            await self.reload()
            self.feedback.ok(
                _("{label} archived.", label=view.label)
                if archived
                else _("{label} restored.", label=view.label)
            )

    def edit_dialog(self) -> None:
        with ui.dialog().mark("edit-tax-dialog") as self.dialog, ui.card().classes("w-full max-w-md gap-3"):
            ui.label(_("Edit tax rate")).classes("text-lg font-semibold")
            self.edit_name = ui.input(_("Name")).props("outlined").classes("w-full").mark("edit-tax-name")
            self.edit_rate = (
                ui.input(_("Rate"))
                .props('outlined suffix="%" inputmode=decimal')
                .classes("w-full")
                .mark("edit-tax-rate")
            )
            self.edit_feedback = Feedback("edit-tax", {"name": self.edit_name, "rate": self.edit_rate})
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat").mark("edit-tax-cancel")
                self.edit_save = ui.button(_("Save"), on_click=self.save_edit).mark("edit-tax-save")
        self.editing: TaxRateView | None = None

    def open_edit(self, rate: TaxRateView) -> None:
        self.editing = rate
        self.edit_feedback.clear()
        self.edit_name.set_value(rate.name)
        self.edit_rate.set_value(rate.rate)
        self.dialog.open()

    async def save_edit(self) -> None:
        rate = self.editing
        if rate is None:
            return
        view = await self.edit_feedback.run(
            self.edit_save,
            lambda: general.update_tax_rate(
                actor=self.actor,
                tax_rate_id=rate.id,
                name=self.edit_name.value or "",
                rate=self.edit_rate.value or "",
            ),
        )
        if view is not None:
            self.dialog.close()
            await self.reload()
            self.feedback.ok(_("{label} saved.", label=view.label))

    async def confirm_delete(self, rate: TaxRateView) -> None:
        with ui.dialog().mark("delete-tax-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
            ui.label(_("Delete the tax rate {label}?", label=rate.label)).mark("delete-tax-question")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=lambda: dialog.submit(False)).props("flat").mark(
                    "delete-tax-cancel"
                )
                ui.button(_("Delete"), on_click=lambda: dialog.submit(True)).props("color=negative").mark(
                    "delete-tax-confirm"
                )
        answer = await dialog
        dialog.delete()
        if answer is not True:
            return
        self.feedback.clear()
        try:
            await general.delete_tax_rate(actor=self.actor, tax_rate_id=rate.id)
        except DomainError as exc:
            self.feedback.fail(exc)
            await self.reload()
            return
        await self.reload()
        self.feedback.ok(_("{label} deleted.", label=rate.label))


# -- invoice template -----------------------------------------------------------------------------
class TemplateForm:
    """Theme colour, footer and number pattern, with a live preview of a sample invoice."""

    def __init__(self, actor: Actor, view: TemplateView) -> None:
        self.actor = actor
        self.changed_at: float | None = None
        with ui.row().classes("w-full items-start gap-4"):
            with ui.column().classes("flex-1 min-w-[320px] gap-4"):
                LogoCard(actor, view.logo_url, on_change=self.refresh)
                self.form(view)
            with ui.card().classes("flex-1 min-w-[320px] gap-2"):
                ui.label(_("Preview")).classes("text-lg font-semibold")
                ui.label(
                    _("A sample invoice with the settings as they are on this page, before saving.")
                ).classes("text-sm text-gray-600")
                self.preview = (
                    ui.element("iframe")
                    .classes("w-full h-[720px] border border-gray-200 rounded")
                    .mark("template-preview")
                )
                self.preview.props["title"] = _("Invoice preview")
                self.preview_error = ui.label().classes("text-sm text-gray-600").mark("preview-error")
                self.preview_error.set_visibility(False)

    def form(self, view: TemplateView) -> None:
        with _card(_("Invoice template")):
            with ui.row().classes("items-start gap-2 w-full no-wrap"):
                self.color = _input(_("Theme colour"), view.theme_color, "theme-color", maxlength="7")
                with self.color.add_slot("prepend"):
                    self.swatch = ui.element("div").classes("w-6 h-6 rounded border border-gray-300")
                with self.color.add_slot("append"):
                    with ui.button(icon="palette").props("flat round dense") as pick:
                        ui.color_picker(on_pick=lambda e: self.color.set_value(e.color))
                    pick.props["aria-label"] = _("Pick a colour")
            self.footer = _textarea(_("Footer"), view.footer, "footer", max_length=general.FOOTER_MAX)
            ui.label(
                _("Printed at the bottom of every page: company number, VAT number, a thank-you...")
            ).classes("text-sm text-gray-600")
            self.pattern = _input(
                _("Invoice number pattern"), view.number_pattern, "number-pattern", maxlength="60"
            )
            ui.label(
                _(
                    "Placeholders: {placeholders}. The sequence restarts every year when the pattern "
                    "contains the year, and never otherwise.",
                    placeholders="{YYYY} {YY} {MM} {seq} {seq:04}",
                )
            ).classes("text-sm text-gray-600")
            self.next_number = ui.label().classes("text-sm").mark("next-number")
            self.save_button = ui.button(_("Save"), on_click=self.save).mark("save-template")
            self.feedback = Feedback(
                "template", {"theme_color": self.color, "footer": self.footer, "number_pattern": self.pattern}
            )
        self.show_next(view.next_number)
        self.paint_swatch()
        for element in (self.color, self.footer, self.pattern):
            element.on_value_change(self.changed)

    def show_next(self, number: str) -> None:
        self.next_number.set_text(_("Next invoice number: {number}", number=number) if number else "")

    def paint_swatch(self) -> None:
        try:
            color = general.check_color(self.color.value or "")
        except InvalidInput:
            color = "transparent"
        self.swatch.style["background-color"] = color  # a checked #rrggbb, set as data all the same

    def watch(self) -> None:
        """Start checking for changes to preview (after the first preview: a timer lets the page be sent)."""
        ui.timer(PREVIEW_CHECK, self.tick)

    def changed(self) -> None:
        """Draw the preview again once typing pauses (see `tick`)."""
        self.paint_swatch()
        self.changed_at = time.monotonic()

    async def tick(self) -> None:
        if self.changed_at is not None and time.monotonic() - self.changed_at >= PREVIEW_DELAY:
            self.changed_at = None
            await self.refresh()

    async def refresh(self) -> None:
        """Ask for a new sample invoice with the values on the page; field errors are shown, not saved."""
        self.feedback.clear()
        try:
            preview = await general.preview_invoice_pdf(
                actor=self.actor,
                theme_color=self.color.value or "",
                footer=self.footer.value or "",
                number_pattern=self.pattern.value or "",
            )
        except DomainError as exc:
            self.feedback.fail(exc)
            self.preview_error.set_text(_("The preview shows the last valid settings."))
            self.preview_error.set_visibility(True)
            return
        self.preview_error.set_visibility(False)
        self.show_next(preview.next_number)
        self.preview.props["src"] = "data:application/pdf;base64," + base64.b64encode(preview.pdf).decode()

    async def save(self) -> None:
        view = await self.feedback.run(
            self.save_button,
            lambda: general.update_template(
                actor=self.actor,
                theme_color=self.color.value or "",
                footer=self.footer.value or "",
                number_pattern=self.pattern.value or "",
            ),
        )
        if view is not None:
            self.color.set_value(view.theme_color)
            self.pattern.set_value(view.number_pattern)
            self.show_next(view.next_number)
            self.feedback.ok(_("Invoice template saved."))


# -- reminders ------------------------------------------------------------------------------------
class RemindersForm:
    """On/off for every reminder, and the days around the due date they are sent on."""

    def __init__(self, actor: Actor, view: RemindersView) -> None:
        self.actor = actor
        self.view = view
        with _card(_("Payment reminders")):
            self.enabled = ui.switch(_("Send payment reminders"), value=view.enabled).mark(
                "reminders-enabled"
            )
            self.enabled.on_value_change(self.toggle)
            self.state = ui.label().classes("text-sm text-gray-600").mark("reminders-state")
            ui.label(_("Schedule")).classes("font-medium")
            self.list = ui.column().classes("w-full gap-1").mark("reminder-list")
            ui.separator()
            ui.label(_("Add a reminder")).classes("font-medium")
            with ui.row().classes("items-start gap-2"):
                self.days = (
                    ui.input(_("Days"), value="3")
                    .props("outlined dense inputmode=numeric")
                    .classes("w-24")
                    .mark("reminder-days")
                )
                self.when = (
                    ui.select({key: _(label) for key, label in WHEN_OPTIONS.items()}, value="before")
                    .props("outlined dense")
                    .classes("w-56")
                    .mark("reminder-when")
                )
                self.when.on_value_change(lambda e: self.days.set_visibility(e.value != "on"))
                self.add_button = ui.button(_("Add"), icon="add", on_click=self.add).mark("add-reminder")
            ui.label(
                _("A client whose reminders are switched off on their client record gets none.")
            ).classes("text-sm text-gray-600")
            self.feedback = Feedback("reminders", {"days": self.days, "when": self.when})
        self.show(view)

    def show(self, view: RemindersView) -> None:
        self.view = view
        self.state.set_text(
            _("Reminders are sent on the days below.")
            if view.enabled
            else _("Reminders are off: none are sent.")
        )
        self.list.clear()
        with self.list:
            if not view.offsets:
                ui.label(_("No reminders are scheduled.")).classes("text-gray-600").mark("no-reminders")
            for offset in view.offsets:
                with ui.row().classes("items-center gap-2").mark(f"reminder-{offset}"):
                    ui.icon("notifications").classes("text-gray-500")
                    ui.label(general.describe_offset(offset))
                    remove = ui.button(icon="close", on_click=lambda o=offset: self.remove(o))
                    remove.props("flat round dense").mark(f"remove-reminder-{offset}")
                    remove.props["aria-label"] = _("Remove")

    async def toggle(self, event: events.ValueChangeEventArguments) -> None:
        if bool(event.value) == self.view.enabled:
            return
        view = await self.feedback.run(
            None, lambda: general.set_reminders_enabled(actor=self.actor, enabled=bool(event.value))
        )
        if view is None:
            self.enabled.set_value(self.view.enabled)
            return
        self.show(view)
        self.feedback.ok(_("Reminders switched on.") if view.enabled else _("Reminders switched off."))

    async def add(self) -> None:
        view = await self.feedback.run(
            self.add_button,
            lambda: general.add_reminder(
                actor=self.actor, days=self.days.value or "", when=self.when.value or ""
            ),
        )
        if view is not None:
            self.show(view)
            self.feedback.ok(_("Reminder added."))

    async def remove(self, offset: int) -> None:
        view = await self.feedback.run(None, lambda: general.remove_reminder(actor=self.actor, offset=offset))
        if view is not None:
            self.show(view)
            self.feedback.ok(_("Reminder removed."))


# -- email ----------------------------------------------------------------------------------------
class EmailForm:
    """The server's default SMTP or a custom one; the password is never shown back; a test email."""

    def __init__(self, actor: Actor, view: EmailView) -> None:
        self.actor = actor
        self.view = view
        with _card(_("Email sending")):
            self.mode = (
                ui.radio(
                    {"default": _("Default: the server's mail settings"), "custom": _("Custom SMTP server")},
                    value=view.mode,
                    on_change=lambda: self.show_mode(),
                )
                .props("inline")
                .mark("smtp-mode")
            )
            self.default_box = ui.column().classes("gap-1").mark("smtp-default")
            with self.default_box:
                self.default_lines(view)
            self.custom_box = ui.column().classes("w-full gap-3")
            with self.custom_box:
                self.custom_fields(view)
            self.save_button = ui.button(_("Save"), on_click=self.save).mark("save-email")
            self.feedback = Feedback(
                "email",
                {
                    "host": self.host,
                    "port": self.port,
                    "tls": self.tls,
                    "username": self.username,
                    "password": self.password,
                    "from_address": self.sender,
                    "reply_to": self.reply_to,
                },
            )
        with _card(_("Send a test email")):
            ui.label(
                _("The test uses the settings above as they are on this page, even before you save them.")
            ).classes("text-sm text-gray-600")
            with ui.row().classes("items-start gap-2 w-full"):
                self.test_to = (
                    ui.input(_("Send to"), value=actor.email)
                    .props("outlined type=email")
                    .classes("flex-1 min-w-[240px]")
                    .mark("test-to")
                )
                self.test_button = ui.button(_("Send test email"), icon="send", on_click=self.send_test).mark(
                    "send-test"
                )
            self.test_result = ui.label().props("role=status").classes("break-words").mark("test-result")
            self.test_feedback = Feedback("test", {"test_to": self.test_to})
        self.show(view)

    def default_lines(self, view: EmailView) -> None:
        default = view.default
        tls = _(general.TLS_LABELS.get(default.tls, default.tls))
        ui.label(_("Server: {host}:{port}", host=default.host, port=default.port)).mark("default-server")
        ui.label(_("Secured with: {tls}", tls=tls)).mark("default-tls")
        ui.label(_("From: {address}", address=default.sender)).mark("default-from")
        login = (
            _("Login: {username} (password set)", username=default.username)
            if default.username and default.password_set
            else _("Login: {username}", username=default.username)
            if default.username
            else _("Login: none")
        )
        ui.label(login).mark("default-login")
        ui.label(_("These come from the SMTP_* settings of the server.")).classes("text-sm text-gray-600")

    def custom_fields(self, view: EmailView) -> None:
        with ui.row().classes("w-full gap-2 no-wrap"):
            self.host = _input(_("Server (host)"), view.host, "smtp-host", autocomplete="off")
            self.port = _input(_("Port"), str(view.port), "smtp-port", inputmode="numeric").classes(
                replace="w-28"
            )
        self.tls = (
            ui.select(
                {key: _(label) for key, label in general.TLS_LABELS.items()},
                label=_("Security"),
                value=view.tls,
            )
            .props("outlined")
            .classes("w-full")
            .mark("smtp-tls")
        )
        self.username = _input(_("Username"), view.username, "smtp-username", autocomplete="off")
        self.password = (
            ui.input(_("Password"), password=True, password_toggle_button=True)
            .props("outlined autocomplete=new-password")
            .classes("w-full")
            .mark("smtp-password")
        )
        self.clear_password = ui.checkbox(_("Clear the saved password")).mark("smtp-clear-password")
        self.sender = _input(_("From address"), view.from_address, "smtp-from", type="email")
        self.reply_to = _input(_("Reply-to address (optional)"), view.reply_to, "smtp-reply-to", type="email")

    def show(self, view: EmailView) -> None:
        """Show the stored state: the password field stays empty, its placeholder says if one is saved."""
        self.view = view
        self.password.set_value("")
        self.password.props["placeholder"] = _("••• saved") if view.password_saved else ""
        self.password.props["hint"] = (
            _("Leave empty to keep the saved password.") if view.password_saved else ""
        )
        self.clear_password.set_value(False)
        self.clear_password.set_visibility(view.password_saved)
        self.show_mode()

    def show_mode(self) -> None:
        custom = self.mode.value == "custom"
        self.custom_box.set_visibility(custom)
        self.default_box.set_visibility(not custom)

    def form(self) -> SmtpForm:
        return SmtpForm(
            mode=self.mode.value or "",
            host=self.host.value or "",
            port=self.port.value or "",
            username=self.username.value or "",
            password=self.password.value or "",
            from_address=self.sender.value or "",
            reply_to=self.reply_to.value or "",
            tls=self.tls.value or "",
            clear_password=bool(self.clear_password.value),
        )

    async def save(self) -> None:
        form = self.form()
        view = await self.feedback.run(
            self.save_button, lambda: general.update_email_settings(actor=self.actor, form=form)
        )
        if view is not None:
            self.show(view)
            self.feedback.ok(_("Email settings saved."))

    async def send_test(self) -> None:
        form = self.form()
        self.test_result.set_text("")
        self.feedback.clear()
        self.test_feedback.clear()
        self.test_button.props("loading")
        try:
            result = await general.send_test_email(actor=self.actor, to=self.test_to.value or "", form=form)
        except DomainError as exc:
            problems = getattr(exc, "errors", None) or {getattr(exc, "field", None): exc.message}
            if "test_to" in problems:
                self.test_feedback.fail(InvalidInput(problems.pop("test_to"), field="test_to"))
            if problems:
                self.feedback.fail(general.InvalidFields(problems))
            return
        finally:
            self.test_button.props(remove="loading")
        self.test_result.set_text(result.message)
        self.test_result.classes(replace="break-words " + ("text-green-700" if result.ok else "text-red-700"))
        ui.notify(result.message, type="positive" if result.ok else "negative", multi_line=True)


# -- the uploaded logo ----------------------------------------------------------------------------
async def serve_upload(name: str) -> Response:
    """GET /uploads/{name}: an uploaded logo (always a re-encoded PNG), never anything else."""
    path = organization.uploaded_file(organization.UPLOADS_URL + name)
    if path is None:
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(path, media_type="image/png", headers=UPLOAD_HEADERS)


# -- pages ----------------------------------------------------------------------------------------
def register() -> None:
    """Add the five settings pages and the route serving the uploaded logo."""
    app.add_api_route(
        f"{organization.UPLOADS_URL}{{name}}", serve_upload, methods=["GET"], include_in_schema=False
    )

    @auth.page("/settings/organization", access=auth.Access.admin, title="Organization")
    async def organization_page(actor: Actor) -> None:
        view = await general.get_organization_settings(actor=actor)
        with signed_in_frame(actor, await branding(), _("Organization")):
            settings_nav("organization")
            OrganizationForm(actor, view)
            LogoCard(actor, view.logo_url)

    @auth.page("/settings/billing", access=auth.Access.admin, title="Billing")
    async def billing_page(actor: Actor) -> None:
        view = await general.get_billing_settings(actor=actor)
        with signed_in_frame(actor, await branding(), _("Billing")):
            settings_nav("billing")
            BillingForm(actor, view)
            TaxRates(actor, view.tax_rates)

    @auth.page("/settings/template", access=auth.Access.admin, title="Invoice template")
    async def template_page(actor: Actor) -> None:
        view = await general.get_template(actor=actor)
        with signed_in_frame(actor, await branding(), _("Invoice template")):
            settings_nav("template")
            form = TemplateForm(actor, view)
            await form.refresh()
            form.watch()

    @auth.page("/settings/reminders", access=auth.Access.admin, title="Reminders")
    async def reminders_page(actor: Actor) -> None:
        view = await general.get_reminders(actor=actor)
        with signed_in_frame(actor, await branding(), _("Reminders")):
            settings_nav("reminders")
            RemindersForm(actor, view)

    @auth.page("/settings/email", access=auth.Access.admin, title="Email")
    async def email_page(actor: Actor) -> None:
        view = await general.get_email_settings(actor=actor)
        with signed_in_frame(actor, await branding(), _("Email")):
            settings_nav("email")
            EmailForm(actor, view)

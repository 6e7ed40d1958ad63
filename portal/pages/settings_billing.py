"""/settings/billing (admins only): default currency, automatic credit, receipts for offline payments, and
the tax rates."""

from __future__ import annotations

from nicegui import ui

from portal.components import guard
from portal.components.feedback import Feedback
from portal.components.frame import signed_in_frame
from portal.components.settings_form import settings_card
from portal.components.settings_nav import settings_nav
from portal.core.actors import Actor
from portal.domain.errors import DomainError
from portal.i18n import _
from portal.payments.branding import branding
from portal.settings.billing_and_tax import (
    ROUNDING_RULE,
    BillingView,
    TaxRateView,
    archive_tax_rate,
    create_tax_rate,
    currencies,
    delete_tax_rate,
    get_billing_settings,
    list_tax_rates,
    update_billing,
    update_tax_rate,
)


class BillingForm:
    """Default currency, automatic use of credit, and the rounding rule in words."""

    def __init__(self, actor: Actor, view: BillingView) -> None:
        self.actor = actor
        with settings_card(_("Billing")):
            self.currency = (
                ui.select(
                    currencies(),
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
            self.offline_receipts = ui.switch(
                _("Email a receipt for offline payments"), value=view.email_offline_receipts
            ).mark("offline-receipts")
            ui.label(
                _(
                    "When staff record a cash, bank transfer or cheque payment, the client gets a receipt by "
                    "email, as for payments made online. Refunds always send a refund receipt."
                )
            ).classes("text-sm text-gray-600")
            with ui.row().classes("items-start gap-2 no-wrap"):
                ui.icon("calculate").classes("text-gray-500")
                ui.label(_(ROUNDING_RULE)).classes("text-sm").mark("rounding-rule")
            self.save_button = ui.button(_("Save"), on_click=self.save).mark("save-billing")
            self.feedback = Feedback("billing", {"default_currency": self.currency})

    async def save(self) -> None:
        view = await self.feedback.run(
            self.save_button,
            lambda: update_billing(
                actor=self.actor,
                default_currency=self.currency.value or "",
                apply_credit_automatically=bool(self.credit.value),
                email_offline_receipts=bool(self.offline_receipts.value),
            ),
        )
        if view is not None:
            self.feedback.ok(_("Billing settings saved."))


class TaxRates:
    """The tax rates: add, edit (unused ones), archive or restore, delete (unused ones, confirmed)."""

    def __init__(self, actor: Actor, rates: list[TaxRateView]) -> None:
        self.actor = actor
        self.rates = rates
        with settings_card(_("Tax rates")):
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
        rates = await list_tax_rates(actor=self.actor, include_archived=True)
        self.rates = rates
        self.draw()

    async def add(self) -> None:
        view = await self.feedback.run(
            self.add_button,
            lambda: create_tax_rate(
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
            None, lambda: archive_tax_rate(actor=self.actor, tax_rate_id=rate.id, archived=archived)
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
            lambda: update_tax_rate(
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
            await delete_tax_rate(actor=self.actor, tax_rate_id=rate.id)
        except DomainError as exc:
            self.feedback.fail(exc)
            await self.reload()
            return
        await self.reload()
        self.feedback.ok(_("{label} deleted.", label=rate.label))


def register() -> None:
    """Add the billing settings page."""

    @guard.page("/settings/billing", access=guard.Access.admin, title="Billing")
    async def billing_page(actor: Actor) -> None:
        view = await get_billing_settings(actor=actor)
        with signed_in_frame(actor, await branding(), _("Billing")):
            settings_nav("billing")
            BillingForm(actor, view)
            TaxRates(actor, view.tax_rates)

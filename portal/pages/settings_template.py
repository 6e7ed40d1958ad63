"""/settings/template (admins only): the invoice template with its logo and a live preview."""

from __future__ import annotations

import base64
import time

from nicegui import ui

from portal.components import guard
from portal.components.feedback import Feedback
from portal.components.frame import signed_in_frame
from portal.components.logo_card import LogoCard
from portal.components.settings_form import settings_card, settings_input, settings_textarea
from portal.components.settings_nav import settings_nav
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import _
from portal.payments.branding import branding
from portal.settings.template import (
    FOOTER_MAX,
    TemplateView,
    check_color,
    get_template,
    preview_invoice_pdf,
    update_template,
)

PREVIEW_DELAY = 0.6  # seconds without typing before the preview is drawn again
PREVIEW_CHECK = 0.2  # seconds between checks for changes to preview


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
        with settings_card(_("Invoice template")):
            with ui.row().classes("items-start gap-2 w-full no-wrap"):
                self.color = settings_input(_("Theme colour"), view.theme_color, "theme-color", maxlength="7")
                with self.color.add_slot("prepend"):
                    self.swatch = ui.element("div").classes("w-6 h-6 rounded border border-gray-300")
                with self.color.add_slot("append"):
                    with ui.button(icon="palette").props("flat round dense") as pick:
                        ui.color_picker(on_pick=lambda e: self.color.set_value(e.color))
                    pick.props["aria-label"] = _("Pick a colour")
            self.footer = settings_textarea(_("Footer"), view.footer, "footer", max_length=FOOTER_MAX)
            ui.label(
                _("Printed at the bottom of every page: company number, VAT number, a thank-you...")
            ).classes("text-sm text-gray-600")
            self.pattern = settings_input(
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
            color = check_color(self.color.value or "")
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
            preview = await preview_invoice_pdf(
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
            lambda: update_template(
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


def register() -> None:
    """Add the invoice template page."""

    @guard.page("/settings/template", access=guard.Access.admin, title="Invoice template")
    async def template_page(actor: Actor) -> None:
        view = await get_template(actor=actor)
        with signed_in_frame(actor, await branding(), _("Invoice template")):
            settings_nav("template")
            form = TemplateForm(actor, view)
            await form.refresh()
            form.watch()

"""/settings/reminders (admins only): reminders on or off, and the days they are sent on."""

from __future__ import annotations

from nicegui import events, ui

from portal.components import guard
from portal.components.feedback import Feedback
from portal.components.frame import signed_in_frame
from portal.components.settings_form import settings_card
from portal.components.settings_nav import settings_nav
from portal.core.actors import Actor
from portal.i18n import N_, _
from portal.payments.branding import branding
from portal.settings.reminder_schedule import (
    RemindersView,
    add_reminder,
    describe_offset,
    get_reminders,
    remove_reminder,
    set_reminders_enabled,
)

WHEN_OPTIONS = {
    "before": N_("days before the due date"),
    "on": N_("on the due date"),
    "after": N_("days after the due date"),
}


class RemindersForm:
    """On/off for every reminder, and the days around the due date they are sent on."""

    def __init__(self, actor: Actor, view: RemindersView) -> None:
        self.actor = actor
        self.view = view
        with settings_card(_("Payment reminders")):
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
                    ui.label(describe_offset(offset))
                    remove = ui.button(icon="close", on_click=lambda o=offset: self.remove(o))
                    remove.props("flat round dense").mark(f"remove-reminder-{offset}")
                    remove.props["aria-label"] = _("Remove")

    async def toggle(self, event: events.ValueChangeEventArguments) -> None:
        if bool(event.value) == self.view.enabled:
            return
        view = await self.feedback.run(
            None, lambda: set_reminders_enabled(actor=self.actor, enabled=bool(event.value))
        )
        if view is None:
            self.enabled.set_value(self.view.enabled)
            return
        self.show(view)
        self.feedback.ok(_("Reminders switched on.") if view.enabled else _("Reminders switched off."))

    async def add(self) -> None:
        view = await self.feedback.run(
            self.add_button,
            lambda: add_reminder(actor=self.actor, days=self.days.value or "", when=self.when.value or ""),
        )
        if view is not None:
            self.show(view)
            self.feedback.ok(_("Reminder added."))

    async def remove(self, offset: int) -> None:
        view = await self.feedback.run(None, lambda: remove_reminder(actor=self.actor, offset=offset))
        if view is not None:
            self.show(view)
            self.feedback.ok(_("Reminder removed."))


def register() -> None:
    """Add the reminders page."""

    @guard.page("/settings/reminders", access=guard.Access.admin, title="Reminders")
    async def reminders_page(actor: Actor) -> None:
        view = await get_reminders(actor=actor)
        with signed_in_frame(actor, await branding(), _("Reminders")):
            settings_nav("reminders")
            RemindersForm(actor, view)

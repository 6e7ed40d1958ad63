"""/settings/email (admins only): the server's default SMTP or a custom one, and a test email."""

from __future__ import annotations

from nicegui import ui

from portal.components import guard
from portal.components.feedback import Feedback
from portal.components.frame import signed_in_frame
from portal.components.settings_form import settings_card, settings_input
from portal.components.settings_nav import settings_nav
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidFields, InvalidInput
from portal.i18n import _
from portal.payments.branding import branding
from portal.settings.email import (
    TLS_LABELS,
    EmailView,
    SmtpForm,
    get_email_settings,
    send_test_email,
    update_email_settings,
)


class EmailForm:
    """The server's default SMTP or a custom one; the password is never shown back; a test email."""

    def __init__(self, actor: Actor, view: EmailView) -> None:
        self.actor = actor
        self.view = view
        with settings_card(_("Email sending")):
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
        with settings_card(_("Send a test email")):
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
        tls = _(TLS_LABELS.get(default.tls, default.tls))
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
            self.host = settings_input(_("Server (host)"), view.host, "smtp-host", autocomplete="off")
            self.port = settings_input(_("Port"), str(view.port), "smtp-port", inputmode="numeric").classes(
                replace="w-28"
            )
        self.tls = (
            ui.select(
                {key: _(label) for key, label in TLS_LABELS.items()},
                label=_("Security"),
                value=view.tls,
            )
            .props("outlined")
            .classes("w-full")
            .mark("smtp-tls")
        )
        self.username = settings_input(_("Username"), view.username, "smtp-username", autocomplete="off")
        self.password = (
            ui.input(_("Password"), password=True, password_toggle_button=True)
            .props("outlined autocomplete=new-password")
            .classes("w-full")
            .mark("smtp-password")
        )
        self.clear_password = ui.checkbox(_("Clear the saved password")).mark("smtp-clear-password")
        self.sender = settings_input(_("From address"), view.from_address, "smtp-from", type="email")
        self.reply_to = settings_input(
            _("Reply-to address (optional)"), view.reply_to, "smtp-reply-to", type="email"
        )

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
            self.save_button, lambda: update_email_settings(actor=self.actor, form=form)
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
            result = await send_test_email(actor=self.actor, to=self.test_to.value or "", form=form)
        except DomainError as exc:
            problems = getattr(exc, "errors", None) or {getattr(exc, "field", None): exc.message}
            if "test_to" in problems:
                self.test_feedback.fail(InvalidInput(problems.pop("test_to"), field="test_to"))
            if problems:
                self.feedback.fail(InvalidFields(problems))
            return
        finally:
            self.test_button.props(remove="loading")
        self.test_result.set_text(result.message)
        self.test_result.classes(replace="break-words " + ("text-green-700" if result.ok else "text-red-700"))
        ui.notify(result.message, type="positive" if result.ok else "negative", multi_line=True)


def register() -> None:
    """Add the email settings page."""

    @guard.page("/settings/email", access=guard.Access.admin, title="Email")
    async def email_page(actor: Actor) -> None:
        view = await get_email_settings(actor=actor)
        with signed_in_frame(actor, await branding(), _("Email")):
            settings_nav("email")
            EmailForm(actor, view)

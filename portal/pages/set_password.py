"""/set-password?token=...: a client invited to log in chooses a password (the link works once, 72 hours)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from portal import i18n
from portal.accounts import invitations, passwords
from portal.components.frame import apply_theme
from portal.domain.errors import InvalidInput, NotFound
from portal.i18n import _
from portal.payments.branding import branding

PATH = invitations.SET_PASSWORD_PATH
DONE_URL = "/login?notice=password-set"


def register() -> None:
    """Add /set-password."""

    @ui.page(PATH, title="Set your password")
    async def set_password_page(request: Request, token: str = "") -> None:
        i18n.set_locale(i18n.best_match(request.headers.get("accept-language")))
        target: invitations.SetPasswordTarget | None = None
        refused = ""
        try:
            target = await invitations.check_set_password_token(token=token)
            i18n.set_locale(target.locale)  # the language the invitation was written in
        except NotFound as exc:
            refused = exc.message
        brand = await branding()
        apply_theme(brand)
        with ui.column().classes("w-full min-h-screen items-center justify-center p-4"):
            with ui.card().classes("w-full max-w-sm p-6 gap-4").mark("set-password-card"):
                with ui.row().classes("items-center gap-3"):
                    ui.image(brand.logo_path or "/static/logo.svg").classes("w-10 h-10").props("alt=Logo")
                    ui.label(brand.name).classes("text-xl font-semibold").mark("org-name")
                ui.label(_("Set your password")).classes("text-lg font-semibold")
                if target is None:
                    _refused(refused)
                else:
                    SetPasswordForm(token, target)


def _refused(message: str) -> None:
    """A link that cannot be used: say why, change nothing, offer the sign-in page."""
    ui.label(message).classes("text-red-700").props("role=alert").mark("set-password-refused")
    ui.link(_("Go to the sign-in page"), "/login").mark("to-login")


class SetPasswordForm:
    """Who the link is for, the password twice, and the button."""

    def __init__(self, token: str, target: invitations.SetPasswordTarget) -> None:
        self.token = token
        ui.label(_("For {name} ({email}).", name=target.name, email=target.email)).classes(
            "text-gray-700"
        ).mark("set-password-for")
        ui.label(
            _(
                "Use at least {count} characters. This link works once, until {moment}.",
                count=passwords.MIN_LENGTH,
                moment=i18n.format_datetime(target.expires_at),
            )
        ).classes("text-sm text-gray-600")
        with ui.column().classes("w-full gap-3") as self.box:
            self.password = (
                ui.input(_("New password"), password=True, password_toggle_button=True)
                .props("name=new-password autocomplete=new-password outlined autofocus")
                .classes("w-full")
                .mark("new-password")
            )
            self.confirm = (
                ui.input(_("Repeat the password"), password=True, password_toggle_button=True)
                .props("name=confirm-password autocomplete=new-password outlined")
                .classes("w-full")
                .mark("confirm-password")
            )
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("set-password-error")
            self.button = (
                ui.button(_("Set password"), on_click=self.submit).classes("w-full").mark("set-password")
            )
        self.confirm.on("keydown.enter", self.submit)

    async def submit(self) -> None:
        self.password.error = self.confirm.error = None
        self.error.set_text("")
        self.button.props("loading")
        try:
            await invitations.set_password(
                token=self.token, password=self.password.value or "", confirm=self.confirm.value or ""
            )
        except InvalidInput as exc:
            self.button.props(remove="loading")
            field = {"password": self.password, "confirm": self.confirm}.get(exc.field or "")
            if field is not None:
                field.error = exc.message
            else:
                self.error.set_text(exc.message)
            return
        except NotFound as exc:
            self.box.clear()
            with self.box:
                _refused(exc.message)
            return
        ui.navigate.to(DONE_URL)

"""The sign-in page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from portal import auth
from portal.components.frame import apply_theme
from portal.domain.errors import Conflict, InvalidInput
from portal.services import accounts
from portal.services.organization import branding


def register() -> None:
    """Add /login."""

    @ui.page(auth.LOGIN_PATH, title="Sign in")
    async def login_page(request: Request, next: str = "") -> RedirectResponse | None:
        target = accounts.safe_next(next)
        actor = await auth.current_actor()
        if actor is not None:
            return RedirectResponse(target if target != "/" else auth.home_for(actor), status_code=303)
        brand = await branding()
        apply_theme(brand)
        ip = auth.client_ip(request)

        async def submit() -> None:
            error.set_visibility(False)
            button.props("loading")
            try:
                signed_in = await accounts.authenticate(email=email.value, password=password.value, ip=ip)
            except (InvalidInput, Conflict) as exc:
                error.set_text(exc.message)
                error.set_visibility(True)
                password.set_value("")
                return
            finally:
                button.props(remove="loading")
            await auth.sign_in(signed_in, next_url=target if target != "/" else auth.home_for(signed_in))

        with ui.column().classes("w-full min-h-screen items-center justify-center p-4"):
            with ui.card().classes("w-full max-w-sm p-6 gap-4"):
                with ui.row().classes("items-center gap-3"):
                    ui.image(brand.logo_path or "/static/logo.svg").classes("w-10 h-10").props("alt=Logo")
                    ui.label(brand.name).classes("text-xl font-semibold").mark("org-name")
                ui.label("Sign in to your billing portal").classes("text-gray-600")
                email = (
                    ui.input("Email")
                    .props("type=email name=email autocomplete=username autofocus outlined")
                    .classes("w-full")
                    .mark("email")
                )
                password = (
                    ui.input("Password", password=True, password_toggle_button=True)
                    .props("name=password autocomplete=current-password outlined")
                    .classes("w-full")
                    .mark("password")
                )
                error = ui.label().classes("text-red-700").props("role=alert").mark("login-error")
                error.set_visibility(False)
                button = ui.button("Sign in", on_click=submit).classes("w-full").mark("sign-in")
                email.on("keydown.enter", submit)
                password.on("keydown.enter", submit)
        return None

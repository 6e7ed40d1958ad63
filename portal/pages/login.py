"""The sign-in page, in the language of the browser (Accept-Language) or the one picked on it (?lang=fr)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from portal import i18n
from portal.accounts import sessions
from portal.components import browser_session
from portal.components.attributes import set_props
from portal.components.frame import apply_theme
from portal.domain.errors import Conflict, InvalidInput
from portal.i18n import N_, _
from portal.payments.branding import branding

NOTICES = {"password-set": N_("Your password is set. Sign in with your email and new password.")}


def register() -> None:
    """Add /login."""

    @ui.page(browser_session.LOGIN_PATH, title="Sign in")
    async def login_page(
        request: Request, next: str = "", notice: str = "", lang: str = ""
    ) -> RedirectResponse | None:
        target = sessions.safe_next(next)
        actor = await browser_session.current_actor()
        if actor is not None:
            return RedirectResponse(
                target if target != "/" else browser_session.home_for(actor), status_code=303
            )
        chosen = lang.strip().lower() if lang.strip().lower() in i18n.SUPPORTED else ""
        i18n.set_locale(chosen or i18n.best_match(request.headers.get("accept-language")))
        ui.page_title(_("Sign in"))
        brand = await branding()
        apply_theme(brand)
        ip = browser_session.client_ip(request)

        async def submit() -> None:
            error.set_visibility(False)
            button.props("loading")
            try:
                signed_in = await sessions.authenticate(email=email.value, password=password.value, ip=ip)
            except (InvalidInput, Conflict) as exc:
                error.set_text(exc.message)
                error.set_visibility(True)
                password.set_value("")
                return
            finally:
                button.props(remove="loading")
            await browser_session.sign_in(
                signed_in, next_url=target if target != "/" else browser_session.home_for(signed_in)
            )

        with ui.column().classes("w-full min-h-screen items-center justify-center p-4"):
            with ui.card().classes("w-full max-w-sm p-6 gap-4"):
                with ui.row().classes("items-center gap-3"):
                    ui.image(brand.logo_path or "/static/logo.svg").classes("w-10 h-10").props("alt=Logo")
                    ui.label(brand.name).classes("text-xl font-semibold").mark("org-name")
                ui.label(_("Sign in to your billing portal")).classes("text-gray-600")
                if notice in NOTICES:  # a fixed message chosen by key: nothing from the URL is shown
                    ui.label(_(NOTICES[notice])).classes("text-green-700").props("role=status").mark(
                        "login-notice"
                    )
                email = (
                    ui.input(_("Email"))
                    .props("type=email name=email autocomplete=username autofocus outlined")
                    .classes("w-full")
                    .mark("email")
                )
                password = (
                    ui.input(_("Password"), password=True, password_toggle_button=True)
                    .props("name=password autocomplete=current-password outlined")
                    .classes("w-full")
                    .mark("password")
                )
                error = ui.label().classes("text-red-700").props("role=alert").mark("login-error")
                error.set_visibility(False)
                button = ui.button(_("Sign in"), on_click=submit).classes("w-full").mark("sign-in")
                email.on("keydown.enter", submit)
                password.on("keydown.enter", submit)
            _language_switch(next=next, notice=notice)
        return None


def _language_switch(*, next: str, notice: str) -> None:
    """English | Français: reload this page in the other language (keeping where to go after signing in)."""
    current = i18n.get_locale()
    switch = set_props(
        ui.row().classes("gap-3 text-sm").props("role=navigation"), {"aria-label": _("Language")}
    )
    with switch.mark("language"):
        for code in i18n.SUPPORTED:
            name = i18n.LABELS[code]
            if code == current:
                set_props(ui.label(name).classes("font-semibold"), {"lang": code}).mark(f"lang-{code}")
                continue
            query = urlencode({k: v for k, v in (("next", next), ("notice", notice), ("lang", code)) if v})
            set_props(
                ui.link(name, f"{browser_session.LOGIN_PATH}?{query}"), {"lang": code, "hreflang": code}
            ).mark(f"lang-{code}")

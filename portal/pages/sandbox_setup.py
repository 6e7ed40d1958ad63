"""/sandbox/setup/{session}: the sandbox's stand-in for Stripe Checkout in setup mode (add a card)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from portal import i18n
from portal.components.browser_session import page_locale
from portal.components.card_form import card_fields
from portal.components.frame import apply_theme
from portal.domain.errors import DomainError, NotFound
from portal.i18n import N_, _
from portal.payments import methods
from portal.payments.branding import branding

SETUP_TEST_CARDS = N_(
    "Sandbox: use 4242 4242 4242 4242 (saved) or 4000 0000 0000 0002 (declined), "
    "any future expiry and any CVC."
)


def register() -> None:
    """Add /sandbox/setup/{session_id}."""

    @ui.page("/sandbox/setup/{session_id}", title="Sandbox: add a card")
    async def sandbox_setup_page(request: Request, session_id: str) -> None:
        i18n.set_locale(await page_locale(request))
        ui.page_title(_("Sandbox: add a card"))
        apply_theme(await branding())
        with ui.column().classes("w-full min-h-screen p-4 justify-center"):
            card = ui.card().classes("w-full max-w-xl mx-auto p-6 gap-3")
        with card:
            title = ui.label(_("Add a card")).classes("text-xl font-semibold").mark("setup-title")
            try:
                page = await methods.sandbox_setup_page(session_id=session_id)
            except NotFound as exc:
                ui.label(exc.message).mark("setup-not-found")
                return
            if page.locale and page.locale != i18n.get_locale():
                # the language the client asked for the card page in: redraw the title in it
                i18n.set_locale(page.locale)
                ui.page_title(_("Sandbox: add a card"))
                title.set_text(_("Add a card"))
            ui.badge(_("Sandbox: no real card is stored"), color="orange").props("outline").mark(
                "gateway-mode"
            )
            if page.status != "open":
                ui.label(_("This card is already saved.")).mark("setup-done")
                ui.link(_("Back to your billing page"), page.return_url).mark("setup-back")
                return
            ui.label(_("Save a card for your invoices and subscriptions. Nothing is charged now.")).classes(
                "text-gray-600"
            )
            card = card_fields(SETUP_TEST_CARDS)
            error = ui.label().classes("text-red-700").props("role=alert").mark("setup-error")

            async def submit() -> None:
                error.set_text("")
                button.props("loading")
                number, month, year, cvc = card.values()
                try:
                    result = await methods.complete_sandbox_setup(
                        session_id=session_id, number=number, exp_month=month, exp_year=year, cvc=cvc
                    )
                except DomainError as exc:
                    error.set_text(exc.message)
                    return
                finally:
                    button.props(remove="loading")
                if result.ok:
                    ui.navigate.to(result.redirect_url)
                else:
                    error.set_text(result.message)

            button = ui.button(_("Save card"), on_click=submit).classes("w-full").mark("setup-save")
            ui.link(_("Cancel and go back"), page.return_url).mark("setup-cancel")

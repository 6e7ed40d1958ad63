"""The "View as client" button and its reason dialog (admins only)."""

from __future__ import annotations

from nicegui import ui

from portal.components.browser_session import start_impersonation
from portal.config import get_settings
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import _


def impersonate_button(actor: Actor, *, client_id: int, client_name: str) -> None:
    """Render the button for admins (nothing for staff); it asks for a reason and starts the session."""
    if not actor.is_admin:
        return
    minutes = get_settings().impersonation_minutes
    with ui.dialog() as dialog, ui.card().classes("w-full max-w-md gap-3").mark("impersonate-dialog"):
        ui.label(_("View the portal as {name}", name=client_name)).classes("text-lg font-semibold")
        ui.label(
            _(
                "You will see {name}'s My Billing page as they see it. Everything you do is recorded under "
                "your name, {name} will see this visit and its reason in their access history, and the view "
                "ends by itself after {minutes} minutes.",
                name=client_name,
                minutes=minutes,
            )
        ).classes("text-sm text-gray-700")
        reason = (
            ui.textarea(
                _("Reason"), placeholder=_("For example: ticket 1234, the client cannot see an invoice")
            )
            .props("outlined autogrow maxlength=500 counter")
            .classes("w-full")
            .mark("impersonate-reason")
        )
        error = ui.label().classes("text-red-700").props("role=alert").mark("impersonate-error")
        error.set_visibility(False)

        async def submit() -> None:
            reason.error = None
            error.set_visibility(False)
            start.props("loading")
            try:
                await start_impersonation(actor, client_id=client_id, reason=reason.value or "")
            except InvalidInput as exc:
                if exc.field == "reason":
                    reason.error = exc.message
                else:
                    error.set_text(exc.message)
                    error.set_visibility(True)
                return
            except DomainError as exc:
                error.set_text(exc.message)
                error.set_visibility(True)
                return
            finally:
                start.props(remove="loading")
            dialog.close()

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps").mark("impersonate-cancel")
            start = ui.button(_("Start viewing"), on_click=submit).props("no-caps").mark("impersonate-start")

    ui.button(_("View as client"), icon="visibility", on_click=dialog.open).props("outline no-caps").mark(
        "impersonate"
    )

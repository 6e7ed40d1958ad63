"""The new-credit-request dialog."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta

from nicegui import ui

from portal import i18n
from portal.clients import profiles
from portal.core.actors import Actor
from portal.core.clock import today
from portal.domain.errors import DomainError, InvalidFields
from portal.domain.money import format_money, parse_amount
from portal.i18n import _
from portal.payments import credit_requests

OnDone = Callable[[], Awaitable[None] | None]
DUE_IN_DAYS = 14


class CreditRequestDialog:
    """Ask a client to prepay an amount that becomes credit once paid."""

    def __init__(self, actor: Actor, profile: profiles.ClientProfile, on_done: OnDone | None) -> None:
        self.actor = actor
        self.profile = profile
        self.on_done = on_done
        self.locale = i18n.get_locale()
        self.busy = False
        with ui.context.client.content:  # outside the caller's parts, which `on_done` may redraw
            self.dialog = ui.dialog().mark("credit-request-dialog")
        self.dialog.on("hide", self._remove)
        with self.dialog, ui.card().classes("w-full max-w-md gap-3"):
            ui.label(_("Ask {client} to add credit", client=profile.name)).classes("text-lg font-semibold")
            ui.label(
                _("The client is emailed a payment link; what they pay becomes credit on their account.")
            ).classes("text-sm text-gray-600")
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.amount = (
                    ui.input(_("Amount"))
                    .props("outlined inputmode=decimal autocomplete=off")
                    .classes("grow")
                    .mark("credit-request-amount")
                )
                self.currency = (
                    ui.input(_("Currency"), value=profile.currency)
                    .props("outlined maxlength=3 autocomplete=off")
                    .classes("w-28")
                    .mark("credit-request-currency")
                )
            self.description = (
                ui.input(_("Description"), placeholder=_("Account credit"))
                .props("outlined maxlength=300")
                .classes("w-full")
                .mark("credit-request-description")
            )
            self.due_date = (
                ui.input(_("Due date"), value=(today() + timedelta(days=DUE_IN_DAYS)).isoformat())
                .props("outlined type=date")
                .classes("w-full")
                .mark("credit-request-due-date")
            )
            self.due_date.props["min"] = today().isoformat()
            self.message = (
                ui.label().classes("text-red-700").props("role=alert").mark("credit-request-message")
            )
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat no-caps")
                self.submit = (
                    ui.button(_("Send credit request"), on_click=self.send)
                    .props("no-caps")
                    .mark("credit-request-submit")
                )
        self.fields = {
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "due_date": self.due_date,
        }

    def _remove(self) -> None:
        if not self.dialog.is_deleted:
            self.dialog.delete()

    def open(self) -> None:
        self.dialog.open()

    def show_error(self, exc: DomainError) -> None:
        """Each wrong field says why, all at once; anything else goes under the form."""
        problems = (
            exc.errors if isinstance(exc, InvalidFields) else {getattr(exc, "field", None): exc.message}
        )
        marked = False
        for field, message in problems.items():
            if field in self.fields:
                self.fields[field].error = message
                marked = True
            else:
                self.message.set_text(message)
        if marked and not self.message.text:
            self.message.set_text(_("Please correct the fields marked in red. Nothing was sent."))

    async def send(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.submit.set_enabled(False)
        self.submit.props("loading")
        for element in self.fields.values():
            element.error = None
        self.message.set_text("")
        currency = (self.currency.value or "").strip().upper() or self.profile.currency
        try:
            await credit_requests.create_credit_request(
                actor=self.actor,
                client_id=self.profile.id,
                amount_text=self.amount.value or "",
                locale=self.locale,
                currency=currency,
                description=self.description.value or "",
                due_date_text=self.due_date.value or "",
            )
            amount = parse_amount(self.amount.value or "", currency, self.locale)
        except DomainError as exc:
            self.show_error(exc)
            self.busy = False
            self.submit.set_enabled(True)
            return
        finally:
            self.submit.props(remove="loading")
        ui.notify(
            _(
                "Credit request for {amount} sent to {email}.",
                amount=format_money(amount, currency, self.locale),
                email=self.profile.email,
            ),
            type="positive",
        )
        self.dialog.close()
        if self.on_done is not None:
            result = self.on_done()
            if inspect.isawaitable(result):
                await result


async def open_new_credit_request(actor: Actor, *, client_id: int, on_done: OnDone | None = None) -> None:
    """Open the dialog; `on_done` runs after the request is created."""
    try:
        profile = await profiles.get_profile(actor=actor, client_id=client_id)
    except DomainError as exc:
        ui.notify(exc.message, type="negative")
        return
    CreditRequestDialog(actor, profile, on_done).open()

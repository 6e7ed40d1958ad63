"""Subscribe a client to a plan with one of their stored methods."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable

from nicegui import ui

from portal import i18n
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidFields, InvalidInput
from portal.domain.money import format_money
from portal.i18n import _
from portal.subscriptions import subscribe
from portal.subscriptions.plans import PlanView
from portal.subscriptions.subscribe import SubscribeOptions, SubscribeResult

OnDone = Callable[[], Awaitable[None] | None]


def plan_option(plan: PlanView) -> str:
    """'Website Care · $49.00 per month'."""
    price = format_money(plan.amount_minor, plan.currency, i18n.get_locale())
    return _("{plan} · {price} {period}", plan=plan.name, price=price, period=plan.period_label)


class SubscribeDialog:
    """The dialog's parts; one idempotency key per opening (a new one only after a decline)."""

    def __init__(self, actor: Actor, options: SubscribeOptions) -> None:
        self.actor = actor
        self.options = options
        self.key = secrets.token_urlsafe(24)
        self.plans = {p.id: p for p in options.plans}
        self.dialog = ui.dialog().props("persistent").mark("subscribe-dialog")
        with self.dialog, ui.card().classes("w-full max-w-lg gap-3"):
            self._build()

    def _build(self) -> None:
        name = self.options.client_name
        ui.label(_("Subscribe {client} to a plan", client=name)).classes("text-lg font-semibold").mark(
            "subscribe-title"
        )
        if self.options.mode == "sandbox":
            ui.badge(_("Sandbox: no real card is charged"), color="orange").props("outline").mark(
                "subscribe-sandbox"
            )
        self.plan = (
            ui.select(
                {p.id: plan_option(p) for p in self.options.plans},
                label=_("Plan"),
                on_change=self._show_summary,
            )
            .props("outlined")
            .classes("w-full")
            .mark("subscribe-plan")
        )
        if not self.options.plans:
            ui.label(_("No plan is on offer: create one on the Plans page first.")).classes(
                "text-sm text-gray-600"
            ).mark("subscribe-no-plan")
        methods = {m.id: m.label for m in self.options.methods}
        default = next((m.id for m in self.options.methods if m.is_default), None)
        self.method = (
            ui.select(methods, label=_("Card to charge"), value=default)
            .props("outlined")
            .classes("w-full")
            .mark("subscribe-method")
        )
        if not methods:
            ui.label(
                _(
                    "{client} has no saved card for the current payment account: "
                    "they can add one on their billing page.",
                    client=name,
                )
            ).classes("text-sm text-gray-600").mark("subscribe-no-card")
        self.summary = ui.label().classes("text-sm text-gray-700").mark("subscribe-summary")
        self.confirm_currency = ui.checkbox().mark("subscribe-confirm-currency")
        self.currency_error = ui.label().classes("text-sm text-red-700").mark("subscribe-currency-error")
        self._show_summary()
        self.error = ui.label().classes("text-red-700").props("role=alert").mark("subscribe-error")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(_("Cancel"), on_click=lambda: self.dialog.submit(None)).props("flat no-caps").mark(
                "subscribe-cancel"
            )
            self.button = (
                ui.button(_("Subscribe"), on_click=self.submit).props("no-caps").mark("subscribe-confirm")
            )
            self.button.set_enabled(bool(methods and self.options.plans))

    def _show_summary(self) -> None:
        plan = self.plans.get(self.plan.value) if self.plan.value is not None else None
        if hasattr(self, "confirm_currency"):
            self._ask_currency(plan)
        if plan is None:
            self.summary.set_text(
                _("The first period is charged to the card now; the gateway charges the next ones.")
            )
            return
        price = format_money(plan.amount_minor, plan.currency, i18n.get_locale())
        self.summary.set_text(
            _(
                "{price} is charged to the card now for the first period, then {price} {period}.",
                price=price,
                period=plan.period_label,
            )
        )

    def _ask_currency(self, plan: PlanView | None) -> None:
        """A plan in another currency than the client's: an explicit tick naming both currencies."""
        other = plan is not None and plan.currency != self.options.client_currency
        self.confirm_currency.set_value(False)
        self.currency_error.set_text("")
        self.confirm_currency.set_visibility(other)
        if plan is not None and other:
            self.confirm_currency.set_text(
                _(
                    "Charge {client} in {plan_currency}, although their account is in {client_currency}",
                    client=self.options.client_name,
                    plan_currency=plan.currency,
                    client_currency=self.options.client_currency,
                )
            )

    def _clear(self) -> None:
        self.plan.error = None
        self.method.error = None
        self.currency_error.set_text("")
        self.error.set_text("")

    def _show_errors(self, exc: DomainError) -> None:
        """Each wrong field says why, all at once."""
        if isinstance(exc, InvalidFields):
            problems = exc.errors
        else:
            problems = {exc.field if isinstance(exc, InvalidInput) else "": exc.message}
        for field, message in problems.items():
            if field == "plan":
                self.plan.error = message
            elif field == "method":
                self.method.error = message
            elif field == "confirm_currency":
                self.currency_error.set_text(message)
            else:
                self.error.set_text(message)

    async def submit(self) -> None:
        self._clear()
        self.button.set_enabled(False)
        self.button.props("loading")
        try:
            result = await subscribe.subscribe(
                actor=self.actor,
                client_id=self.options.client_id,
                plan_id=self.plan.value,
                method_id=self.method.value,
                idempotency_key=self.key,
                confirm_currency=bool(self.confirm_currency.value),
            )
        except DomainError as exc:
            self._show_errors(exc)
            return
        finally:
            self.button.props(remove="loading")
            self.button.set_enabled(True)
        if result.status == "declined":
            self.method.error = result.message
            self.key = secrets.token_urlsafe(24)  # nothing started: the next press is a new attempt
            return
        if result.status != "active":
            self.error.set_text(result.message)  # same key: pressing again finishes, never charges twice
            return
        self.dialog.submit(result)


async def open_subscribe(actor: Actor, *, client_id: int, on_done: OnDone | None = None) -> None:
    """Open the dialog; `on_done` runs after the subscription starts."""
    try:
        options = await subscribe.subscribe_options(actor=actor, client_id=client_id)
    except DomainError as exc:
        ui.notify(exc.message, type="negative")
        return
    view = SubscribeDialog(actor, options)
    view.dialog.open()
    result = await view.dialog
    if not view.dialog.is_deleted:
        view.dialog.delete()
    if not isinstance(result, SubscribeResult) or not result.ok:
        return
    ui.notify(result.message, type="positive")
    if on_done is not None:
        done = on_done()
        if inspect.isawaitable(done):
            await done

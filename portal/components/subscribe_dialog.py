"""Subscribe a client to a plan with one of their stored methods."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable

from nicegui import ui

from portal import i18n
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput
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

    def _clear(self) -> None:
        self.plan.error = None
        self.method.error = None
        self.error.set_text("")

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
            )
        except DomainError as exc:
            field = exc.field if isinstance(exc, InvalidInput) else None
            if field == "plan":
                self.plan.error = exc.message
            elif field == "method":
                self.method.error = exc.message
            else:
                self.error.set_text(exc.message)
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

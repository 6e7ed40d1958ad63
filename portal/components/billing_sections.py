"""Parts of My Billing: the saved payment methods and the subscriptions, each refreshing itself after an
action (the dashboard draws the card and title around each)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from nicegui import ui

from portal import i18n
from portal.components.badges import status_badge
from portal.components.confirm import confirm
from portal.components.live_updates import Announcer
from portal.core.actors import Actor
from portal.domain.errors import DomainError
from portal.domain.money import format_money
from portal.i18n import _
from portal.payments import methods
from portal.payments.methods import MethodView
from portal.subscriptions import client_subscriptions
from portal.subscriptions.client_subscriptions import SubscriptionView


def _day(value: date) -> str:
    """'5 May 2027' / '5 mai 2027'."""
    return i18n.format_date(value)


# -- payment methods ------------------------------------------------------------------------------
async def payment_methods_section(
    actor: Actor,
    announcer: Announcer,
    *,
    on_change: Callable[[], object],
    shown: Callable[[list[MethodView]], None] | None = None,
) -> None:
    """The client's saved cards: default and expiry badges, make default, delete (confirmed; a card that
    pays a running subscription says why it stays instead), add a card. After a change `on_change` redraws
    the page's live sections; what was done is said by `announcer`. `shown` hears the cards drawn."""
    client_id = actor.client_id
    if client_id is None:
        return

    async def add_card() -> None:
        announcer.clear()
        add_button.props("loading")
        try:
            url = await methods.start_add_card(actor=actor, return_url="/billing")
        except DomainError as exc:
            announcer.say(exc.message, ok=False)
            return
        finally:
            if not add_button.is_deleted:
                add_button.props(remove="loading")
        ui.navigate.to(url)

    async def make_default(method: MethodView) -> None:
        announcer.clear()
        try:
            await methods.make_default(actor=actor, method_id=method.id)
        except DomainError as exc:
            announcer.say(exc.message, ok=False)
        else:
            announcer.say(_("{card} is now your default card.", card=method.label))
        on_change()

    async def delete(method: MethodView) -> None:
        announcer.clear()
        with announcer.place():
            sure = await confirm(
                _("Delete {card}? You can add it again later.", card=method.label),
                yes=_("Delete"),
                no=_("Keep it"),
                marker="method-delete",
            )
        if not sure:
            return
        try:
            await methods.delete_method(actor=actor, method_id=method.id)
        except DomainError as exc:
            announcer.say(exc.message, ok=False)
        else:
            announcer.say(_("{card} was deleted.", card=method.label))
        on_change()

    rows = await methods.list_methods(actor=actor, client_id=client_id)
    if shown is not None:
        shown(rows)
    with ui.column().classes("w-full gap-2").mark("methods-list"):
        if not rows:
            ui.label(_("No saved cards yet.")).classes("text-gray-600").mark("no-methods")
        for method in rows:
            _method_row(method, make_default, delete)
    add_button = ui.button(_("Add a card"), icon="add", on_click=add_card).props("outline no-caps")
    add_button.mark("method-add")


def _method_row(
    method: MethodView,
    make_default: Callable[[MethodView], Awaitable[None]],
    delete: Callable[[MethodView], Awaitable[None]],
) -> None:
    """One saved method: its name, expiry and badges; Make default; Delete, or why it cannot be deleted."""
    with ui.column().classes("w-full gap-0").mark(f"method-{method.id}"):
        with ui.row().classes("w-full items-center justify-between gap-2"):
            with ui.row().classes("items-center gap-2"):
                ui.icon("credit_card" if method.kind == "card" else "account_balance").classes(
                    "text-gray-600"
                )
                ui.label(method.label).classes("font-medium tabular-nums")
                if method.expiry:
                    ui.label(_("Expires {date}", date=method.expiry)).classes("text-sm text-gray-600")
                if method.is_default:
                    ui.badge(_("Default"), color="primary").props("rounded").mark(
                        f"method-default-{method.id}"
                    )
                if method.expired:
                    ui.badge(_("Expired"), color="red").props("rounded").mark(f"method-expired-{method.id}")
                elif method.expires_soon:
                    ui.badge(_("Expires soon"), color="orange").props("rounded").mark(
                        f"method-expires-soon-{method.id}"
                    )
            with ui.row().classes("items-center gap-1"):
                if not method.is_default:
                    ui.button(_("Make default"), on_click=lambda m=method: make_default(m)).props(
                        "flat dense no-caps"
                    ).mark(f"method-make-default-{method.id}")
                if not method.kept_because:
                    ui.button(_("Delete"), on_click=lambda m=method: delete(m)).props(
                        "flat dense no-caps color=red-7"
                    ).mark(f"method-delete-{method.id}")
        if method.kept_because:
            ui.label(method.kept_because).classes("text-sm text-gray-600").mark(f"method-kept-{method.id}")


# -- subscriptions --------------------------------------------------------------------------------
async def _manage(
    actor: Actor, sub: SubscriptionView, announcer: Announcer, on_change: Callable[[], object]
) -> None:
    """The Manage dialog of one subscription: change its card, cancel at the period end (confirmed), resume.
    Made for this subscription alone (on the page, not in the section a redraw replaces) and removed when
    closed; a change closes it and the page says what was done."""
    client_id = actor.client_id
    assert client_id is not None
    cards = await methods.list_methods(actor=actor, client_id=client_id)
    options = {m.id: f"{m.label} ({m.expiry})" if m.expiry else m.label for m in cards}

    async def run(
        action: Callable[[], Awaitable[SubscriptionView]], done: Callable[[SubscriptionView], str]
    ) -> None:
        try:
            changed = await action()
        except DomainError as exc:
            message.set_text(exc.message)
            return
        dialog.submit(True)
        announcer.say(done(changed))
        on_change()

    async def change_method() -> None:
        if select.value is None:
            message.set_text(_("Choose a card first."))
            return
        method_id = int(select.value)
        await run(
            lambda: client_subscriptions.change_method(
                actor=actor, subscription_id=sub.id, method_id=method_id
            ),
            lambda changed: _(
                "{name} is now paid with {card}.", name=changed.name, card=changed.method_label
            ),
        )

    def ask_cancel() -> None:
        cancel_button.set_visibility(False)
        confirm_box.set_visibility(True)

    def keep() -> None:
        cancel_button.set_visibility(True)
        confirm_box.set_visibility(False)

    async def cancel() -> None:
        await run(
            lambda: client_subscriptions.cancel_at_period_end(actor=actor, subscription_id=sub.id),
            lambda changed: _(
                "{name}: {when}. Nothing more will be charged.", name=changed.name, when=_when(changed)
            ),
        )

    async def resume() -> None:
        await run(
            lambda: client_subscriptions.resume(actor=actor, subscription_id=sub.id),
            lambda changed: _("{name} continues. {when}.", name=changed.name, when=_when(changed)),
        )

    place = announcer.place()
    with place, ui.dialog().mark("subscription-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
        ui.label(sub.name).classes("text-lg font-semibold").mark("subscription-dialog-title")
        ui.label(_when(sub)).classes("text-gray-600").mark("subscription-dialog-summary")
        ui.label(_("Change payment method")).classes("font-medium")
        with ui.row().classes("w-full items-center no-wrap"):
            value = sub.method_id if sub.method_id in options else None
            select = (
                ui.select(options, value=value, label=_("Card")).classes("grow").mark("subscription-method")
            )
            ui.button(_("Save"), on_click=change_method).props("no-caps").mark("subscription-save-method")
        message = ui.label().classes("text-red-700").props("role=alert").mark("subscription-message")
        ui.separator()
        if sub.cancel_at_period_end:
            ui.button(_("Resume"), on_click=resume).props("no-caps color=green-7").mark("subscription-resume")
        else:
            cancel_button = ui.button(_("Cancel at period end"), on_click=ask_cancel)
            cancel_button.props("flat no-caps color=red-7").mark("subscription-cancel")
            with ui.column().classes("w-full gap-2") as confirm_box:
                if sub.next_payment_on:
                    question = _(
                        "Your subscription stays active until the end of the period you paid for ({date}); "
                        "nothing more is charged after that. Cancel it at the period end?",
                        date=_day(sub.next_payment_on),
                    )
                else:
                    question = _(
                        "Your subscription stays active until the end of the period you paid for; "
                        "nothing more is charged after that. Cancel it at the period end?"
                    )
                ui.label(question).mark("subscription-cancel-question")
                with ui.row().classes("w-full justify-end"):
                    ui.button(_("Keep subscription"), on_click=keep).props("flat no-caps").mark(
                        "subscription-cancel-keep"
                    )
                    ui.button(_("Cancel at period end"), on_click=cancel).props("no-caps color=red-7").mark(
                        "subscription-cancel-confirm"
                    )
            confirm_box.set_visibility(False)
        with ui.row().classes("w-full justify-end"):
            ui.button(_("Close"), on_click=dialog.close).props("flat").mark("subscription-close")
    await dialog
    if not dialog.is_deleted:
        dialog.delete()


def _when(sub: SubscriptionView) -> str:
    """'Next payment on 5 May 2027', 'Ends on 5 May 2027', or the status of one that has ended."""
    if sub.ends_on:
        return _("Ends on {date}", date=_day(sub.ends_on))
    if sub.next_payment_on:
        return _("Next payment on {date}", date=_day(sub.next_payment_on))
    return _("Ended") if sub.status == "canceled" else ""


async def subscriptions_section(
    actor: Actor,
    announcer: Announcer,
    *,
    on_change: Callable[[], object],
    shown: Callable[[list[SubscriptionView]], None] | None = None,
) -> None:
    """The client's subscriptions, each with its price, status, next payment (or end) and card; Manage.
    After a change `on_change` redraws the page's live sections; `shown` hears the subscriptions drawn."""
    client_id = actor.client_id
    if client_id is None:
        return
    subs = await client_subscriptions.list_subscriptions(actor=actor, client_id=client_id)
    if shown is not None:
        shown(subs)
    with ui.column().classes("w-full gap-2").mark("subscriptions-list"):
        if not subs:
            ui.label(_("You have no subscriptions.")).classes("text-gray-600").mark("no-subscriptions")
        for sub in subs:
            _subscription_row(actor, sub, announcer, on_change)


def _subscription_row(
    actor: Actor, sub: SubscriptionView, announcer: Announcer, on_change: Callable[[], object]
) -> None:
    price = f"{format_money(sub.amount_minor, sub.currency, i18n.get_locale())} {sub.interval_label}"
    with ui.row().classes("w-full items-center justify-between gap-2").mark(f"subscription-{sub.id}"):
        with ui.column().classes("gap-0"):
            with ui.row().classes("items-center gap-2"):
                ui.label(sub.name).classes("font-medium")
                status_badge(sub.status)
            ui.label(price).classes("tabular-nums").mark(f"subscription-price-{sub.id}")
            ui.label(_when(sub)).classes("text-sm text-gray-600").mark(f"subscription-when-{sub.id}")
            if sub.method_label:
                ui.label(_("Paid with {card}", card=sub.method_label)).classes("text-sm text-gray-600").mark(
                    f"subscription-method-{sub.id}"
                )
        if sub.is_live:
            ui.button(_("Manage"), on_click=lambda s=sub: _manage(actor, s, announcer, on_change)).props(
                "outline no-caps"
            ).mark(f"subscription-manage-{sub.id}")

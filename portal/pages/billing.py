"""/billing: the client's "My Billing" dashboard.

Header (avatar, name, company, plans); one to-do panel (what to pay with Pay now, estimates and
proposals to decide, cards about to expire, credit to use); subscriptions; payment methods; a link to the
history. Parts refresh by themselves when a payment for this client is recorded anywhere in the process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import background_tasks, ui

from portal import i18n
from portal.billing import quotes
from portal.clients import dashboard, profiles
from portal.clients.dashboard import Payable
from portal.components import billing_sections, guard
from portal.components.badges import money_label
from portal.components.frame import signed_in_frame
from portal.components.live_updates import Announcer, follow_events, live_method
from portal.components.pay_dialog import PayDialog
from portal.components.payables_table import payables_table
from portal.components.quote_decision import decision_notice
from portal.components.quote_table import quotes_table
from portal.core.actors import Actor
from portal.domain.errors import DomainError
from portal.domain.money import format_money
from portal.i18n import _
from portal.payments import ledger, methods
from portal.payments.branding import Branding, branding
from portal.subscriptions import client_subscriptions

LIVE_EVENTS = (
    "payment.recorded",
    "payment.failed",
    "payment.refunded",
    "quote.decided",
    "subscription.changed",
)

# the to-do shows the oldest due few; the rest are counted and one click away (/billing/open)
TODO_ROWS = 10


def _header(profile: profiles.ClientProfile) -> None:
    with ui.card().classes("w-full"), ui.row().classes("items-center gap-4 no-wrap"):
        if profile.avatar_path:
            avatar = ui.image(profile.avatar_path).classes("w-14 h-14 rounded-full").mark("avatar")
            avatar.props["alt"] = profile.name  # as data: a quote in the name stays part of the text
        else:
            with ui.avatar(color="primary", text_color="white").mark("avatar"):
                ui.label(profile.initials).classes("text-base font-semibold")
        with ui.column().classes("gap-0"):
            ui.label(profile.name).classes("text-lg font-semibold").mark("client-name")
            if profile.company:
                ui.label(profile.company).classes("text-gray-600").mark("client-company")
            if profile.plans:
                ui.label(_("Plans: {plans}", plans=", ".join(profile.plans))).classes("text-sm").mark("plans")


class Dashboard:
    """The live parts of My Billing for one signed-in client (or an admin viewing as that client).

    Each part is a `LiveSection`: a payment here and the event it publishes ask for the same redraw, which
    happens once. What an action did is said by the page's `Announcer`, which no redraw removes."""

    def __init__(self, actor: Actor, brand: Branding) -> None:
        self.actor = actor
        self.client_id = actor.client_id or 0
        self.brand = brand
        self.locale = i18n.get_locale()
        self.announcer = Announcer("billing-message")
        self._dialog: PayDialog | None = None
        self.shown: dict[str, list[Any]] = {}  # what the subscriptions and cards sections show now

    @property
    def dialog(self) -> PayDialog:
        """The Pay dialog, made when it is first wanted (most visits pay nothing; the page is drawn
        sooner without it); it belongs to the page, which no redraw of a section takes away."""
        if self._dialog is None:
            with self.announcer.place():
                self._dialog = PayDialog(self.actor, on_paid=self.paid)
        return self._dialog

    def paid(self, text: str) -> None:
        """After a payment from the Pay dialog: say so on the page and redraw what it changed."""
        self.announcer.say(text, notify=False)
        self.refresh()

    def refresh(self) -> None:
        """Redraw the live parts (after a payment here, or an event from elsewhere): the to-do always, the
        subscriptions and the cards when what they show has changed. Redrawing a section takes the event
        loop milliseconds, which a hundred open pages and a stream of payments add up (bench/)."""
        self.todo.refresh()
        background_tasks.create(self._refresh_changed_sections(), name="My Billing sections")

    async def _refresh_changed_sections(self) -> None:
        subs = await client_subscriptions.list_subscriptions(actor=self.actor, client_id=self.client_id)
        if subs != self.shown.get("subscriptions"):
            self.subscriptions.refresh()
        cards = await methods.list_methods(actor=self.actor, client_id=self.client_id)
        if cards != self.shown.get("methods"):
            self.methods.refresh()

    def _shown(self, section: str) -> Callable[[list[Any]], None]:
        return lambda rows: self.shown.__setitem__(section, rows)

    def money(self, amount_minor: int, currency: str) -> str:
        """An amount in the reader's locale."""
        return format_money(amount_minor, currency, self.locale)

    @live_method
    async def todo(self) -> None:
        """Balances and the one to-do panel: the oldest due few of what to pay (all of it counted and summed
        by the database), quotes to decide, cards to replace, credit to use."""
        todo = await dashboard.todo(actor=self.actor, client_id=self.client_id, limit=TODO_ROWS)
        summary, items = todo.summary, todo.items
        credit = await ledger.credit_balances(actor=self.actor, client_id=self.client_id)
        waiting = await quotes.awaiting_decision(actor=self.actor, client_id=self.client_id)
        expiring = await dashboard.expiring_cards(actor=self.actor, client_id=self.client_id)
        self._balances(summary.totals, summary.payable, credit)
        with ui.card().classes("w-full gap-2").mark("todo"):
            ui.label(_("To do")).classes("text-lg font-semibold")
            if not (items or waiting or expiring):
                ui.label(_("Nothing to do: you are all paid up. Thank you!")).mark("no-open-invoices")
            if items:
                payables_table(items, self._pay)
            if summary.count > len(items):
                with ui.row().classes("w-full items-center justify-between").mark("more-open"):
                    ui.label(
                        i18n.ngettext(
                            "The oldest due {shown} of your {count} open item are shown here.",
                            "The oldest due {shown} of your {count} open items are shown here.",
                            summary.count,
                            shown=i18n.format_number(len(items), self.locale),
                        )
                    ).classes("text-sm text-gray-600")
                    ui.link(_("See all open invoices"), "/billing/open").mark("all-open")
            if waiting:
                quotes_table(waiting, on_approve=lambda q: self._decide(q, True), on_decline=self._decline)
            for card in expiring:
                with ui.row().classes("w-full items-center justify-between").mark("expiring-card"):
                    ui.label(_("{card} expires soon: replace it to keep payments going.", card=card.label))
                    ui.link(_("Replace"), "#payment-methods").mark(f"replace-{card.id}")
            usable = [i for i in items if i.purpose == "invoice" and credit.get(i.currency, 0) > 0]
            if usable:
                first = usable[0]
                with ui.row().classes("w-full items-center justify-between").mark("credit-todo"):
                    amount = self.money(credit[first.currency], first.currency)
                    ui.label(_("You have {amount} of credit.", amount=amount))
                    ui.button(
                        _("Apply to an invoice"),
                        on_click=lambda: self.dialog.open(first, sandbox=self.sandbox, prefer_credit=True),
                    ).props("flat no-caps").mark("apply-credit")

    @property
    def sandbox(self) -> bool:
        """True when the payments are simulated."""
        return self.brand.gateway_mode == "sandbox"

    def _balances(self, totals: dict[str, int], payable: dict[str, int], credit: dict[str, int]) -> None:
        with ui.row().classes("w-full gap-4").mark("balances"):
            with ui.card().classes("grow"):
                ui.label(_("Open balance")).classes("text-sm text-gray-600")
                if not totals:
                    ui.label(_("Nothing to pay")).classes("text-xl").mark("total-open")
                for currency, amount in totals.items():
                    with ui.row().classes("items-baseline gap-3"):
                        money_label(amount, currency, locale=self.locale).classes(
                            "text-xl font-semibold"
                        ).mark("total-open")
                        if payable.get(currency, 0) > 0:  # one payment for everything due in it
                            pay_all = ui.link(_("Pay all"), f"/billing/pay-all/{currency}")
                            pay_all.mark(f"pay-all-{currency}")
                            pay_all.props["aria-label"] = _("Pay all due in {currency}", currency=currency)
            with ui.card().classes("grow"):
                ui.label(_("Credit available")).classes("text-sm text-gray-600")
                text = ", ".join(self.money(v, c) for c, v in sorted(credit.items()))
                ui.label(text or _("No credit")).classes("text-xl").mark("credit")

    async def _pay(self, item: Payable) -> None:
        await self.dialog.open(item, sandbox=self.sandbox)

    async def _decide(self, quote: quotes.QuoteView, approve: bool, comment: str = "") -> None:
        self.announcer.clear()
        try:
            decided = await quotes.decide(
                actor=self.actor, quote_id=quote.id, approve=approve, comment=comment
            )
        except DomainError as exc:
            self.announcer.say(exc.message, ok=False)
            return
        self.announcer.say(decision_notice(decided))
        self.todo.refresh()

    def _decline(self, quote: quotes.QuoteView) -> None:
        with self.announcer.place(), ui.dialog() as dialog, ui.card().classes("w-full max-w-md"):
            ui.label(_("Decline {document}?", document=quote.label)).classes("text-lg font-semibold")
            comment = (
                ui.textarea(_("Comment (optional)"))
                .props("outlined")
                .classes("w-full")
                .mark("decline-comment")
            )

            async def confirm() -> None:
                dialog.close()
                await self._decide(quote, False, comment.value or "")

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Decline"), on_click=confirm).props("color=red-7").mark("decline-confirm")
        dialog.on("hide", dialog.delete)
        dialog.open()

    @live_method
    async def subscriptions(self) -> None:
        """The subscriptions section."""
        await billing_sections.subscriptions_section(
            self.actor, self.announcer, on_change=self.refresh, shown=self._shown("subscriptions")
        )

    @live_method
    async def methods(self) -> None:
        """The payment methods section."""
        await billing_sections.payment_methods_section(
            self.actor, self.announcer, on_change=self.refresh, shown=self._shown("methods")
        )

    def follow_events(self) -> None:
        """Refresh when something happens to this client's money, until the browser tab goes away."""
        follow_events(self.client_id, self.refresh, LIVE_EVENTS)


def register() -> None:
    """Add /billing."""

    @guard.page("/billing", access=guard.Access.client, title="My Billing")
    async def billing_page(actor: Actor, paid: str = "") -> None:
        assert actor.client_id is not None
        profile = await profiles.get_profile(actor=actor, client_id=actor.client_id)
        brand = await branding()
        ui.page_title(_("My Billing"))
        with signed_in_frame(actor, brand, _("My Billing")):
            _header(profile)
            if paid:
                ui.label(_("Thank you! Your payment is being confirmed.")).classes("text-green-700").mark(
                    "paid-banner"
                )
            page = Dashboard(actor, brand)  # its message line sits here, above the sections
            await page.todo()
            # below the fold: drawn once the browser is connected, after the first paint
            with ui.card().classes("w-full").mark("subscriptions"):
                ui.label(_("Subscriptions")).classes("text-lg font-semibold")
                page.subscriptions.later(_("Loading your subscriptions…"))
            with ui.card().classes("w-full").props("id=payment-methods").mark("payment-methods"):
                ui.label(_("Payment methods")).classes("text-lg font-semibold")
                page.methods.later(_("Loading your payment methods…"))
            ui.link(_("Payment history, receipts and access log"), "/billing/history").mark("history-link")
            page.follow_events()

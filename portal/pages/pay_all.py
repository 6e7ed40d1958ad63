"""/billing/pay-all/{currency}: pay everything due in one currency at once (from My Billing's "Pay all" and
from a statement's link).

What will be paid (the total, the credit requests, the invoices oldest due first, 25 a page with a count:
a client may owe a thousand invoices), then the ways to pay of `payment_choices`. The amount is the one
shown: if it changed meanwhile the payment is refused and the page redraws with the new figure.
"""

from __future__ import annotations

from nicegui import ui

from portal import i18n
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.live_updates import Announcer, follow_money_events, live_method
from portal.components.payment_choices import CHECKOUT_KINDS, CREDIT, TRANSFER, Offer, PaymentChoices
from portal.config import get_settings
from portal.core.actors import Actor
from portal.domain.errors import DomainError
from portal.domain.money import normalize_currency
from portal.i18n import _
from portal.payments import bank_transfer, pay_all
from portal.payments.branding import branding
from portal.payments.methods import payment_methods
from portal.payments.pay_all import PayAllView

PAGE_SIZE = 25


class PayAll:
    """The list of what is due, its pager, the choice of how to pay and the confirm button."""

    def __init__(self, actor: Actor, currency: str, page: int) -> None:
        self.actor = actor
        self.client_id = actor.client_id or 0
        self.currency = currency
        self.page = max(1, page)
        self.announcer = Announcer("pay-all-message")
        self.receipt = ui.link(_("View your receipt"), "#").mark("pay-all-receipt")
        self.receipt.set_visibility(False)

    def go(self, page: int) -> None:
        """Another page of the list (the address follows)."""
        self.page = page
        ui.navigate.history.replace(f"/billing/pay-all/{self.currency}?page={page}")
        self.listing.refresh()

    @live_method
    async def listing(self) -> None:
        """The total, what it pays (a page of it) and the ways to pay."""
        found = await pay_all.overview(
            actor=self.actor,
            client_id=self.client_id,
            currency=self.currency,
            page=self.page,
            page_size=PAGE_SIZE,
        )
        self.page = found.invoices.page
        total = found.totals.total_minor
        if total <= 0:
            ui.label(
                _("Nothing to pay in {currency}: you are all paid up. Thank you!", currency=self.currency)
            ).mark("pay-all-nothing")
            return
        with ui.row().classes("w-full justify-between items-baseline"):
            ui.label(_("Total due")).classes("text-lg")
            ui.label(found.money(total)).classes("text-2xl font-semibold tabular-nums").mark("pay-all-total")
        ui.label(
            i18n.ngettext(
                "One payment for {count} document, the oldest due first.",
                "One payment for {count} documents, the oldest due first.",
                found.totals.count,
            )
        ).classes("text-gray-600").mark("pay-all-count")
        for doc in found.requests:
            ui.label(
                _(
                    "{title}: {amount}",
                    title=doc.title or doc.number,
                    amount=found.money(doc.amount_due_minor),
                )
            ).mark("pay-all-request")
        if found.invoices.rows:
            self._table(found)
        await self._choices(found)

    def _table(self, found: PayAllView) -> None:
        locale = i18n.get_locale()
        columns = [
            {"name": "number", "label": _("Invoice"), "field": "number", "align": "left"},
            {"name": "due_date", "label": _("Due"), "field": "due_date", "align": "left"},
            {"name": "amount_due", "label": _("Amount due"), "field": "amount_due", "align": "right"},
        ]
        rows = [
            {
                "number": doc.number,
                "due_date": i18n.format_date(doc.due_date, locale),
                "amount_due": found.money(doc.amount_due_minor, locale),
            }
            for doc in found.invoices.rows
        ]
        ui.table(columns=columns, rows=rows, row_key="number").classes("w-full").props("flat dense").mark(
            "pay-all-invoices"
        )
        page = found.invoices
        if page.pages > 1:
            with ui.row().classes("w-full items-center justify-between gap-2").mark("pay-all-pager"):
                ui.label(
                    _(
                        "Page {page} of {pages}",
                        page=i18n.format_number(page.page),
                        pages=i18n.format_number(page.pages),
                    )
                ).classes("text-sm text-gray-600")
                with ui.row().classes("gap-1"):
                    previous = ui.button(_("Previous"), on_click=lambda: self.go(page.page - 1))
                    previous.props("flat no-caps").mark("prev-page").set_enabled(page.page > 1)
                    following = ui.button(_("Next"), on_click=lambda: self.go(page.page + 1))
                    following.props("flat no-caps").mark("next-page").set_enabled(page.page < page.pages)

    async def _choices(self, found: PayAllView) -> None:
        methods = await payment_methods(actor=self.actor, client_id=self.client_id)
        transfer = await bank_transfer.details_for_all(actor=self.actor, currency=self.currency)
        usable = found.credit_minor > 0 and found.totals.invoices > 0
        ui.label(_("How would you like to pay?")).classes("font-medium")
        choices = PaymentChoices()
        button = ui.button(_("Pay {amount}", amount=found.money(found.totals.total_minor)))
        choices.on_change = lambda: self._relabel(choices, button, found)
        choices.offer(
            Offer(
                cards={m.id: m.label for m in methods if m.kind == "card"},
                credit_available=found.money(found.credit_minor) if usable else "",
            ),
            transfer=(transfer.bank_details, transfer.reference),
        )
        button.props("color=green-7").mark("pay-all-confirm").on_click(
            lambda: self.pay(choices, button, found)
        )

    @staticmethod
    def _relabel(choices: PaymentChoices, button: ui.button, found: PayAllView) -> None:
        amount = found.money(found.totals.total_minor)
        labels = {
            TRANSFER: _("I will pay by bank transfer"),
            CREDIT: _("Use my credit ({amount} available)", amount=found.money(found.credit_minor)),
        }
        button.set_text(labels.get(choices.value, _("Pay {amount}", amount=amount)))

    async def pay(self, choices: PaymentChoices, button: ui.button, found: PayAllView) -> None:
        """Pay everything shown with the chosen way (the amount shown is the amount charged)."""
        if not button.enabled:
            return
        self.announcer.clear()
        button.set_enabled(False)
        button.props("loading")
        expected, choice = found.totals.total_minor, choices.value
        try:
            if choice in CHECKOUT_KINDS:
                base = get_settings().public_url.rstrip("/")
                outcome = await pay_all.start_checkout(
                    actor=self.actor,
                    currency=self.currency,
                    expected_minor=expected,
                    success_url=f"{base}/billing?paid=all",
                    cancel_url=f"{base}/billing/pay-all/{self.currency}",
                    method_kind=CHECKOUT_KINDS[choice],
                )
                ui.navigate.to(outcome.redirect_url)
                return
            if choice == TRANSFER:
                await bank_transfer.mark_all_awaiting(actor=self.actor, currency=self.currency)
                self.announcer.say(
                    _("Thank you: we are expecting your transfer. This stays payable until it arrives.")
                )
                return
            if choice == CREDIT:
                used = await pay_all.pay_from_credit(
                    actor=self.actor, currency=self.currency, expected_minor=expected
                )
                self.announcer.say(_("{amount} of credit applied.", amount=found.money(used)))
                self.listing.refresh()
                return
            outcome = await pay_all.pay_with_saved_method(
                actor=self.actor, currency=self.currency, expected_minor=expected, method_id=int(choice)
            )
            self.announcer.say(outcome.message, ok=outcome.status != "failed")
            if outcome.status == "succeeded" and outcome.payment_id is not None:
                self.receipt.props["href"] = f"/billing/receipts/{outcome.payment_id}"
                self.receipt.set_visibility(True)
            if outcome.status != "failed":
                self.listing.refresh()
        except DomainError as exc:
            self.announcer.say(exc.message, ok=False)
            self.listing.refresh()  # the figure that is due now
        finally:
            if not button.is_deleted:
                button.props(remove="loading")
                button.set_enabled(True)


def register() -> None:
    """Add /billing/pay-all/{currency}."""

    @guard.page("/billing/pay-all/{currency}", access=guard.Access.client, title="Pay everything due")
    async def pay_all_page(actor: Actor, currency: str, page: int = 1) -> None:
        brand = await branding()
        try:
            currency = normalize_currency(currency)
        except DomainError:
            currency = ""
        title = _("Pay everything due in {currency}", currency=currency)
        ui.page_title(title)
        with signed_in_frame(actor, brand, title):
            if not currency:
                ui.label(_("That currency does not exist.")).mark("pay-all-nothing")
                return
            screen = PayAll(actor, currency, page)
            if brand.gateway_mode == "sandbox":
                ui.badge(_("Sandbox: no real money moves"), color="orange").props("outline")
            with ui.card().classes("w-full gap-3"):
                await screen.listing()
            ui.link(_("Back to My Billing"), "/billing").mark("back")
            follow_money_events(actor.client_id, screen.listing.refresh)

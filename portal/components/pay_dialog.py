"""The Pay dialog: pay an invoice or credit request with a saved card, a new card, a direct debit, a bank
transfer (the bank details and the reference; the document then shows as awaiting it) or (invoices) credit:
the ways of `payment_choices`, the same as on the payment-link page.

Credit is offered as `credit_payments.credit_offer` says: a recurring billing request's invoice is paid
whole from credit and starts its subscription on the card it renews on (said before paying); without such
a card (or with too little credit) credit is not offered and the reason is shown instead.

After a payment the dialog shows the new state (what was paid, the receipt) instead of the old amount due,
and tells the page (`on_paid(text)`), which says it where it stays and redraws its sections once."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from nicegui import ui

from portal.clients.dashboard import Payable
from portal.components.payment_choices import CHECKOUT_KINDS, CREDIT, TRANSFER, Offer, PaymentChoices
from portal.config import get_settings
from portal.core.actors import Actor
from portal.domain.errors import DomainError
from portal.domain.money import format_amount, format_money, parse_amount
from portal.i18n import _, get_locale
from portal.payments import bank_transfer, charges, credit_payments
from portal.payments.credit_payments import CreditOffer
from portal.payments.methods import payment_methods


class PayDialog:
    """Pay one invoice or credit request: a saved method (the default preselected), a new card, a direct
    debit, a bank transfer, or credit."""

    def __init__(self, actor: Actor, on_paid: Callable[[str], object]) -> None:
        self.actor = actor
        self.on_paid = on_paid
        self.item: Payable | None = None
        self.credit: CreditOffer | None = None  # what credit can do for the invoice shown
        self.key = ""  # one per opening: a double click or a retry uses credit once
        self.sandbox = False
        self.dialog = ui.dialog().mark("pay-dialog")
        with self.dialog, ui.card().classes("w-full max-w-md gap-3"):
            self.title = ui.label().classes("text-lg font-semibold")
            self.amount = ui.label().classes("text-2xl font-semibold tabular-nums").mark("pay-amount")
            self.choices = PaymentChoices(on_change=self._relabel)
            # shown by `open` (not bound to self.sandbox: a binding to a plain attribute is polled ten
            # times a second for every open page)
            self.sandbox_badge = ui.badge(_("Sandbox: no real money moves"), color="orange").props("outline")
            self.sandbox_badge.set_visibility(False)
            self.message = ui.label().props("role=alert").mark("pay-message")
            self.receipt = ui.link(_("View your receipt"), "#").mark("pay-receipt")
            self.receipt.set_visibility(False)
            with ui.row().classes("w-full justify-end"):
                ui.button(_("Close"), on_click=self.dialog.close).props("flat").mark("pay-close")
                self.button = (
                    ui.button(_("Pay"), on_click=self.pay).props("color=green-7").mark("pay-confirm")
                )

    @property
    def choice(self) -> ui.radio:
        """The radio of ways to pay (its value: a saved method's id, "new", "direct_debit", "transfer" or
        "credit")."""
        return self.choices.radio

    async def open(self, item: Payable, *, sandbox: bool, prefer_credit: bool = False) -> None:
        """Fill the dialog for an invoice or credit request and show it (the default card preselected)."""
        self.item, self.sandbox = item, sandbox
        self.sandbox_badge.set_visibility(sandbox)
        client_id = self.actor.client_id
        assert client_id is not None
        methods = await payment_methods(actor=self.actor, client_id=client_id)
        self.credit = await self._credit_offer(item)
        self.key = uuid4().hex
        transfer = await bank_transfer.details(actor=self.actor, purpose=item.purpose, target_id=item.id)
        locale = get_locale()
        self.choices.offer(
            self._offer({m.id: m.label for m in methods if m.kind == "card"}),
            credit_amount=format_amount(self.credit.max_minor, item.currency, locale) if self.credit else "",
            transfer=(transfer.bank_details, transfer.reference),
            prefer_credit=prefer_credit,
        )
        self.receipt.set_visibility(False)
        self.title.set_text(
            _("Pay invoice {number}", number=item.number)
            if item.purpose == "invoice"
            else _("Pay {what}", what=item.title)
        )
        self.amount.set_text(format_money(item.amount_due_minor, item.currency, locale))
        self.message.set_text("")
        self.message.classes(remove="text-red-700 text-green-700")
        self.button.set_visibility(True)
        self.button.set_enabled(True)
        self._relabel()
        self.dialog.open()

    async def _credit_offer(self, item: Payable) -> CreditOffer | None:
        """What credit can do for an invoice (credit pays invoices; buying credit with credit is moot)."""
        if item.purpose != "invoice":
            return None
        try:
            return await credit_payments.credit_offer(actor=self.actor, invoice_id=item.id)
        except DomainError:  # gone since the page was drawn: paying it says so
            return None

    def _offer(self, cards: dict[int, str]) -> Offer:
        """The ways to pay: the saved cards and the rest; credit when it can pay, with (for a recurring
        request) the card its subscription will renew on, or else why not (when there is some credit)."""
        credit = self.credit
        if credit is None:
            return Offer(cards=cards)
        if not credit.usable:
            said = credit.recurring and credit.credit_minor > 0  # why the client's credit is not offered
            return Offer(cards=cards, credit_reason=(credit.reason or "") if said else "")
        locale = get_locale()
        available = format_money(credit.credit_minor, credit.currency, locale)
        if not credit.recurring:
            return Offer(cards=cards, credit_available=available)
        note = _(
            "Paying from credit starts your subscription: {amount} of credit pays the first period, "
            "then it renews on {card}.",
            card=credit.renews_on,
            amount=format_money(credit.due_minor, credit.currency, locale),
        )
        return Offer(cards=cards, credit_available=available, credit_note=note, credit_whole=True)

    def _relabel(self) -> None:
        self.button.set_text(self.choices.confirm_label())

    async def pay(self) -> None:
        """Pay with the chosen way; the button stays disabled while the gateway answers."""
        item = self.item
        if item is None or not self.button.enabled:
            return
        self.button.set_enabled(False)
        self.button.props("loading")
        choice = self.choices.value
        try:
            if choice in CHECKOUT_KINDS:
                base = get_settings().public_url.rstrip("/")
                outcome = await charges.start_checkout(
                    actor=self.actor,
                    purpose=item.purpose,
                    target_id=item.id,
                    success_url=f"{base}/billing?paid={item.id}",
                    cancel_url=f"{base}/billing",
                    method_kind=CHECKOUT_KINDS[choice],
                )
                ui.navigate.to(outcome.redirect_url)
                return
            if choice == TRANSFER:
                await bank_transfer.mark_awaiting(actor=self.actor, purpose=item.purpose, target_id=item.id)
                self.title.set_text(_("Awaiting your transfer"))
                self.button.set_visibility(False)
                self.choices.radio.set_visibility(False)
                self._done(
                    _("Thank you: we are expecting your transfer. This stays payable until it arrives."),
                    ok=True,
                )
                return
            if choice == CREDIT:
                await self._pay_from_credit(item)
                return
            outcome = await charges.pay_with_saved_method(
                actor=self.actor, purpose=item.purpose, target_id=item.id, method_id=int(choice)
            )
            if outcome.status == "succeeded":
                self._paid(outcome.message, outcome.amount_minor, item.amount_due_minor, outcome.payment_id)
            else:
                self._done(outcome.message, ok=outcome.status == "processing")
        except DomainError as exc:
            self._done(exc.message, ok=False)
        finally:
            self.button.props(remove="loading")

    async def _pay_from_credit(self, item: Payable) -> None:
        """Use credit (all that is due for a recurring request, whose subscription then starts)."""
        whole = self.choices.credit_whole
        wanted = (
            None
            if whole
            else parse_amount(self.choices.credit_amount.value or "", item.currency, get_locale())
        )
        used = await credit_payments.pay_from_credit(
            actor=self.actor, invoice_id=item.id, amount_minor=wanted, idempotency_key=self.key
        )
        text = _("{amount} of credit applied.", amount=format_money(used, item.currency, get_locale()))
        if whole and self.credit is not None:
            text = " ".join(
                (text, _("Your subscription has started; it renews on {card}.", card=self.credit.renews_on))
            )
        self._paid(text, used, item.amount_due_minor)

    def _paid(self, text: str, paid_minor: int, due_minor: int, payment_id: int | None = None) -> None:
        """The dialog's new state after a payment: what was paid and what is still due, the receipt; the
        choices and the Pay button give way; the page hears of it."""
        item = self.item
        assert item is not None
        locale = get_locale()
        self.title.set_text(_("Payment received"))
        self.amount.set_text(format_money(paid_minor, item.currency, locale))
        left = due_minor - paid_minor
        if left > 0:
            text = " ".join(
                (text, _("Still due: {amount}.", amount=format_money(left, item.currency, locale)))
            )
        self.choices.set_visibility(False)
        self.button.set_visibility(False)
        if payment_id is not None:
            self.receipt.props["href"] = f"/billing/receipts/{payment_id}"
            self.receipt.set_visibility(True)
        self._done(text, ok=True)

    def _done(self, text: str, *, ok: bool) -> None:
        self.message.set_text(text)
        self.message.classes(replace="text-green-700" if ok else "text-red-700")
        if ok:
            self.on_paid(text)
        else:
            self.button.set_enabled(True)

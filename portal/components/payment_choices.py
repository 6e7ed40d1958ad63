"""The ways to pay, drawn once for every place that takes a payment: the Pay dialog of My Billing, the page
that pays everything due at once, and the public payment-link page.

The same ways everywhere: a card (a saved one, signed in only, or a new one on the gateway's secure page),
a bank transfer (the agency's bank details and the reference to quote; the document then shows as awaiting
the transfer and stays payable), a direct debit, and (signed in, for invoices) the client's credit.

Signed in, they are one choice (`PaymentChoices`: a radio "pay-with" whose value is a saved method's id,
`NEW_CARD`, `DIRECT_DEBIT`, `TRANSFER` or `CREDIT`, with what the chosen way needs under it) and the
caller's confirm button. On the payment-link page each way has its own tab, built when first opened
(`method_tabs`). Both draw the bank transfer with `transfer_details`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nicegui import ui

from portal.i18n import _

NEW_CARD = "new"
DIRECT_DEBIT = "direct_debit"
TRANSFER = "transfer"
CREDIT = "credit"
CHECKOUT_KINDS = {NEW_CARD: "card", DIRECT_DEBIT: "direct_debit"}
"""The choices paid on the gateway's hosted page, and the method kind each asks it for."""


@dataclass(frozen=True)
class Offer:
    """What a payer signed in may choose from: saved cards (id -> label), the credit they could use
    (formatted, empty when none or when credit cannot pay this) and whether a bank transfer is offered.

    `credit_note` says what paying from credit does beyond paying (a subscription starting), shown when
    credit is chosen; `credit_whole` means credit pays the whole amount (no amount to type);
    `credit_reason` says why credit is not offered although there is some."""

    cards: dict[int, str]
    credit_available: str = ""
    transfer: bool = True
    debit: bool = True
    credit_note: str = ""
    credit_whole: bool = False
    credit_reason: str = ""


def transfer_details(bank_details: str, reference: str) -> None:
    """Where to transfer, what to quote, and how long it takes."""
    ui.label(_("Transfer the amount to:"))
    ui.label(bank_details or _("Ask us for our bank details.")).classes("whitespace-pre-line").mark(
        "bank-details"
    )
    ui.label(_("Quote this reference: {reference}", reference=reference)).classes("font-semibold").mark(
        "bank-reference"
    )
    ui.label(_("Transfers take a few days to arrive; we mark the invoice paid when they do.")).classes(
        "text-gray-600 text-sm"
    )


def method_tabs(methods: list[tuple[str, Callable[[], None]]]) -> None:
    """One tab per way to pay; a tab's content is built when it is first opened (the first one at once),
    so the page a payer waits for holds only what they see."""
    with ui.tabs().classes("w-full portal-tabs-wrap").props("no-caps") as tabs:
        for name, _build in methods:
            ui.tab(name)
    panels = ui.tab_panels(tabs, value=methods[0][0]).classes("w-full")
    waiting = dict(methods)

    def show(name: object) -> None:
        if (build := waiting.pop(str(name), None)) is not None:
            with panels, ui.tab_panel(str(name)):
                build()

    show(methods[0][0])
    tabs.on_value_change(lambda event: show(event.value))


def link_methods(
    *,
    amount: str,
    bank_details: str,
    reference: str,
    checkout: Callable[[str, ui.button], object],
    promise_transfer: Callable[[ui.button], object] | None = None,
) -> None:
    """The ways to pay on the payment-link page (no saved cards, no credit: the payer is not signed in),
    one tab each: `checkout(kind, button)` starts the hosted page for "card" or "direct_debit";
    `promise_transfer(button)` marks the document as awaiting a transfer."""

    def card() -> None:
        ui.label(_("Pay with a debit or credit card on a secure page."))
        button = ui.button(_("Pay {amount} by card", amount=amount))
        button.mark("pay-card").on_click(lambda: checkout("card", button))

    def transfer() -> None:
        transfer_details(bank_details, reference)
        if promise_transfer is not None:
            button = ui.button(_("I will pay by bank transfer")).props("outline no-caps")
            button.mark("promise-transfer").on_click(lambda: promise_transfer(button))

    def debit() -> None:
        ui.label(_("Authorise a one-off debit from your bank account."))
        button = ui.button(_("Pay {amount} by direct debit", amount=amount))
        button.mark("pay-debit").on_click(lambda: checkout("direct_debit", button))

    method_tabs([(_("Card"), card), (_("Bank transfer"), transfer), (_("Direct debit"), debit)])


class PaymentChoices:
    """The signed-in choice of how to pay: one radio of every way, what the chosen way needs under it (the
    amount of credit to use; the bank details and reference), redrawn in place by `offer`."""

    def __init__(self, on_change: Callable[[], object] | None = None) -> None:
        self.on_change = on_change
        self.radio = ui.radio({}, on_change=self._changed).props("name=pay-with").mark("pay-with")
        self.credit_amount = (
            ui.input(_("Credit to use")).props("outlined dense inputmode=decimal").classes("w-full")
        ).mark("credit-amount")
        self.credit_amount.set_visibility(False)
        self.credit_note = ui.label().classes("text-sm").mark("credit-note")
        self.credit_note.set_visibility(False)
        self.credit_whole = False  # credit pays the whole amount: no amount to type
        self.credit_reason = ui.label().classes("text-sm text-gray-600").mark("credit-reason")
        self.credit_reason.set_visibility(False)
        self.transfer_box = ui.column().classes("w-full gap-1").mark("transfer-box")
        self.transfer_box.set_visibility(False)
        self.transfer: tuple[str, str] | None = None  # bank details and reference, drawn when chosen

    @property
    def value(self) -> str:
        """The chosen way: a saved method's id (as text), NEW_CARD, DIRECT_DEBIT, TRANSFER or CREDIT."""
        return str(self.radio.value or "")

    def offer(
        self,
        offer: Offer,
        *,
        credit_amount: str = "",
        transfer: tuple[str, str] | None = None,
        prefer_credit: bool = False,
    ) -> None:
        """Fill the choices (the first saved card chosen, or credit with `prefer_credit`); `transfer` is the
        bank details and the reference to quote."""
        options: dict[str, str] = {str(card_id): label for card_id, label in offer.cards.items()}
        options[NEW_CARD] = _("A new card")
        if offer.debit:
            options[DIRECT_DEBIT] = _("Direct debit")
        if offer.transfer and transfer is not None:
            options[TRANSFER] = _("Bank transfer")
        if offer.credit_available:
            options[CREDIT] = _("My credit ({amount} available)", amount=offer.credit_available)
        self.transfer = transfer
        self.transfer_box.clear()  # drawn again for this document when chosen
        self.credit_amount.set_value(credit_amount)
        self.credit_note.set_text(offer.credit_note)
        self.credit_whole = offer.credit_whole
        self.credit_reason.set_text(offer.credit_reason)
        first = CREDIT if prefer_credit and CREDIT in options else next(iter(options))
        self.radio.set_options(options, value=first)
        self.set_visibility(True)
        self._changed()

    def set_visibility(self, visible: bool) -> None:
        """Show or hide the choices (after a payment they give way to what was paid)."""
        self.radio.set_visibility(visible)
        self.credit_reason.set_visibility(visible and bool(self.credit_reason.text))
        if not visible:
            self.credit_amount.set_visibility(False)
            self.credit_note.set_visibility(False)
            self.transfer_box.set_visibility(False)

    def _changed(self) -> None:
        """Under the choice, what it needs: the credit amount, or where to transfer and what to quote."""
        self.credit_amount.set_visibility(self.value == CREDIT and not self.credit_whole)
        self.credit_note.set_visibility(self.value == CREDIT and bool(self.credit_note.text))
        showing = self.value == TRANSFER and self.transfer is not None
        self.transfer_box.set_visibility(showing)
        if showing and self.transfer is not None and not list(self.transfer_box):
            with self.transfer_box:
                transfer_details(*self.transfer)
        if self.on_change is not None:
            self.on_change()

    def confirm_label(self) -> str:
        """The confirm button's words for the chosen way."""
        if self.value == TRANSFER:
            return _("I will pay by bank transfer")
        return _("Pay")

"""The record-payment dialog (online: charge a stored method; offline: cash, transfer, cheque, other)."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable
from datetime import date

from nicegui import ui

from portal import i18n
from portal.billing import staff_charges
from portal.billing.staff_charges import OpenInvoice, PaymentContext
from portal.core.actors import Actor
from portal.core.clock import today
from portal.domain.errors import DomainError, InvalidInput
from portal.domain.money import format_amount, format_money, parse_amount
from portal.i18n import N_, _
from portal.payments import credit_payments, ledger, recurring_from_credit
from portal.payments.credit_payments import CreditOffer
from portal.payments.ledger import OverpaymentNeedsConfirmation

OnDone = Callable[[], Awaitable[None] | None]

RECEIPT_URL = "/billing/receipts/{payment_id}/pdf"
"""Where staff open a receipt (the receipt page itself is the client's; the PDF route serves staff too)."""

OFFLINE, ONLINE, CREDIT = "offline", "online", "credit"
OFFLINE_METHODS = {
    "bank_transfer": N_("Bank transfer"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "other": N_("Other"),
}
OLDEST = "oldest"
NOT_STARTED = N_(
    "The payment service did not start the subscription yet. Press Record payment again to retry: "
    "the payment is not recorded twice."
)


def receipt_url(payment_id: int) -> str:
    """The receipt of a payment, as staff open it."""
    return RECEIPT_URL.format(payment_id=payment_id)


def _new_key() -> str:
    return secrets.token_urlsafe(18)


async def _call(on_done: OnDone | None) -> None:
    if on_done is None:
        return
    result = on_done()
    if inspect.isawaitable(result):
        await result


class RecordPaymentDialog:
    """One opening of the dialog: offline or online, for one client (and maybe one invoice)."""

    def __init__(
        self,
        actor: Actor,
        context: PaymentContext,
        *,
        invoice_id: int | None,
        on_done: OnDone | None,
        credit: dict[str, int] | None = None,
        mode: str = OFFLINE,
    ) -> None:
        self.actor = actor
        self.context = context
        self.on_done = on_done
        self.locale = i18n.get_locale()
        self.offline_key = f"offline:console:{_new_key()}"  # one per opening: a double click records once
        self.charge_key = _new_key()  # one per opening, renewed after a decline
        self.credit_key = _new_key()  # one per opening: a double click uses credit once
        self.credit = credit or {}
        self.offer: CreditOffer | None = None
        self.busy = False
        self.invoices = {inv.id: inv for inv in context.invoices}
        chosen = invoice_id if invoice_id in self.invoices else None
        with ui.context.client.content:  # outside the caller's parts, which `on_done` may redraw
            self.dialog = ui.dialog().mark("record-payment-dialog")
        self.dialog.on("hide", self._remove)
        with self.dialog, ui.card().classes("w-full max-w-lg gap-3"):
            ui.label(_("Record a payment from {client}", client=context.client_name)).classes(
                "text-lg font-semibold"
            ).mark("record-payment-title")
            self.mode = (
                ui.toggle(
                    {
                        OFFLINE: _("Received offline"),
                        ONLINE: _("Charge a saved method"),
                        CREDIT: _("Pay from credit"),
                    },
                    value=mode if mode in (OFFLINE, ONLINE, CREDIT) else OFFLINE,
                    on_change=self._show_mode,
                )
                .classes("flex-wrap")
                .mark("payment-mode")
            )
            if invoice_id is not None and chosen is None:
                ui.label(
                    _("That invoice is not open any more; the payment goes to the open invoices.")
                ).classes("text-sm text-orange-700").mark("payment-invoice-closed")
            self._offline_section(chosen)
            self._online_section(chosen)
            self._credit_section(chosen)
            self.message = ui.label().props("role=alert").mark("payment-message")
            self.receipt = ui.link(_("Open the receipt"), "#", new_tab=True).mark("payment-receipt")
            self.receipt.set_visibility(False)
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Close"), on_click=self.dialog.close).props("flat no-caps").mark("payment-close")
                self.submit = ui.button(on_click=self.run).props("no-caps").mark("payment-submit")
        self._show_mode()
        self._allocation_changed()
        self._charge_changed()

    # -- layout ------------------------------------------------------------------------------------------
    def _offline_section(self, chosen: int | None) -> None:
        with ui.column().classes("w-full gap-2").mark("offline-section") as self.offline:
            options = {
                f"{OLDEST}:{cur}": _(
                    "Oldest first: open {currency} invoices ({due} due)",
                    currency=cur,
                    due=self.money(self.context.due_in(cur), cur),
                )
                for cur in self.context.currencies
            }
            options |= {f"invoice:{inv.id}": self._invoice_label(inv) for inv in self.context.invoices}
            first = f"invoice:{chosen}" if chosen else f"{OLDEST}:{self.context.currency}"
            self.allocation = (
                ui.select(options, value=first, label=_("Apply to"), on_change=self._allocation_changed)
                .props("outlined")
                .classes("w-full")
                .mark("payment-allocation")
            )
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.method = (
                    ui.select(
                        {k: _(v) for k, v in OFFLINE_METHODS.items()},
                        value="bank_transfer",
                        label=_("Method"),
                    )
                    .props("outlined")
                    .classes("grow")
                    .mark("payment-method")
                )
                self.received_on = (
                    ui.input(_("Date received"), value=today().isoformat())
                    .props("outlined type=date")
                    .classes("grow")
                    .mark("payment-date")
                )
                self.received_on.props["max"] = today().isoformat()
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.amount = (
                    ui.input(_("Amount"))
                    .props("outlined inputmode=decimal autocomplete=off")
                    .classes("grow")
                    .mark("payment-amount")
                )
                self.reference = (
                    ui.input(_("Reference (optional)"))
                    .props("outlined maxlength=200 autocomplete=off")
                    .classes("grow")
                    .mark("payment-reference")
                )
            self.due_hint = ui.label().classes("text-sm text-gray-600").mark("payment-due")
        self.fields: dict[str, ui.input | ui.select] = {
            "amount": self.amount,
            "currency": self.amount,
            "received_on": self.received_on,
            "method": self.method,
            "reference": self.reference,
            "invoice": self.allocation,
        }

    def _online_section(self, chosen: int | None) -> None:
        ctx = self.context
        with ui.column().classes("w-full gap-2").mark("online-section") as self.online:
            if not ctx.invoices:
                ui.label(_("Nothing is due: there is no open invoice to charge.")).classes(
                    "text-gray-600"
                ).mark("charge-nothing-due")
            if not ctx.methods:
                ui.label(_("The client has no saved payment method.")).classes("text-gray-600").mark(
                    "charge-no-method"
                )
            first_invoice = chosen or (ctx.invoices[0].id if ctx.invoices else None)
            self.charge_invoice = (
                ui.select(
                    {inv.id: self._invoice_label(inv) for inv in ctx.invoices},
                    value=first_invoice,
                    label=_("Invoice"),
                    on_change=self._charge_changed,
                )
                .props("outlined")
                .classes("w-full")
                .mark("charge-invoice")
            )
            default = next(
                (m.id for m in ctx.methods if m.is_default), ctx.methods[0].id if ctx.methods else None
            )
            self.charge_method = (
                ui.select({m.id: m.label for m in ctx.methods}, value=default, label=_("Saved method"))
                .props("outlined")
                .classes("w-full")
                .mark("charge-method")
            )
            self.charge_amount = (
                ui.label().classes("text-xl font-semibold tabular-nums").mark("charge-amount")
            )
            if ctx.gateway_mode != "live":
                ui.badge(
                    _("Sandbox: no real money moves")
                    if ctx.gateway_mode == "sandbox"
                    else _("Test mode: no real money moves"),
                    color="orange",
                ).props("outline").mark("charge-mode")

    def _credit_section(self, chosen: int | None) -> None:
        """Pay one invoice from the client's credit: what is available and what is left, before confirming."""
        ctx = self.context
        with ui.column().classes("w-full gap-2").mark("credit-section") as self.by_credit:
            if not ctx.invoices:
                ui.label(_("Nothing is due: there is no open invoice to pay.")).classes("text-gray-600")
            with_credit = [inv.id for inv in ctx.invoices if self.credit.get(inv.currency, 0) > 0]
            first = chosen or (with_credit or [inv.id for inv in ctx.invoices] or [None])[0]
            self.credit_invoice = (
                ui.select(
                    {inv.id: self._invoice_label(inv) for inv in ctx.invoices},
                    value=first,
                    label=_("Invoice"),
                    on_change=self.load_offer,
                )
                .props("outlined")
                .classes("w-full")
                .mark("credit-invoice")
            )
            self.credit_available = ui.label().classes("font-medium").mark("credit-available")
            self.credit_amount = (
                ui.input(_("Credit to use"), on_change=self._preview_credit)
                .props("outlined inputmode=decimal autocomplete=off")
                .classes("w-full")
                .mark("credit-amount")
            )
            self.credit_preview = ui.label().classes("text-sm").mark("credit-preview")
            self.credit_reason = ui.label().classes("text-sm text-orange-800").mark("credit-reason")

    async def load_offer(self) -> None:
        """Ask what credit can do for the chosen invoice, and show it."""
        invoice_id = self.credit_invoice.value
        self.offer = None
        if invoice_id is not None:
            try:
                self.offer = await credit_payments.credit_offer(actor=self.actor, invoice_id=int(invoice_id))
            except DomainError as exc:
                self.credit_reason.set_text(exc.message)
        offer = self.offer
        if offer is None:
            self.credit_available.set_text("")
            self.credit_amount.set_visibility(False)
            self.credit_preview.set_text("")
            self._label_submit()
            return
        self.credit_available.set_text(
            _("Credit available: {amount}", amount=self.money(offer.credit_minor, offer.currency))
        )
        self.credit_amount.props["suffix"] = offer.currency
        self.credit_amount.set_visibility(offer.usable)
        self.credit_amount.set_value(format_amount(offer.max_minor, offer.currency, self.locale))
        self.credit_amount.props(remove="readonly")
        if offer.recurring:
            self.credit_amount.props("readonly")  # a recurring request is paid whole
        self.credit_reason.set_text(offer.reason or self._renewal_note(offer))
        self._preview_credit()
        self._label_submit()

    def _renewal_note(self, offer: CreditOffer) -> str:
        if not offer.recurring:
            return ""
        return _(
            "A recurring request: credit pays the first period, then the subscription renews on {card}.",
            card=offer.renews_on,
        )

    def _credit_wanted(self) -> int:
        assert self.offer is not None
        return parse_amount(self.credit_amount.value or "", self.offer.currency, self.locale)

    def _preview_credit(self) -> None:
        """Credit left and still due after this payment, as typed (nothing moves until confirmed)."""
        offer = self.offer
        self.credit_amount.error = None
        if offer is None or not offer.usable:
            self.credit_preview.set_text("")
            return
        try:
            wanted = self._credit_wanted()
        except InvalidInput as exc:
            self.credit_amount.error = exc.message
            self.credit_preview.set_text("")
            return
        self.credit_preview.set_text(
            _(
                "Credit left after this payment: {left}. Still due on {number}: {due}.",
                left=self.money(offer.credit_left(wanted), offer.currency),
                number=offer.number,
                due=self.money(max(offer.due_left(wanted), 0), offer.currency),
            )
        )

    async def pay_credit(self) -> bool:
        """Use the client's credit on the chosen invoice (once, however often the button is pressed)."""
        self.clear_errors()
        offer = self.offer
        if offer is None or not offer.usable:
            self.say(offer.reason if offer and offer.reason else _("Choose an invoice."), ok=False)
            return False
        try:
            wanted = self._credit_wanted()
            used = await credit_payments.pay_from_credit(
                actor=self.actor,
                invoice_id=offer.invoice_id,
                amount_minor=wanted,
                idempotency_key=self.credit_key,
            )
        except DomainError as exc:
            if getattr(exc, "field", None) == "amount":
                self.credit_amount.error = exc.message
                self.say(_("Please correct the field marked in red. Nothing was recorded."), ok=False)
            else:
                self.say(exc.message, ok=False)
            return False
        text = _(
            "{amount} of credit applied to {number}. Credit left: {left}. Still due: {due}.",
            amount=self.money(used, offer.currency),
            number=offer.number,
            left=self.money(offer.credit_left(used), offer.currency),
            due=self.money(max(offer.due_left(used), 0), offer.currency),
        )
        if offer.recurring:
            text += " " + _("The subscription started; it renews on {card}.", card=offer.renews_on)
        self.credit_amount.disable()
        self.credit_invoice.disable()
        await self.finish(text, None)
        return True

    def _invoice_label(self, inv: OpenInvoice) -> str:
        due = self.money(inv.amount_due_minor, inv.currency)
        if inv.is_overdue:
            return _("{number} · {due} due (overdue)", number=inv.number, due=due)
        return _("{number} · {due} due", number=inv.number, due=due)

    def money(self, amount_minor: int, currency: str) -> str:
        return format_money(amount_minor, currency, self.locale)

    # -- state ------------------------------------------------------------------------------------------
    @property
    def target(self) -> tuple[str, int | None]:
        """(currency, invoice id or None for oldest first) of the offline allocation."""
        kind, _sep, value = str(self.allocation.value or "").partition(":")
        if kind == "invoice" and int(value) in self.invoices:
            inv = self.invoices[int(value)]
            return inv.currency, inv.id
        return value or self.context.currency, None

    def _due(self) -> int:
        currency, invoice_id = self.target
        if invoice_id is not None:
            return self.invoices[invoice_id].amount_due_minor
        return self.context.due_in(currency)

    def _allocation_changed(self) -> None:
        currency, invoice_id = self.target
        due = self._due()
        self.amount.props["suffix"] = currency
        chosen = self.invoices[invoice_id] if invoice_id is not None else None
        if chosen is not None and chosen.recurring:
            self.amount.set_value(format_amount(due, currency, self.locale))
            self.due_hint.set_text(self._recurring_note(chosen))
        elif due > 0:
            self.amount.set_value(format_amount(due, currency, self.locale))
            self.due_hint.set_text(
                _(
                    "{due} is due. More than that becomes credit, after you confirm.",
                    due=self.money(due, currency),
                )
            )
        else:
            self.amount.set_value("")
            self.due_hint.set_text(
                _("Nothing is due in {currency}: the whole payment becomes credit.", currency=currency)
            )

    def _recurring_note(self, invoice: OpenInvoice) -> str:
        """What recording a payment for a recurring request's invoice does, or why it cannot."""
        if not self.context.renews_on:
            return _(recurring_from_credit.OFFLINE_NEEDS_CARD, number=invoice.number)
        return _(
            "{number} is a recurring request, paid whole: {due} pays its first period, then the "
            "subscription renews on {card}.",
            number=invoice.number,
            due=self.money(invoice.amount_due_minor, invoice.currency),
            card=self.context.renews_on,
        )

    def _charge_changed(self) -> None:
        inv = self.invoices.get(self.charge_invoice.value) if self.charge_invoice.value is not None else None
        self.charge_amount.set_text(
            _("{amount} will be charged", amount=self.money(inv.amount_due_minor, inv.currency))
            if inv
            else ""
        )
        self._label_submit()

    def _show_mode(self) -> None:
        online = self.mode.value == ONLINE
        self.offline.set_visibility(self.mode.value == OFFLINE)
        self.online.set_visibility(online)
        self.by_credit.set_visibility(self.mode.value == CREDIT)
        self.message.set_text("")
        self._label_submit()

    def _label_submit(self) -> None:
        if not hasattr(self, "submit"):
            return
        if self.mode.value == ONLINE:
            self.submit.set_text(_("Charge"))
            can = self.charge_invoice.value is not None and self.charge_method.value is not None
            self.submit.set_enabled(can and not self.busy)
        elif self.mode.value == CREDIT:
            self.submit.set_text(_("Pay from credit"))
            self.submit.set_enabled(self.offer is not None and self.offer.usable and not self.busy)
        else:
            self.submit.set_text(_("Record payment"))
            self.submit.set_enabled(not self.busy)

    def _remove(self) -> None:
        if not self.dialog.is_deleted:
            self.dialog.delete()

    def open(self) -> None:
        self.dialog.open()

    # -- actions ----------------------------------------------------------------------------------------
    def say(self, text: str, *, ok: bool) -> None:
        self.message.set_text(text)
        self.message.classes(replace="text-green-700" if ok else "text-red-700")

    def clear_errors(self) -> None:
        for element in self.fields.values():
            element.error = None
        self.message.set_text("")

    def show_error(self, exc: DomainError) -> None:
        field = getattr(exc, "field", None)
        if field in self.fields:
            self.fields[field].error = exc.message
            self.say(_("Please correct the field marked in red. Nothing was recorded."), ok=False)
        else:
            self.say(exc.message, ok=False)

    async def run(self) -> None:
        """Record or charge; a second click while the first is under way does nothing."""
        if self.busy:
            return
        self.busy = True
        self.submit.set_enabled(False)
        self.submit.props("loading")
        finished = False
        try:
            if self.mode.value == ONLINE:
                finished = await self.charge()
            elif self.mode.value == CREDIT:
                finished = await self.pay_credit()
            else:
                finished = await self.record()
        finally:
            self.busy = False
            self.submit.props(remove="loading")
            if not finished:
                self._label_submit()

    def _received_on(self) -> date:
        try:
            return date.fromisoformat((self.received_on.value or "").strip())
        except ValueError:
            raise InvalidInput(_("Enter the date the payment was received."), field="received_on") from None

    async def record(self, *, to_credit: bool = False) -> bool:
        self.clear_errors()
        currency, invoice_id = self.target
        try:
            received_on = self._received_on()
            amount = parse_amount(self.amount.value or "", currency, self.locale)
            result = await ledger.record_offline_payment(
                actor=self.actor,
                client_id=self.context.client_id,
                amount_minor=amount,
                currency=currency,
                method=self.method.value or "",
                received_on=received_on,
                reference=self.reference.value or "",
                invoice_id=invoice_id,
                overpayment_to_credit=to_credit,
                idempotency_key=self.offline_key,
            )
        except OverpaymentNeedsConfirmation as exc:
            if await self._confirm_credit(amount, currency, exc.credit_minor):
                return await self.record(to_credit=True)
            self.say(_("Nothing was recorded."), ok=False)
            return False
        except DomainError as exc:
            self.show_error(exc)
            return False
        text = _("{amount} recorded.", amount=self.money(amount, currency))
        if result.credit_minor:
            text += " " + _("{credit} became credit.", credit=self.money(result.credit_minor, currency))
        if result.subscription_started is False:  # recorded once; pressing again retries only the start
            self.say(text + " " + _(NOT_STARTED), ok=False)
            return False
        if result.subscription_started:
            text += " " + _("The subscription started; it renews on {card}.", card=self.context.renews_on)
        await self.finish(text, result.payment_id)
        return True

    async def _confirm_credit(self, amount: int, currency: str, credit: int) -> bool:
        """Ask before an overpayment becomes credit, saying how much."""
        question = _(
            "{amount} is {credit} more than is due. {credit} will become credit for {client}.",
            amount=self.money(amount, currency),
            credit=self.money(credit, currency),
            client=self.context.client_name,
        )
        with ui.dialog().mark("overpayment-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
            ui.label(question).mark("overpayment-question")
            with ui.row().classes("w-full justify-end"):
                ui.button(_("Go back"), on_click=lambda: dialog.submit(False)).props("flat no-caps").mark(
                    "overpayment-cancel"
                )
                ui.button(
                    _("Record it and add {credit} of credit", credit=self.money(credit, currency)),
                    on_click=lambda: dialog.submit(True),
                ).props("no-caps").mark("overpayment-confirm")
        answer = await dialog
        if not dialog.is_deleted:
            dialog.delete()
        return answer is True

    async def charge(self) -> bool:
        self.clear_errors()
        if self.charge_invoice.value is None or self.charge_method.value is None:
            self.say(_("Choose an invoice and a saved method."), ok=False)
            return False
        try:
            outcome = await staff_charges.charge_stored_method(
                actor=self.actor,
                client_id=self.context.client_id,
                invoice_id=int(self.charge_invoice.value),
                method_id=int(self.charge_method.value),
                idempotency_key=self.charge_key,
            )
        except DomainError as exc:
            self.say(exc.message, ok=False)
            return False
        if outcome.status == "failed":
            self.charge_key = _new_key()  # nothing was charged: another try is a new charge
            self.say(outcome.message, ok=False)
            return False
        await self.finish(outcome.message, outcome.payment_id if outcome.succeeded else None)
        return True

    async def finish(self, text: str, payment_id: int | None) -> None:
        """Say what happened, link the receipt, tell the page, and keep the dialog from recording again."""
        self.say(text, ok=True)
        self.submit.set_enabled(False)
        self.submit.set_visibility(False)
        self.mode.disable()
        if payment_id is not None:
            self.receipt.props["href"] = receipt_url(payment_id)  # the dialog's "Open the receipt" link
            self.receipt.set_visibility(True)
        ui.notify(text, type="positive", multi_line=True)  # text, never HTML: it may carry a client's name
        await _call(self.on_done)


async def open_record_payment(
    actor: Actor,
    *,
    client_id: int,
    invoice_id: int | None = None,
    on_done: OnDone | None = None,
    mode: str = OFFLINE,
) -> None:
    """Open the dialog (`mode` CREDIT: on paying from credit); `on_done` runs after a payment is recorded."""
    try:
        context = await staff_charges.payment_context(actor=actor, client_id=client_id)
        credit = await ledger.credit_balances(actor=actor, client_id=client_id)
    except DomainError as exc:
        ui.notify(exc.message, type="negative")
        return
    view = RecordPaymentDialog(
        actor, context, invoice_id=invoice_id, on_done=on_done, credit=credit, mode=mode
    )
    await view.load_offer()
    view.open()

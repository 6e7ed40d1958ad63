"""The refund dialog, shared by the console's invoice page, a client's record and the staff receipt page:
full or partial amount (prefilled with what can still be refunded), a reason, confirm. Online payments go
back to their original method through the gateway; offline ones are recorded as paid out.

A page makes one `RefundAction` outside its live sections (its `Announcer` says what happened and
outlives the redraw) and calls `open(payment_id)` from a button or a table's `refund` event."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable

from nicegui import ui

from portal import i18n
from portal.billing import refund_credit
from portal.components.live_updates import Announcer
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput
from portal.domain.money import format_amount, format_money, parse_amount
from portal.i18n import _, pgettext
from portal.payments import refunds
from portal.payments.refunds import RefundOffer

OnDone = Callable[[], object | Awaitable[object]]
CANCEL, REOPEN = "cancel", "reopen"

# the action cell of a payments table: a Refund button that emits `refund` with the row's payment id
REFUND_CELL = """
<q-td :props="props">
  <q-btn v-if="props.row.refundable" flat dense no-caps color="red-7" icon="undo" :label="props.value"
         :aria-label="props.row.refund_label"
         @click="() => $parent.$emit('refund', {payment_id: props.row.payment_id})" />
</q-td>
"""


class RefundAction:
    """Refunds from one page: `open(payment_id)` shows the dialog; `on_done` redraws the page once."""

    def __init__(
        self, actor: Actor, *, on_done: OnDone | None = None, marker: str = "refund-message"
    ) -> None:
        self.actor = actor
        self.on_done = on_done
        self.announcer = Announcer(marker)

    async def open(self, payment_id: int) -> None:
        """The dialog for `payment_id` (or the reason it cannot be refunded)."""
        self.announcer.clear()
        try:
            offer = await refunds.refund_offer(actor=self.actor, payment_id=payment_id)
        except DomainError as exc:
            self.announcer.say(exc.message, ok=False)
            return
        if not offer.can_refund:
            self.announcer.say(_("Nothing is left to refund on this payment."), ok=False)
            return
        with self.announcer.place():
            RefundDialog(self, offer).dialog.open()

    async def on_table_event(self, event: object) -> None:
        """A payments table's `refund` event (`{payment_id: ...}`)."""
        args = getattr(event, "args", None) or {}
        payment_id = args.get("payment_id") if isinstance(args, dict) else None
        if isinstance(payment_id, int):
            await self.open(payment_id)

    async def done(self, text: str) -> None:
        self.announcer.say(text)
        if self.on_done is not None:
            result = self.on_done()
            if inspect.isawaitable(result):
                await result


class RefundDialog:
    """One opening: its own idempotency key, so a double click (or a retry) refunds once."""

    def __init__(self, action: RefundAction, offer: RefundOffer) -> None:
        self.action = action
        self.offer = offer
        self.locale = i18n.get_locale()
        self.key = f"console:{secrets.token_urlsafe(18)}"
        self.busy = False
        self.dialog = ui.dialog().mark("refund-dialog")
        self.dialog.on("hide", self._remove)
        money = self.money
        with self.dialog, ui.card().classes("w-full max-w-md gap-3"):
            ui.label(_("Refund a payment")).classes("text-lg font-semibold").mark("refund-title")
            ui.label(
                _(
                    "{amount} received {date} · {method}",
                    amount=money(offer.amount_minor),
                    date=i18n.format_date(offer.received_on),
                    method=offer.method,
                )
            ).classes("text-gray-700").mark("refund-summary")
            if offer.refunded_minor:
                ui.label(_("Already refunded: {amount}", amount=money(offer.refunded_minor))).classes(
                    "text-sm text-gray-600"
                ).mark("refund-already")
            ui.label(_("Up to {amount} can be refunded.", amount=money(offer.refundable_minor))).classes(
                "font-medium"
            ).mark("refund-available")
            self.amount = (
                ui.input(
                    _("Amount to refund ({currency})", currency=offer.currency),
                    value=format_amount(offer.refundable_minor, offer.currency, self.locale),
                )
                .props("outlined inputmode=decimal")
                .classes("w-full")
                .mark("refund-amount")
            )
            self.reason = (
                ui.textarea(_("Reason (the client sees it on the refund receipt)"))
                .props("outlined autogrow")
                .classes("w-full")
                .mark("refund-reason")
            )
            where = (
                _("The money goes back to {method} through the payment gateway.", method=offer.method)
                if offer.online
                else _(
                    "This payment was received offline: the refund is recorded as paid out by you "
                    "({method}); nothing moves through the gateway.",
                    method=offer.method,
                )
            )
            ui.label(where).classes("text-sm text-gray-600").mark("refund-where")
            self.cancel = self._invoice_choice() if offer.on_invoices_minor else None
            ui.label(_("The client gets a refund receipt.")).classes("text-sm text-gray-600")
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("refund-error")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat no-caps").mark("refund-cancel")
                self.submit = (
                    ui.button(pgettext("action", "Refund"), icon="undo", on_click=self.run)
                    .props("no-caps color=red-7")
                    .mark("refund-confirm")
                )

    def _invoice_choice(self) -> ui.radio:
        """What the refund means for the invoices the payment paid: cancelled by a credit note (the
        default: the sale, or part of it, is off) or owed again (e.g. the payment is to be made again)."""
        taken = self.money(self.offer.on_invoices_minor)
        ui.label(
            _(
                "Up to {amount} of it comes off the invoices this payment paid. For the client, that amount:",
                amount=taken,
            )
        ).classes("text-sm font-medium").mark("refund-invoices")
        return (
            ui.radio(
                {
                    CANCEL: _("is cancelled: a credit note is issued, the invoice stays paid"),
                    REOPEN: _("is owed again: the invoice reopens for it"),
                },
                value=CANCEL,
            )
            .props("dense")
            .classes("text-sm")
            .mark("refund-invoice-choice")
        )

    def money(self, amount_minor: int) -> str:
        return format_money(amount_minor, self.offer.currency, self.locale)

    def _remove(self) -> None:
        if not self.busy and not self.dialog.is_deleted:
            self.dialog.delete()

    async def run(self) -> None:
        """Refund once; an error stays in the dialog next to its field."""
        if self.busy:  # a second click while the first is under way: the key would make it one anyway
            return
        self.busy = True
        self.submit.props("loading")
        self.amount.error = self.reason.error = None
        self.error.set_text("")
        try:
            amount = parse_amount(self.amount.value or "", self.offer.currency, self.locale)
            done = await refund_credit.refund(
                actor=self.action.actor,
                payment_id=self.offer.payment_id,
                amount_minor=amount,
                reason=self.reason.value or "",
                idempotency_key=self.key,
                cancel_on_invoices=self.cancel is not None and self.cancel.value == CANCEL,
            )
        except InvalidInput as exc:
            target = {"amount": self.amount, "reason": self.reason}.get(exc.field or "")
            if target is not None:
                target.error = exc.message
            else:
                self.error.set_text(exc.message)
            return
        except DomainError as exc:
            self.error.set_text(exc.message)
            return
        finally:
            self.busy = False
            if not self.submit.is_deleted:
                self.submit.props(remove="loading")
        self.dialog.close()
        if self.offer.online:
            text = _("{amount} refunded to {method}.", amount=self.money(amount), method=self.offer.method)
        else:
            text = _(
                "{amount} recorded as refunded ({method}).",
                amount=self.money(amount),
                method=self.offer.method,
            )
        if done.credit_notes:
            text += " " + _("Credit note {numbers} issued.", numbers=", ".join(done.credit_notes))
        await self.action.done(text + " " + _("The client gets a refund receipt by email."))

"""/billing: the client's "My Billing" home: profile, balances, unpaid invoices with Pay Now."""

from __future__ import annotations

from nicegui import ui

from portal import auth
from portal.components.badges import money_label
from portal.config import get_settings
from portal.domain.errors import DomainError
from portal.domain.money import format_money
from portal.pages.common import signed_in_frame
from portal.services import clients, invoices, ledger, payments
from portal.services.actors import Actor
from portal.services.invoices import InvoiceSummary
from portal.services.organization import branding

# the dates give way on phones so that the amount, the status and Pay stay in view
HIDE_ON_PHONE = {"classes": "gt-xs", "headerClasses": "gt-xs"}
INVOICE_COLUMNS = [
    {"name": "number", "label": "Invoice", "field": "number", "align": "left"},
    {"name": "issue_date", "label": "Issued", "field": "issue_date", "align": "left", **HIDE_ON_PHONE},
    {"name": "due_date", "label": "Due", "field": "due_date", "align": "left", **HIDE_ON_PHONE},
    {"name": "amount_due", "label": "Amount due", "field": "amount_due", "align": "right"},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
    {"name": "pay", "label": "", "field": "id", "align": "right"},
]
STATUS_CELL = """
<q-td :props="props">
  <q-badge rounded :color="props.value === 'Overdue' ? 'red' : 'blue'" :label="props.value" />
</q-td>
"""
PAY_CELL = """
<q-td :props="props">
  <q-btn unelevated dense no-caps color="green-7" label="Pay now" :aria-label="'Pay ' + props.row.number"
         @click="() => $parent.$emit('pay', props.row.id)" />
</q-td>
"""
NEW_CARD = "new"
CREDIT = "credit"


class PayDialog:
    """Pay one invoice: with a saved method (the default preselected), a new card, or credit."""

    def __init__(self, actor: Actor, on_paid) -> None:
        self.actor = actor
        self.on_paid = on_paid
        self.invoice: InvoiceSummary | None = None
        self.sandbox = False
        self.dialog = ui.dialog().mark("pay-dialog")
        with self.dialog, ui.card().classes("w-full max-w-md gap-3"):
            self.title = ui.label().classes("text-lg font-semibold")
            self.amount = ui.label().classes("text-2xl font-semibold tabular-nums").mark("pay-amount")
            self.choice = ui.radio({}).props("name=pay-with").mark("pay-with")
            ui.badge("Sandbox: no real money moves", color="orange").props("outline").bind_visibility_from(
                self, "sandbox"
            )
            self.message = ui.label().props("role=alert").mark("pay-message")
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=self.dialog.close).props("flat")
                self.button = ui.button("Pay", on_click=self.pay).props("color=green-7").mark("pay-confirm")

    async def open(self, invoice: InvoiceSummary, *, sandbox: bool) -> None:
        """Fill the dialog for an invoice and show it."""
        self.invoice, self.sandbox = invoice, sandbox
        client_id = self.actor.client_id
        assert client_id is not None
        methods = await clients.payment_methods(actor=self.actor, client_id=client_id)
        credit = (await ledger.credit_balances(actor=self.actor, client_id=client_id)).get(
            invoice.currency, 0
        )
        options: dict[str, str] = {str(m.id): m.label for m in methods if m.kind == "card"}
        options[NEW_CARD] = "A new card"
        if credit > 0:
            options[CREDIT] = (
                f"My credit ({format_money(credit, invoice.currency, self.actor.locale)} available)"
            )
        self.choice.set_options(options, value=next(iter(options)))
        self.title.set_text(f"Pay invoice {invoice.number}")
        self.amount.set_text(format_money(invoice.amount_due_minor, invoice.currency, self.actor.locale))
        self.message.set_text("")
        self.message.classes(remove="text-red-700 text-green-700")
        self.button.set_enabled(True)
        self.dialog.open()

    async def pay(self) -> None:
        """Pay with the chosen way; the button stays disabled while the gateway answers."""
        if self.invoice is None or not self.button.enabled:
            return
        self.button.set_enabled(False)
        self.button.props("loading")
        choice = self.choice.value
        try:
            if choice == NEW_CARD:
                base = get_settings().public_url.rstrip("/")
                outcome = await payments.start_checkout(
                    actor=self.actor,
                    purpose="invoice",
                    target_id=self.invoice.id,
                    success_url=f"{base}/billing?paid={self.invoice.id}",
                    cancel_url=f"{base}/billing",
                )
                ui.navigate.to(outcome.redirect_url)
                return
            if choice == CREDIT:
                used = await payments.pay_from_credit(actor=self.actor, invoice_id=self.invoice.id)
                text = f"{format_money(used, self.invoice.currency, self.actor.locale)} of credit applied."
                self._done(text, ok=True)
                return
            outcome = await payments.pay_with_saved_method(
                actor=self.actor, purpose="invoice", target_id=self.invoice.id, method_id=int(choice)
            )
            self._done(outcome.message, ok=outcome.status in ("succeeded", "processing"))
        except DomainError as exc:
            self._done(exc.message, ok=False)
        finally:
            self.button.props(remove="loading")

    def _done(self, text: str, *, ok: bool) -> None:
        self.message.set_text(text)
        self.message.classes(replace="text-green-700" if ok else "text-red-700")
        if ok:
            self.on_paid()
        else:
            self.button.set_enabled(True)


def register() -> None:
    """Add /billing."""

    @auth.page("/billing", access=auth.Access.client, title="My Billing")
    async def billing_page(actor: Actor, paid: str = "") -> None:
        client_id = actor.client_id
        assert client_id is not None
        profile = await clients.get_profile(actor=actor, client_id=client_id)
        brand = await branding()
        locale = actor.locale
        with signed_in_frame(actor, brand, "My Billing"):
            with ui.card().classes("w-full"), ui.row().classes("items-center gap-4"):
                if profile.avatar_path:
                    ui.image(profile.avatar_path).classes("w-14 h-14 rounded-full").props("alt=Avatar")
                else:
                    with ui.avatar(color="primary", text_color="white").mark("avatar"):
                        ui.label(profile.initials).classes("text-base font-semibold")
                with ui.column().classes("gap-0"):
                    ui.label(profile.name).classes("text-lg font-semibold").mark("client-name")
                    if profile.company:
                        ui.label(profile.company).classes("text-gray-600").mark("client-company")
                    if profile.plans:
                        ui.label("Plans: " + ", ".join(profile.plans)).classes("text-sm").mark("plans")
            if paid:
                ui.label("Thank you! Your payment is being confirmed.").classes("text-green-700").mark(
                    "paid-banner"
                )

            @ui.refreshable
            async def balances() -> None:
                open_items = await invoices.open_invoices(actor=actor, client_id=client_id)
                credit = await ledger.credit_balances(actor=actor, client_id=client_id)
                totals: dict[str, int] = {}
                for item in open_items:
                    totals[item.currency] = totals.get(item.currency, 0) + item.amount_due_minor
                with ui.row().classes("w-full gap-4"):
                    with ui.card().classes("grow"):
                        ui.label("Open balance").classes("text-sm text-gray-600")
                        if not totals:
                            ui.label("Nothing to pay").classes("text-xl").mark("total-open")
                        for currency, amount in sorted(totals.items()):
                            money_label(
                                amount, currency, locale=locale, classes="text-xl font-semibold"
                            ).mark("total-open")
                    with ui.card().classes("grow"):
                        ui.label("Credit available").classes("text-sm text-gray-600")
                        text = ", ".join(format_money(v, c, locale) for c, v in sorted(credit.items()))
                        ui.label(text or "No credit").classes("text-xl").mark("credit")
                with ui.card().classes("w-full"):
                    ui.label("Unpaid invoices").classes("text-lg font-semibold")
                    if not open_items:
                        ui.label("You are all paid up. Thank you!").mark("no-open-invoices")
                        return
                    by_id = {item.id: item for item in open_items}
                    rows = [
                        {
                            "id": item.id,
                            "number": item.number,
                            "issue_date": item.issue_date.isoformat(),
                            "due_date": item.due_date.isoformat(),
                            "amount_due": format_money(item.amount_due_minor, item.currency, locale),
                            "status": "Overdue" if item.is_overdue else "Open",
                        }
                        for item in open_items
                    ]
                    table = ui.table(columns=INVOICE_COLUMNS, rows=rows, row_key="id").classes("w-full")
                    table.props("flat").mark("open-invoices")
                    table.add_slot("body-cell-status", STATUS_CELL)
                    table.add_slot("body-cell-pay", PAY_CELL)
                    sandbox = brand.gateway_mode == "sandbox"
                    table.on("pay", lambda e: dialog.open(by_id[int(e.args)], sandbox=sandbox))

            dialog = PayDialog(actor, on_paid=balances.refresh)
            await balances()

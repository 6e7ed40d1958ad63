"""/billing/invoices/{id}, /billing/quotes/{id}, /billing/receipts/{id}; staff see a receipt at
/admin/receipts/{id}, with Refund. Their PDF downloads are in `pages.downloads`.

Each screen asks one service for its document and shows it; the live part redraws after a payment or a
decision here, or when a payment for this client is recorded anywhere in the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from nicegui import ui

from portal import i18n
from portal.billing import documents, quotes
from portal.clients.dashboard import Payable
from portal.components import guard
from portal.components.badges import status_badge
from portal.components.credit_note_links import credit_note_notice
from portal.components.document_editor import einvoice_links, reverse_charge_mention
from portal.components.document_editor import pair as _pair
from portal.components.document_editor import text_block as _text_block
from portal.components.frame import signed_in_frame
from portal.components.invoice_summary import invoice_summary, totals_block
from portal.components.live_updates import Announcer, follow_money_events, live_method
from portal.components.pay_dialog import PayDialog
from portal.components.quote_decision import decision_notice
from portal.components.refund_dialog import RefundAction
from portal.components.tables import LINK_CELL
from portal.core.actors import Actor
from portal.domain.errors import DomainError, NotFound
from portal.domain.money import format_money
from portal.i18n import N_, _, pgettext
from portal.payments.branding import Branding, branding

LINE_COLUMNS = [
    {
        "name": "date",
        "label": N_("Date"),
        "field": "date",
        "align": "left",
        "classes": "gt-xs",
        "headerClasses": "gt-xs",
    },
    {"name": "description", "label": N_("Description"), "field": "description", "align": "left"},
    {"name": "quantity", "label": N_("Qty"), "field": "quantity", "align": "right"},
    {"name": "unit_price", "label": N_("Unit price"), "field": "unit_price", "align": "right"},
    {
        "name": "tax",
        "label": N_("Tax"),
        "field": "tax",
        "align": "right",
        "classes": "gt-xs",
        "headerClasses": "gt-xs",
    },
    {"name": "amount", "label": N_("Amount"), "field": "amount", "align": "right"},
]
APPLIED_COLUMNS = [
    {"name": "date", "label": N_("Date"), "field": "date", "align": "left"},
    {"name": "what", "label": "", "field": "what", "align": "left"},
    {"name": "reference", "label": N_("Reference"), "field": "reference", "align": "left"},
    {"name": "amount", "label": N_("Amount"), "field": "amount", "align": "right"},
    {"name": "receipt", "label": "", "field": "receipt", "align": "right"},
]
SETTLED_COLUMNS = [
    {"name": "number", "label": N_("Invoice"), "field": "number", "align": "left"},
    {"name": "amount", "label": N_("Amount"), "field": "amount", "align": "right"},
]
NOT_FOUND_TEXT = {
    "invoice": N_("We could not find that invoice. It may have been withdrawn, or the link is mistyped."),
    "receipt": N_("We could not find that receipt. It may have been withdrawn, or the link is mistyped."),
    "estimate or proposal": N_(
        "We could not find that estimate or proposal. It may have been withdrawn, or the link is mistyped."
    ),
}


def titled(columns: list[dict]) -> list[dict]:
    """Table columns with their titles in the current locale."""
    return [{**column, "label": _(title) if (title := column["label"]) else ""} for column in columns]


def _not_found(actor: Actor, brand: Branding, what: str) -> None:
    with signed_in_frame(actor, brand, _("Not found")), ui.card().classes("w-full").mark("not-found"):
        ui.label(_(NOT_FOUND_TEXT[what]))
        ui.link(_("Back to My Billing"), "/billing")


def _day(value: date | None) -> str:
    """'05 Nov 2026' / '05 nov. 2026'."""
    return i18n.format_date(value) if value else ""


def _line_rows(
    lines: Sequence[documents.LineView] | Sequence[quotes.QuoteLineView], currency: str, locale: str
) -> list[dict]:
    return [
        {
            "id": index,
            "date": _day(line.date),
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": format_money(line.unit_price_minor, currency, locale),
            "tax": f"{line.tax_name} {line.tax_rate}%".strip(),
            "amount": format_money(line.net_minor, currency, locale),
        }
        for index, line in enumerate(lines)
    ]


def _lines_table(rows: list[dict], marker: str) -> None:
    table = ui.table(columns=titled(LINE_COLUMNS), rows=rows, row_key="id").classes("w-full").props("flat")
    table.mark(marker)


# -- invoice ----------------------------------------------------------------------------------------
class InvoiceScreen:
    """One invoice: lines, taxes, what paid it, what is due, Pay now and the PDF."""

    def __init__(self, actor: Actor, brand: Branding, detail: documents.InvoiceDetail) -> None:
        self.actor = actor
        self.brand = brand
        self.invoice_id = detail.id
        self.preloaded: documents.InvoiceDetail | None = detail
        self.announcer = Announcer("invoice-message")
        self.dialog = PayDialog(actor, on_paid=self.paid)

    def refresh(self) -> None:
        """Redraw the invoice (after a payment here or elsewhere); two at once give one redraw."""
        self.body.refresh()

    def paid(self, text: str) -> None:
        """After a payment from the Pay dialog: say so where it stays, redraw the invoice."""
        self.announcer.say(text, notify=False)
        self.refresh()

    def money(self, amount_minor: int, currency: str) -> str:
        """An amount in the viewer's locale."""
        return format_money(amount_minor, currency, i18n.get_locale())

    @live_method
    async def body(self) -> None:
        """Everything below the title."""
        detail, self.preloaded = self.preloaded, None
        if detail is None:
            try:
                detail = await documents.get_invoice(actor=self.actor, invoice_id=self.invoice_id)
            except NotFound:
                ui.label(_("This invoice is no longer available.")).mark("not-found")
                return
        self._summary(detail)
        await credit_note_notice(self.actor, detail.id)
        with ui.card().classes("w-full"):
            invoice_summary(detail.presentation)
        self._applied(detail)
        _text_block(_("Notes"), _(detail.notes) if detail.notes else "", "invoice-notes")
        reverse_charge_mention(detail)
        if detail.can_pay and detail.organization.bank_details.strip():
            reference = _("Reference: {reference}", reference=detail.number)
            _text_block(
                _("Pay by bank transfer"),
                f"{detail.organization.bank_details}\n{reference}",
                "bank-details",
            )

    def _summary(self, detail: documents.InvoiceDetail) -> None:
        with ui.card().classes("w-full"), ui.row().classes("w-full items-center justify-between gap-4"):
            with ui.column().classes("gap-1"):
                with ui.row().classes("items-center gap-2"):
                    status_badge(detail.display_status)
                    dates = _(
                        "Issued {issued} · Due {due}",
                        issued=_day(detail.issue_date),
                        due=_day(detail.due_date),
                    )
                    ui.label(dates).classes("text-gray-600")
                ui.label(
                    _(
                        "From {organization} to {client}",
                        organization=detail.organization.name,
                        client=detail.client.name,
                    )
                ).classes("text-sm")
            with ui.row().classes("items-center gap-2"):
                ui.link(_("Download PDF"), f"/billing/invoices/{detail.id}/pdf").props("download").mark(
                    "download-pdf"
                )
                einvoice_links(detail)
                if detail.can_pay:
                    ui.button(_("Pay now"), on_click=lambda: self.pay(detail)).props(
                        "color=green-7 no-caps"
                    ).mark("pay-now")

    def _applied(self, detail: documents.InvoiceDetail) -> None:
        rows = [
            {
                "id": f"p{index}",
                "date": _day(p.date),
                "what": p.method,
                "reference": p.reference,
                "amount": self.money(p.amount_minor, detail.currency),
                "receipt": _("Receipt") if p.has_receipt else "",
                "href": f"/billing/receipts/{p.payment_id}" if p.has_receipt else "",
            }
            for index, p in enumerate(detail.payments)
        ]
        rows += [
            {
                "id": f"c{index}",
                "date": _day(c.date),
                "what": _("Credit"),
                "reference": "",
                "amount": self.money(c.amount_minor, detail.currency),
                "receipt": "",
                "href": "",
            }
            for index, c in enumerate(detail.credits)
        ]
        rows += [
            {
                "id": f"r{index}",
                "date": _day(r.date),
                "what": _("Refund: {reason}", reason=_(r.reason)) if r.reason else _("Refund"),
                "reference": "",
                "amount": self.money(-r.amount_minor, detail.currency),
                "receipt": "",
                "href": "",
            }
            for index, r in enumerate(detail.refunds)
        ]
        if not rows:
            return
        with ui.card().classes("w-full"):
            ui.label(_("Payments and credit applied")).classes("text-lg font-semibold")
            table = (
                ui.table(columns=titled(APPLIED_COLUMNS), rows=rows, row_key="id")
                .classes("w-full")
                .props("flat")
            )
            table.mark("invoice-payments")
            table.add_slot("body-cell-receipt", LINK_CELL)

    async def pay(self, detail: documents.InvoiceDetail) -> None:
        """Open the Pay dialog for what is due now."""
        item = Payable(
            purpose="invoice",
            id=detail.id,
            number=detail.number,
            title=detail.title,
            issue_date=detail.issue_date,
            due_date=detail.due_date,
            currency=detail.currency,
            amount_due_minor=detail.amount_due_minor,
        )
        await self.dialog.open(item, sandbox=self.brand.gateway_mode == "sandbox")


# -- quote ------------------------------------------------------------------------------------------
class QuoteScreen:
    """An estimate or proposal: lines, totals, terms, validity; Approve or Decline while it is open."""

    def __init__(self, actor: Actor, view: quotes.QuoteView) -> None:
        self.actor = actor
        self.quote_id = view.id
        self.preloaded: quotes.QuoteView | None = view
        self.announcer = Announcer("quote-message")

    def money(self, amount_minor: int, currency: str) -> str:
        """An amount in the viewer's locale."""
        return format_money(amount_minor, currency, i18n.get_locale())

    @live_method
    async def body(self) -> None:
        """Everything below the title."""
        view, self.preloaded = self.preloaded, None
        if view is None:
            try:
                view = await quotes.get_quote(actor=self.actor, quote_id=self.quote_id)
            except NotFound:
                ui.label(_("This estimate or proposal is no longer available.")).mark("not-found")
                return
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-center gap-2"):
                status_badge(view.display_status)
                if view.title:
                    ui.label(view.title).classes("text-lg font-semibold").mark("quote-title")
                ui.space()
                ui.link(_("Download PDF"), f"/billing/quotes/{view.id}/pdf").props("download").mark(
                    "quote-pdf"
                )
            if view.valid_until:
                validity = _(
                    "Issued {issued} · valid until {until}",
                    issued=_day(view.issue_date),
                    until=_day(view.valid_until),
                )
            else:
                validity = _("Issued {issued}", issued=_day(view.issue_date))
            ui.label(validity).classes("text-gray-600").mark("validity")
            self._decision(view)
        with ui.card().classes("w-full"):
            _lines_table(_line_rows(view.lines, view.currency, i18n.get_locale()), "quote-lines")
            with ui.column().classes("w-full max-w-sm ml-auto gap-1"):
                _pair(_("Subtotal"), self.money(view.subtotal_minor, view.currency))
                for tax in documents.tax_summary(view.lines):
                    _pair(tax.label, self.money(tax.tax_minor, view.currency))
                _pair(_("Total"), self.money(view.total_minor, view.currency), strong=True, marker="total")
        _text_block(_("Terms"), view.terms, "terms")

    def _decision(self, view: quotes.QuoteView) -> None:
        if view.decided_at is not None and view.status in ("approved", "declined", "converted"):
            day = _day(view.decided_at)
            decision = (
                _("Declined on {date}", date=day)
                if view.status == "declined"
                else _("Approved on {date}", date=day)
            )
            ui.label(decision).classes("font-semibold").mark("decision")
            if view.decision_comment:
                ui.label(_("Comment: {comment}", comment=view.decision_comment)).classes(
                    "whitespace-pre-line"
                ).mark("decision-comment")
            return
        if view.awaiting_decision:
            with ui.row().classes("gap-2"):
                ui.button(_("Approve"), on_click=lambda: self.decide(True)).props(
                    "color=green-7 no-caps"
                ).mark("approve")
                ui.button(_("Decline"), on_click=lambda: self.ask_decline(view)).props(
                    "flat color=red-7 no-caps"
                ).mark("decline")
        elif view.status == "sent" and view.valid_until is not None:
            if view.kind == "proposal":
                expired = _(
                    "This proposal expired on {date}. Please ask us for a new one.",
                    date=_day(view.valid_until),
                )
            else:
                expired = _(
                    "This estimate expired on {date}. Please ask us for a new one.",
                    date=_day(view.valid_until),
                )
            ui.label(expired).mark("expired")

    async def decide(self, approve: bool, comment: str = "") -> None:
        """Record the decision (the service checks that it is still open and is this client's)."""
        try:
            decided = await quotes.decide(
                actor=self.actor, quote_id=self.quote_id, approve=approve, comment=comment
            )
        except DomainError as exc:
            self.announcer.say(exc.message, ok=False)
            self.body.refresh()
            return
        self.announcer.say(decision_notice(decided))
        self.body.refresh()

    def ask_decline(self, view: quotes.QuoteView) -> None:
        """A dialog with an optional comment before declining (on the page: the redraw keeps it)."""
        with self.announcer.place(), ui.dialog() as dialog, ui.card().classes("w-full max-w-md"):
            ui.label(_("Decline {document}?", document=view.label)).classes("text-lg font-semibold")
            comment = ui.textarea(_("Comment (optional)")).props(f"outlined maxlength={quotes.COMMENT_LIMIT}")
            comment.classes("w-full").mark("decline-comment")

            async def confirm() -> None:
                dialog.close()
                await self.decide(False, comment.value or "")

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Decline"), on_click=confirm).props("color=red-7").mark("decline-confirm")
        dialog.open()


# -- receipt ----------------------------------------------------------------------------------------
def _receipt(actor: Actor, detail: documents.ReceiptDetail, invoice_base: str = "/billing/invoices") -> None:
    money = lambda amount: format_money(amount, detail.currency, i18n.get_locale())  # noqa: E731
    with ui.card().classes("w-full gap-2"):
        with ui.row().classes("w-full items-center justify-between"):
            with ui.row().classes("items-center gap-2"):
                ui.badge(
                    detail.status_label, color="green" if detail.status == "succeeded" else "orange"
                ).props("rounded").mark("receipt-status")
                received = _("Received {date} · {method}", date=_day(detail.date), method=detail.method)
                ui.label(received).classes("text-gray-600")
            ui.link(_("Download PDF"), f"/billing/receipts/{detail.payment_id}/pdf").props("download").mark(
                "download-pdf"
            )
        if detail.reference:
            ui.label(_("Reference: {reference}", reference=detail.reference)).classes("text-sm").mark(
                "receipt-reference"
            )
        _pair(_("Amount received"), money(detail.amount_minor), strong=True, marker="receipt-amount")
        if detail.credit_created_minor:
            _pair(_("Added to your credit"), money(detail.credit_created_minor), marker="receipt-credit")
        for refund in detail.refunds:
            if refund.reason:
                text = _("Refunded {date} ({reason})", date=_day(refund.date), reason=_(refund.reason))
            else:
                text = _("Refunded {date}", date=_day(refund.date))
            _pair(text, money(-refund.amount_minor))
    if detail.settled:
        with ui.card().classes("w-full"):
            ui.label(_("Invoices this payment settled")).classes("text-lg font-semibold")
            rows = [
                {
                    "id": s.invoice_id,
                    "number": s.number,
                    "amount": money(s.amount_minor),
                    "href": f"{invoice_base}/{s.invoice_id}",
                }
                for s in detail.settled
            ]
            table = (
                ui.table(columns=titled(SETTLED_COLUMNS), rows=rows, row_key="id")
                .classes("w-full")
                .props("flat")
            )
            table.mark("receipt-invoices")
            table.add_slot("body-cell-number", LINK_CELL)
        for settled in detail.settled:
            if settled.presentation is not None:
                with ui.card().classes("w-full gap-1").mark("receipt-invoice-totals"):
                    ui.label(_("Invoice {number} now stands as follows:", number=settled.number)).classes(
                        "font-semibold"
                    )
                    totals_block(settled.presentation)


class StaffReceipt:
    """A receipt as staff see it (/admin/receipts/{id}): the client's receipt, with Refund while something
    is left to refund; it redraws after a refund here or money moving for the client elsewhere."""

    def __init__(self, actor: Actor, detail: documents.ReceiptDetail) -> None:
        self.actor = actor
        self.payment_id = detail.payment_id
        self.preloaded: documents.ReceiptDetail | None = detail
        self.refunds = RefundAction(actor, on_done=self.refresh)

    def refresh(self) -> None:
        """Redraw the receipt; two at once give one redraw."""
        self.body.refresh()

    @live_method
    async def body(self) -> None:
        detail, self.preloaded = self.preloaded, None
        if detail is None:
            try:
                detail = await documents.get_receipt(actor=self.actor, payment_id=self.payment_id)
            except NotFound as exc:
                ui.label(exc.message).mark("not-found")
                return
        if detail.status in ("succeeded", "partially_refunded"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(
                    _(
                        "Kept after refunds: {amount}",
                        amount=format_money(detail.kept_minor, detail.currency, i18n.get_locale()),
                    )
                ).classes("font-medium").mark("receipt-kept")
                ui.space()
                ui.button(
                    pgettext("action", "Refund"),
                    icon="undo",
                    on_click=lambda: self.refunds.open(self.payment_id),
                ).props("no-caps outline color=red-7").mark("refund-payment")
        _receipt(self.actor, detail, "/admin/invoices")


def register() -> None:
    """Add the invoice, quote and receipt pages (their downloads: `pages.downloads`)."""

    @guard.page("/billing/invoices/{invoice_id}", access=guard.Access.client, title="Invoice")
    async def invoice_page(actor: Actor, invoice_id: int) -> None:
        brand = await branding()
        try:
            detail = await documents.get_invoice(actor=actor, invoice_id=invoice_id)
        except NotFound:
            _not_found(actor, brand, "invoice")
            return
        ui.page_title(detail.title)
        with signed_in_frame(actor, brand, detail.title):
            screen = InvoiceScreen(actor, brand, detail)
            await screen.body()
            ui.link(_("Back to My Billing"), "/billing")
            follow_money_events(actor.client_id, screen.refresh)

    @guard.page("/billing/quotes/{quote_id}", access=guard.Access.client, title="Estimate or proposal")
    async def quote_page(actor: Actor, quote_id: int) -> None:
        brand = await branding()
        try:
            view = await quotes.get_quote(actor=actor, quote_id=quote_id)
        except NotFound:
            _not_found(actor, brand, "estimate or proposal")
            return
        ui.page_title(view.label)
        with signed_in_frame(actor, brand, view.label):
            screen = QuoteScreen(actor, view)
            await screen.body()
            ui.link(_("Back to My Billing"), "/billing")

    @guard.page("/billing/receipts/{payment_id}", access=guard.Access.client, title="Receipt")
    async def receipt_page(actor: Actor, payment_id: int) -> None:
        brand = await branding()
        try:
            detail = await documents.get_receipt(actor=actor, payment_id=payment_id)
        except NotFound:
            _not_found(actor, brand, "receipt")
            return
        ui.page_title(detail.title)
        with signed_in_frame(actor, brand, detail.title):
            _receipt(actor, detail)
            ui.link(_("Payment history"), "/billing/history")

    @guard.page("/admin/receipts/{payment_id}", access=guard.Access.staff, title="Receipt")
    async def staff_receipt_page(actor: Actor, payment_id: int) -> None:
        brand = await branding()
        try:
            detail = await documents.get_receipt(actor=actor, payment_id=payment_id)
        except NotFound:
            _not_found(actor, brand, "receipt")
            return
        ui.page_title(detail.title)
        with signed_in_frame(actor, brand, detail.title):
            await StaffReceipt(actor, detail).body()
            ui.link(_("Back to invoices"), "/admin/invoices").mark("back")

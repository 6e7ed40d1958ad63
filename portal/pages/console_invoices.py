"""/admin/invoices (list), /admin/invoices/new?client=<id> and /admin/invoices/{id} (editor or document).

A draft opens in the editor (lines with live totals, Save draft, Send, Void); a sent invoice shows its lines,
payments, credit and amount due, with Record payment, Resend, Duplicate, Void and the PDF. Each button
calls one service; errors show next to their field or in a notification.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from nicegui import ui

from portal import i18n
from portal.billing import invoice_editor, invoice_list, invoices, line_input
from portal.billing.invoice_editor import InvoiceEditorView, InvoiceForm
from portal.billing.invoice_list import InvoicePage
from portal.components import guard
from portal.components.badges import status_badge
from portal.components.credit_note_links import credit_note_notice
from portal.components.document_editor import (
    DocumentList,
    DraftEditor,
    date_field,
    einvoice_links,
    long_text_field,
    pdf_link,
    reverse_charge_mention,
    text_block,
)
from portal.components.document_editor import money_text as _money
from portal.components.feedback import guarded
from portal.components.frame import signed_in_frame
from portal.components.invoice_summary import invoice_summary
from portal.components.live_updates import follow_money_events, live_method
from portal.components.record_lookup import client_picker, not_found, query_id
from portal.components.record_payment import open_record_payment
from portal.components.refund_dialog import REFUND_CELL, RefundAction
from portal.components.tables import LINK_CELL
from portal.core.actors import Actor
from portal.domain.errors import NotFound
from portal.domain.status import invoice_label
from portal.i18n import _, pgettext
from portal.payments.branding import branding


def _columns() -> list[dict]:
    return [
        {"name": "number", "label": _("Invoice"), "field": "number", "align": "left"},
        {"name": "client", "label": _("Client"), "field": "client", "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status_label", "align": "left"},
        {"name": "issued", "label": _("Issued"), "field": "issued", "align": "left"},
        {"name": "due", "label": _("Due"), "field": "due", "align": "left"},
        {"name": "total", "label": _("Total"), "field": "total", "align": "right"},
        {"name": "amount_due", "label": _("Amount due"), "field": "amount_due", "align": "right"},
    ]


def status_text(status: str) -> str:
    """A status in words."""
    return {
        "draft": _("Draft"),
        "open": _("Open"),
        "overdue": _("Overdue"),
        "paid": _("Paid"),
        "deleted": invoice_label("deleted"),
    }.get(status, status)


# -- the editor (new invoices and drafts) -----------------------------------------------------------
class InvoiceEditor(DraftEditor):
    """Currency, dates, lines and notes of a draft; Save draft, Send, Duplicate and Void."""

    base_url = "/admin/invoices"

    def __init__(self, actor: Actor, view: InvoiceEditorView) -> None:
        super().__init__(actor, view)
        self.view: InvoiceEditorView = view
        form = view.form
        with ui.card().classes("w-full gap-3"):
            self.client_row()
            with ui.row().classes("w-full items-start gap-3"):
                self.currency_select()
                self.issue = date_field(_("Issue date"), form.issue_date, "issue-date")
                self.due = date_field(_("Due date"), form.due_date, "due-date")
        self.line_card()
        self.notes = long_text_field(_("Notes for the client"), form.notes, "notes")
        self.issue.on_value_change(lambda: self.check_header(touched=True))
        self.due.on_value_change(lambda: self.check_header(touched=True))
        with ui.row().classes("w-full items-center gap-2"):
            self.save_and_send_buttons()
            if view.id is not None:
                ui.button(_("Duplicate"), on_click=self.duplicate).props("flat no-caps").mark("duplicate")
                ui.button(_("Delete draft"), on_click=self.ask_void).props("flat color=red-7 no-caps").mark(
                    "void"
                )
                pdf_link(_("Preview PDF"), f"/billing/invoices/{view.id}/pdf")

    def form(self) -> InvoiceForm:
        """What is typed."""
        return InvoiceForm(
            currency=self.currency.value or "",
            issue_date=self.issue.value or "",
            due_date=self.due.value or "",
            notes=self.notes.value or "",
            lines=self.lines.forms(),
        )

    def check_header(self, *, touched: bool = False) -> dict[str, str]:
        """Dates and notes: show their errors (the due date cannot be before the issue date)."""
        _issue, _due, errors = line_input.check_dates(self.issue.value or "", self.due.value or "")
        errors.update(line_input.check_notes(self.notes.value or ""))
        if touched or errors:
            self.issue.error = errors.get("issue_date")
            self.due.error = errors.get("due_date")
            self.notes.error = errors.get("notes")
        return errors

    def header_fields(self) -> dict:
        """The inputs outside the line editor, by field name."""
        return {
            "currency": self.currency,
            "issue_date": self.issue,
            "due_date": self.due,
            "notes": self.notes,
        }

    def send_texts(self) -> tuple[str, str]:
        """The Send confirmation."""
        return _("Send this invoice?"), _(
            "It gets its number and {email} receives an email with a link to pay it.",
            email=self.view.client.email,
        )

    def sent_message(self) -> str:
        """The notification after sending."""
        return _("Invoice sent.")

    async def store(self, *, send: bool) -> int:
        """Save the draft, or send it."""
        form = self.form()
        invoice_id, client_id = self.view.id, (self.view.client.id if self.view.id is None else None)
        action = invoice_editor.send_invoice if send else invoice_editor.save_draft
        return await action(actor=self.actor, invoice_id=invoice_id, client_id=client_id, form=form)

    async def duplicate(self) -> None:
        """A new draft with the same lines."""
        assert self.view.id is not None
        copy = await guarded(
            lambda: invoice_editor.duplicate_invoice(actor=self.actor, invoice_id=self.view.id)
        )
        if copy is not None:
            ui.navigate.to(f"/admin/invoices/{copy}")

    def ask_void(self) -> None:
        """Confirm, then delete the draft."""
        assert self.view.id is not None
        confirm_void(
            self.actor, self.view.id, _("Delete this draft?"), lambda: ui.navigate.to("/admin/invoices")
        )


def confirm_void(
    actor: Actor, invoice_id: int, question: str, after: Callable[[], None], *, issued: bool = False
) -> None:
    """A confirmation dialog before voiding an invoice (on the page: a redraw behind it keeps it); an
    issued one asks for the reason its credit note gives."""
    with ui.context.client, ui.dialog() as dialog, ui.card().classes("w-full max-w-md"):
        ui.label(question).classes("text-lg font-semibold")
        ui.label(_("Its payment links stop working. This cannot be undone."))
        reason = None
        if issued:
            ui.label(
                _("The invoice stays as it was issued, marked void, and a credit note cancels it.")
            ).classes("text-sm text-gray-700")
            reason = (
                ui.input(_("Reason, printed on the credit note (optional)"))
                .props("outlined maxlength=500")
                .classes("w-full")
                .mark("void-reason")
            )

        async def void() -> tuple[str | None]:
            why = reason.value if reason is not None else ""
            return (await invoice_editor.void_invoice(actor=actor, invoice_id=invoice_id, reason=why or ""),)

        async def confirm() -> None:
            dialog.close()
            done = await guarded(void)
            if isinstance(done, tuple):
                number = done[0]
                ui.notify(
                    _("Invoice voided. Credit note {number} issued.", number=number)
                    if number
                    else _("Invoice voided."),
                    type="positive",
                )
                after()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat")
            ui.button(_("Void invoice"), on_click=confirm).props("color=red-7").mark("void-confirm")
    dialog.open()


# -- a sent (or void) invoice -----------------------------------------------------------------------
class InvoiceDocument:
    """A sent invoice: lines, totals, payments and credit, amount due, and what staff can still do."""

    def __init__(self, actor: Actor, view: InvoiceEditorView) -> None:
        self.actor = actor
        self.invoice_id = view.id
        self.client_id = view.client.id
        self.preloaded: InvoiceEditorView | None = view
        self.refunds = RefundAction(actor, on_done=self.refresh)  # says what happened above the redraws

    def refresh(self) -> None:
        """Redraw (after an action here, or money moving elsewhere); two at once give one redraw."""
        self.body.refresh()

    @live_method
    async def body(self) -> None:
        """Everything below the title."""
        view, self.preloaded = self.preloaded, None
        if view is None:
            assert self.invoice_id is not None
            try:
                view = await invoice_editor.get_invoice_editor(actor=self.actor, invoice_id=self.invoice_id)
            except NotFound:
                ui.label(_("This invoice no longer exists.")).mark("not-found")
                return
        if view.editable:  # cannot happen after sending; a draft opened elsewhere reloads into the editor
            ui.navigate.to(f"/admin/invoices/{view.id}")
            return
        detail = view.detail
        assert detail is not None
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-center justify-between gap-3"):
                with ui.row().classes("items-center gap-2"):
                    status_badge(view.display_status)
                    if detail.awaiting_transfer_since and view.status == "open":  # the client said so
                        awaiting = ui.badge(_("Awaiting transfer"), color="purple").props("rounded")
                        awaiting.mark("awaiting-transfer")
                    ui.label(
                        _(
                            "Issued {issued} · Due {due}",
                            issued=i18n.format_date(detail.issue_date),
                            due=i18n.format_date(detail.due_date),
                        )
                    ).classes("text-gray-600")
                    ui.link(view.client.name, f"/admin/clients/{view.client.id}").mark("client-link")
                self._actions(view)
            note = invoices.locked_note(
                view.status,
                total_minor=detail.total_minor,
                amount_due_minor=detail.amount_due_minor,
                credited_minor=detail.credit_applied_minor,
            )
            ui.label(note).classes("text-sm text-gray-600").mark("locked-note")
            await credit_note_notice(self.actor, view.id)
            if detail.payments and view.status in ("open", "paid"):
                ui.label(_("To refund a payment, press Refund beside it under Payments and credit.")).classes(
                    "text-sm text-gray-600"
                ).mark("refund-hint")
        with ui.card().classes("w-full"):
            invoice_summary(detail.presentation)  # as the client, the PDF, the pay link and the email show it
        self._money_table(view)
        text_block(_("Notes"), detail.notes, "invoice-notes")
        reverse_charge_mention(detail)

    def _actions(self, view: InvoiceEditorView) -> None:
        detail = view.detail
        assert detail is not None and view.id is not None
        with ui.row().classes("items-center gap-2"):
            pdf_link(_("Download PDF"), f"/billing/invoices/{view.id}/pdf")
            einvoice_links(detail, staff=True)
            if view.status == "open" and detail.amount_due_minor > 0:
                ui.button(_("Record payment"), icon="payments", on_click=self.record_payment).props(
                    "no-caps color=green-7"
                ).mark("record-payment")
                ui.button(  # the record-payment dialog on its "Pay from credit" tab (issue 15 item 2)
                    _("Pay from credit"),
                    icon="savings",
                    on_click=lambda: open_record_payment(
                        self.actor,
                        client_id=self.client_id,
                        invoice_id=self.invoice_id,
                        on_done=self.refresh,
                        mode="credit",
                    ),
                ).props("outline no-caps").mark("pay-from-credit")
            if view.status == "open":
                resend = ui.button(_("Resend"), icon="forward_to_inbox").props("outline no-caps")
                resend.on_click(lambda: self.resend(resend)).mark("resend")
            ui.button(_("Duplicate"), on_click=self.duplicate).props("flat no-caps").mark("duplicate")
            if view.status == "open" and detail.amount_due_minor == detail.total_minor:  # no money on it
                void = ui.button(_("Void invoice"), on_click=self.ask_void).props("flat color=red-7 no-caps")
                void.mark("void")

    def _money_table(self, view: InvoiceEditorView) -> None:
        detail = view.detail
        assert detail is not None
        money = lambda amount: _money(amount, detail.currency)  # noqa: E731
        taken_back: dict[int | None, int] = {}  # what refunds took back from this invoice, per payment
        for r in detail.refunds:
            taken_back[r.payment_id] = taken_back.get(r.payment_id, 0) + r.amount_minor
        rows = [
            {
                "id": f"p{i}",
                "date": i18n.format_date(p.date),
                "what": p.method,
                "reference": p.reference,
                "amount": money(p.amount_minor),
                "payment_id": p.payment_id,
                "href": f"/admin/receipts/{p.payment_id}" if p.has_receipt else "",
                "refundable": view.status in ("open", "paid")
                and taken_back.get(p.payment_id, 0) < p.amount_minor,
                "refund": pgettext("action", "Refund"),
                "refund_label": _("Refund the payment of {amount}", amount=money(p.amount_minor)),
            }
            for i, p in enumerate(detail.payments)
        ]
        rows += [
            {
                "id": f"c{i}",
                "date": i18n.format_date(c.date),
                "what": _("Credit"),
                "reference": "",
                "amount": money(c.amount_minor),
            }
            for i, c in enumerate(detail.credits)
        ]
        rows += [
            {
                "id": f"r{i}",
                "date": i18n.format_date(r.date),
                "what": _("Refund"),
                "reference": r.reason,
                "amount": money(-r.amount_minor),
            }
            for i, r in enumerate(detail.refunds)
        ]
        with ui.card().classes("w-full"):
            ui.label(_("Payments and credit")).classes("text-lg font-semibold")
            if not rows:
                ui.label(_("Nothing has been paid on this invoice yet.")).classes("text-gray-600").mark(
                    "no-payments"
                )
                return
            columns = [
                {"name": "date", "label": _("Date"), "field": "date", "align": "left"},
                {"name": "what", "label": _("How"), "field": "what", "align": "left"},
                {"name": "reference", "label": _("Reference"), "field": "reference", "align": "left"},
                {"name": "amount", "label": _("Amount"), "field": "amount", "align": "right"},
                {"name": "refund", "label": "", "field": "refund", "align": "right"},
            ]
            table = ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat")
            table.mark("invoice-payments")
            table.add_slot("body-cell-what", LINK_CELL)  # the payment's receipt
            table.add_slot("body-cell-refund", REFUND_CELL)
            table.on("refund", self.refunds.on_table_event)

    async def record_payment(self) -> None:
        """The shared record-payment dialog, for this invoice."""
        await open_record_payment(
            self.actor, client_id=self.client_id, invoice_id=self.invoice_id, on_done=self.refresh
        )

    async def resend(self, button: ui.button) -> None:
        """Email the invoice again with a new link."""
        assert self.invoice_id is not None
        invoice_id = self.invoice_id
        page = ui.context.client  # the button may be redrawn away meanwhile; the page stays
        sent_to = await guarded(
            lambda: invoice_editor.resend_invoice(actor=self.actor, invoice_id=invoice_id), button
        )
        if sent_to:
            with page:
                ui.notify(_("Sent again to {email}.", email=sent_to), type="positive")

    async def duplicate(self) -> None:
        """A new draft with the same lines."""
        assert self.invoice_id is not None
        invoice_id = self.invoice_id
        copy = await guarded(
            lambda: invoice_editor.duplicate_invoice(actor=self.actor, invoice_id=invoice_id)
        )
        if copy is not None:
            ui.navigate.to(f"/admin/invoices/{copy}")

    def ask_void(self) -> None:
        """Confirm, then void (refused while money is on it)."""
        assert self.invoice_id is not None
        confirm_void(self.actor, self.invoice_id, _("Void this invoice?"), self.refresh, issued=True)


# -- the list ---------------------------------------------------------------------------------------
class InvoiceList(DocumentList):
    """Filters, one page of invoices as a table, previous and next."""

    def __init__(self, actor: Actor) -> None:
        super().__init__(actor, {"search": "", "status": "", "currency": "", "overdue": False})
        with ui.row().classes("w-full items-center gap-3"):
            self.search = (
                ui.input(_("Search client or number"))
                .props("outlined dense clearable debounce=300")
                .classes("w-72")
                .mark("invoice-search")
            )
            self.status = (
                ui.select(
                    {
                        "": _("All but void"),
                        "draft": _("Draft"),
                        "open": _("Open"),
                        "paid": _("Paid"),
                        "deleted": invoice_label("deleted"),
                    },
                    value="",
                    label=_("Status"),
                )
                .props("outlined dense")
                .classes("w-40")
                .mark("status-filter")
            )
            self.currency = (
                ui.select({"": _("All currencies")}, value="", label=_("Currency"))
                .props("outlined dense")
                .classes("w-40")
                .mark("currency-filter")
            )
            self.overdue = ui.checkbox(_("Overdue only")).mark("overdue-filter")
            ui.space()
            ui.button(
                _("New invoice"), icon="add", on_click=lambda: ui.navigate.to("/admin/invoices/new")
            ).props("no-caps").mark("new-invoice")
        self.add_table(_columns(), "invoices")
        self.search.on_value_change(lambda e: self.filter("search", e.value or ""))
        self.status.on_value_change(lambda e: self.filter("status", e.value or ""))
        self.currency.on_value_change(lambda e: self.filter("currency", e.value or ""))
        self.overdue.on_value_change(lambda e: self.filter("overdue", bool(e.value)))

    async def fetch(self) -> InvoicePage:
        """The current page of invoices."""
        return await invoice_list.list_invoices(
            actor=self.actor,
            search=self.state["search"],
            status=self.state["status"],
            currency=self.state["currency"],
            overdue=self.state["overdue"],
            page=self.state["page"],
        )

    def rows(self, result: InvoicePage) -> list[dict]:
        """One row an invoice."""
        return [
            {
                "id": row.id,
                "number": row.number,
                "href": f"/admin/invoices/{row.id}",
                "client": row.client_name,
                "status": row.status,
                "status_label": status_text(row.status),
                "issued": i18n.format_date(row.issue_date),
                "due": i18n.format_date(row.due_date),
                "total": _money(row.total_minor, row.currency),
                "amount_due": _money(row.amount_due_minor, row.currency),
            }
            for row in result.rows
        ]

    def loaded(self, result: InvoicePage) -> None:
        """The currency filter offers the currencies in use."""
        options = {"": _("All currencies"), **{code: code for code in result.currencies}}
        if options != self.currency.options:
            self.currency.set_options(
                options, value=self.currency.value if self.currency.value in options else ""
            )

    def page_text(self, result: InvoicePage) -> str:
        """'Page 1 of 3 · 42 invoices'."""
        return i18n.ngettext(
            "Page {page} of {pages} · {count} invoice",
            "Page {page} of {pages} · {count} invoices",
            result.total,
            page=result.page,
            pages=result.pages,
        )


# -- pages ------------------------------------------------------------------------------------------
def register() -> None:
    """Add /admin/invoices, /admin/invoices/new and /admin/invoices/{id}."""

    @guard.page("/admin/invoices", access=guard.Access.staff, title="Invoices")
    async def list_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Invoices")):
            invoices = InvoiceList(actor)
        await invoices.load()

    @guard.page("/admin/invoices/new", access=guard.Access.staff, title="New invoice")
    async def new_page(actor: Actor, request: Request) -> None:
        # ?client=<id> is read from the request: NiceGUI gives a page parameter named `client` its own Client
        client = query_id(request, "client")
        brand = await branding()
        if client is None:
            with signed_in_frame(actor, brand, _("New invoice")):
                await client_picker(
                    actor, _("Who is this invoice for?"), lambda cid: f"/admin/invoices/new?client={cid}"
                )
            return
        try:
            view = await invoice_editor.new_invoice(actor=actor, client_id=client)
        except NotFound as exc:
            with signed_in_frame(actor, brand, _("New invoice")):
                not_found(exc.message, "/admin/invoices/new", _("Choose another client"))
            return
        with signed_in_frame(actor, brand, view.title):
            InvoiceEditor(actor, view)

    @guard.page("/admin/invoices/{invoice_id}", access=guard.Access.staff, title="Invoice")
    async def invoice_page(actor: Actor, invoice_id: int) -> None:
        brand = await branding()
        try:
            view = await invoice_editor.get_invoice_editor(actor=actor, invoice_id=invoice_id)
        except NotFound as exc:
            with signed_in_frame(actor, brand, _("Invoice")):
                not_found(exc.message, "/admin/invoices", _("Back to invoices"))
            return
        with signed_in_frame(actor, brand, view.title):
            if view.editable:
                InvoiceEditor(actor, view)
            else:
                screen = InvoiceDocument(actor, view)
                await screen.body()
                follow_money_events(view.client.id, screen.refresh)
            ui.link(_("Back to invoices"), "/admin/invoices").mark("back")

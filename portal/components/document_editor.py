"""What the console's invoice and quote screens share: the draft editor's frame (client row, line editor,
Save draft and Send, errors next to their fields), the sent document's lines and totals, and the paged list
with its filters.

Each screen subclasses `DraftEditor` / `DocumentList` and supplies its own fields, service calls and texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.validation_element import ValidationElement

from portal import i18n
from portal.billing import facturx
from portal.billing.documents import InvoiceDetail
from portal.billing.invoice_editor import InvoiceEditorView
from portal.billing.line_input import NOTES_LIMIT
from portal.billing.quote_editor import QuoteEditorView
from portal.components.badges import status_badge
from portal.components.line_editor import LineEditor
from portal.components.tables import LINK_CELL, quiet_empty
from portal.core.actors import Actor
from portal.core.clock import today
from portal.domain.errors import DomainError, InvalidInput
from portal.domain.mentions import REVERSE_CHARGE
from portal.domain.money import format_money
from portal.i18n import N_, _

LINE_COLUMNS = (
    ("date", N_("Date"), "left"),
    ("description", N_("Service"), "left"),
    ("quantity", N_("Qty"), "right"),
    ("unit_price", N_("Unit price"), "right"),
    ("tax", N_("Tax"), "right"),
    ("amount", N_("Amount"), "right"),
)


def money_text(amount_minor: int, currency: str) -> str:
    """An amount in the current locale."""
    return format_money(amount_minor, currency, i18n.get_locale())


def pdf_link(label: str, url: str) -> None:
    """The document's PDF, downloaded."""
    ui.link(label, url).props("download").mark("download-pdf")


def einvoice_links(detail: InvoiceDetail, *, staff: bool = False) -> None:
    """An issued invoice's e-invoice (Factur-X, EN 16931): the PDF with its XML inside, and the XML alone;
    for staff, what is missing when there is none yet."""
    if not facturx.has_einvoice(detail):
        if staff and (reason := facturx.missing(detail)):
            ui.label(reason).classes("text-sm text-gray-600").mark("facturx-missing")
        return
    base = f"/billing/invoices/{detail.id}/factur-x"
    link = ui.link(_("E-invoice (Factur-X)"), f"{base}.pdf").props("download").mark("download-facturx")
    link.props["title"] = _(
        "The PDF with the invoice's data inside, as EN 16931 XML, for accounting software"
    )
    ui.link(_("XML"), f"{base}.xml").props("download").mark("download-facturx-xml")


def pair(label: str, value: str, *, strong: bool = False, marker: str = "") -> None:
    """A label and an amount on one line."""
    with ui.row().classes("w-full justify-between items-baseline no-wrap"):
        ui.label(label).classes("font-semibold" if strong else "text-gray-700")
        element = ui.label(value).classes("tabular-nums " + ("text-xl font-semibold" if strong else ""))
        if marker:
            element.mark(marker)


def text_block(title: str, text: str, marker: str) -> None:
    """Notes or terms under a document, in a card of their own (nothing when empty)."""
    if text.strip():
        with ui.card().classes("w-full gap-1"):
            ui.label(title).classes("font-semibold")
            ui.label(text).classes("whitespace-pre-line").mark(marker)


def reverse_charge_mention(detail: InvoiceDetail) -> None:
    """A reverse-charged invoice's mention, as its PDF carries it (nothing on any other invoice)."""
    if detail.reverse_charge:
        with ui.card().classes("w-full gap-1"):
            ui.label(_(REVERSE_CHARGE)).classes("text-sm").mark("reverse-charge-mention")


def line_table(lines: Sequence[Any], currency: str, marker: str) -> None:
    """The lines of a sent document (date, service, quantity, unit price, tax, amount)."""
    columns = [{"name": n, "label": _(label), "field": n, "align": align} for n, label, align in LINE_COLUMNS]
    rows = [
        {
            "id": index,
            "date": i18n.format_date(line.date),
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": money_text(line.unit_price_minor, currency),
            "tax": f"{line.tax_name} {line.tax_rate}%".strip(),
            "amount": money_text(line.net_minor, currency),
        }
        for index, line in enumerate(lines)
    ]
    ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat").mark(marker)


def date_field(label: str, value: str, marker: str, *, clearable: bool = False) -> ui.input:
    """A date input of the editor's header (its errors show when the editor checks it)."""
    field = ui.input(label, value=value).props(
        "type=date stack-label outlined dense" + (" clearable" if clearable else "")
    )
    return field.classes("w-44").mark(marker).without_auto_validation()


def long_text_field(label: str, value: str, marker: str) -> ui.textarea:
    """The notes or terms under the lines."""
    return (
        ui.textarea(label, value=value)
        .props(f"outlined maxlength={NOTES_LIMIT}")
        .classes("w-full")
        .mark(marker)
        .without_auto_validation()
    )


# -- the draft editor -------------------------------------------------------------------------------
class DraftEditor:
    """A draft's client row, line editor, Save draft and Send; a subclass adds its own header fields.

    Subclasses set `base_url` (a saved draft opens at `{base_url}/{id}`) and supply `header_fields`,
    `check_header`, `send_texts` and `store`.
    """

    base_url = ""

    def __init__(self, actor: Actor, view: InvoiceEditorView | QuoteEditorView) -> None:
        self.actor = actor
        self.view = view

    def client_row(self) -> None:
        """Status, and who the document is for."""
        view = self.view
        with ui.row().classes("w-full items-center gap-3"):
            status_badge(view.status)
            ui.label(_("For")).classes("text-gray-600")
            ui.link(view.client.name, f"/admin/clients/{view.client.id}").mark("client-link")
            ui.label(view.client.email).classes("text-sm text-gray-600")
        if view.client.reverse_charge:  # what saving decides, said before saving
            hint = _(
                "Reverse charge: no VAT is charged; the client accounts for it "
                "(EU business, VAT no. {number})",
                number=view.client.vat_number,
            )
            ui.label(hint).classes("text-sm text-blue-900 bg-blue-50 rounded px-2 py-1").mark(
                "reverse-charge-hint"
            )

    def currency_select(self) -> ui.select:
        """The draft's currency; the line editor follows it."""
        view = self.view
        self.currency = (
            ui.select(view.currencies, value=view.form.currency, label=_("Currency"))
            .props("outlined dense")
            .classes("w-32")
            .mark("currency")
            .without_auto_validation()
        )
        self.currency.on_value_change(lambda e: self.lines.set_currency(e.value))
        return self.currency

    def line_card(self) -> None:
        """The shared line editor, in a card."""
        form = self.view.form
        with ui.card().classes("w-full"):
            self.lines = LineEditor(
                locale=self.actor.locale,
                currency=form.currency,
                taxes=self.view.taxes,
                lines=form.lines,
                default_date=today().isoformat(),
                reverse_charge=self.view.client.reverse_charge,
            )

    def save_and_send_buttons(self) -> None:
        """Save draft and Send (inside the caller's row)."""
        self.save_button = ui.button(_("Save draft"), on_click=self.save).props("outline no-caps")
        self.save_button.mark("save-draft")
        self.send_button = ui.button(_("Send"), icon="send", on_click=self.ask_send).props("no-caps")
        self.send_button.mark("send")

    def header_fields(self) -> dict[str, ValidationElement]:
        """The inputs outside the line editor, by field name."""
        raise NotImplementedError

    def check_header(self, *, touched: bool = False) -> dict[str, str]:
        """Check the inputs outside the line editor and show their errors."""
        raise NotImplementedError

    def send_texts(self) -> tuple[str, str]:
        """The question and the explanation of the Send confirmation."""
        raise NotImplementedError

    def sent_message(self) -> str:
        """The notification after sending."""
        return _("Sent.")

    async def store(self, *, send: bool) -> int:
        """Save (and maybe send) through the service; the saved document's id."""
        raise NotImplementedError

    def show_error(self, field: str | None, message: str) -> None:
        """Put a service's InvalidInput next to its field."""
        header = self.header_fields()
        if field in header:
            header[field].error = message
        elif not (field and self.lines.show_errors({field: message})):
            ui.notify(message, type="negative", multi_line=True)

    def ready(self) -> bool:
        """Every field valid (all errors shown when not)."""
        errors = {**self.check_header(), **self.lines.validate()}
        if errors:
            ui.notify(_("Please correct the highlighted fields."), type="warning")
        return not errors

    async def save(self) -> None:
        """Save the draft (no number, nothing sent)."""
        if self.ready():
            await self._submit(send=False)

    def ask_send(self) -> None:
        """Confirm before the email goes out."""
        if not self.ready():
            return
        question, explanation = self.send_texts()
        with ui.dialog() as dialog, ui.card().classes("w-full max-w-md"):
            ui.label(question).classes("text-lg font-semibold")
            ui.label(explanation)

            async def confirm() -> None:
                dialog.close()
                await self._submit(send=True)

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Send"), on_click=confirm).mark("send-confirm")
        dialog.open()

    async def _submit(self, *, send: bool) -> None:
        for button in (self.save_button, self.send_button):
            button.disable()
        try:
            saved = await self.store(send=send)
        except InvalidInput as exc:
            self.show_error(exc.field, exc.message)
            return
        except DomainError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        finally:
            for button in (self.save_button, self.send_button):
                button.enable()
        ui.notify(self.sent_message() if send else _("Draft saved."), type="positive")
        ui.navigate.to(f"{self.base_url}/{saved}")


# -- the list ---------------------------------------------------------------------------------------
class DocumentList:
    """One page of documents as a table, with filters, previous and next.

    A subclass builds its filters, calls `add_table`, and supplies `fetch`, `rows` and `page_text`.
    """

    def __init__(self, actor: Actor, state: dict) -> None:
        self.actor = actor
        self.requests = 0
        self.state = {**state, "page": 1}

    def add_table(self, columns: list[dict], marker: str) -> None:
        """The table (its number column links to the document) and the pager under it."""
        self.table = ui.table(columns=columns, rows=[], row_key="id").classes("w-full").props("flat")
        quiet_empty(self.table.mark(marker))
        self.table.add_slot("body-cell-number", LINK_CELL)
        with ui.row().classes("items-center gap-2"):
            self.prev = ui.button(_("Previous"), on_click=lambda: self.go(-1)).props("flat").mark("prev-page")
            self.page_label = ui.label().mark("page-label")
            self.next = ui.button(_("Next"), on_click=lambda: self.go(1)).props("flat").mark("next-page")

    async def fetch(self) -> Any:
        """The current page from the service."""
        raise NotImplementedError

    def rows(self, result: Any) -> list[dict]:
        """The table rows of a page."""
        raise NotImplementedError

    def page_text(self, result: Any) -> str:
        """'Page 1 of 3 · 42 documents'."""
        raise NotImplementedError

    def loaded(self, result: Any) -> None:
        """Anything else that follows a new page (nothing by default)."""

    async def filter(self, name: str, value: object) -> None:
        """A filter changed: back to the first page."""
        self.state[name] = value
        self.state["page"] = 1
        await self.load()

    async def go(self, step: int) -> None:
        """Previous or next page."""
        self.state["page"] = max(1, self.state["page"] + step)
        await self.load()

    async def load(self) -> None:
        """Ask the service for the current page (an answer overtaken by a newer request is dropped)."""
        self.requests += 1
        request = self.requests
        try:
            result = await self.fetch()
        except DomainError as exc:
            ui.notify(exc.message, type="negative")
            return
        if request != self.requests:
            return
        self.table.rows = self.rows(result)
        self.table.update()
        self.loaded(result)
        self.page_label.set_text(self.page_text(result))
        self.prev.set_enabled(result.page > 1)
        self.next.set_enabled(result.page < result.pages)

"""/admin/quotes (list), /admin/quotes/new?client=<id>&kind=estimate|proposal and /admin/quotes/{id}.

A draft opens in the editor (title, validity, terms, the shared line editor; Save draft and Send). A sent
one shows its status and the client's decision; approving or declining is the client's. An approved one
has "Convert to invoice", which opens the draft invoice it becomes.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from portal import auth, i18n
from portal.components.badges import status_badge
from portal.components.line_editor import LineEditor
from portal.domain.errors import DomainError, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.i18n import _
from portal.pages.common import signed_in_frame
from portal.pages.console_invoices import (
    LINE_COLUMNS,
    LINK_CELL,
    client_picker,
    guarded,
    not_found,
    pair,
    query_id,
)
from portal.services import invoice_editor, quote_editor
from portal.services.actors import Actor
from portal.services.clock import today
from portal.services.documents import tax_summary
from portal.services.organization import branding
from portal.services.quote_editor import QuoteEditorView, QuoteForm, kind_label


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, i18n.get_locale())


def status_text(status: str) -> str:
    """A quote status in words."""
    return {
        "draft": _("Draft"),
        "sent": _("Sent"),
        "approved": _("Approved"),
        "declined": _("Declined"),
        "expired": _("Expired"),
        "converted": _("Converted"),
    }.get(status, status)


# -- the editor -------------------------------------------------------------------------------------
class QuoteEditor:
    """Title, currency, validity, lines and terms of a draft; Save draft and Send."""

    def __init__(self, actor: Actor, view: QuoteEditorView) -> None:
        self.actor = actor
        self.view = view
        form = view.form
        with ui.card().classes("w-full gap-3"):
            with ui.row().classes("w-full items-center gap-3"):
                status_badge(view.status)
                ui.label(_("For")).classes("text-gray-600")
                ui.link(view.client.name, f"/admin/clients/{view.client.id}").mark("client-link")
                ui.label(view.client.email).classes("text-sm text-gray-600")
            self.title = (
                ui.input(_("Title"), value=form.title)
                .props(f"outlined dense maxlength={quote_editor.TITLE_LIMIT}")
                .classes("w-full")
                .mark("quote-title")
                .without_auto_validation()
            )
            with ui.row().classes("w-full items-start gap-3"):
                self.currency = (
                    ui.select(view.currencies, value=form.currency, label=_("Currency"))
                    .props("outlined dense")
                    .classes("w-32")
                    .mark("currency")
                    .without_auto_validation()
                )
                self.valid_until = (
                    ui.input(_("Valid until"), value=form.valid_until)
                    .props("type=date stack-label outlined dense clearable")
                    .classes("w-44")
                    .mark("valid-until")
                    .without_auto_validation()
                )
        with ui.card().classes("w-full"):
            self.lines = LineEditor(
                locale=actor.locale,
                currency=form.currency,
                taxes=view.taxes,
                lines=form.lines,
                default_date=today().isoformat(),
            )
        self.terms = (
            ui.textarea(_("Terms"), value=form.terms)
            .props(f"outlined maxlength={invoice_editor.NOTES_LIMIT}")
            .classes("w-full")
            .mark("terms")
            .without_auto_validation()
        )
        self.currency.on_value_change(lambda e: self.lines.set_currency(e.value))
        self.valid_until.on_value_change(lambda: self.check_header(touched=True))
        self.title.on_value_change(lambda: self.check_header(touched=True))
        with ui.row().classes("w-full items-center gap-2"):
            self.save_button = ui.button(_("Save draft"), on_click=self.save).props("outline no-caps")
            self.save_button.mark("save-draft")
            self.send_button = ui.button(_("Send"), icon="send", on_click=self.ask_send).props("no-caps")
            self.send_button.mark("send")
            if view.id is not None:
                ui.link(_("Preview PDF"), f"/billing/quotes/{view.id}/pdf").props("download").mark(
                    "download-pdf"
                )

    def form(self) -> QuoteForm:
        """What is typed."""
        return QuoteForm(
            currency=self.currency.value or "",
            title=self.title.value or "",
            valid_until=self.valid_until.value or "",
            terms=self.terms.value or "",
            lines=self.lines.forms(),
        )

    def header_fields(self) -> dict:
        """The inputs outside the line editor, by field name."""
        return {
            "currency": self.currency,
            "title": self.title,
            "valid_until": self.valid_until,
            "terms": self.terms,
        }

    def check_header(self, *, touched: bool = False) -> dict[str, str]:
        """Title, validity and terms: show their errors."""
        errors = {
            name: message
            for name, message in quote_editor.check_quote_form(
                QuoteForm(
                    currency=self.currency.value or "",
                    title=self.title.value or "",
                    valid_until=self.valid_until.value or "",
                    terms=self.terms.value or "",
                    lines=[],
                ),
                locale=self.actor.locale,
                taxes={},
            ).items()
            if name in self.header_fields()
        }
        if touched or errors:
            for name, element in self.header_fields().items():
                element.error = errors.get(name)
        return errors

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
        """Save the draft."""
        if self.ready():
            await self._submit(send=False)

    def ask_send(self) -> None:
        """Confirm before the email goes out."""
        if not self.ready():
            return
        with ui.dialog() as dialog, ui.card().classes("w-full max-w-md"):
            ui.label(_("Send this {kind}?", kind=kind_label(self.view.kind).lower())).classes(
                "text-lg font-semibold"
            )
            ui.label(
                _(
                    "It gets its number and {email} receives an email with a link to approve or decline it.",
                    email=self.view.client.email,
                )
            )

            async def confirm() -> None:
                dialog.close()
                await self._submit(send=True)

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=dialog.close).props("flat")
                ui.button(_("Send"), on_click=confirm).mark("send-confirm")
        dialog.open()

    async def _submit(self, *, send: bool) -> None:
        view = self.view
        new = view.id is None
        arguments = {
            "actor": self.actor,
            "quote_id": view.id,
            "client_id": view.client.id if new else None,
            "kind": view.kind if new else None,
            "form": self.form(),
        }
        for button in (self.save_button, self.send_button):
            button.disable()
        try:
            if send:
                saved = await quote_editor.send_quote(**arguments)
            else:
                saved = await quote_editor.save_quote_draft(**arguments)
        except InvalidInput as exc:
            self.show_error(exc.field, exc.message)
            return
        except DomainError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        finally:
            for button in (self.save_button, self.send_button):
                button.enable()
        ui.notify(_("Sent.") if send else _("Draft saved."), type="positive")
        ui.navigate.to(f"/admin/quotes/{saved}")


# -- a sent quote -----------------------------------------------------------------------------------
def quote_document(actor: Actor, view: QuoteEditorView) -> None:
    """Status, the client's decision, lines, totals, terms; Convert when approved."""
    document = view.document
    assert document is not None and view.id is not None
    quote_id = view.id
    money = lambda amount: _money(amount, document.currency)  # noqa: E731
    with ui.card().classes("w-full gap-2"):
        with ui.row().classes("w-full items-center justify-between gap-3"):
            with ui.row().classes("items-center gap-2"):
                status_badge(view.display_status)
                dates = _("Issued {issued}", issued=i18n.format_date(document.issue_date))
                if document.valid_until:
                    dates = _(
                        "Issued {issued} · valid until {until}",
                        issued=i18n.format_date(document.issue_date),
                        until=i18n.format_date(document.valid_until),
                    )
                ui.label(dates).classes("text-gray-600").mark("validity")
                ui.link(view.client.name, f"/admin/clients/{view.client.id}").mark("client-link")
            with ui.row().classes("items-center gap-2"):
                ui.link(_("Download PDF"), f"/billing/quotes/{quote_id}/pdf").props("download").mark(
                    "download-pdf"
                )
                if view.status == "approved":

                    async def convert() -> None:
                        invoice_id = await guarded(
                            lambda: quote_editor.convert_quote(actor=actor, quote_id=quote_id), button
                        )
                        if invoice_id is not None:
                            ui.notify(_("Draft invoice created."), type="positive")
                            ui.navigate.to(f"/admin/invoices/{invoice_id}")

                    button = ui.button(_("Convert to invoice"), icon="receipt_long", on_click=convert)
                    button.props("no-caps color=green-7").mark("convert")
        if document.title:
            ui.label(document.title).classes("text-lg font-semibold").mark("quote-title")
        _decision(view)
        if view.converted_invoice_id is not None:
            with ui.row().classes("items-center gap-1"):
                ui.label(_("Invoiced as"))
                ui.link(
                    view.converted_invoice_number or "", f"/admin/invoices/{view.converted_invoice_id}"
                ).mark("converted-invoice")
    with ui.card().classes("w-full"):
        columns = [
            {"name": n, "label": _(label), "field": n, "align": align} for n, label, align in LINE_COLUMNS
        ]
        rows = [
            {
                "id": index,
                "date": i18n.format_date(line.date),
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price_minor),
                "tax": f"{line.tax_name} {line.tax_rate}%".strip(),
                "amount": money(line.net_minor),
            }
            for index, line in enumerate(document.lines)
        ]
        ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").props("flat").mark("quote-lines")
        with ui.column().classes("w-full max-w-sm ml-auto gap-1"):
            pair(_("Subtotal"), money(document.subtotal_minor))
            for tax in tax_summary(document.lines):
                pair(tax.label, money(tax.tax_minor))
            pair(_("Total"), money(document.total_minor), strong=True, marker="total")
    if document.terms.strip():
        with ui.card().classes("w-full gap-1"):
            ui.label(_("Terms")).classes("font-semibold")
            ui.label(document.terms).classes("whitespace-pre-line").mark("terms")


def _decision(view: QuoteEditorView) -> None:
    document = view.document
    assert document is not None
    if view.status == "sent" and view.display_status == "sent":
        ui.label(_("Waiting for the client to approve or decline it.")).classes("text-gray-600").mark(
            "decision"
        )
    elif view.display_status == "expired":
        ui.label(_("It expired before the client decided.")).classes("text-gray-600").mark("decision")
    elif document.decided_at is not None:
        when = i18n.format_date(document.decided_at)
        text = (
            _("Declined by the client on {date}.", date=when)
            if view.status == "declined"
            else _("Approved by the client on {date}.", date=when)
        )
        ui.label(text).classes("font-semibold").mark("decision")
        if document.decision_comment:
            ui.label(_("Comment: {comment}", comment=document.decision_comment)).classes(
                "whitespace-pre-line"
            ).mark("decision-comment")


# -- the list ---------------------------------------------------------------------------------------
def _columns() -> list[dict]:
    return [
        {"name": "number", "label": _("Number"), "field": "number", "align": "left"},
        {"name": "kind", "label": _("Kind"), "field": "kind_label", "align": "left"},
        {"name": "title", "label": _("Title"), "field": "title", "align": "left"},
        {"name": "client", "label": _("Client"), "field": "client", "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status_label", "align": "left"},
        {"name": "issued", "label": _("Issued"), "field": "issued", "align": "left"},
        {"name": "valid_until", "label": _("Valid until"), "field": "valid_until", "align": "left"},
        {"name": "total", "label": _("Total"), "field": "total", "align": "right"},
    ]


class QuoteList:
    """Filters, one page of estimates and proposals, previous and next."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.requests = 0
        self.state: dict = {"search": "", "status": "", "kind": "", "page": 1}
        with ui.row().classes("w-full items-center gap-3"):
            self.search = (
                ui.input(_("Search client, number or title"))
                .props("outlined dense clearable debounce=300")
                .classes("w-72")
                .mark("quote-search")
            )
            kinds = {"": _("Estimates and proposals"), "estimate": _("Estimates"), "proposal": _("Proposals")}
            self.kind = (
                ui.select(kinds, value="", label=_("Kind"))
                .props("outlined dense")
                .classes("w-52")
                .mark("kind-filter")
            )
            statuses = {"": _("Any status")} | {s: status_text(s) for s in quote_editor.STATUS_FILTERS if s}
            self.status = (
                ui.select(statuses, value="", label=_("Status"))
                .props("outlined dense")
                .classes("w-40")
                .mark("status-filter")
            )
            ui.space()
            ui.button(
                _("New estimate"),
                icon="add",
                on_click=lambda: ui.navigate.to("/admin/quotes/new?kind=estimate"),
            ).props("no-caps").mark("new-estimate")
            ui.button(
                _("New proposal"),
                icon="add",
                on_click=lambda: ui.navigate.to("/admin/quotes/new?kind=proposal"),
            ).props("outline no-caps").mark("new-proposal")
        self.table = ui.table(columns=_columns(), rows=[], row_key="id").classes("w-full").props("flat")
        self.table.mark("quotes")
        self.table.add_slot("body-cell-number", LINK_CELL)
        with ui.row().classes("items-center gap-2"):
            self.prev = ui.button(_("Previous"), on_click=lambda: self.go(-1)).props("flat").mark("prev-page")
            self.page_label = ui.label().mark("page-label")
            self.next = ui.button(_("Next"), on_click=lambda: self.go(1)).props("flat").mark("next-page")
        self.search.on_value_change(lambda e: self.filter("search", e.value or ""))
        self.kind.on_value_change(lambda e: self.filter("kind", e.value or ""))
        self.status.on_value_change(lambda e: self.filter("status", e.value or ""))

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
            result = await quote_editor.list_quotes(
                actor=self.actor,
                search=self.state["search"],
                status=self.state["status"],
                kind=self.state["kind"],
                page=self.state["page"],
            )
        except DomainError as exc:
            ui.notify(exc.message, type="negative")
            return
        if request != self.requests:
            return
        self.table.rows = [
            {
                "id": row.id,
                "number": row.number,
                "href": f"/admin/quotes/{row.id}",
                "kind": row.kind,
                "kind_label": kind_label(row.kind),
                "title": row.title,
                "client": row.client_name,
                "status": row.status,
                "status_label": status_text(row.status),
                "issued": i18n.format_date(row.issue_date),
                "valid_until": i18n.format_date(row.valid_until),
                "total": _money(row.total_minor, row.currency),
            }
            for row in result.rows
        ]
        self.table.update()
        self.page_label.set_text(
            _(
                "Page {page} of {pages} · {total} documents",
                page=result.page,
                pages=result.pages,
                total=result.total,
            )
        )
        self.prev.set_enabled(result.page > 1)
        self.next.set_enabled(result.page < result.pages)


# -- pages ------------------------------------------------------------------------------------------
def register() -> None:
    """Add /admin/quotes, /admin/quotes/new and /admin/quotes/{id}."""

    @auth.page("/admin/quotes", access=auth.Access.staff, title="Estimates and proposals")
    async def list_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Estimates and proposals")):
            quotes = QuoteList(actor)
        await quotes.load()

    @auth.page("/admin/quotes/new", access=auth.Access.staff, title="New estimate or proposal")
    async def new_page(actor: Actor, request: Request, kind: str = "estimate") -> None:
        # ?client=<id> is read from the request: NiceGUI gives a page parameter named `client` its own Client
        client = query_id(request, "client")
        brand = await branding()
        chosen = "proposal" if kind == "proposal" else "estimate"
        heading = _("New proposal") if chosen == "proposal" else _("New estimate")
        if client is None:
            with signed_in_frame(actor, brand, heading):
                await client_picker(
                    actor,
                    _("Who is it for?"),
                    lambda cid: f"/admin/quotes/new?client={cid}&kind={chosen}",
                )
            return
        try:
            view = await quote_editor.new_quote(actor=actor, client_id=client, kind=kind)
        except (NotFound, InvalidInput) as exc:
            with signed_in_frame(actor, brand, _("New estimate or proposal")):
                not_found(exc.message, "/admin/quotes", _("Back to estimates and proposals"))
            return
        with signed_in_frame(actor, brand, view.title):
            QuoteEditor(actor, view)

    @auth.page("/admin/quotes/{quote_id}", access=auth.Access.staff, title="Estimate or proposal")
    async def quote_page(actor: Actor, quote_id: int) -> None:
        brand = await branding()
        try:
            view = await quote_editor.get_quote_editor(actor=actor, quote_id=quote_id)
        except NotFound as exc:
            with signed_in_frame(actor, brand, _("Estimate or proposal")):
                not_found(exc.message, "/admin/quotes", _("Back to estimates and proposals"))
            return
        with signed_in_frame(actor, brand, view.title):
            if view.editable:
                QuoteEditor(actor, view)
            else:
                quote_document(actor, view)
            ui.link(_("Back to estimates and proposals"), "/admin/quotes").mark("back")

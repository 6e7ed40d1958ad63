"""/admin/quotes (list), /admin/quotes/new?client=<id>&kind=estimate|proposal and /admin/quotes/{id}.

A draft opens in the editor (title, validity, terms, the shared line editor; Save draft and Send). A sent
one shows its status and the client's decision; approving or declining is the client's. An approved one
has "Convert to invoice", which opens the draft invoice it becomes.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from portal import i18n
from portal.billing import quote_editor
from portal.billing.documents import tax_summary
from portal.billing.quote_editor import QuoteEditorView, QuoteForm, QuotePage, kind_label
from portal.components import guard
from portal.components.badges import status_badge
from portal.components.document_editor import (
    DocumentList,
    DraftEditor,
    date_field,
    line_table,
    long_text_field,
    pair,
    pdf_link,
    text_block,
)
from portal.components.document_editor import money_text as _money
from portal.components.feedback import guarded
from portal.components.frame import signed_in_frame
from portal.components.record_lookup import client_picker, not_found, query_id
from portal.core.actors import Actor
from portal.domain.errors import InvalidInput, NotFound
from portal.i18n import _
from portal.payments.branding import branding


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
class QuoteEditor(DraftEditor):
    """Title, currency, validity, lines and terms of a draft; Save draft and Send."""

    base_url = "/admin/quotes"

    def __init__(self, actor: Actor, view: QuoteEditorView) -> None:
        super().__init__(actor, view)
        self.view: QuoteEditorView = view
        form = view.form
        with ui.card().classes("w-full gap-3"):
            self.client_row()
            self.title = (
                ui.input(_("Title"), value=form.title)
                .props(f"outlined dense maxlength={quote_editor.TITLE_LIMIT}")
                .classes("w-full")
                .mark("quote-title")
                .without_auto_validation()
            )
            with ui.row().classes("w-full items-start gap-3"):
                self.currency_select()
                self.valid_until = date_field(
                    _("Valid until"), form.valid_until, "valid-until", clearable=True
                )
        self.line_card()
        self.terms = long_text_field(_("Terms"), form.terms, "terms")
        self.valid_until.on_value_change(lambda: self.check_header(touched=True))
        self.title.on_value_change(lambda: self.check_header(touched=True))
        with ui.row().classes("w-full items-center gap-2"):
            self.save_and_send_buttons()
            if view.id is not None:
                pdf_link(_("Preview PDF"), f"/billing/quotes/{view.id}/pdf")

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

    def send_texts(self) -> tuple[str, str]:
        """The Send confirmation."""
        return _("Send this {kind}?", kind=kind_label(self.view.kind).lower()), _(
            "It gets its number and {email} receives an email with a link to approve or decline it.",
            email=self.view.client.email,
        )

    async def store(self, *, send: bool) -> int:
        """Save the draft, or send it."""
        view = self.view
        new = view.id is None
        action = quote_editor.send_quote if send else quote_editor.save_quote_draft
        return await action(
            actor=self.actor,
            quote_id=view.id,
            client_id=view.client.id if new else None,
            kind=view.kind if new else None,
            form=self.form(),
        )


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
                pdf_link(_("Download PDF"), f"/billing/quotes/{quote_id}/pdf")
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
        line_table(document.lines, document.currency, "quote-lines")
        with ui.column().classes("w-full max-w-sm ml-auto gap-1"):
            pair(_("Subtotal"), money(document.subtotal_minor))
            for tax in tax_summary(document.lines):
                pair(tax.label, money(tax.tax_minor))
            pair(_("Total"), money(document.total_minor), strong=True, marker="total")
    text_block(_("Terms"), document.terms, "terms")


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
def _decision_text(row: quote_editor.QuoteRow) -> str:
    """'Declined on Dec 3, 2026 · Too expensive', 'Expired on ...', or nothing while it is open."""
    if row.decided_on is None or row.status not in ("approved", "declined", "expired", "converted"):
        return ""
    day = i18n.format_date(row.decided_on)
    text = {
        "declined": _("Declined on {date}", date=day),
        "expired": _("Expired on {date}", date=day),
    }.get(row.status) or _("Approved on {date}", date=day)
    return f"{text} · {row.decision_comment}" if row.decision_comment else text


def _columns() -> list[dict]:
    return [
        {"name": "number", "label": _("Number"), "field": "number", "align": "left"},
        {"name": "kind", "label": _("Kind"), "field": "kind_label", "align": "left"},
        {"name": "title", "label": _("Title"), "field": "title", "align": "left"},
        {"name": "client", "label": _("Client"), "field": "client", "align": "left"},
        {"name": "status", "label": _("Status"), "field": "status_label", "align": "left"},
        {"name": "issued", "label": _("Issued"), "field": "issued", "align": "left"},
        {"name": "valid_until", "label": _("Valid until"), "field": "valid_until", "align": "left"},
        {"name": "decision", "label": _("Decision"), "field": "decision", "align": "left"},
        {"name": "total", "label": _("Total"), "field": "total", "align": "right"},
    ]


class QuoteList(DocumentList):
    """Filters, one page of estimates and proposals, previous and next."""

    def __init__(self, actor: Actor) -> None:
        super().__init__(actor, {"search": "", "status": "", "kind": ""})
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
        self.add_table(_columns(), "quotes")
        self.search.on_value_change(lambda e: self.filter("search", e.value or ""))
        self.kind.on_value_change(lambda e: self.filter("kind", e.value or ""))
        self.status.on_value_change(lambda e: self.filter("status", e.value or ""))

    async def fetch(self) -> QuotePage:
        """The current page of quotes."""
        return await quote_editor.list_quotes(
            actor=self.actor,
            search=self.state["search"],
            status=self.state["status"],
            kind=self.state["kind"],
            page=self.state["page"],
        )

    def rows(self, result: QuotePage) -> list[dict]:
        """One row a quote."""
        return [
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
                "decision": _decision_text(row),
            }
            for row in result.rows
        ]

    def page_text(self, result: QuotePage) -> str:
        """'Page 1 of 3 · 42 documents'."""
        return i18n.ngettext(
            "Page {page} of {pages} · {count} document",
            "Page {page} of {pages} · {count} documents",
            result.total,
            page=result.page,
            pages=result.pages,
        )


# -- pages ------------------------------------------------------------------------------------------
def register() -> None:
    """Add /admin/quotes, /admin/quotes/new and /admin/quotes/{id}."""

    @guard.page("/admin/quotes", access=guard.Access.staff, title="Estimates and proposals")
    async def list_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Estimates and proposals")):
            quotes = QuoteList(actor)
        await quotes.load()

    @guard.page("/admin/quotes/new", access=guard.Access.staff, title="New estimate or proposal")
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

    @guard.page("/admin/quotes/{quote_id}", access=guard.Access.staff, title="Estimate or proposal")
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

"""/billing/statement (the client's own) and /admin/clients/{id}/statement (staff): a statement of account
for a period (?from=YYYY-MM-DD&to=YYYY-MM-DD, by default this year so far), and its PDF at .../statement/pdf
with the same period.

The default period is the calendar year to date: an accountant reconciles a client's account against the
books by year, and the opening balance on 1 January carries everything before it, so nothing is lost by
starting there (the presets offer the last 90 days, last month and last year too).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from nicegui import app, ui

from portal import i18n
from portal.billing import statement_pdf, statements
from portal.billing.statements import BUCKET_LABELS, BUCKETS, CurrencyBlock, Statement
from portal.components import browser_session, guard
from portal.components.frame import signed_in_frame
from portal.components.record_lookup import client_not_found
from portal.components.tables import LINK_CELL, quiet_empty, table_columns
from portal.core.actors import Actor
from portal.core.clock import today
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.money import format_money
from portal.i18n import N_, _
from portal.payments.branding import branding

PDF_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
LINE_COLUMNS = (
    ("date", N_("Date"), "left"),
    ("description", N_("Description"), "left"),
    ("amount", N_("Amount"), "right"),
    ("balance", N_("Balance"), "right"),
)
PRESETS = {
    "year": N_("This year so far"),
    "90": N_("Last 90 days"),
    "last_month": N_("Last month"),
    "last_year": N_("Last year"),
    "custom": N_("Other period"),
}


def preset_period(key: str, on: date | None = None) -> tuple[date, date]:
    """The dates of a preset period ending today (or at the end of last month or last year)."""
    day = on or today()
    if key == "90":
        return day - timedelta(days=89), day
    if key == "last_month":
        end = day.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if key == "last_year":
        return date(day.year - 1, 1, 1), date(day.year - 1, 12, 31)
    return statements.default_period(day)


def _preset_of(start: date, end: date) -> str:
    for key in ("year", "90", "last_month", "last_year"):
        if preset_period(key) == (start, end):
            return key
    return "custom"


def _query(start: date, end: date) -> str:
    return urlencode({"from": start.isoformat(), "to": end.isoformat()})


def _money(amount: int, currency: str) -> str:
    return format_money(amount, currency, i18n.get_locale())


# -- the page -----------------------------------------------------------------------------------------
class StatementView:
    """The period picker, the PDF link and one card per currency."""

    def __init__(self, actor: Actor, client_id: int, base: str, *, payable: bool) -> None:
        self.actor = actor
        self.client_id = client_id
        self.base = base  # /billing/statement or /admin/clients/{id}/statement
        self.payable = payable  # the client's own view: a link to pay each balance
        self.statement: Statement
        self.error = ""

    async def load(self, start_text: str | None, end_text: str | None) -> None:
        """The statement of the asked period (this year so far, with a message, when it is not valid)."""
        try:
            start, end = statements.parse_period(start_text, end_text)
            self.error = ""
        except InvalidInput as exc:
            start, end = statements.default_period()
            self.error = exc.message
        self.statement = await statements.build_statement(
            actor=self.actor, client_id=self.client_id, start=start, end=end
        )

    def draw(self) -> None:
        """The picker and the statement."""
        self.picker(self.statement.start, self.statement.end, self.error)
        self.summary(self.statement)

    def picker(self, start: date, end: date, error: str) -> None:
        """Preset periods, or two dates and Show; the page reloads with the period in its address."""
        with ui.card().classes("w-full gap-2").mark("statement-period"):
            with ui.row().classes("w-full items-end gap-3"):
                presets = {key: _(label) for key, label in PRESETS.items()}
                preset = ui.select(presets, value=_preset_of(start, end), label=_("Period"))
                preset.props("outlined dense").classes("w-56").mark("period-preset")
                first = ui.input(_("From"), value=start.isoformat()).props(
                    "type=date stack-label outlined dense"
                )
                first.classes("w-44").mark("period-from")
                last = ui.input(_("To"), value=end.isoformat()).props("type=date stack-label outlined dense")
                last.classes("w-44").mark("period-to")

                def show() -> None:
                    query = urlencode({"from": first.value or "", "to": last.value or ""})
                    ui.navigate.to(f"{self.base}?{query}")

                def chosen(key: str) -> None:
                    if key != "custom":
                        begin, finish = preset_period(key)
                        ui.navigate.to(f"{self.base}?{_query(begin, finish)}")

                preset.on_value_change(lambda e: chosen(e.value or "custom"))
                ui.button(_("Show"), on_click=show).props("no-caps").mark("period-show")
                ui.space()
                link = ui.link(_("Download PDF"), f"{self.base}/pdf?{_query(start, end)}")
                link.props("download").mark("statement-pdf")
            if error:
                ui.label(error).classes("text-red-700").props("role=alert").mark("period-error")

    def summary(self, statement: Statement) -> None:
        """Every currency's block, or a sentence when the period has nothing."""
        period = _(
            "From {start} to {end}",
            start=i18n.format_date(statement.start),
            end=i18n.format_date(statement.end),
        )
        ui.label(period).classes("text-gray-700").mark("statement-dates")
        if not statement.blocks:
            ui.label(_("Nothing to show for this period.")).classes("text-gray-600").mark("statement-empty")
            return
        for block in statement.blocks:
            self.block(statement, block)

    def block(self, statement: Statement, block: CurrencyBlock) -> None:
        cur = block.currency
        money = lambda amount: _money(amount, cur)  # noqa: E731
        with ui.card().classes("w-full gap-2").mark(f"statement-{cur}"):
            ui.label(_("Account in {currency}", currency=cur)).classes("text-lg font-semibold")
            with ui.column().classes("w-full max-w-md gap-0"):
                opening = _("Opening balance on {date}", date=i18n.format_date(statement.start))
                closing = _("Closing balance on {date}", date=i18n.format_date(statement.end))
                _pair(opening, money(block.opening_minor), f"opening-{cur}")
                _pair(_("Invoices"), money(block.invoiced_minor), f"invoiced-{cur}")
                _pair(_("Payments received"), money(-block.paid_minor), f"paid-{cur}")
                _pair(_("Refunds"), money(block.refunded_minor), f"refunded-{cur}")
                _pair(_("Credit"), money(block.credit_minor), f"credit-{cur}")
                _pair(closing, money(block.closing_minor), f"closing-{cur}", strong=True)
            rows = [
                {
                    "id": n,
                    "date": i18n.format_date(line.date),
                    "description": line.description,
                    "amount": money(line.amount_minor) if line.amount_minor else "",
                    "balance": money(line.balance_minor),
                    "href": self.href(line.invoice_id, line.payment_id),
                }
                for n, line in enumerate(block.lines)
            ]
            table = ui.table(columns=table_columns(*LINE_COLUMNS), rows=rows, row_key="id")
            table.classes("w-full").props("flat dense wrap-cells").mark(f"statement-lines-{cur}")
            table.add_slot("body-cell-description", LINK_CELL)
            quiet_empty(table, _("No movements in this period."))
            ui.label(_("Open on {date}, by days past due", date=i18n.format_date(statement.end))).classes(
                "font-semibold"
            )
            aging = block.aging
            columns = [(b, BUCKET_LABELS[b], "right") for b in BUCKETS] + [("total", N_("Total"), "right")]
            row = {b: money(aging[b]) for b in BUCKETS} | {"id": 0, "total": money(block.open_minor)}
            aging_table = ui.table(columns=table_columns(*columns), rows=[row], row_key="id")
            aging_table.classes("w-full").props("flat dense").mark(f"aging-{cur}")
            with ui.column().classes("w-full max-w-md gap-0"):
                if block.unapplied_minor:
                    _pair(_("Less credit not yet used"), money(-block.unapplied_minor), f"unapplied-{cur}")
                _pair(_("Balance"), money(block.closing_minor), f"balance-{cur}", strong=True)
            if self.payable and block.balance_now_minor > 0:
                text = _("Pay the balance of {amount}", amount=money(block.balance_now_minor))
                ui.link(text, f"/billing/pay-all/{cur}").classes("font-semibold").mark(f"pay-all-{cur}")

    def href(self, invoice_id: int | None, payment_id: int | None) -> str:
        """Where a line leads: the invoice, or the payment's receipt."""
        staff = self.actor.is_staff and not self.payable
        if payment_id is not None:
            return f"/admin/receipts/{payment_id}" if staff else f"/billing/receipts/{payment_id}"
        if invoice_id is not None:
            return f"/admin/invoices/{invoice_id}" if staff else f"/billing/invoices/{invoice_id}"
        return ""


def _pair(label: str, value: str, marker: str, *, strong: bool = False) -> None:
    with ui.row().classes("w-full justify-between gap-4" + (" font-semibold" if strong else "")):
        ui.label(label)
        ui.label(value).classes("tabular-nums").mark(marker)


# -- PDF downloads ------------------------------------------------------------------------------------
def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{browser_session.LOGIN_PATH}?next={url_quote(target, safe='')}", status_code=303
    )


async def _pdf(request: Request, actor: Actor, client_id: int) -> Response:
    try:
        start, end = statements.parse_period(request.query_params.get("from"), request.query_params.get("to"))
        doc = await statements.statement_document(actor=actor, client_id=client_id, start=start, end=end)
    except NotFound:
        return PlainTextResponse("Not found", status_code=404)
    except InvalidInput as exc:
        return PlainTextResponse(exc.message, status_code=400)
    content = await asyncio.to_thread(statement_pdf.statement_pdf, doc)
    headers = {**PDF_HEADERS, "Content-Disposition": f'attachment; filename="{doc.filename}"'}
    return Response(content=content, media_type="application/pdf", headers=headers)


async def client_statement_pdf(request: Request) -> Response:
    """GET /billing/statement/pdf: the signed-in client's own statement."""
    actor = await browser_session.current_actor()
    if actor is None:
        return _login_redirect(request)
    if actor.client_id is None:
        return PlainTextResponse("Not found", status_code=404)
    return await _pdf(request, actor, actor.client_id)


async def console_statement_pdf(request: Request, client_id: int) -> Response:
    """GET /admin/clients/{client_id}/statement/pdf: staff only."""
    actor = await browser_session.current_actor()
    if actor is None:
        return _login_redirect(request)
    if not actor.is_staff:
        return PlainTextResponse("Not found", status_code=404)
    return await _pdf(request, actor, client_id)


def register() -> None:
    """Add the two statement pages and their PDF routes."""
    app.add_api_route(
        "/billing/statement/pdf", client_statement_pdf, methods=["GET"], include_in_schema=False
    )
    app.add_api_route(
        "/admin/clients/{client_id}/statement/pdf",
        console_statement_pdf,
        methods=["GET"],
        include_in_schema=False,
    )

    @guard.page("/billing/statement", access=guard.Access.client, title="Statement of account")
    async def client_page(actor: Actor, request: Request) -> None:
        assert actor.client_id is not None
        ui.page_title(_("Statement of account"))
        with signed_in_frame(actor, await branding(), _("Statement of account")):
            view = StatementView(actor, actor.client_id, "/billing/statement", payable=True)
            await view.load(request.query_params.get("from"), request.query_params.get("to"))
            view.draw()
            with ui.row().classes("gap-4"):
                ui.link(_("History"), "/billing/history").mark("back-history")
                ui.link(_("Back to My Billing"), "/billing")

    @guard.page(
        "/admin/clients/{client_id}/statement", access=guard.Access.staff, title="Statement of account"
    )
    async def console_page(actor: Actor, request: Request, client_id: int) -> None:
        brand = await branding()
        view = StatementView(actor, client_id, f"/admin/clients/{client_id}/statement", payable=False)
        try:
            await view.load(request.query_params.get("from"), request.query_params.get("to"))
        except NotFound:
            client_not_found(actor, brand)
            return
        title = _("Statement of account · {name}", name=view.statement.client_name)
        ui.page_title(title)
        with signed_in_frame(actor, brand, title):
            view.draw()
            ui.link(_("Back to the client"), f"/admin/clients/{client_id}").mark("back-client")

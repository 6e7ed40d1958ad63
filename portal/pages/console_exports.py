"""/admin/exports: the accountant's CSV files (staff): invoices, payments, refunds and credit entries of a
date range, one file per kind, streamed from `/admin/exports/<kind>.csv?from=...&to=...`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from functools import partial
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from nicegui import app, ui

from portal import i18n
from portal.billing import exports
from portal.components import guard
from portal.components.browser_session import LOGIN_PATH, current_actor
from portal.components.frame import signed_in_frame
from portal.core.actors import Actor
from portal.core.clock import today
from portal.domain.errors import DomainError, Forbidden, InvalidFields
from portal.i18n import N_, _
from portal.payments.branding import branding

CSV_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
BUTTONS = {
    "invoices": N_("Download invoices"),
    "payments": N_("Download payments"),
    "refunds": N_("Download refunds"),
    "credit": N_("Download credit entries"),
}


def last_month(day: date) -> tuple[date, date]:
    """The first and last days of the month before `day`'s."""
    end = day.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def download_url(kind: str, start: str, end: str) -> str:
    """'/admin/exports/payments.csv?from=2026-11-01&to=2026-11-30'."""
    return f"/admin/exports/{kind}.csv?{urlencode({'from': start, 'to': end})}"


async def _encoded(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.encode("utf-8")


async def export_route(request: Request, kind: str) -> Response:
    """GET /admin/exports/{kind}.csv?from=YYYY-MM-DD&to=YYYY-MM-DD (staff)."""
    actor = await current_actor()
    if actor is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={url_quote(target, safe='')}", status_code=303)
    i18n.set_locale(actor.locale)
    try:
        export = await exports.open_export(
            actor=actor,
            kind=kind,
            date_from=request.query_params.get("from", ""),
            date_to=request.query_params.get("to", ""),
        )
    except Forbidden as exc:
        return PlainTextResponse(exc.message, status_code=403)
    except InvalidFields as exc:
        return PlainTextResponse("\n".join(exc.errors.values()), status_code=400)
    except DomainError as exc:
        return PlainTextResponse(exc.message, status_code=404 if kind not in exports.KINDS else 400)
    headers = {**CSV_HEADERS, "Content-Disposition": f'attachment; filename="{export.filename}"'}
    return StreamingResponse(_encoded(export.chunks), media_type="text/csv; charset=utf-8", headers=headers)


def _mark(field: ui.date_input, message: str | None) -> None:
    """Show `message` under a date field in red, or take it away (a date input has no `error` of its own)."""
    field.props["error"] = message is not None
    field.props["error-message"] = message or ""


class ExportsPage:
    """The date range and one download button per kind of file."""

    def __init__(self) -> None:
        start, end = last_month(today())
        with ui.card().classes("w-full gap-3").mark("exports-card"):
            ui.label(
                _(
                    "Download the records of a period as CSV files for your accountant: one file per kind, "
                    "both dates included. Amounts are plain numbers in the currency's own decimals with the "
                    "currency code in its own column; dates are written as YYYY-MM-DD. Refunds are negative "
                    "(money paid back); credit entries are positive when credit is added and negative when "
                    "it is used."
                )
            ).classes("text-sm text-gray-700")
            with ui.row().classes("items-start gap-3"):
                self.date_from = (
                    ui.date_input(_("From"), value=start.isoformat())
                    .props("outlined dense")
                    .classes("w-44")
                    .mark("export-from")
                )
                self.date_to = (
                    ui.date_input(_("To"), value=end.isoformat())
                    .props("outlined dense")
                    .classes("w-44")
                    .mark("export-to")
                )
            with ui.row().classes("gap-2"):
                for kind, label in BUTTONS.items():
                    ui.button(
                        _(label),
                        icon="download",
                        on_click=partial(self.download, kind),
                    ).props("no-caps outline").mark(f"export-{kind}")
            self.message = ui.label().classes("text-sm").props("role=status").mark("export-message")
        for element in (self.date_from, self.date_to):
            element.on_value_change(self.clear)

    def clear(self) -> None:
        """A date changed: the earlier verdict no longer holds."""
        _mark(self.date_from, None)
        _mark(self.date_to, None)
        self.message.set_text("")

    def download(self, kind: str) -> None:
        """Check the dates here (each wrong one says why), then let the browser fetch the file."""
        self.clear()
        try:
            start, end = exports.check_range(self.date_from.value, self.date_to.value)
        except InvalidFields as exc:
            _mark(self.date_from, exc.errors.get("date_from"))
            _mark(self.date_to, exc.errors.get("date_to"))
            return
        url = download_url(kind, start.isoformat(), end.isoformat())
        ui.download.from_url(url, exports.filename_for(kind, start, end))
        self.message.set_text(
            _(
                "{file} is downloading ({start} to {end}).",
                file=exports.filename_for(kind, start, end),
                start=i18n.format_date(start),
                end=i18n.format_date(end),
            )
        )


def register() -> None:
    """Add /admin/exports and the CSV route."""
    app.add_api_route("/admin/exports/{kind}.csv", export_route, methods=["GET"], include_in_schema=False)

    @guard.page("/admin/exports", access=guard.Access.staff, title="Exports")
    async def exports_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Exports")):
            ExportsPage()

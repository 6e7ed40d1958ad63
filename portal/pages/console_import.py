"""/admin/clients/import: import clients from a CSV file (staff). Upload, see every row with what is wrong
in it, then confirm: the rows without a problem are imported in one go, the others skipped."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from nicegui import app, events, ui

from portal.clients import imports
from portal.components import guard
from portal.components.browser_session import current_actor
from portal.components.frame import signed_in_frame
from portal.components.live_updates import Announcer
from portal.components.tables import table_columns
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import N_, _, ngettext
from portal.payments.branding import branding

TEMPLATE_URL = "/admin/clients/import/template.csv"
COLUMN_LABELS = {
    "name": N_("Name"),
    "company": N_("Company"),
    "email": N_("Email"),
    "currency": N_("Currency"),
    "language": N_("Language"),
    "address": N_("Address"),
}
ROW_COLUMNS = (
    ("row", N_("Row"), "right"),
    ("name", N_("Name"), "left"),
    ("company", N_("Company"), "left"),
    ("email", N_("Email"), "left"),
    ("currency", N_("Currency"), "left"),
    ("language", N_("Language"), "left"),
    ("result", N_("Result"), "left"),
)
PROBLEM_COLUMNS = (
    ("row", N_("Row"), "right"),
    ("column", N_("Column"), "left"),
    ("value", N_("Value"), "left"),
    ("message", N_("Why"), "left"),
)


async def template_route(request: Request) -> Response:
    """GET /admin/clients/import/template.csv: the header row to fill in (staff)."""
    actor = await current_actor()
    if actor is None or not actor.is_staff:
        return PlainTextResponse("Not found", status_code=404)
    headers = {
        "Content-Disposition": 'attachment; filename="clients-template.csv"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(
        imports.template_csv().encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers
    )


class ImportPage:
    """The upload, the preview of one file and its confirmation."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.preview: imports.ImportPreview | None = None
        self.lock = asyncio.Lock()
        with ui.card().classes("w-full gap-2").mark("import-upload-card"):
            ui.label(
                _(
                    "A CSV file with one client a row and these columns in its first row: name, company, "
                    "email, currency, language, address. Name and email are required; an empty currency "
                    "or language takes the organization's default; language is en or fr. At most {rows} "
                    "rows and 1 MB a file. Nothing is imported until you confirm.",
                    rows=imports.MAX_ROWS,
                )
            ).classes("text-sm text-gray-700")
            link = ui.link(_("Download the template"), TEMPLATE_URL).mark("import-template")
            link.props["download"] = "clients-template.csv"
            self.upload = (
                ui.upload(
                    auto_upload=True,
                    max_file_size=imports.MAX_BYTES,
                    on_upload=self.on_upload,
                    on_rejected=self.on_rejected,
                )
                .props("accept='.csv,text/csv' flat bordered")
                .classes("w-full max-w-lg")
                .mark("import-file")
            )
            self.upload.props["aria-label"] = _("CSV file of clients")
            self.file_error = ui.label().classes("text-sm text-red-700").props("role=alert")
            self.file_error.mark("import-file-error")
        self.announcer = Announcer("import-message")
        self.section = ui.column().classes("w-full gap-3").mark("import-preview")

    def on_rejected(self) -> None:
        """The browser refused the file (larger than the limit)."""
        self.file_error.set_text(_("The file is larger than 1 MB; split it into smaller files."))

    async def on_upload(self, event: events.UploadEventArguments) -> None:
        """Check the file and show its preview (nothing is written)."""
        self.file_error.set_text("")
        self.announcer.clear()
        if event.file.size() > imports.MAX_BYTES:
            self.file_error.set_text(_("The file is larger than 1 MB; split it into smaller files."))
            return
        data = await event.file.read()
        try:
            preview = await imports.preview_import(actor=self.actor, data=data, filename=event.file.name)
        except InvalidInput as exc:
            self.preview = None
            self.section.clear()
            self.file_error.set_text(exc.message)
            return
        finally:
            self.upload.reset()
        self.preview = preview
        self.show(preview)

    def show(self, preview: imports.ImportPreview) -> None:
        """The summary, the problems (row, column, why), every row, and the confirmation."""
        self.section.clear()
        valid, invalid = len(preview.valid), len(preview.invalid)
        with self.section:
            summary = ngettext(
                "{file}: {count} row, {valid} ready to import, {invalid} with problems (skipped).",
                "{file}: {count} rows, {valid} ready to import, {invalid} with problems (skipped).",
                len(preview.rows),
                file=preview.filename or _("The file"),
                valid=valid,
                invalid=invalid,
            )
            ui.label(summary).classes("font-medium").props("role=status").mark("import-summary")
            if preview.ignored_columns:
                ui.label(
                    _(
                        "These columns are not imported: {columns}.",
                        columns=", ".join(preview.ignored_columns),
                    )
                ).classes("text-sm text-gray-700").mark("import-ignored")
            if invalid:
                ui.label(_("Rows with problems")).classes("text-lg font-semibold")
                problems = ui.table(
                    columns=table_columns(*PROBLEM_COLUMNS),
                    rows=[
                        {
                            "id": f"{row.number}-{index}",
                            "row": row.number,
                            "column": _(COLUMN_LABELS.get(problem.column, problem.column)),
                            "value": row.values.get(problem.column, ""),
                            "message": problem.message,
                        }
                        for row in preview.invalid
                        for index, problem in enumerate(row.problems)
                    ],
                    row_key="id",
                    pagination=25,
                )
                problems.classes("w-full").props("flat wrap-cells").mark("import-problems")
            ready, skipped = _("Ready"), _("Skipped")
            table = ui.table(
                columns=table_columns(*ROW_COLUMNS),
                rows=[
                    {
                        "id": row.number,
                        "row": row.number,
                        "name": row.values["name"],
                        "company": row.values["company"],
                        "email": row.values["email"],
                        "currency": row.form.currency if row.ok else row.values["currency"],
                        "language": row.form.locale if row.ok else row.values["language"],
                        "result": ready if row.ok else skipped,
                        "ok": row.ok,
                    }
                    for row in preview.rows
                ],
                row_key="id",
                pagination=25,
            )
            table.classes("w-full").props("flat wrap-cells").mark("import-rows")
            with ui.row().classes("gap-2"):
                self.confirm = (
                    ui.button(
                        ngettext("Import {count} client", "Import {count} clients", valid),
                        icon="upload",
                        on_click=self.on_confirm,
                    )
                    .props("no-caps unelevated color=primary")
                    .mark("import-confirm")
                )
                self.confirm.set_enabled(valid > 0)
                ui.button(_("Cancel"), on_click=self.cancel).props("flat no-caps").mark("import-cancel")

    def cancel(self) -> None:
        """Drop the preview: nothing was imported."""
        text = _("Nothing was imported.")
        self.preview = None
        self.section.clear()
        self.announcer.say(text, notify=False)

    async def on_confirm(self) -> None:
        """Import the ready rows once, however often the button is pressed."""
        preview = self.preview
        if preview is None:
            return
        async with self.lock:
            self.confirm.set_enabled(False)
            try:
                result = await imports.confirm_import(actor=self.actor, preview=preview)
            except DomainError as exc:
                self.confirm.set_enabled(True)
                self.announcer.say(exc.message, ok=False)
                return
        # words first: the page's language is read from the button's place, which clearing takes away
        text = ngettext("{count} client imported", "{count} clients imported", result.created) + ngettext(
            "; {count} row skipped.", "; {count} rows skipped.", result.skipped
        )
        if result.repeated:
            text = _("This file was already imported: {what}", what=text)
        see = _("See the clients")
        self.preview = None
        self.section.clear()
        self.announcer.say(text)
        with self.section:
            ui.link(see, "/admin/clients").mark("import-see-clients")


def register() -> None:
    """Add /admin/clients/import and its template (before /admin/clients/{client_id})."""
    app.add_api_route(TEMPLATE_URL, template_route, methods=["GET"], include_in_schema=False)

    @guard.page("/admin/clients/import", access=guard.Access.staff, title="Import clients")
    async def import_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Import clients")):
            ImportPage(actor)
            ui.link(_("Back to the clients"), "/admin/clients")

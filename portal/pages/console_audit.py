"""/admin/audit: the audit log (admins): filter by who, client, action and dates; pages of entries, newest
first, each entry a sentence in the reader's language."""

from __future__ import annotations

from datetime import date
from typing import Any

from nicegui import ui

from portal import i18n
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.tables import LINK_CELL
from portal.core import audit
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput
from portal.i18n import _
from portal.payments.branding import branding


def _col(name: str, label: str, align: str = "left") -> dict:
    return {"name": name, "label": label, "field": name, "align": align}


def _day(text: str | None, field: str) -> date | None:
    """A date typed or picked as YYYY-MM-DD ('' = no limit)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise InvalidInput(_("Enter a date as YYYY-MM-DD, or pick one."), field=field) from None


class AuditLogPage:
    """The filters, the table and the pager of one open audit log page."""

    def __init__(self, actor: Actor, options: audit.AuditFilterOptions) -> None:
        self.actor = actor
        self.page = 1
        with ui.card().classes("w-full gap-2"):
            with ui.row().classes("w-full items-start gap-3"):
                self.who = (
                    ui.input(_("Who (email)"))
                    .props("outlined dense clearable debounce=300")
                    .classes("w-48")
                    .mark("audit-actor")
                )
                self.client = (
                    ui.select(
                        {c_id: name for c_id, name in options.clients},
                        label=_("Client"),
                        with_input=True,
                        clearable=True,
                    )
                    .props("outlined dense")
                    .classes("w-48")
                    .mark("audit-client")
                )
                self.action = (
                    ui.select(dict(options.actions), label=_("Action"), clearable=True)
                    .props("outlined dense")
                    .classes("w-48")
                    .mark("audit-action")
                )
                self.date_from = (
                    ui.date_input(_("From"))
                    .props("outlined dense clearable")
                    .classes("w-40")
                    .mark("audit-from")
                )
                self.date_to = (
                    ui.date_input(_("To")).props("outlined dense clearable").classes("w-40").mark("audit-to")
                )
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("audit-error")
            self.error.set_visibility(False)
        columns = [
            _col("at", _("When")),
            _col("who", _("Who")),
            _col("sentence", _("What happened")),
            _col("client", _("Client")),
            _col("details", _("Details")),
            _col("ip", _("Address")),
        ]
        self.table = ui.table(columns=columns, rows=[], row_key="id").classes("w-full")
        self.table.props("flat wrap-cells").mark("audit-entries")
        self.table.add_slot("body-cell-client", LINK_CELL)
        with ui.row().classes("items-center gap-2"):
            self.prev = ui.button(_("Previous"), on_click=lambda: self.go(-1)).props("flat").mark("prev-page")
            self.label = ui.label().mark("page-label")
            self.next = ui.button(_("Next"), on_click=lambda: self.go(1)).props("flat").mark("next-page")
        for element in (self.who, self.client, self.action, self.date_from, self.date_to):
            element.on_value_change(self.filter_changed)

    def _fields(self) -> dict[str, Any]:
        return {"date_from": self.date_from, "date_to": self.date_to}

    def _show_error(self, exc: DomainError) -> None:
        field = self._fields().get(getattr(exc, "field", None) or "")
        if field is not None:
            field.error = exc.message
        else:
            self.error.set_text(exc.message)
            self.error.set_visibility(True)

    async def load(self) -> None:
        """Fetch the current page with the current filters."""
        for field in self._fields().values():
            field.error = None
        self.error.set_visibility(False)
        try:
            result = await audit.list_entries(
                actor=self.actor,
                actor_email=self.who.value or "",
                client_id=self.client.value,
                action=self.action.value or "",
                date_from=_day(self.date_from.value, "date_from"),
                date_to=_day(self.date_to.value, "date_to"),
                page=self.page,
            )
        except DomainError as exc:
            self._show_error(exc)
            return
        self.page = result.page
        self.table.rows = [
            {
                "id": row.id,
                "at": i18n.format_datetime(row.at),
                "who": f"{row.actor_name} ({row.actor_email})" if row.actor_email else row.actor_name,
                "action": row.action_label,
                "sentence": row.sentence,
                "record": row.record,
                "client": row.client_name,
                "href": f"/admin/clients/{row.client_id}" if row.client_id else "",
                "details": row.details,
                "ip": row.ip,
            }
            for row in result.rows
        ]
        self.table.update()
        self.label.set_text(
            i18n.ngettext(
                "Page {page} of {pages} · {count} entry",
                "Page {page} of {pages} · {count} entries",
                result.total,
                page=result.page,
                pages=result.pages,
            )
        )
        self.prev.set_enabled(result.page > 1)
        self.next.set_enabled(result.page < result.pages)

    async def go(self, step: int) -> None:
        """Another page."""
        self.page = max(1, self.page + step)
        await self.load()

    async def filter_changed(self) -> None:
        """Back to the first page with the new filters."""
        self.page = 1
        await self.load()


def register() -> None:
    """Add /admin/audit."""

    @guard.page("/admin/audit", access=guard.Access.admin, title="Audit log")
    async def audit_page(actor: Actor) -> None:
        options = await audit.filter_options(actor=actor)
        with signed_in_frame(actor, await branding(), _("Audit log")):
            page = AuditLogPage(actor, options)
            await page.load()

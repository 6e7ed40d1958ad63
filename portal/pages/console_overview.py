"""/admin: the console overview (what is owed, what came in, what happened, what needs attention)."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from portal import i18n
from portal.billing import overview
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.live_updates import LiveSection, follow_events
from portal.components.tables import LINK_CELL
from portal.core.actors import Actor
from portal.core.audit import AuditRow
from portal.core.clock import now_utc
from portal.domain.money import format_money, to_decimal
from portal.i18n import _
from portal.payments.branding import branding

LIVE_EVENTS = ("payment.recorded", "payment.refunded", "payment.failed", "invoice.sent", "invoice.voided")


def _col(name: str, label: str, align: str = "left") -> dict:
    return {"name": name, "label": label, "field": name, "align": align}


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, i18n.get_locale())


def _in(moment: datetime) -> str:
    """'in 2 h 05 min' until a moment (at least a minute)."""
    minutes = max(1, int((moment - now_utc()).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    return (
        _("in {hours} h {minutes:02d} min", hours=hours, minutes=minutes)
        if hours
        else _("in {minutes} min", minutes=minutes)
    )


def _receivables(rows: list[overview.Receivable]) -> None:
    with ui.row().classes("w-full gap-4").mark("receivables"):
        if not rows:
            with ui.card().classes("grow"):
                ui.label(_("Open receivables")).classes("text-sm text-gray-600")
                ui.label(_("Nothing is owed")).classes("text-xl").mark("no-receivables")
        for row in rows:
            with ui.card().classes("grow min-w-[14rem] gap-1").mark(f"receivable-{row.currency}"):
                ui.label(_("Open receivables in {currency}", currency=row.currency)).classes(
                    "text-sm text-gray-600"
                )
                ui.label(_money(row.open_minor, row.currency)).classes(
                    "text-2xl font-semibold tabular-nums"
                ).mark(f"open-{row.currency}")
                ui.label(_("Open invoices: {count}", count=row.open_count)).classes("text-sm text-gray-600")
                overdue = ui.label(
                    _(
                        "Overdue: {amount} (invoices: {count})",
                        amount=_money(row.overdue_minor, row.currency),
                        count=row.overdue_count,
                    )
                ).mark(f"overdue-{row.currency}")
                overdue.classes("text-red-700 font-medium" if row.overdue_minor else "text-gray-600")


def _chart(data: overview.DailyPayments) -> None:
    with ui.card().classes("w-full gap-2"):
        ui.label(_("Payments received, last {days} days", days=len(data.days))).classes(
            "text-lg font-semibold"
        )
        if data.empty:
            ui.label(_("No payments in the last {days} days.", days=len(data.days))).classes(
                "text-gray-600"
            ).mark("no-payments")
            return
        days = [i18n.format_date(day) for day in data.days]
        series = [
            {
                "name": currency,
                "type": "bar",
                # major units, for drawing only: every amount the portal keeps or computes stays an integer
                "data": [float(to_decimal(value, currency)) for value in values],
            }
            for currency, values in data.series.items()
        ]
        ui.echart(
            {
                "animation": False,
                "tooltip": {"trigger": "axis"},
                "legend": {"data": list(data.series), "top": 0, "right": 0},
                "grid": {"left": 56, "right": 16, "top": 36, "bottom": 28},
                "xAxis": {"type": "category", "data": days},
                "yAxis": {"type": "value"},
                "series": series,
            }
        ).classes("w-full h-64").mark("payments-chart")


def _activity(actor: Actor, rows: list[AuditRow]) -> None:
    with ui.card().classes("w-full gap-2"):
        with ui.row().classes("w-full items-baseline justify-between"):
            ui.label(_("Recent activity")).classes("text-lg font-semibold")
            if actor.is_admin:
                ui.link(_("Open the audit log"), "/admin/audit").mark("audit-link")
        if not rows:
            ui.label(_("Nothing has happened yet.")).classes("text-gray-600").mark("no-activity")
            return
        columns = [
            _col("at", _("When")),
            _col("who", _("Who")),
            _col("sentence", _("What happened")),
            _col("client", _("Client")),
            _col("details", _("Details")),
        ]
        table_rows = [
            {
                "id": row.id,
                "at": i18n.format_datetime(row.at),
                "who": row.actor_name,
                "action": row.action_label,
                "sentence": row.sentence,
                "client": row.client_name,
                "href": f"/admin/clients/{row.client_id}" if row.client_id else "",
                "details": row.details,
            }
            for row in rows
        ]
        table = ui.table(columns=columns, rows=table_rows, row_key="id").classes("w-full")
        table.props("flat dense wrap-cells").mark("recent-activity")
        table.add_slot("body-cell-client", LINK_CELL)


def _expiring(rows: list[overview.ExpiringRequest]) -> None:
    with ui.card().classes("w-full gap-2"):
        with ui.row().classes("w-full items-baseline justify-between"):
            ui.label(_("Billing requests about to expire")).classes("text-lg font-semibold")
            ui.link(_("All billing requests"), "/admin/requests")
        if not rows:
            ui.label(
                _("No billing request expires in the next {hours} hours.", hours=overview.EXPIRING_HOURS)
            )
            return
        columns = [
            _col("email", _("Sent to")),
            _col("description", _("For")),
            _col("amount", _("Amount"), "right"),
            _col("expires", _("Expires")),
        ]
        table_rows = [
            {
                "id": r.id,
                "email": r.email,
                "description": r.description,
                "amount": _money(r.amount_minor, r.currency),
                "expires": _in(r.expires_at),
            }
            for r in rows
        ]
        table = ui.table(columns=columns, rows=table_rows, row_key="id").classes("w-full")
        table.props("flat dense wrap-cells").mark("expiring-requests")


def _review(rows: list[overview.ReviewPayment]) -> None:
    if not rows:
        return
    with ui.card().classes("w-full gap-2 border-l-4 border-amber-500"):
        ui.label(_("Payments to review")).classes("text-lg font-semibold")
        ui.label(_("The portal could not place these payments by itself: check them.")).classes(
            "text-sm text-gray-600"
        )
        columns = [
            _col("client", _("Client")),
            _col("received_on", _("Received")),
            _col("amount", _("Amount"), "right"),
            _col("note", _("Why")),
        ]
        table_rows = [
            {
                "id": p.id,
                "client": p.client_name,
                "href": f"/admin/clients/{p.client_id}" if p.client_id else "",
                "received_on": i18n.format_date(p.received_on),
                "amount": _money(p.amount_minor, p.currency),
                "note": p.note,
            }
            for p in rows
        ]
        table = ui.table(columns=columns, rows=table_rows, row_key="id").classes("w-full")
        table.props("flat dense wrap-cells").mark("needs-review")
        table.add_slot("body-cell-client", LINK_CELL)


def register() -> None:
    """Add /admin."""

    @guard.page("/admin", access=guard.Access.staff, title="Console")
    async def overview_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Overview")):

            async def draw() -> None:
                data = await overview.get_overview(actor=actor)
                _review(data.needs_review)
                _receivables(data.receivables)
                _chart(data.payments)
                _expiring(data.expiring_requests)
                _activity(actor, data.activity)

            body = LiveSection(draw, name="overview")
            await body()
            follow_events(None, body.refresh, LIVE_EVENTS, every_client=True)  # money moving anywhere

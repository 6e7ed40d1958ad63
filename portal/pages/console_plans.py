"""/admin/plans: the plans (create, edit, archive, delete); /admin/subscriptions: every client's
subscriptions, filtered by status, plan and client, one page at a time, with cancel and subscribe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from portal import i18n
from portal.clients import profiles
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.subscribe_dialog import open_subscribe
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidFields, InvalidInput
from portal.domain.money import format_amount, format_money
from portal.i18n import N_, _
from portal.payments.branding import branding
from portal.subscriptions import client_subscriptions, plans, subscription_list
from portal.subscriptions.plans import PlanView
from portal.subscriptions.subscription_list import SubscriptionRow

PLANS_PATH = "/admin/plans"
SUBSCRIPTIONS_PATH = "/admin/subscriptions"
INTERVALS = {"day": N_("days"), "week": N_("weeks"), "month": N_("months"), "year": N_("years")}
STATUSES = {
    "active": N_("Active"),
    "trialing": N_("Trial"),
    "past_due": N_("Past due"),
    "incomplete": N_("Incomplete"),
    "canceled": N_("Canceled"),
}
PLAN_COLUMNS = [
    ("name", N_("Name")),
    ("price", N_("Price")),
    ("state", N_("Status")),
    ("subscriptions", N_("Running subscriptions")),
]
SUBSCRIPTION_COLUMNS = [
    ("client", N_("Client")),
    ("plan", N_("Plan")),
    ("price", N_("Price")),
    ("state", N_("Status")),
    ("renewal", N_("Next payment or end")),
    ("card", N_("Card")),
]


def _columns(spec: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": key, "label": _(label), "field": key, "align": "left"} for key, label in spec]


def _clicked_row(args: Any) -> dict | None:
    """The row of a Quasar rowClick event (its arguments are [event, row, index])."""
    values = args if isinstance(args, list) else [args]
    return next((a for a in values if isinstance(a, dict) and "id" in a), None)


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency, i18n.get_locale())


def plan_row(plan: PlanView) -> dict[str, Any]:
    """A plan as a table row."""
    return {
        "id": plan.id,
        "name": plan.name,
        "price": f"{_money(plan.amount_minor, plan.currency)} {plan.period_label}",
        "state": _("Active") if plan.active else _("Archived"),
        "subscriptions": plan.live_subscriptions,
    }


def renewal_text(row: SubscriptionRow) -> str:
    """The next payment's date, 'Ends on …' for one set to end, '—' for one that is not running."""
    if not row.is_live or row.current_period_end is None:
        return "—"
    day = i18n.format_date(row.current_period_end)
    return _("Ends on {date}", date=day) if row.cancel_at_period_end else day


def subscription_row(row: SubscriptionRow) -> dict[str, Any]:
    """A subscription as a table row."""
    return {
        "id": row.id,
        "client_id": row.client_id,
        "client": row.client_name,
        "plan": row.name,
        "price": f"{_money(row.amount_minor, row.currency)} {row.period_label}",
        "state": _(STATUSES.get(row.status, row.status)),
        "status": row.status,
        "renewal": renewal_text(row),
        "card": row.method_label,
    }


# -- plans ----------------------------------------------------------------------------------------
class PlanEditor:
    """The create/edit dialog of one plan: fields with their own messages; archive, restore, delete."""

    def __init__(self, actor: Actor, plan: PlanView | None, currency: str) -> None:
        self.actor = actor
        self.plan = plan
        self.dialog = ui.dialog().mark("plan-dialog")
        with self.dialog, ui.card().classes("w-full max-w-lg gap-3"):
            title = _("Edit plan") if plan else _("New plan")
            ui.label(title).classes("text-lg font-semibold").mark("plan-dialog-title")
            self.name = self._input(_("Name"), plan.name if plan else "", "plan-name")
            self.description = (
                ui.textarea(_("Description"), value=plan.description if plan else "")
                .props("outlined autogrow")
                .classes("w-full")
                .mark("plan-description")
            )
            with ui.row().classes("w-full no-wrap gap-2"):
                price = format_amount(plan.amount_minor, plan.currency, i18n.get_locale()) if plan else ""
                self.price = self._input(_("Price"), price, "plan-price").classes("grow")
                self.currency = (
                    ui.input(_("Currency"), value=plan.currency if plan else currency)
                    .props("outlined maxlength=3")
                    .classes("w-28")
                    .mark("plan-currency")
                )
            with ui.row().classes("w-full no-wrap items-start gap-2"):
                self.interval_count = (
                    # no `min`: NiceGUI would silently turn 0 or -2 into 1; the service says what is wrong
                    ui.number(_("Billed every"), value=plan.interval_count if plan else 1, step=1)
                    .props("outlined")
                    .classes("w-36")
                    .mark("plan-interval-count")
                )
                self.interval = (
                    ui.select(
                        {key: _(label) for key, label in INTERVALS.items()},
                        value=plan.interval if plan else "month",
                        label=_("Period"),
                    )
                    .props("outlined")
                    .classes("grow")
                    .mark("plan-interval")
                )
            if plan and plan.live_subscriptions:
                ui.label(
                    i18n.ngettext(
                        "{count} running subscription keeps the price and period it started with.",
                        "{count} running subscriptions keep the price and period they started with.",
                        plan.live_subscriptions,
                    )
                ).classes("text-sm text-gray-600").mark("plan-running-note")
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("plan-error")
            self.fields: dict[str, Any] = {
                "name": self.name,
                "description": self.description,
                "price": self.price,
                "currency": self.currency,
                "interval": self.interval,
                "interval_count": self.interval_count,
            }
            with ui.row().classes("w-full items-center justify-between gap-2"):
                with ui.row().classes("gap-1"):
                    if plan and plan.active:
                        ui.button(_("Archive"), on_click=self.archive).props("flat no-caps").mark(
                            "plan-archive"
                        )
                    elif plan:
                        ui.button(_("Offer again"), on_click=self.restore).props("flat no-caps").mark(
                            "plan-restore"
                        )
                    if plan:
                        ui.button(_("Delete"), on_click=self.ask_delete).props(
                            "flat no-caps color=red-7"
                        ).mark("plan-delete")
                with ui.row().classes("gap-1"):
                    ui.button(_("Cancel"), on_click=lambda: self.dialog.submit(None)).props(
                        "flat no-caps"
                    ).mark("plan-cancel")
                    self.save_button = (
                        ui.button(_("Save"), on_click=self.save).props("no-caps").mark("plan-save")
                    )
            with ui.column().classes("w-full gap-2") as self.confirm_box:
                ui.label(_("Delete this plan? This cannot be undone.") if plan else "").mark(
                    "plan-delete-question"
                )
                with ui.row().classes("w-full justify-end"):
                    ui.button(_("Keep it"), on_click=lambda: self.confirm_box.set_visibility(False)).props(
                        "flat no-caps"
                    ).mark("plan-delete-keep")
                    ui.button(_("Delete plan"), on_click=self.delete).props("no-caps color=red-7").mark(
                        "plan-delete-confirm"
                    )
            self.confirm_box.set_visibility(False)

    @staticmethod
    def _input(label: str, value: str, marker: str) -> ui.input:
        return ui.input(label, value=value).props("outlined").classes("w-full").mark(marker)

    def _clear(self) -> None:
        for field in self.fields.values():
            field.error = None
        self.error.set_text("")

    def _show(self, exc: DomainError) -> None:
        """Each wrong field says why, all at once; anything else goes under the form."""
        if isinstance(exc, InvalidFields):
            problems = exc.errors
        elif isinstance(exc, InvalidInput):
            problems = {exc.field or "": exc.message}
        else:
            problems = {"": exc.message}
        for field, message in problems.items():
            if field in self.fields:
                self.fields[field].error = message
            else:
                self.error.set_text(message)

    async def _run(self, action: Callable[[], Awaitable[Any]], done: str) -> None:
        self._clear()
        try:
            await action()
        except DomainError as exc:
            self._show(exc)
            return
        self.dialog.submit(done)

    async def save(self) -> None:
        values = {
            "name": self.name.value or "",
            "description": self.description.value or "",
            "price": self.price.value or "",
            "currency": self.currency.value or "",
            "interval": self.interval.value or "",
            "interval_count": self.interval_count.value,
            "locale": i18n.get_locale(),
        }
        self.save_button.props("loading")
        try:
            if self.plan is None:
                await self._run(
                    lambda: plans.create_plan(actor=self.actor, **values),
                    _("Plan “{name}” created.", name=" ".join(values["name"].split())),
                )
            else:
                plan_id = self.plan.id
                await self._run(
                    lambda: plans.update_plan(actor=self.actor, plan_id=plan_id, **values),
                    _("Plan “{name}” saved.", name=" ".join(values["name"].split())),
                )
        finally:
            self.save_button.props(remove="loading")

    async def archive(self) -> None:
        assert self.plan is not None
        plan = self.plan
        await self._run(
            lambda: plans.archive_plan(actor=self.actor, plan_id=plan.id),
            _("“{name}” is archived: it is no longer offered for new subscriptions.", name=plan.name),
        )

    async def restore(self) -> None:
        assert self.plan is not None
        plan = self.plan
        await self._run(
            lambda: plans.restore_plan(actor=self.actor, plan_id=plan.id),
            _("“{name}” is offered again.", name=plan.name),
        )

    def ask_delete(self) -> None:
        self.confirm_box.set_visibility(True)

    async def delete(self) -> None:
        assert self.plan is not None
        plan = self.plan
        self.confirm_box.set_visibility(False)
        await self._run(
            lambda: plans.delete_plan(actor=self.actor, plan_id=plan.id),
            _("“{name}” was deleted.", name=plan.name),
        )


async def edit_plan(actor: Actor, plan: PlanView | None) -> str | None:
    """Open the editor; the message to show when something changed, else None."""
    currency = plan.currency if plan else await plans.default_currency(actor=actor)
    editor = PlanEditor(actor, plan, currency)
    editor.dialog.open()
    done = await editor.dialog
    if not editor.dialog.is_deleted:
        editor.dialog.delete()
    return done if isinstance(done, str) else None


def _nav_links(current: str) -> None:
    with ui.row().classes("gap-4"):
        for path, label, marker in (
            (PLANS_PATH, _("Plans"), "to-plans"),
            (SUBSCRIPTIONS_PATH, _("Subscriptions"), "to-subscriptions"),
        ):
            if path == current:
                ui.label(label).classes("font-semibold").mark(marker)
            else:
                ui.link(label, path).mark(marker)


async def plans_page(actor: Actor) -> None:
    """The plans list; a click on a row edits that plan."""
    state: dict[str, Any] = {"plans": {}}

    async def load() -> None:
        found = await plans.list_plans(actor=actor, include_archived=bool(show_archived.value))
        state["plans"] = {p.id: p for p in found}
        table.rows = [plan_row(p) for p in found]
        table.update()
        empty.set_visibility(not found)

    async def open_editor(plan: PlanView | None) -> None:
        try:
            message = await edit_plan(actor, plan)
        except DomainError as exc:
            ui.notify(exc.message, type="negative")
            return
        if message:
            ui.notify(message, type="positive")
            await load()

    async def on_row(event: Any) -> None:
        row = _clicked_row(event.args)
        plan = state["plans"].get(row["id"]) if row else None
        if plan is not None:
            await open_editor(plan)

    with signed_in_frame(actor, await branding(), _("Plans")):
        _nav_links(PLANS_PATH)
        with ui.row().classes("w-full items-center justify-between gap-2"):
            ui.button(_("New plan"), icon="add", on_click=lambda: open_editor(None)).props("no-caps").mark(
                "plan-new"
            )
            show_archived = ui.switch(_("Show archived plans"), value=False, on_change=load).mark(
                "plans-show-archived"
            )
        table = (
            ui.table(columns=_columns(PLAN_COLUMNS), rows=[], row_key="id").classes("w-full").mark("plans")
        )
        table.props("flat").classes("cursor-pointer")
        table.on("rowClick", on_row)
        empty = (
            ui.label(_("No plans yet: create the first one.")).classes("text-gray-600").mark("plans-empty")
        )
        ui.label(_("Click a plan to edit, archive or delete it.")).classes("text-sm text-gray-600")
    await load()


# -- subscriptions --------------------------------------------------------------------------------
async def manage_subscription(actor: Actor, row: SubscriptionRow) -> str | None:
    """Cancel now or at the period end (each confirmed), or resume; the message to show, else None."""
    live = row.status in ("active", "trialing", "past_due", "incomplete")

    with ui.dialog().mark("manage-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
        ui.label(f"{row.client_name} · {row.name}").classes("text-lg font-semibold").mark("manage-title")
        ui.label(f"{_money(row.amount_minor, row.currency)} {row.period_label}").mark("manage-price")
        ui.label(_(STATUSES.get(row.status, row.status))).mark("manage-status")
        if (renewal := renewal_text(row)) != "—":
            ui.label(renewal if row.cancel_at_period_end else _("Next payment on {date}", date=renewal)).mark(
                "manage-renewal"
            )
        if row.method_label:
            ui.label(_("Paid with {card}", card=row.method_label)).mark("manage-card")
        error = ui.label().classes("text-red-700").props("role=alert").mark("manage-error")
        question = ui.label().mark("manage-question")
        pending: dict[str, Callable[[], Awaitable[Any]] | str] = {}

        def ask(text: str, action: Callable[[], Awaitable[Any]], done: str) -> None:
            question.set_text(text)
            pending.update(action=action, done=done)
            actions.set_visibility(False)
            confirm.set_visibility(True)

        def keep() -> None:
            confirm.set_visibility(False)
            actions.set_visibility(True)
            question.set_text("")

        async def run() -> None:
            action = pending["action"]
            assert callable(action)
            try:
                await action()
            except DomainError as exc:
                error.set_text(exc.message)
                keep()
                return
            dialog.submit(pending["done"])

        async def resume() -> None:
            try:
                await client_subscriptions.resume(actor=actor, subscription_id=row.id)
            except DomainError as exc:
                error.set_text(exc.message)
                return
            dialog.submit(_("{plan} for {client} continues.", plan=row.name, client=row.client_name))

        with ui.row().classes("w-full justify-end gap-1") as actions:
            if live and row.cancel_at_period_end:
                ui.button(_("Resume"), on_click=resume).props("flat no-caps color=green-7").mark(
                    "manage-resume"
                )
            elif live and row.status != "incomplete":
                ui.button(
                    _("Cancel at period end"),
                    on_click=lambda: ask(
                        _(
                            "End {plan} for {client} when the paid period ends?",
                            plan=row.name,
                            client=row.client_name,
                        ),
                        lambda: client_subscriptions.cancel_at_period_end(
                            actor=actor, subscription_id=row.id
                        ),
                        _(
                            "{plan} for {client} ends at the end of the paid period.",
                            plan=row.name,
                            client=row.client_name,
                        ),
                    ),
                ).props("flat no-caps color=red-7").mark("manage-cancel-period-end")
            if live:
                ui.button(
                    _("Cancel now"),
                    on_click=lambda: ask(
                        _(
                            "End {plan} for {client} now? Nothing more is charged; "
                            "what was paid is not refunded.",
                            plan=row.name,
                            client=row.client_name,
                        ),
                        lambda: client_subscriptions.cancel_now(actor=actor, subscription_id=row.id),
                        _("{plan} for {client} was canceled.", plan=row.name, client=row.client_name),
                    ),
                ).props("flat no-caps color=red-7").mark("manage-cancel-now")
            ui.button(_("Close"), on_click=lambda: dialog.submit(None)).props("flat no-caps").mark(
                "manage-close"
            )
        with ui.row().classes("w-full justify-end gap-1") as confirm:
            ui.button(_("Keep subscription"), on_click=keep).props("flat no-caps").mark("manage-keep")
            ui.button(_("Confirm"), on_click=run).props("no-caps color=red-7").mark("manage-confirm")
        confirm.set_visibility(False)
    dialog.open()
    done = await dialog
    if not dialog.is_deleted:
        dialog.delete()
    return done if isinstance(done, str) else None


async def pick_client(actor: Actor) -> int | None:
    """Choose the client to subscribe (searching by name, company or email)."""
    with ui.dialog().mark("pick-client-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
        ui.label(_("New subscription")).classes("text-lg font-semibold")
        select = (
            ui.select({}, label=_("Client"), with_input=True)
            .props("outlined")
            .classes("w-full")
            .mark("pick-client")
        )
        error = ui.label().classes("text-red-700").props("role=alert").mark("pick-client-error")

        async def search(text: str = "") -> None:
            found = await profiles.list_clients(actor=actor, search=text, page_size=20)
            options = {r.id: f"{r.name} · {r.email}" for r in found.rows}
            if select.value in select.options and select.value not in options:
                options[select.value] = select.options[select.value]
            select.set_options(options, value=select.value)

        def go() -> None:
            if select.value is None:
                error.set_text(_("Choose a client."))
                return
            dialog.submit(select.value)

        select.on("input-value", lambda e: search(e.args if isinstance(e.args, str) else ""))
        with ui.row().classes("w-full justify-end gap-1"):
            ui.button(_("Cancel"), on_click=lambda: dialog.submit(None)).props("flat no-caps").mark(
                "pick-client-cancel"
            )
            ui.button(_("Continue"), on_click=go).props("no-caps").mark("pick-client-continue")
    await search()
    dialog.open()
    chosen = await dialog
    if not dialog.is_deleted:
        dialog.delete()
    return chosen if isinstance(chosen, int) else None


async def subscriptions_page(actor: Actor) -> None:
    """Every subscription with filters and server-side pages; a click on a row manages it."""
    state: dict[str, Any] = {"page": 1, "rows": {}}
    plan_options = {p.id: p.name for p in await plans.list_plans(actor=actor)}

    async def load() -> None:
        try:
            result = await subscription_list.search_subscriptions(
                actor=actor,
                status=status.value or "",
                plan_id=plan.value or None,
                search=search.value or "",
                page=state["page"],
            )
        except DomainError as exc:
            ui.notify(exc.message, type="negative")
            return
        state["rows"] = {r.id: r for r in result.rows}
        table.rows = [subscription_row(r) for r in result.rows]
        table.update()
        pages = max(1, -(-result.total // result.page_size))
        page_label.set_text(
            i18n.ngettext(
                "Page {page} of {pages} · {count} subscription",
                "Page {page} of {pages} · {count} subscriptions",
                result.total,
                page=result.page,
                pages=pages,
            )
        )
        prev_button.set_enabled(result.page > 1)
        next_button.set_enabled(result.page < pages)

    async def refilter() -> None:
        state["page"] = 1
        await load()

    async def go(step: int) -> None:
        state["page"] = max(1, state["page"] + step)
        await load()

    async def on_row(event: Any) -> None:
        clicked = _clicked_row(event.args)
        row = state["rows"].get(clicked["id"]) if clicked else None
        if row is None:
            return
        message = await manage_subscription(actor, row)
        if message:
            ui.notify(message, type="positive")
            await load()

    async def new_subscription() -> None:
        client_id = await pick_client(actor)
        if client_id is not None:
            await open_subscribe(actor, client_id=client_id, on_done=refilter)

    with signed_in_frame(actor, await branding(), _("Subscriptions")):
        _nav_links(SUBSCRIPTIONS_PATH)
        with ui.row().classes("w-full items-center gap-2"):
            search = (
                ui.input(_("Search client name, company or email"))
                .props("outlined dense clearable debounce=300")
                .classes("w-72")
                .mark("subs-search")
            )
            status = (
                ui.select(
                    {"": _("All statuses")} | {k: _(v) for k, v in STATUSES.items()},
                    value="",
                    label=_("Status"),
                )
                .props("outlined dense")
                .classes("w-44")
                .mark("subs-status")
            )
            plan = (
                ui.select({0: _("All plans")} | plan_options, value=0, label=_("Plan"))
                .props("outlined dense")
                .classes("w-56")
                .mark("subs-plan")
            )
            ui.button(_("New subscription"), icon="add", on_click=new_subscription).props("no-caps").mark(
                "subs-new"
            )
        table = (
            ui.table(columns=_columns(SUBSCRIPTION_COLUMNS), rows=[], row_key="id")
            .classes("w-full cursor-pointer")
            .mark("subscriptions")
        )
        table.props("flat")
        table.on("rowClick", on_row)
        with ui.row().classes("items-center gap-2"):
            prev_button = ui.button(_("Previous"), on_click=lambda: go(-1)).props("flat").mark("prev-page")
            page_label = ui.label().mark("page-label")
            next_button = ui.button(_("Next"), on_click=lambda: go(1)).props("flat").mark("next-page")
    search.on_value_change(refilter)
    status.on_value_change(refilter)
    plan.on_value_change(refilter)
    await load()


def register() -> None:
    """Add /admin/plans and /admin/subscriptions."""

    @guard.page(PLANS_PATH, access=guard.Access.staff, title="Plans")
    async def console_plans(actor: Actor) -> None:
        await plans_page(actor)

    @guard.page(SUBSCRIPTIONS_PATH, access=guard.Access.staff, title="Subscriptions")
    async def console_subscriptions(actor: Actor) -> None:
        await subscriptions_page(actor)

"""/admin/requests: billing requests (filters, pages, copy a payment link, delete) and
/admin/requests/new?client=<id>: the form that sends one."""

from __future__ import annotations

from typing import NamedTuple

from fastapi import Request
from nicegui import ui

from portal import i18n
from portal.billing import billing_requests
from portal.billing.billing_requests import BillingRequestRow
from portal.clients import profiles
from portal.components import guard
from portal.components.attributes import set_props
from portal.components.badges import STATUS_COLORS
from portal.components.confirm import confirm
from portal.components.frame import signed_in_frame
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput, NotFound
from portal.domain.money import format_money
from portal.i18n import N_, _
from portal.payments.branding import branding

LIST_PATH = "/admin/requests"
NEW_PATH = "/admin/requests/new"

STATUS_OPTIONS = {
    "": N_("All statuses"),
    "pending": N_("Pending"),
    "paid": N_("Paid"),
    "expired": N_("Expired"),
    "deleted": N_("Deleted"),
}
MODE_OPTIONS = {"": N_("All modes"), "sandbox": N_("Sandbox"), "test": N_("Test"), "live": N_("Live")}
BILLING_TYPES = {"one_time": N_("One-time"), "recurring": N_("Recurring")}
INTERVALS = {
    "day": N_("Every day"),
    "week": N_("Every week"),
    "month": N_("Every month"),
    "year": N_("Every year"),
}
MODE_COLORS = {"live": "green", "test": "orange", "sandbox": "orange"}

COLUMNS = [
    ("email", N_("Email"), "left"),
    ("client", N_("Client"), "left"),
    ("description", N_("Description"), "left"),
    ("amount", N_("Amount"), "right"),
    ("billing_type", N_("Type"), "left"),
    ("mode", N_("Mode"), "left"),
    ("status", N_("Status"), "left"),
    ("sent", N_("Sent"), "left"),
    ("time_left", N_("Expires"), "left"),
    ("actions", "", "right"),
]

STATUS_CELL = """
<q-td :props="props">
  <q-badge rounded :color="props.row.status_color" :label="props.row.status_label" />
</q-td>
"""
MODE_CELL = """
<q-td :props="props">
  <q-badge outline :color="props.row.mode_color" :label="props.row.mode_label" />
</q-td>
"""
ACTIONS_CELL = """
<q-td :props="props" class="q-gutter-xs">
  <q-btn v-if="props.row.can_copy" flat dense no-caps color="primary" icon="content_copy"
         :label="props.row.copy_label"
         @click="() => $parent.$emit('copy', props.row.id)" />
  <q-btn v-if="props.row.can_delete" flat dense no-caps color="red-7" icon="delete"
         :label="props.row.delete_label"
         @click="() => $parent.$emit('delete', props.row.id)" />
</q-td>
"""


def time_left(seconds: int | None) -> str:
    """'23 h 5 min left', '12 min left', or '' when the request is not pending."""
    if seconds is None or seconds <= 0:
        return ""
    hours, minutes = divmod(max(1, seconds // 60), 60)
    if hours:
        return _("{hours} h {minutes} min left", hours=hours, minutes=minutes)
    return _("{minutes} min left", minutes=minutes)


def billing_type_text(row: BillingRequestRow) -> str:
    """'One-time' or 'Recurring, every month'."""
    if row.billing_type == "recurring":
        every = _(INTERVALS.get(row.interval or "", N_("Recurring")))
        return _("Recurring, {every}", every=every.lower())
    return _(BILLING_TYPES["one_time"])


def table_row(row: BillingRequestRow, locale: str) -> dict:
    """One request as a table row (the simulated test user reads these dicts)."""
    return {
        "id": row.id,
        "email": row.email,
        "client": row.client_name,
        "description": row.description,
        "amount": format_money(row.amount_minor, row.currency, locale),
        "billing_type": billing_type_text(row),
        "mode": row.mode,
        "mode_label": _(MODE_OPTIONS.get(row.mode, row.mode)),
        "mode_color": MODE_COLORS.get(row.mode, "grey"),
        "status": row.status,
        "status_label": _(STATUS_OPTIONS.get(row.status, row.status)),
        "status_color": STATUS_COLORS.get(row.status, "grey"),
        "sent": i18n.format_datetime(row.sent_at, locale),
        "time_left": time_left(row.seconds_left),
        "can_copy": row.can_copy_link,
        "can_delete": row.can_delete,
        "copy_label": _("Copy link"),  # bound as data by the actions cell, never written into its template
        "delete_label": _("Delete"),
    }


class RequestList:
    """The list: filters, one page of requests, paging, and the row actions."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.locale = i18n.get_locale()
        self.page = 1
        self.rows: dict[int, BillingRequestRow] = {}
        with ui.row().classes("w-full items-end gap-3"):
            self.status = (
                ui.select(_options(STATUS_OPTIONS), value="", label=_("Status"), on_change=self.reload)
                .props("outlined dense")
                .classes("min-w-40")
                .mark("filter-status")
            )
            self.mode = (
                ui.select(_options(MODE_OPTIONS), value="", label=_("Mode"), on_change=self.reload)
                .props("outlined dense")
                .classes("min-w-40")
                .mark("filter-mode")
            )
            self.search = (
                ui.input(_("Search by email"), on_change=self.reload)
                .props("outlined dense clearable debounce=300")
                .classes("grow max-w-md")
                .mark("request-search")
            )
        self.message = ui.label().props("role=alert").mark("requests-message")
        columns = [
            {"name": name, "label": _(label) if label else "", "field": name, "align": align}
            for name, label, align in COLUMNS
        ]
        self.table = ui.table(columns=columns, rows=[], row_key="id").classes("w-full").mark("requests")
        self.table.props("flat dense wrap-cells")
        self.table.add_slot("body-cell-status", STATUS_CELL)
        self.table.add_slot("body-cell-mode", MODE_CELL)
        self.table.add_slot("body-cell-actions", ACTIONS_CELL)
        self.table.on("copy", lambda e: self.copy_link(int(e.args)))
        self.table.on("delete", lambda e: self.delete(int(e.args)))
        self.empty = ui.label(_("No billing requests match.")).classes("text-gray-600").mark("no-requests")
        with ui.row().classes("items-center gap-2"):
            self.prev_button = ui.button(_("Previous"), on_click=lambda: self.go(-1)).props("flat")
            self.prev_button.mark("prev-page")
            self.page_label = ui.label().mark("page-label")
            self.next_button = (
                ui.button(_("Next"), on_click=lambda: self.go(1)).props("flat").mark("next-page")
            )

    async def load(self) -> None:
        """Fetch the current page with the current filters."""
        try:
            result = await billing_requests.list_billing_requests(
                actor=self.actor,
                status=self.status.value or "",
                mode=self.mode.value or "",
                search=self.search.value or "",
                page=self.page,
            )
        except DomainError as exc:
            self.say(exc.message, ok=False)
            return
        if result.page > result.pages and result.page > 1:  # the last row of the last page went away
            self.page = result.pages
            await self.load()
            return
        self.rows = {row.id: row for row in result.rows}
        self.table.rows = [table_row(row, self.locale) for row in result.rows]
        self.table.update()
        self.empty.set_visibility(not result.rows)
        self.page_label.set_text(
            i18n.ngettext(
                "Page {page} of {pages} · {count} request",
                "Page {page} of {pages} · {count} requests",
                result.total,
                page=result.page,
                pages=result.pages,
            )
        )
        self.prev_button.set_enabled(result.page > 1)
        self.next_button.set_enabled(result.page < result.pages)

    async def reload(self) -> None:
        """Filters changed: back to the first page."""
        self.page = 1
        await self.load()

    async def go(self, step: int) -> None:
        self.page = max(1, self.page + step)
        await self.load()

    def say(self, text: str, *, ok: bool) -> None:
        self.message.set_text(text)
        self.message.classes(replace="text-green-700" if ok else "text-red-700")

    async def copy_link(self, request_id: int) -> None:
        try:
            url = await billing_requests.billing_request_link(actor=self.actor, request_id=request_id)
        except DomainError as exc:
            self.say(exc.message, ok=False)
            await self.load()
            return
        ui.clipboard.write(url)
        self.say(_("Payment link copied: {url}", url=url), ok=True)
        ui.notify(_("Payment link copied."), type="positive")

    async def delete(self, request_id: int) -> None:
        row = self.rows.get(request_id)
        if row is None:
            return
        question = _(
            "Delete the request for {amount} sent to {email}? Its payment link stops working.",
            amount=format_money(row.amount_minor, row.currency, self.locale),
            email=row.email,
        )
        if not await confirm(question, yes=_("Delete"), no=_("Keep it"), marker="request-delete"):
            return
        try:
            await billing_requests.delete_billing_request(actor=self.actor, request_id=request_id)
        except DomainError as exc:
            self.say(exc.message, ok=False)
        else:
            self.say(_("The billing request to {email} was deleted.", email=row.email), ok=True)
        await self.load()


def _options(labels: dict[str, str]) -> dict[str, str]:
    return {value: _(label) for value, label in labels.items()}


# -- the new request form ------------------------------------------------------------------------------
class RequestForm:
    """Client, email, currency, amount, success and cancel URLs, billing type (and interval), description."""

    def __init__(self, actor: Actor, choices: dict[int, ClientChoice], client_id: int | None) -> None:
        self.actor = actor
        self.choices = choices
        self.prefilled: tuple[str, str] = ("", "")
        with ui.card().classes("w-full max-w-2xl gap-3") as self.card:
            self.client = (
                ui.select(
                    {cid: f"{c.name} ({c.email})" for cid, c in choices.items()},
                    label=_("Client"),
                    with_input=True,
                    on_change=self.prefill,
                )
                .props("outlined")
                .classes("w-full")
                .mark("request-client")
            )
            self.email = self._input(_("Email"), "request-email", "email")
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.currency = self._input(_("Currency"), "request-currency").classes("w-32")
                self.currency.props("maxlength=3 input-style='text-transform: uppercase'")
                self.amount = self._input(_("Amount"), "request-amount").props("inputmode=decimal")
            self.success_url = self._input(_("Success URL"), "request-success-url", "url")
            self.success_url.props("placeholder=https://")
            self.cancel_url = self._input(_("Cancel URL"), "request-cancel-url", "url")
            self.cancel_url.props("placeholder=https://")
            ui.label(_("The payer returns to the success URL after paying, or to the cancel URL.")).classes(
                "text-sm text-gray-600"
            )
            self.billing_type = (
                ui.radio(_options(BILLING_TYPES), value="one_time", on_change=self._show_interval)
                .props("inline")
                .mark("request-billing-type")
            )
            self.billing_type_error = (
                ui.label().classes("text-sm text-red-700").mark("request-billing-type-error")
            )
            self.interval = (
                ui.select(_options(INTERVALS), value="month", label=_("Repeats"))
                .props("outlined")
                .classes("w-60")
                .mark("request-interval")
            )
            self.description = (
                ui.textarea(_("Description"))
                .props("outlined autogrow maxlength=300")
                .classes("w-full")
                .mark("request-description")
            )
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("request-error")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=lambda: ui.navigate.to(LIST_PATH)).props("flat no-caps")
                self.send_button = (
                    ui.button(_("Send billing request"), icon="send", on_click=self.send)
                    .props("no-caps")
                    .mark("request-send")
                )
        self.sent = ui.column().classes("w-full max-w-2xl gap-3").mark("request-sent")
        self.sent.set_visibility(False)
        self.fields: dict[str, ui.element] = {
            "client": self.client,
            "email": self.email,
            "currency": self.currency,
            "amount": self.amount,
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
            "interval": self.interval,
            "description": self.description,
        }
        self._show_interval()
        if client_id is not None:
            self.client.set_value(client_id)  # fills email and currency through `prefill`

    @staticmethod
    def _input(label: str, marker: str, kind: str = "text") -> ui.input:
        field = set_props(ui.input(label).props("outlined autocomplete=off"), {"type": kind})
        return field.classes("w-full").mark(marker)

    def _show_interval(self) -> None:
        self.interval.set_visibility(self.billing_type.value == "recurring")

    def prefill(self) -> None:
        """A chosen client fills email and currency (unless they were typed over)."""
        choice = self.choices.get(self.client.value) if self.client.value is not None else None
        if choice is None:
            return
        if (self.email.value or "") in ("", self.prefilled[0]):
            self.email.set_value(choice.email)
        if (self.currency.value or "") in ("", self.prefilled[1]):
            self.currency.set_value(choice.currency)
        self.prefilled = (choice.email, choice.currency)

    def clear_errors(self) -> None:
        for element in self.fields.values():
            element.error = None  # type: ignore[attr-defined]
        self.billing_type_error.set_text("")
        self.error.set_text("")

    def show_errors(self, exc: DomainError) -> None:
        """Each message next to its field; anything without a field goes under the form."""
        problems = getattr(exc, "errors", None) or {getattr(exc, "field", None): exc.message}
        general = []
        for field, message in problems.items():
            if field in self.fields:
                self.fields[field].error = message  # type: ignore[attr-defined]
            elif field == "billing_type":
                self.billing_type_error.set_text(message)
            else:
                general.append(message)
        if isinstance(exc, InvalidInput) and not general:
            general = [_("Please correct the fields marked in red. Nothing was sent.")]
        self.error.set_text(" ".join(general))

    async def send(self) -> None:
        if not self.send_button.enabled:
            return
        self.clear_errors()
        self.send_button.set_enabled(False)
        self.send_button.props("loading")
        try:
            sent = await billing_requests.create_billing_request(
                actor=self.actor,
                client_id=int(self.client.value) if self.client.value is not None else None,
                email=self.email.value or "",
                currency=self.currency.value or "",
                amount_text=self.amount.value or "",
                locale=i18n.get_locale(),
                success_url=self.success_url.value or "",
                cancel_url=self.cancel_url.value or "",
                billing_type=self.billing_type.value or "",
                interval=self.interval.value if self.billing_type.value == "recurring" else None,
                description=self.description.value or "",
            )
        except DomainError as exc:
            self.show_errors(exc)
            self.send_button.set_enabled(True)
            return
        finally:
            self.send_button.props(remove="loading")
        self.show_sent(sent.link, int(self.client.value))

    def show_sent(self, link: str, client_id: int) -> None:
        """Replace the form with what was sent and the link (shown once: only its hash is kept)."""
        self.card.set_visibility(False)
        self.sent.set_visibility(True)
        with self.sent, ui.card().classes("w-full gap-2"):
            ui.label(
                _("Billing request sent to {email}. The client has 24 hours to pay.", email=self.email.value)
            ).classes("text-green-700 font-medium").mark("request-sent-message")
            ui.label(_("Payment link")).classes("text-sm text-gray-600")
            ui.label(link).classes("font-mono text-sm break-all").mark("request-link")
            with ui.row().classes("gap-2"):
                ui.button(_("Copy link"), icon="content_copy", on_click=lambda: self._copy(link)).props(
                    "flat no-caps"
                ).mark("request-copy-link")
                ui.button(
                    _("Send another"), on_click=lambda: ui.navigate.to(f"{NEW_PATH}?client={client_id}")
                ).props("flat no-caps")
                ui.button(_("All billing requests"), on_click=lambda: ui.navigate.to(LIST_PATH)).props(
                    "no-caps"
                ).mark("request-back")
        ui.notify(_("Billing request sent to {email}.", email=self.email.value), type="positive")

    @staticmethod
    def _copy(link: str) -> None:
        ui.clipboard.write(link)
        ui.notify(_("Payment link copied."), type="positive")


class ClientChoice(NamedTuple):
    """A client the form can send a request to."""

    name: str
    email: str
    currency: str


async def _client_choices(actor: Actor, client_id: int | None) -> tuple[dict[int, ClientChoice], bool]:
    """The clients to choose from (the first hundred by name, plus the one asked for), and whether the one
    asked for exists."""
    found = await profiles.list_clients(actor=actor, page_size=100)
    choices = {row.id: ClientChoice(row.name, row.email, row.currency) for row in found.rows}
    if client_id is None or client_id in choices:
        return choices, True
    try:
        profile = await profiles.get_profile(actor=actor, client_id=client_id)
    except NotFound:
        return choices, False
    choices[profile.id] = ClientChoice(profile.name, profile.email, profile.currency)
    return choices, True


def _client_id(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def register() -> None:
    """Add /admin/requests and /admin/requests/new."""

    @guard.page(LIST_PATH, access=guard.Access.staff, title="Billing requests")
    async def list_page(actor: Actor) -> None:
        with signed_in_frame(actor, await branding(), _("Billing requests")):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(_("A request is paid within 24 hours through its link, or it expires.")).classes(
                    "text-gray-600"
                )
                ui.button(
                    _("New billing request"), icon="add", on_click=lambda: ui.navigate.to(NEW_PATH)
                ).props("no-caps").mark("new-request")
            listing = RequestList(actor)
        await listing.load()

    @guard.page(NEW_PATH, access=guard.Access.staff, title="New billing request")
    async def new_page(actor: Actor, request: Request) -> None:
        # ?client=<id> is read from the request: NiceGUI gives a page parameter named `client` its own Client
        client = request.query_params.get("client", "")
        wanted = _client_id(client)
        brand = await branding()
        with signed_in_frame(actor, brand, _("New billing request")):
            choices, known = await _client_choices(actor, wanted)
            if not known or (client and wanted is None):
                ui.label(_("That client does not exist. Choose one from the list.")).classes(
                    "text-red-700"
                ).mark("request-client-missing")
            if brand.gateway_mode != "live":
                ui.label(
                    _("Sandbox: no real money moves.")
                    if brand.gateway_mode == "sandbox"
                    else _("Test mode: requests are paid with Stripe's test cards.")
                ).classes("text-sm text-orange-700").mark("request-mode")
            RequestForm(actor, choices, wanted if known else None)

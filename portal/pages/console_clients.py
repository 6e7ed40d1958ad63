"""The console's clients: the list (search, filters, server-side pages), the create and edit form with
the avatar upload, and one client's record with its actions. Also serves the stored avatars."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from babel.numbers import format_decimal
from fastapi import Response
from fastapi.responses import FileResponse
from nicegui import app, events, ui

from portal import auth, i18n
from portal.accounts import invitations
from portal.clients import client_record, profiles
from portal.clients.client_record import ClientRecord, Header, Section
from portal.clients.profiles import ClientForm
from portal.components.credit_request_dialog import open_new_credit_request
from portal.components.impersonate import impersonate_button
from portal.components.record_payment import open_record_payment
from portal.core.actors import Actor
from portal.core.organization import branding
from portal.domain import status
from portal.domain.errors import DomainError, InvalidFields, InvalidInput, NotFound
from portal.domain.money import format_money, parse_amount
from portal.i18n import N_, _
from portal.pages.common import signed_in_frame
from portal.pages.documents import LINK_CELL, follow_money_events
from portal.payments import ledger

AVATAR_HEADERS = {
    "Cache-Control": "private, max-age=86400",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
}
COMMON_CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "NZD", "SGD"]
STATUS_LABELS = {  # the domain's labels, plus the states only these lists show
    **status.LABELS,
    "overdue": N_("Overdue"),
    "trialing": N_("Trial"),
    "queued": N_("Queued"),
    "sending": N_("Sending"),
}
KIND_LABELS = {
    "estimate": N_("Estimate"),
    "proposal": N_("Proposal"),
    "one_time": N_("One-time"),
    "recurring": N_("Recurring"),
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "online": N_("Online"),
    "offline": N_("Offline"),
}
LOGIN_LABELS = {
    "none": N_("No login yet"),
    "invited": N_("Invited, no password set yet"),
    "active": N_("Can log in as {email}"),
    "disabled": N_("Login switched off"),
}
BADGE_CELL = """
<q-td :props="props">
  <q-badge v-if="props.value" rounded :label="props.value"
           :color="{Overdue: 'red', Failed: 'red', 'Past due': 'red', Paid: 'green', Approved: 'green',
                    Active: 'green', Succeeded: 'green', Sent: 'blue', Open: 'blue', Pending: 'orange',
                    Queued: 'orange', Sending: 'orange'}[props.row.status_en] || 'grey'" />
</q-td>
"""
NAME_CELL = """
<q-td :props="props">
  <a :href="'/admin/clients/' + props.row.id" class="text-primary" @click.stop>{{ props.value }}</a>
</q-td>
"""
OVERDUE_CELL = """
<q-td :props="props">
  <q-badge v-if="props.row.has_overdue" rounded color="red" :label="props.value" />
</q-td>
"""
ERROR_CELL = """
<q-td :props="props" :class="props.row.failed ? 'bg-red-1 text-red-10 text-weight-medium' : ''">
  {{ props.value }}
</q-td>
"""


def _status(value: str) -> str:
    return _(STATUS_LABELS.get(value, value.replace("_", " ").capitalize()))


def _kind(value: str) -> str:
    return _(KIND_LABELS.get(value, value.replace("_", " ").capitalize()))


def _money(amount_minor: int | None, currency: str) -> str:
    return "" if amount_minor is None else format_money(amount_minor, currency, i18n.get_locale())


def _day(value: date | datetime | None) -> str:
    return i18n.format_date(value)


def _moment(value: datetime | None) -> str:
    return i18n.format_datetime(value)


def _columns(*specs: tuple[str, str, str]) -> list[dict[str, Any]]:
    """Table columns from (name, label, align) triples; labels are translated here."""
    return [{"name": n, "label": _(label), "field": n, "align": align} for n, label, align in specs]


def register() -> None:
    """Add /admin/clients, /admin/clients/new, /admin/clients/{id}, /admin/clients/{id}/edit, the avatars."""
    app.add_api_route(
        f"{profiles.AVATAR_URL}/{{name}}", _avatar_route, methods=["GET"], include_in_schema=False
    )

    @auth.page("/admin/clients", access=auth.Access.staff, title="Clients")
    async def list_page(actor: Actor) -> None:
        await _list_page(actor)

    @auth.page("/admin/clients/new", access=auth.Access.staff, title="New client")
    async def new_page(actor: Actor) -> None:
        await _form_page(actor, None)

    @auth.page("/admin/clients/{client_id}/edit", access=auth.Access.staff, title="Edit client")
    async def edit_page(actor: Actor, client_id: int) -> None:
        await _form_page(actor, client_id)

    @auth.page("/admin/clients/{client_id}", access=auth.Access.staff, title="Client")
    async def record_page(actor: Actor, client_id: int) -> None:
        await RecordPage(actor, client_id).build()


async def _avatar_route(name: str) -> Response:
    """A stored avatar (always a PNG we re-encoded ourselves; the random name is the only way to it)."""
    path = profiles.avatar_file(name)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, media_type="image/png", headers=AVATAR_HEADERS)


def _not_found(actor: Actor, brand: Any) -> None:
    with signed_in_frame(actor, brand, _("Not found")), ui.card().classes("w-full").mark("not-found"):
        ui.label(_("That client does not exist."))
        ui.link(_("Back to the clients"), "/admin/clients")


# -- the list ---------------------------------------------------------------------------------------
LIST_COLUMNS = (
    ("name", N_("Name"), "left"),
    ("company", N_("Company"), "left"),
    ("email", N_("Email"), "left"),
    ("currency", N_("Currency"), "left"),
    ("open_due", N_("Open amount due"), "right"),
    ("overdue", N_("Overdue"), "left"),
)


async def _list_page(actor: Actor) -> None:
    state: dict[str, Any] = {"search": "", "page": 1, "overdue": False, "currency": ""}
    currencies = await profiles.client_currencies(actor=actor)
    with signed_in_frame(actor, await branding(), _("Clients")):
        with ui.row().classes("w-full items-center gap-3"):
            search = (
                ui.input(_("Search name, company or email"))
                .props("outlined dense clearable debounce=300")
                .classes("grow max-w-md")
                .mark("client-search")
            )
            currency = (
                ui.select(
                    {"": _("All currencies"), **{c: c for c in currencies}}, value="", label=_("Currency")
                )
                .props("outlined dense")
                .classes("w-40")
                .mark("filter-currency")
            )
            overdue = ui.checkbox(_("Has overdue invoices")).mark("filter-overdue")
            ui.space()
            ui.button(
                _("New client"), icon="add", on_click=lambda: ui.navigate.to("/admin/clients/new")
            ).props("no-caps").mark("new-client")
        table = ui.table(columns=_columns(*LIST_COLUMNS), rows=[], row_key="id").classes("w-full")
        table.props("flat").mark("clients")
        table.add_slot("body-cell-name", NAME_CELL)
        table.add_slot("body-cell-overdue", OVERDUE_CELL)
        table.on("rowClick", lambda e: ui.navigate.to(f"/admin/clients/{e.args[1]['id']}"))
        with ui.row().classes("items-center gap-2"):
            prev_button = (
                ui.button(_("Previous"), on_click=lambda: go(-1)).props("flat no-caps").mark("prev-page")
            )
            page_label = ui.label().mark("page-label")
            next_button = ui.button(_("Next"), on_click=lambda: go(1)).props("flat no-caps").mark("next-page")

    async def load() -> None:
        result = await profiles.list_clients(
            actor=actor,
            search=state["search"],
            page=state["page"],
            has_overdue=state["overdue"],
            currency=state["currency"],
        )
        state["page"] = result.page
        table.rows = [
            {
                "id": row.id,
                "name": row.name,
                "company": row.company,
                "email": row.email,
                "currency": row.currency,
                "open_due": " · ".join(_money(v, c) for c, v in sorted(row.open_due.items())),
                "has_overdue": row.has_overdue,
                "overdue": _("Overdue") if row.has_overdue else "",
            }
            for row in result.rows
        ]
        table.update()
        count = (
            _("1 client")
            if result.total == 1
            else _("{count} clients", count=format_decimal(result.total, locale=i18n.get_locale()))
        )
        page_label.set_text(
            _("Page {page} of {pages} · {count}", page=result.page, pages=result.pages, count=count)
        )
        prev_button.set_enabled(result.page > 1)
        next_button.set_enabled(result.page < result.pages)

    async def go(step: int) -> None:
        state["page"] = max(1, state["page"] + step)
        await load()

    async def on_filter() -> None:
        state.update(
            search=search.value or "", overdue=bool(overdue.value), currency=currency.value or "", page=1
        )
        await load()

    search.on_value_change(on_filter)
    overdue.on_value_change(on_filter)
    currency.on_value_change(on_filter)
    await load()


# -- create and edit ----------------------------------------------------------------------------------
async def _form_page(actor: Actor, client_id: int | None) -> None:
    brand = await branding()
    try:
        form = (
            await profiles.new_client_form(actor=actor)
            if client_id is None
            else await profiles.get_client_form(actor=actor, client_id=client_id)
        )
    except NotFound:
        _not_found(actor, brand)
        return
    title = _("New client") if client_id is None else _("Edit {name}", name=form.name)
    with signed_in_frame(actor, brand, title):
        ClientFormView(actor, form, client_id)


class ClientFormView:
    """The fields of a client, per-field errors, the avatar upload, Save."""

    def __init__(self, actor: Actor, form: ClientForm, client_id: int | None) -> None:
        self.actor = actor
        self.client_id = client_id
        self.avatar: bytes | None = None
        self.remove_avatar = False
        back = "/admin/clients" if client_id is None else f"/admin/clients/{client_id}"
        with ui.card().classes("w-full max-w-2xl gap-3").mark("client-form"):
            self.name = self._input(_("Name"), form.name, "client-name")
            self.company = self._input(_("Company"), form.company, "client-company")
            self.email = self._input(_("Email"), form.email, "client-email").props("type=email")
            with ui.row().classes("w-full gap-3 no-wrap"):
                self.currency = (
                    ui.input(_("Currency (ISO code)"), value=form.currency, autocomplete=COMMON_CURRENCIES)
                    .props("outlined maxlength=3")
                    .classes("w-48")
                    .mark("client-currency")
                )
                self.locale = (
                    ui.select(dict(i18n.LABELS), value=form.locale, label=_("Language of emails and pages"))
                    .props("outlined")
                    .classes("grow")
                    .mark("client-locale")
                )
            self.billing_address = (
                ui.textarea(_("Billing address"), value=form.billing_address)
                .props("outlined autogrow")
                .classes("w-full")
                .mark("client-address")
            )
            self.reminders = ui.switch(_("Send payment reminders"), value=form.reminders_enabled).mark(
                "client-reminders"
            )
            self._avatar_part(form)
            self.error = ui.label().classes("text-red-700").props("role=alert").mark("client-form-error")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=lambda: ui.navigate.to(back)).props("flat no-caps").mark(
                    "client-cancel"
                )
                self.save_button = (
                    ui.button(_("Save client"), on_click=self.save).props("no-caps").mark("client-save")
                )
        self.fields: dict[str, Any] = {
            "name": self.name,
            "company": self.company,
            "email": self.email,
            "currency": self.currency,
            "locale": self.locale,
            "billing_address": self.billing_address,
        }

    @staticmethod
    def _input(label: str, value: str, marker: str) -> ui.input:
        return ui.input(label, value=value).props("outlined").classes("w-full").mark(marker)

    def _avatar_part(self, form: ClientForm) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            if form.avatar_path:
                self.preview = (
                    ui.image(form.avatar_path).classes("w-16 h-16 rounded-full").mark("avatar-current")
                )
            with ui.column().classes("gap-1 grow"):
                ui.label(_("Avatar: a PNG or JPEG picture of at most 2 MB")).classes("text-sm text-gray-700")
                self.upload = (
                    ui.upload(
                        auto_upload=True,
                        max_file_size=profiles.AVATAR_MAX_BYTES,
                        on_upload=self.on_avatar,
                        on_rejected=self.on_rejected,
                    )
                    .props("accept='.png,.jpg,.jpeg,image/png,image/jpeg' flat bordered")
                    .classes("w-full")
                    .mark("client-avatar")
                )
                self.avatar_note = ui.label().classes("text-sm").mark("avatar-note")
                self.avatar_error = ui.label().classes("text-sm text-red-700").props("role=alert")
                self.avatar_error.mark("avatar-error")
                if form.avatar_path:
                    ui.button(_("Remove the picture"), on_click=self.on_remove).props(
                        "flat dense no-caps color=red-7"
                    ).mark("avatar-remove")

    async def on_avatar(self, event: events.UploadEventArguments) -> None:
        """Check the picture at once; it is stored (re-encoded) when the client is saved."""
        if event.file.size() > profiles.AVATAR_MAX_BYTES:  # not even read
            self._refuse_avatar(_("The picture is larger than 2 MB; choose a smaller one."))
            return
        data = await event.file.read()
        try:
            profiles.check_avatar(data)
        except InvalidInput as exc:
            self._refuse_avatar(exc.message)
            return
        self.avatar, self.remove_avatar = data, False
        self.avatar_error.set_text("")
        self.avatar_note.set_text(_("{name} will be used once you save.", name=event.file.name))

    def on_rejected(self) -> None:
        """The browser refused the file (too large, or not a PNG or JPEG)."""
        self._refuse_avatar(_("Choose a PNG or JPEG picture of at most 2 MB."))

    def _refuse_avatar(self, message: str) -> None:
        self.avatar = None
        self.avatar_note.set_text("")
        self.avatar_error.set_text(message)

    def on_remove(self) -> None:
        self.avatar, self.remove_avatar = None, True
        self.avatar_error.set_text("")
        self.avatar_note.set_text(_("The picture will be removed once you save."))

    def _form(self) -> ClientForm:
        return ClientForm(
            name=self.name.value or "",
            company=self.company.value or "",
            email=self.email.value or "",
            currency=(self.currency.value or "").upper(),
            billing_address=self.billing_address.value or "",
            locale=self.locale.value or "",
            reminders_enabled=bool(self.reminders.value),
        )

    async def save(self) -> None:
        for element in self.fields.values():
            element.error = None
        self.error.set_text("")
        self.save_button.props("loading")
        try:
            if self.client_id is None:
                saved_id = await profiles.create_client(
                    actor=self.actor, form=self._form(), avatar=self.avatar
                )
            else:
                await profiles.update_client(
                    actor=self.actor,
                    client_id=self.client_id,
                    form=self._form(),
                    avatar=self.avatar,
                    remove_avatar=self.remove_avatar,
                )
                saved_id = self.client_id
        except InvalidFields as exc:
            self._show_errors(exc.errors)
            return
        except InvalidInput as exc:
            self._show_errors({exc.field or "": exc.message})
            return
        except DomainError as exc:
            self.error.set_text(exc.message)
            return
        finally:
            self.save_button.props(remove="loading")
        ui.navigate.to(f"/admin/clients/{saved_id}")

    def _show_errors(self, errors: dict[str, str]) -> None:
        for field_name, message in errors.items():
            if field_name == "avatar":
                self.avatar_error.set_text(message)
            elif field_name in self.fields:
                self.fields[field_name].error = message
            else:
                self.error.set_text(message)
        if not self.error.text:  # near the button, for a field scrolled out of view
            self.error.set_text(_("Check the fields marked in red."))


# -- the record ---------------------------------------------------------------------------------------
INVOICE_COLUMNS = (
    ("number", N_("Invoice"), "left"),
    ("status", N_("Status"), "left"),
    ("issue_date", N_("Issued"), "left"),
    ("due_date", N_("Due"), "left"),
    ("total", N_("Total"), "right"),
    ("amount_due", N_("Amount due"), "right"),
)
QUOTE_COLUMNS = (
    ("number", N_("Number"), "left"),
    ("kind", N_("Kind"), "left"),
    ("title", N_("Title"), "left"),
    ("status", N_("Status"), "left"),
    ("total", N_("Total"), "right"),
    ("valid_until", N_("Valid until"), "left"),
)
REQUEST_COLUMNS = (
    ("description", N_("Description"), "left"),
    ("amount", N_("Amount"), "right"),
    ("type", N_("Billing"), "left"),
    ("status", N_("Status"), "left"),
    ("sent_at", N_("Sent"), "left"),
    ("expires_at", N_("Expires"), "left"),
)
CREDIT_REQUEST_COLUMNS = (
    ("description", N_("Description"), "left"),
    ("amount", N_("Amount"), "right"),
    ("status", N_("Status"), "left"),
    ("due_date", N_("Due"), "left"),
    ("created", N_("Created"), "left"),
)
SUBSCRIPTION_COLUMNS = (
    ("name", N_("Plan"), "left"),
    ("price", N_("Price"), "right"),
    ("status", N_("Status"), "left"),
    ("period_end", N_("Current period ends"), "left"),
    ("method", N_("Paid with"), "left"),
)
METHOD_COLUMNS = (
    ("label", N_("Method"), "left"),
    ("kind", N_("Kind"), "left"),
    ("default", N_("Default"), "left"),
    ("state", N_("State"), "left"),
    ("gateway", N_("Account"), "left"),
)
CREDIT_COLUMNS = (
    ("date", N_("Date"), "left"),
    ("reason", N_("Reason"), "left"),
    ("note", N_("Note"), "left"),
    ("invoice", N_("Invoice"), "left"),
    ("amount", N_("Amount"), "right"),
    ("balance", N_("Balance"), "right"),
)
PAYMENT_COLUMNS = (
    ("date", N_("Received"), "left"),
    ("method", N_("Method"), "left"),
    ("reference", N_("Reference"), "left"),
    ("amount", N_("Amount"), "right"),
    ("status", N_("Status"), "left"),
    ("refunds", N_("Refunds"), "left"),
)
EMAIL_COLUMNS = (
    ("queued_at", N_("Queued"), "left"),
    ("subject", N_("Subject"), "left"),
    ("to", N_("To"), "left"),
    ("status", N_("Status"), "left"),
    ("sent_at", N_("Sent"), "left"),
    ("last_error", N_("Last error"), "left"),
)
AUDIT_COLUMNS = (
    ("at", N_("When"), "left"),
    ("who", N_("Who"), "left"),
    ("action", N_("Action"), "left"),
    ("subject", N_("Subject"), "left"),
    ("details", N_("Details"), "left"),
)


class RecordPage:
    """/admin/clients/{id}: header, actions, and one tab per list."""

    def __init__(self, actor: Actor, client_id: int) -> None:
        self.actor = actor
        self.client_id = client_id
        self.preloaded: ClientRecord | None = None

    async def build(self) -> None:
        brand = await branding()
        try:
            self.preloaded = await client_record.get_client_record(actor=self.actor, client_id=self.client_id)
        except NotFound:
            _not_found(self.actor, brand)
            return
        with signed_in_frame(self.actor, brand, self.preloaded.header.name):
            await self.content()
        follow_money_events(self.client_id, self.content.refresh)

    async def refresh(self) -> None:
        self.content.refresh()

    @ui.refreshable_method
    async def content(self) -> None:
        """Everything below the title; a refresh reloads the record."""
        record, self.preloaded = self.preloaded, None
        if record is None:
            try:
                record = await client_record.get_client_record(actor=self.actor, client_id=self.client_id)
            except NotFound as exc:
                ui.label(exc.message).mark("not-found")
                return
        self._header(record.header)
        self._actions(record.header)
        if record.failed_emails:
            with (
                ui.row()
                .classes("w-full items-center gap-2 p-3 rounded bg-red-100 text-red-900")
                .props("role=alert")
                .mark("emails-failed")
            ):
                ui.icon("error").classes("text-red-700")
                ui.label(
                    _("1 email to this client could not be delivered: see Emails.")
                    if record.failed_emails == 1
                    else _(
                        "{count} emails to this client could not be delivered: see Emails.",
                        count=record.failed_emails,
                    )
                )
        self._sections(record)

    # header and actions
    def _header(self, header: Header) -> None:
        with ui.card().classes("w-full").mark("client-header"), ui.row().classes("w-full items-start gap-4"):
            if header.avatar_path:
                avatar = ui.image(header.avatar_path).classes("w-16 h-16 rounded-full").mark("avatar")
                avatar.props["alt"] = _("Avatar of {name}", name=header.name)
            else:
                with ui.avatar(color="primary", text_color="white", size="64px").mark("avatar"):
                    ui.label(header.initials).classes("text-lg font-semibold").mark("initials")
            with ui.column().classes("gap-0 grow"):
                ui.label(header.name).classes("text-xl font-semibold").mark("client-name")
                if header.company:
                    ui.label(header.company).classes("text-gray-700").mark("client-company")
                ui.label(header.email).classes("text-gray-700").mark("client-email")
                ui.label(
                    _(
                        "Billed in {currency} · {language}",
                        currency=header.currency,
                        language=i18n.LABELS.get(header.locale, header.locale),
                    )
                ).classes("text-sm text-gray-600").mark("client-currency")
                if header.archived:
                    ui.badge(_("Archived"), color="grey").props("rounded").mark("client-archived")
            with ui.column().classes("gap-1 items-end"):
                credit = (
                    " · ".join(_money(amount, cur) for cur, amount in header.credit.items())
                    if header.credit
                    else _money(0, header.currency)
                )
                ui.label(_("Credit: {amount}", amount=credit)).classes("font-medium tabular-nums").mark(
                    "credit-balance"
                )
                if header.auto_charge:
                    since = _day(header.auto_charge_consent_at)
                    text = _("Auto-charge on (consent {date})", date=since) if since else _("Auto-charge on")
                else:
                    text = _("Auto-charge off")
                ui.label(text).classes("text-sm").mark("auto-charge")
                ui.label(_(LOGIN_LABELS[header.login], email=header.login_email)).classes(
                    "text-sm text-gray-600"
                ).mark("login-state")
                ui.label(_("Reminders on") if header.reminders_enabled else _("Reminders off")).classes(
                    "text-sm text-gray-600"
                ).mark("reminders-state")

    def _actions(self, header: Header) -> None:
        cid = self.client_id

        def link(label: str, target: str, marker: str, icon: str = "") -> None:
            ui.button(label, icon=icon or None, on_click=lambda: ui.navigate.to(target)).props(
                "outline dense no-caps"
            ).mark(marker)

        with ui.row().classes("w-full gap-2").mark("client-actions"):
            link(_("Edit"), f"/admin/clients/{cid}/edit", "action-edit", "edit")
            link(_("New invoice"), f"/admin/invoices/new?client={cid}", "action-new-invoice")
            link(_("New estimate"), f"/admin/quotes/new?client={cid}&kind=estimate", "action-new-estimate")
            link(_("New proposal"), f"/admin/quotes/new?client={cid}&kind=proposal", "action-new-proposal")
            link(_("New billing request"), f"/admin/requests/new?client={cid}", "action-new-billing-request")
            ui.button(
                _("New credit request"),
                on_click=lambda: open_new_credit_request(self.actor, client_id=cid, on_done=self.refresh),
            ).props("outline dense no-caps").mark("action-new-credit-request")
            ui.button(
                _("Record payment"),
                on_click=lambda: open_record_payment(self.actor, client_id=cid, on_done=self.refresh),
            ).props("outline dense no-caps").mark("action-record-payment")
            ui.button(_("Adjust credit"), on_click=lambda: self.adjust_credit(header)).props(
                "outline dense no-caps"
            ).mark("action-adjust-credit")
            invite = _("Send a new set-password link") if header.login != "none" else _("Invite to log in")
            ui.button(invite, icon="mail", on_click=self.invite).props("outline dense no-caps").mark(
                "action-invite"
            )
            impersonate_button(self.actor, client_id=cid, client_name=header.name)

    async def invite(self) -> None:
        try:
            sent = await invitations.invite_client(actor=self.actor, client_id=self.client_id)
        except DomainError as exc:
            ui.notify(exc.message, type="negative")
            return
        ui.notify(
            _(
                "A set-password link was emailed to {email}; it works once, until {moment}.",
                email=sent.email,
                moment=_moment(sent.expires_at),
            ),
            type="positive",
        )
        self.content.refresh()

    async def adjust_credit(self, header: Header) -> None:
        """The credit adjustment dialog: add or remove, an amount, a currency, a required reason."""
        choices = sorted({header.currency, *header.credit})
        with ui.dialog().mark("credit-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
            ui.label(_("Adjust credit of {name}", name=header.name)).classes("text-lg font-semibold")
            direction = (
                ui.radio({"add": _("Add credit"), "remove": _("Remove credit")}, value="add")
                .props("inline")
                .mark("credit-direction")
            )
            with ui.row().classes("w-full gap-2 no-wrap"):
                amount = ui.input(_("Amount")).props("outlined inputmode=decimal").classes("grow")
                amount.mark("credit-amount")
                currency = ui.select(choices, value=header.currency, label=_("Currency")).props("outlined")
                currency.classes("w-32").mark("credit-currency")
            note = (
                ui.textarea(_("Reason (required, kept in the ledger)"))
                .props("outlined autogrow")
                .classes("w-full")
                .mark("credit-note")
            )
            error = ui.label().classes("text-red-700").props("role=alert").mark("credit-error")

            async def save() -> None:
                amount.error = note.error = None
                error.set_text("")
                try:
                    minor = parse_amount(amount.value or "", currency.value or "", i18n.get_locale())
                    if direction.value == "remove":
                        minor = -minor
                    await ledger.adjust_credit(
                        actor=self.actor,
                        client_id=self.client_id,
                        amount_minor=minor,
                        currency=currency.value or "",
                        note=note.value or "",
                    )
                except InvalidInput as exc:
                    target = {"amount": amount, "note": note}.get(exc.field or "")
                    if target is not None:
                        target.error = exc.message
                    else:
                        error.set_text(exc.message)
                    return
                except DomainError as exc:
                    error.set_text(exc.message)
                    return
                dialog.submit(True)
                ui.notify(_("Credit adjusted."), type="positive")

            with ui.row().classes("w-full justify-end"):
                ui.button(_("Cancel"), on_click=lambda: dialog.submit(False)).props("flat no-caps").mark(
                    "credit-cancel"
                )
                ui.button(_("Save adjustment"), on_click=save).props("no-caps").mark("credit-save")
        result = await dialog
        if not dialog.is_deleted:
            dialog.delete()
        if result:
            self.content.refresh()

    # the lists
    def _sections(self, record: ClientRecord) -> None:
        specs: list[tuple[str, str, Section[Any], Callable[[Section[Any]], None]]] = [
            ("invoices", _("Invoices"), record.invoices, self._invoices),
            ("quotes", _("Estimates & proposals"), record.quotes, self._quotes),
            ("billing-requests", _("Billing requests"), record.billing_requests, self._billing_requests),
            ("credit-requests", _("Credit requests"), record.credit_requests, self._credit_requests),
            ("subscriptions", _("Subscriptions"), record.subscriptions, self._subscriptions),
            ("payment-methods", _("Payment methods"), record.methods, self._methods),
            ("credit-ledger", _("Credit ledger"), record.credit, self._credit),
            ("payments", _("Payments"), record.payments, self._payments),
            ("emails", _("Emails"), record.emails, self._emails),
            ("audit", _("Audit trail"), record.audit, self._audit),
        ]
        with ui.tabs().classes("w-full").props("dense align=left outside-arrows mobile-arrows") as tabs:
            tab_of = {}
            for key, title, section, _draw in specs:
                label = f"{title} ({section.total})"
                if key == "emails" and record.failed_emails:
                    label = _(
                        "{title} ({count}, {failed} failed)",
                        title=title,
                        count=section.total,
                        failed=record.failed_emails,
                    )
                tab_of[key] = ui.tab(key, label=label).props("no-caps").mark(f"tab-{key}")
        with ui.tab_panels(tabs, value=tab_of["invoices"]).classes("w-full"):
            for key, _title, section, draw in specs:
                with ui.tab_panel(tab_of[key]).mark(f"panel-{key}"):
                    if section.truncated:
                        ui.label(
                            _(
                                "Showing the latest {shown} of {total}.",
                                shown=len(section.items),
                                total=section.total,
                            )
                        ).classes("text-sm text-gray-600").mark(f"{key}-count")
                    draw(section)

    @staticmethod
    def _table(key: str, columns: tuple[tuple[str, str, str], ...], rows: list[dict[str, Any]]) -> ui.table:
        table = ui.table(columns=_columns(*columns), rows=rows, row_key="id").classes("w-full")
        table.props("flat dense wrap-cells").mark(key)
        table.props["no-data-label"] = _("Nothing yet.")
        return table

    def _invoices(self, section: Section[client_record.InvoiceItem]) -> None:
        rows = [
            {
                "id": i.id,
                "number": i.number,
                "href": f"/admin/invoices/{i.id}",
                "status": _status("overdue" if i.overdue else i.status),
                "status_en": STATUS_LABELS.get("overdue" if i.overdue else i.status, ""),
                "issue_date": _day(i.issue_date),
                "due_date": _day(i.due_date),
                "total": _money(i.total_minor, i.currency),
                "amount_due": _money(i.amount_due_minor, i.currency),
            }
            for i in section.items
        ]
        table = self._table("invoices", INVOICE_COLUMNS, rows)
        table.add_slot("body-cell-number", LINK_CELL)
        table.add_slot("body-cell-status", BADGE_CELL)

    def _quotes(self, section: Section[client_record.QuoteItem]) -> None:
        rows = [
            {
                "id": q.id,
                "number": q.number,
                "href": f"/admin/quotes/{q.id}",
                "kind": _kind(q.kind),
                "title": q.title,
                "status": _status(q.status),
                "status_en": STATUS_LABELS.get(q.status, ""),
                "total": _money(q.total_minor, q.currency),
                "valid_until": _day(q.valid_until),
            }
            for q in section.items
        ]
        table = self._table("quotes", QUOTE_COLUMNS, rows)
        table.add_slot("body-cell-number", LINK_CELL)
        table.add_slot("body-cell-status", BADGE_CELL)

    def _billing_requests(self, section: Section[client_record.BillingRequestItem]) -> None:
        rows = [
            {
                "id": r.id,
                "description": r.description,
                "amount": _money(r.amount_minor, r.currency),
                "type": _kind(r.billing_type),
                "status": _status(r.status),
                "status_en": STATUS_LABELS.get(r.status, ""),
                "sent_at": _moment(r.sent_at),
                "expires_at": _moment(r.expires_at),
            }
            for r in section.items
        ]
        self._table("billing-requests", REQUEST_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)

    def _credit_requests(self, section: Section[client_record.CreditRequestItem]) -> None:
        rows = [
            {
                "id": r.id,
                "description": r.description,
                "amount": _money(r.amount_minor, r.currency),
                "status": _status(r.status),
                "status_en": STATUS_LABELS.get(r.status, ""),
                "due_date": _day(r.due_date),
                "created": _day(r.created_at),
            }
            for r in section.items
        ]
        self._table("credit-requests", CREDIT_REQUEST_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)

    def _subscriptions(self, section: Section[client_record.SubscriptionItem]) -> None:
        rows = [
            {
                "id": s.id,
                "name": s.name,
                "price": f"{_money(s.amount_minor, s.currency)} {s.interval}",
                "status": _status(s.status),
                "status_en": STATUS_LABELS.get(s.status, ""),
                "period_end": _day(s.period_end)
                + (f" ({_('cancels then')})" if s.cancel_at_period_end and s.period_end else ""),
                "method": s.method,
            }
            for s in section.items
        ]
        self._table("subscriptions", SUBSCRIPTION_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)

    def _methods(self, section: Section[client_record.MethodItem]) -> None:
        rows = [
            {
                "id": m.id,
                "label": m.label,
                "kind": _kind(m.kind),
                "default": _("Default") if m.is_default else "",
                "state": _("Expired") if m.expired else _("Usable"),
                "gateway": m.gateway,
            }
            for m in section.items
        ]
        self._table("payment-methods", METHOD_COLUMNS, rows)

    def _credit(self, section: Section[client_record.CreditItem]) -> None:
        rows = [
            {
                "id": c.id,
                "date": _day(c.at),
                "reason": c.reason,
                "note": c.note,
                "invoice": c.invoice_number,
                "amount": ("+" if c.amount_minor > 0 else "") + _money(c.amount_minor, c.currency),
                "balance": _money(c.balance_minor, c.currency),
            }
            for c in section.items
        ]
        self._table("credit-ledger", CREDIT_COLUMNS, rows)

    def _payments(self, section: Section[client_record.PaymentItem]) -> None:
        rows = [
            {
                "id": p.id,
                "date": _day(p.received_on),
                "method": f"{p.method} ({_kind(p.source).lower()})",
                "reference": p.reference,
                "amount": _money(p.amount_minor, p.currency),
                "status": _status(p.status),
                "status_en": STATUS_LABELS.get(p.status, ""),
                "refunds": "; ".join(
                    _(
                        "{amount} on {date}",
                        amount=_money(r.amount_minor, r.currency),
                        date=_day(r.at),
                    )
                    + (f" ({r.reason})" if r.reason else "")
                    for r in p.refunds
                ),
            }
            for p in section.items
        ]
        self._table("payments", PAYMENT_COLUMNS, rows).add_slot("body-cell-status", BADGE_CELL)

    def _emails(self, section: Section[client_record.EmailItem]) -> None:
        rows = [
            {
                "id": e.id,
                "queued_at": _moment(e.created_at),
                "subject": e.subject,
                "to": e.to,
                "status": _status(e.status),
                "status_en": STATUS_LABELS.get(e.status, ""),
                "failed": e.failed,
                "sent_at": _moment(e.sent_at),
                "last_error": e.last_error,
            }
            for e in section.items
        ]
        table = self._table("emails", EMAIL_COLUMNS, rows)
        table.add_slot("body-cell-status", BADGE_CELL)
        table.add_slot("body-cell-last_error", ERROR_CELL)

    def _audit(self, section: Section[client_record.AuditItem]) -> None:
        rows = [
            {
                "id": a.id,
                "at": _moment(a.at),
                "who": a.who,
                "action": a.action,
                "subject": a.subject,
                "details": ", ".join(f"{k}: {v}" for k, v in a.details.items()),
            }
            for a in section.items
        ]
        self._table("audit", AUDIT_COLUMNS, rows)

"""/admin/clients/{id}: one client's record, its actions (invoice, quote, request, payment, credit, invite,
view as client) and its sections, redrawn when money moves for the client."""

from __future__ import annotations

from nicegui import ui

from portal import i18n
from portal.accounts import invitations
from portal.clients import client_record
from portal.clients.client_record import ClientRecord, Header
from portal.components import guard
from portal.components.client_record_sections import client_header, record_sections
from portal.components.credit_request_dialog import open_new_credit_request
from portal.components.frame import signed_in_frame
from portal.components.impersonate import impersonate_button
from portal.components.live_updates import follow_money_events, live_method
from portal.components.record_lookup import client_not_found
from portal.components.record_payment import open_record_payment
from portal.components.refund_dialog import RefundAction
from portal.core.actors import Actor
from portal.domain.errors import DomainError, InvalidInput, NotFound
from portal.domain.money import format_money, parse_amount
from portal.i18n import _
from portal.payments import ledger
from portal.payments.branding import branding


def register() -> None:
    """Add /admin/clients/{id}."""

    @guard.page("/admin/clients/{client_id}", access=guard.Access.staff, title="Client")
    async def record_page(actor: Actor, client_id: int) -> None:
        await RecordPage(actor, client_id).build()


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
            client_not_found(self.actor, brand)
            return
        with signed_in_frame(self.actor, brand, self.preloaded.header.name):
            self.refunds = RefundAction(self.actor, on_done=self.content.refresh)
            await self.content()
        follow_money_events(self.client_id, self.content.refresh)

    async def refresh(self) -> None:
        self.content.refresh()

    @live_method
    async def content(self) -> None:
        """Everything below the title; a refresh reloads the record."""
        record, self.preloaded = self.preloaded, None
        if record is None:
            try:
                record = await client_record.get_client_record(actor=self.actor, client_id=self.client_id)
            except NotFound as exc:
                ui.label(exc.message).mark("not-found")
                return
        client_header(record.header)
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
        record_sections(record, on_refund=self.refunds.on_table_event)

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
            link(_("Statement"), f"/admin/clients/{cid}/statement", "action-statement", "summarize")
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
        page = ui.context.client  # the button may be redrawn away meanwhile; the page stays
        try:
            sent = await invitations.invite_client(actor=self.actor, client_id=self.client_id)
        except DomainError as exc:
            with page:
                ui.notify(exc.message, type="negative")
            return
        with page:
            ui.notify(
                _(
                    "A set-password link was emailed to {email}; it works once, until {moment}.",
                    email=sent.email,
                    moment=i18n.format_datetime(sent.expires_at),
                ),
                type="positive",
            )
        self.content.refresh()

    async def adjust_credit(self, header: Header) -> None:
        """The credit adjustment dialog: add or remove, an amount, a currency, a required reason."""
        choices = sorted({header.currency, *header.credit})
        page = ui.context.client  # the dialog belongs to the page: a redraw of the record keeps it
        with page, ui.dialog().mark("credit-dialog") as dialog, ui.card().classes("w-full max-w-md gap-3"):
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
                shown = format_money(minor, currency.value or "", i18n.get_locale())  # as it was understood
                ui.notify(_("Credit adjusted by {amount}.", amount=shown), type="positive")

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

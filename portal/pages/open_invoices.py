"""/billing/open: every open invoice of the client, oldest due first, a page at a time, each with Pay now.

My Billing shows the oldest due few; a client with a thousand open invoices browses the rest here. The list
is a live section: a payment here or anywhere else redraws it once.
"""

from __future__ import annotations

from nicegui import ui

from portal import i18n
from portal.clients import dashboard
from portal.clients.dashboard import Payable
from portal.components import guard
from portal.components.frame import signed_in_frame
from portal.components.live_updates import Announcer, follow_money_events, live_method
from portal.components.pay_dialog import PayDialog
from portal.components.payables_table import payables_table
from portal.core.actors import Actor
from portal.i18n import _
from portal.payments.branding import Branding, branding

PAGE_SIZE = 25


class OpenInvoices:
    """The list, its pager, the Pay dialog and the page's message line."""

    def __init__(self, actor: Actor, brand: Branding, page: int) -> None:
        self.actor = actor
        self.client_id = actor.client_id or 0
        self.sandbox = brand.gateway_mode == "sandbox"
        self.page = max(1, page)
        self.announcer = Announcer("open-message")
        self.dialog = PayDialog(actor, on_paid=self.paid)

    def paid(self, text: str) -> None:
        """After a payment from the dialog: say so where it stays, redraw the list."""
        self.announcer.say(text, notify=False)
        self.listing.refresh()

    async def pay(self, item: Payable) -> None:
        await self.dialog.open(item, sandbox=self.sandbox)

    def go(self, page: int) -> None:
        """Another page of the list (the address follows, so a reload stays there)."""
        self.page = page
        ui.navigate.history.replace(f"/billing/open?page={page}")
        self.listing.refresh()

    @live_method
    async def listing(self) -> None:
        """One page of open invoices and the pager."""
        found = await dashboard.open_invoices_page(
            actor=self.actor, client_id=self.client_id, page=self.page, page_size=PAGE_SIZE
        )
        if found.page > found.pages:  # paid down to fewer pages meanwhile
            self.page = found.pages
            found = await dashboard.open_invoices_page(
                actor=self.actor, client_id=self.client_id, page=self.page, page_size=PAGE_SIZE
            )
        if not found.rows:
            ui.label(_("Nothing to pay: you are all paid up. Thank you!")).mark("no-open-invoices")
            return
        payables_table(found.rows, self.pay)
        with ui.row().classes("w-full items-center justify-between gap-2").mark("pager"):
            ui.label(
                i18n.ngettext(
                    "Page {page} of {pages} · {count} open invoice",
                    "Page {page} of {pages} · {count} open invoices",
                    found.total,
                    page=i18n.format_number(found.page),
                    pages=i18n.format_number(found.pages),
                )
            ).classes("text-sm text-gray-600").mark("page-label")
            with ui.row().classes("gap-1"):
                previous = ui.button(_("Previous"), on_click=lambda: self.go(found.page - 1))
                previous.props("flat no-caps").mark("prev-page").set_enabled(found.page > 1)
                following = ui.button(_("Next"), on_click=lambda: self.go(found.page + 1))
                following.props("flat no-caps").mark("next-page").set_enabled(found.page < found.pages)


def register() -> None:
    """Add /billing/open."""

    @guard.page("/billing/open", access=guard.Access.client, title="Open invoices")
    async def open_invoices_page(actor: Actor, page: int = 1) -> None:
        brand = await branding()
        ui.page_title(_("Open invoices"))
        with signed_in_frame(actor, brand, _("Open invoices")):
            screen = OpenInvoices(actor, brand, page)
            await screen.listing()
            ui.link(_("Back to My Billing"), "/billing").mark("back")
            follow_money_events(actor.client_id, screen.listing.refresh)

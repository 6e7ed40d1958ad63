"""/pay/{token}: pay one invoice or request from an email link, without signing in.
/sandbox/checkout/{session}: the sandbox's stand-in for Stripe's hosted checkout page."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from portal import i18n
from portal.billing import documents
from portal.billing.documents import PayLinkPage
from portal.components.browser_session import page_locale
from portal.components.card_form import card_fields
from portal.components.frame import apply_theme
from portal.components.invoice_summary import invoice_summary
from portal.components.live_updates import LiveSection
from portal.components.payment_choices import link_methods
from portal.core import organization
from portal.domain.errors import DomainError, NotFound
from portal.domain.money import format_money
from portal.i18n import _
from portal.payments import links, sandbox_checkout
from portal.payments.branding import branding
from portal.payments.links import LinkView


def _card(title: str) -> ui.card:
    card = ui.card().classes("w-full max-w-xl mx-auto p-6 gap-3")
    with card:
        ui.label(title).classes("text-xl font-semibold").mark("pay-title")
    return card


def _not_found() -> None:
    with _card(_("This payment link is not valid")):
        ui.label(_("Check that you copied the whole link from the email, or ask us for a new one."))


def _paid(page: PayLinkPage) -> None:
    link = page.link
    with _card(_("{document} is paid", document=link.title)).mark("pay-paid"):
        if page.received is not None:  # the payment just made (or the last one): never the invoice total
            ui.label(
                _(
                    "Thank you, {name}. We received {amount}.",
                    name=link.client_name,
                    amount=link.money(page.received.amount_minor),
                )
            ).mark("pay-received")
        else:  # settled without a payment (account credit)
            ui.label(_("Thank you, {name}. Nothing is left to pay.", name=link.client_name)).mark(
                "pay-received"
            )
        ui.label(_("Reference: {reference}", reference=link.reference)).classes("text-gray-600")
        _invoice_details(page)


def _invoice_details(page: PayLinkPage) -> None:
    """The invoice's lines and totals, as on its page and PDF, read and drawn once the browser is
    connected: they come after what to pay and how, so they do not hold up the page's first answer."""
    details = page.details
    if details is None:  # not an invoice
        return

    async def draw() -> None:
        presentation = await details()
        if presentation is not None:
            invoice_summary(presentation)

    LiveSection(draw, name="invoice details").later(_("Loading the invoice's lines…"))


def _expired(link: LinkView, token: str) -> None:
    with _card(_("This link has expired")).mark("pay-expired"):
        if not link.can_renew:
            ui.label(
                _(
                    "This request has expired. Please ask {organization} for a new one.",
                    organization=link.org_name,
                )
            )
            return
        message = ui.label(_("For your security, payment links stop working after a while."))

        async def renew() -> None:
            button.props("loading")
            try:
                renewal = await links.send_fresh_link(token=token)
            except DomainError as exc:
                message.set_text(exc.message)
            else:  # sent now, or why not (one was sent already, or the address had its share today)
                message.set_text(renewal.message)
                button.set_visibility(False)
            finally:
                button.props(remove="loading")

        button = ui.button(_("Email me a new link"), on_click=renew).mark("renew-link")


def _open(page: PayLinkPage, token: str, paid_flag: bool) -> None:
    link = page.link
    with _card(link.title):
        with ui.row().classes("w-full justify-between items-baseline"):
            ui.label(
                _("{organization} · for {name}", organization=link.org_name, name=link.client_name)
            ).classes("text-gray-600")
            if link.gateway_mode != "live":
                ui.badge(
                    _("Sandbox") if link.gateway_mode == "sandbox" else _("Test mode"), color="orange"
                ).props("outline").mark("gateway-mode")
        if paid_flag:
            pending = page.pending
            if pending is not None:
                confirming = _(
                    "Thank you! We are confirming your payment of {amount} with the bank.",
                    amount=link.money(pending.amount_minor),
                )
            else:
                confirming = _("Thank you! We are confirming your payment with the bank.")
            ui.label(confirming).classes("text-green-700").mark("pay-processing")
        with ui.row().classes("w-full justify-between items-baseline"):
            ui.label(_("Amount due")).classes("text-lg")
            ui.label(link.money(link.amount_due_minor)).classes("text-2xl font-semibold tabular-nums").mark(
                "amount-due"
            )
        if link.due_date:
            due = i18n.format_date(link.due_date)
            ui.label(_("Due {date}", date=due)).classes("text-gray-600")
        error = ui.label().classes("text-red-700").props("role=alert").mark("pay-error")

        async def checkout(kind: str, button: ui.button) -> None:
            error.set_text("")
            button.props("loading")
            try:
                outcome = await links.pay_with_new_method(token=token, method_kind=kind)
            except DomainError as exc:
                error.set_text(exc.message)
                return
            finally:
                button.props(remove="loading")
            ui.navigate.to(outcome.redirect_url)

        async def promise_transfer(button: ui.button) -> None:
            error.set_text("")
            try:
                await links.promise_transfer(token=token)
            except DomainError as exc:
                error.set_text(exc.message)
                return
            button.set_visibility(False)
            ui.label(_("Thank you: we are expecting your transfer.")).classes("text-green-700").mark(
                "transfer-promised"
            )

        link_methods(
            amount=link.money(link.amount_due_minor),
            bank_details=link.bank_details,
            reference=link.reference,
            checkout=checkout,
            promise_transfer=promise_transfer if link.purpose != "billing_request" else None,
        )
        _invoice_details(page)  # an invoice's lines and totals, under the ways to pay
        if link.privacy_url or link.terms_url:
            with ui.row().classes("gap-4 text-sm"):
                if link.privacy_url:
                    ui.link(_("Privacy policy"), link.privacy_url, new_tab=True)
                if link.terms_url:
                    ui.link(_("Terms of service"), link.terms_url, new_tab=True)


def register() -> None:
    """Add /pay/{token} and /sandbox/checkout/{session_id}."""

    @ui.page("/pay/{token}", title="Pay")
    async def pay_page(request: Request, token: str, paid: str = "") -> None:
        browser = i18n.best_match(request.headers.get("accept-language"))
        i18n.set_locale(browser)  # until the link says whose it is
        ui.page_title(_("Pay"))
        with organization.page_scope():  # the theme, the link and the gateway's mode read the row once
            apply_theme(await branding())
            try:
                page = await documents.pay_link_page(token=token, confirming=bool(paid))
            except NotFound:
                page = None
        with ui.column().classes("w-full min-h-screen p-4 items-stretch justify-center"):
            if page is None:
                _not_found()
                return
            link = page.link
            i18n.set_locale(link.locale or browser)  # the client's language, else the browser's
            if link.state == "paid":
                _paid(page)
            elif link.state == "expired":
                _expired(link, token)
            else:
                _open(page, token, paid_flag=bool(paid))

    @ui.page("/sandbox/checkout/{session_id}", title="Sandbox checkout")
    async def sandbox_checkout_page(request: Request, session_id: str) -> None:
        i18n.set_locale(await page_locale(request))
        ui.page_title(_("Sandbox checkout"))
        apply_theme(await branding())
        try:
            page = await sandbox_checkout.details(session_id=session_id)
        except NotFound:
            with ui.column().classes("w-full p-4"):
                _not_found()
            return
        if page.locale:  # the language of the page the payer started from (theirs, even when signed out)
            i18n.set_locale(page.locale)
            ui.page_title(_("Sandbox checkout"))
        amount = format_money(page.amount_minor, page.currency, i18n.get_locale())
        debit = "direct_debit" in page.method_kinds
        with ui.column().classes("w-full min-h-screen p-4 justify-center"), _card(_("Sandbox checkout")):
            ui.badge(_("Sandbox: no real money moves"), color="orange").props("outline").mark("gateway-mode")
            ui.label(page.description).classes("text-gray-600")
            ui.label(amount).classes("text-2xl font-semibold tabular-nums").mark("checkout-amount")
            if debit:
                iban = ui.input(_("IBAN")).props("outlined name=iban").classes("w-full").mark("iban")
                ui.label(
                    _("DE89 3704 0044 0532 0130 00 succeeds; DE62 3704 0044 0532 0130 01 fails.")
                ).classes("text-sm text-gray-600")
            else:
                card = card_fields()
            error = ui.label().classes("text-red-700").props("role=alert").mark("checkout-error")

            async def submit() -> None:
                error.set_text("")
                button.props("loading")
                try:
                    if debit:
                        result = await sandbox_checkout.pay(session_id=session_id, iban=iban.value or "")
                    else:
                        number, month, year, cvc = card.values()
                        result = await sandbox_checkout.pay(
                            session_id=session_id, number=number, exp_month=month, exp_year=year, cvc=cvc
                        )
                finally:
                    button.props(remove="loading")
                if result.ok:
                    ui.navigate.to(result.redirect_url)
                else:
                    error.set_text(result.message)

            button = (
                ui.button(_("Pay {amount}", amount=amount), on_click=submit)
                .classes("w-full")
                .mark("checkout-pay")
            )
            ui.link(_("Cancel and go back"), page.cancel_url).mark("checkout-cancel")

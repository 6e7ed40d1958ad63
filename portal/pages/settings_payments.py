"""/settings/payments, the "Client Billing" tab: create the Client Billing Account (the agency's Stripe keys,
checked with Stripe), change its keys, policy links, unlink. The words follow the help article agencies
read: "Create Client Billing Account", "Connect", "Unlink account"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from portal import i18n
from portal.components import guard
from portal.components.attributes import set_props
from portal.components.feedback import Feedback
from portal.components.frame import signed_in_frame
from portal.components.settings_nav import settings_nav
from portal.core.actors import Actor
from portal.i18n import N_, _
from portal.payments.branding import branding
from portal.settings import stripe_account
from portal.settings.stripe_account import StripeAccountView

PATH = "/settings/payments"
SANDBOX_TEXT = N_("No Client Billing Account yet: payments are simulated in the sandbox")
TAB_TITLE = N_("Client Billing")


def status_text(view: StripeAccountView) -> str:
    """One line saying which gateway takes the payments (in the current locale)."""
    if not view.connected and view.environment_key:
        return _(
            "Using the server's Stripe key from STRIPE_SECRET_KEY ({key}): "
            "create a Client Billing Account here to replace it",
            key=view.environment_key,
        )
    if not view.connected:
        return _(SANDBOX_TEXT)
    parts = [_("Connected to Stripe (test mode)") if view.mode == "test" else _("Connected to Stripe (live)")]
    if view.account_id:
        parts.append(_("account {account}", account=view.account_id))
    parts.append(_("key {key}", key=view.key_hint))
    if view.country:
        parts.append(stripe_account.countries(i18n.get_locale()).get(view.country, view.country))
    return " · ".join(parts)


class PaymentSettings:
    """The page's parts: the status, the connect form, the webhook address and the unlink dialog."""

    def __init__(self, actor: Actor, view: StripeAccountView) -> None:
        self.actor = actor
        self.view = view
        self.status_card()
        self.form()
        self.unlink_dialog()
        self.show(view)

    def status_card(self) -> None:
        with ui.card().classes("w-full gap-2"):
            self.status = ui.label().classes("text-lg font-medium").mark("stripe-status")
            self.connected_at = ui.label().classes("text-sm text-gray-600").mark("stripe-connected-at")
            self.unlink_button = (
                ui.button(_("Unlink account"), icon="link_off", on_click=lambda: self.dialog.open())
                .props("outline color=negative")
                .mark("unlink")
            )

    def form(self) -> None:
        view = self.view
        with ui.card().classes("w-full max-w-2xl gap-3"):
            self.form_title = ui.label().classes("text-lg font-semibold").mark("connect-title")
            self.test_mode = ui.switch(_("Test mode"), value=view.mode != "live").mark("test-mode")
            ui.label(_("Use test mode with your sk_test_ key to try payments without moving money.")).classes(
                "text-sm text-gray-600"
            )
            self.country = (
                ui.select(
                    stripe_account.countries(i18n.get_locale()),
                    label=_("Country"),
                    value=view.country or None,
                    with_input=True,
                )
                .props("outlined")
                .classes("w-full")
                .mark("country")
            )
            self.privacy_url = self._input(_("Privacy Policy URL"), view.privacy_url, "privacy-url", "url")
            self.terms_url = self._input(_("Terms of Service URL"), view.terms_url, "terms-url", "url")
            self.secret_key = self._secret(_("Secret key (sk_test_… or sk_live_…)"), "secret-key")
            ui.label(
                _("Webhook endpoint: in Stripe's dashboard, add an endpoint with this address:")
            ).classes("text-sm text-gray-600")
            ui.label(view.webhook_url).classes("font-mono text-sm break-all").mark("webhook-url")
            self.webhook_secret = self._secret(_("Webhook signing secret (whsec_…)"), "webhook-secret")
            self.feedback = Feedback(
                "connect",
                {
                    "country": self.country,
                    "privacy_url": self.privacy_url,
                    "terms_url": self.terms_url,
                    "secret_key": self.secret_key,
                    "webhook_secret": self.webhook_secret,
                },
            )
            with ui.row().classes("gap-2"):
                self.connect_button = ui.button(_("Connect"), on_click=self.connect).mark("connect")
                self.policies_button = (
                    ui.button(_("Save policy links only"), on_click=self.save_policies)
                    .props("flat")
                    .mark("save-policies")
                )

    @staticmethod
    def _input(label: str, value: str, marker: str, kind: str) -> ui.input:
        return (
            set_props(
                ui.input(label, value=value, placeholder="https://").props("outlined autocomplete=off"),
                {"type": kind},
            )
            .classes("w-full")
            .mark(marker)
        )

    @staticmethod
    def _secret(label: str, marker: str) -> ui.input:
        return (
            ui.input(label, password=True, password_toggle_button=True)
            .props("outlined autocomplete=off spellcheck=false")
            .classes("w-full")
            .mark(marker)
        )

    def unlink_dialog(self) -> None:
        with ui.dialog().mark("unlink-dialog") as self.dialog, ui.card().classes("max-w-md gap-3"):
            ui.label(_("Unlink your account?")).classes("text-lg font-semibold")
            ui.label(
                _(
                    "The keys are removed from the portal and payments are simulated in the sandbox until "
                    "you create a Client Billing Account again. Your policy links are kept."
                )
            )
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat").mark("unlink-cancel")
                self.unlink_confirm = (
                    ui.button(_("Unlink account"), on_click=self.unlink)
                    .props("color=negative")
                    .mark("unlink-confirm")
                )

    def show(self, view: StripeAccountView) -> None:
        """Reflect the stored state (secret inputs stay or become empty)."""
        self.view = view
        self.status.set_text(status_text(view))
        when = ""
        if view.connected_at:
            when = i18n.format_datetime(view.connected_at)
        self.connected_at.set_text(_("Connected on {date}", date=when) if when else "")
        self.connected_at.set_visibility(bool(when))
        self.unlink_button.set_visibility(view.connected)
        self.form_title.set_text(_("Change keys") if view.connected else _("Create Client Billing Account"))
        self.connect_button.set_text(_("Save new keys") if view.connected else _("Connect"))
        self.secret_key.set_value("")
        self.webhook_secret.set_value("")

    async def _run(self, button: ui.button, action: Callable[[], Awaitable[StripeAccountView]]) -> bool:
        view = await self.feedback.run(button, action)
        if view is None:
            return False
        self.show(view)
        return True

    async def connect(self) -> None:
        ok = await self._run(
            self.connect_button,
            lambda: stripe_account.connect(
                actor=self.actor,
                test_mode=bool(self.test_mode.value),
                country=self.country.value or "",
                privacy_url=self.privacy_url.value or "",
                terms_url=self.terms_url.value or "",
                secret_key=self.secret_key.value or "",
                webhook_secret=self.webhook_secret.value or "",
            ),
        )
        if ok:
            self.feedback.ok(_("Client Billing Account created. The key was checked with Stripe."))

    async def save_policies(self) -> None:
        ok = await self._run(
            self.policies_button,
            lambda: stripe_account.update_policies(
                actor=self.actor,
                privacy_url=self.privacy_url.value or "",
                terms_url=self.terms_url.value or "",
            ),
        )
        if ok:
            self.feedback.ok(_("Policy links saved."))

    async def unlink(self) -> None:
        self.dialog.close()
        ok = await self._run(self.unlink_button, lambda: stripe_account.unlink(actor=self.actor))
        if ok:
            self.feedback.ok(_("Account unlinked. Payments are simulated in the sandbox."))


def register() -> None:
    """Add /settings/payments."""

    @guard.page(PATH, access=guard.Access.admin, title=TAB_TITLE)
    async def payments_page(actor: Actor) -> None:
        view = await stripe_account.get_account(actor=actor)
        ui.page_title(_(TAB_TITLE))
        with signed_in_frame(actor, await branding(), _(TAB_TITLE)):
            settings_nav("payments")
            PaymentSettings(actor, view)

"""/settings/payments as an admin sees it: connect Stripe (the emulator), field errors, unlink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from nicegui import ui
from nicegui.testing import User

from portal.payments.gateways import selector
from tests.stripe_emulator import ACCOUNT_ID, StripeEmulator
from tests.ui.conftest import sign_in

pytest_plugins = ["tests.conftest_stripe"]

PATH = "/settings/payments"
SANDBOX = "No Client Billing Account yet: payments are simulated in the sandbox"
WEBHOOK_SECRET = "whsec_portal_ui_test"


@pytest.fixture(autouse=True)
async def stripe_api(stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """The portal talks to the emulator; no key comes from the environment."""
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.base_url)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    yield
    await selector.forget_cached()


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def _wait_for(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _open_as_admin(user: User) -> None:
    await sign_in(user, "admin@demo.test")
    await user.should_see("Clients", retries=50)
    await user.open(PATH)
    await user.should_see(marker="stripe-status")


def _fill(user: User, emulator: StripeEmulator, **changes: str) -> None:
    values = {
        "country": "GB",
        "privacy-url": "https://agency.example/privacy",
        "terms-url": "https://agency.example/terms",
        "secret-key": emulator.api_key,
        "webhook-secret": WEBHOOK_SECRET,
    } | changes
    _element(user, "test-mode").set_value(True)
    for marker, value in values.items():
        _element(user, marker).set_value(value)


async def _connect(user: User, emulator: StripeEmulator) -> None:
    _fill(user, emulator)
    user.find(marker="connect").click()
    await user.should_see("Connected to Stripe (test mode)", retries=100)


async def test_an_admin_sees_the_sandbox_state_and_an_empty_form(user: User) -> None:
    await sign_in(user, "admin@demo.test")
    await user.should_see("Clients", retries=50)
    await user.should_see("Settings")  # the admin's navigation link
    await user.open(PATH)
    await user.should_see(SANDBOX)
    await user.should_see("Create Client Billing Account")  # the help article's words
    await user.should_see("http://test/webhooks/stripe")
    assert _element(user, "secret-key").value == ""
    assert _element(user, "webhook-secret").value == ""
    assert _element(user, "test-mode").value is True
    await user.should_not_see(marker="unlink")


@pytest.mark.parametrize("email", ["staff@demo.test", "client@demo.test"])
async def test_staff_and_clients_are_not_allowed(user: User, email: str) -> None:
    await sign_in(user, email)
    await user.should_see("Sign out", retries=50)  # wait for the landing page
    await user.should_not_see("Settings")
    await user.open(PATH)
    await user.should_see("You do not have access to this page.")
    await user.should_not_see(marker="stripe-status")
    await user.should_not_see(marker="secret-key")


async def test_an_invalid_privacy_url_is_shown_next_to_that_field(
    user: User, stripe_emulator: StripeEmulator
) -> None:
    await _open_as_admin(user)
    _fill(user, stripe_emulator, **{"privacy-url": "agency.example/privacy"})
    user.find(marker="connect").click()
    privacy = _element(user, "privacy-url")
    await _wait_for(lambda: privacy.error is not None, "the privacy URL error")
    assert privacy.error == "Enter the full address of your privacy policy, starting with https://"
    assert privacy.props["error"] is True
    assert privacy.props["error-message"] == privacy.error
    assert _element(user, "terms-url").error is None
    assert _element(user, "secret-key").error is None
    await user.should_see("Please correct the fields marked in red.")
    await user.should_see(SANDBOX)


async def test_every_invalid_field_is_marked_at_once(user: User) -> None:
    await _open_as_admin(user)
    assert _element(user, "terms-url").value == "https://northwind.example/terms"  # the demo's links
    _element(user, "terms-url").set_value("")
    user.find(marker="connect").click()
    await user.should_see("Please correct the fields marked in red.", retries=50)
    assert _element(user, "country").error == "Choose your country."
    assert _element(user, "terms-url").error == (
        "Enter the full address of your terms of service, starting with https://"
    )
    assert _element(user, "secret-key").error == "Enter your Stripe secret key (it starts with sk_test_)."
    assert _element(user, "webhook-secret").error == (
        "Enter the webhook signing secret from Stripe's dashboard (it starts with whsec_)."
    )


async def test_a_key_stripe_refuses_is_shown_next_to_the_key(
    user: User, stripe_emulator: StripeEmulator
) -> None:
    await _open_as_admin(user)
    _fill(user, stripe_emulator, **{"secret-key": "sk_test_not_the_emulators_key"})
    user.find(marker="connect").click()
    key = _element(user, "secret-key")
    await _wait_for(lambda: key.error is not None, "the secret key error")
    assert key.error.startswith("Stripe did not accept this key: Invalid API Key provided")
    await user.should_see(SANDBOX)


async def test_connecting_with_valid_data_shows_the_connected_account(
    user: User, stripe_emulator: StripeEmulator
) -> None:
    await _open_as_admin(user)
    await _connect(user, stripe_emulator)
    await user.should_see(f"account {ACCOUNT_ID}")
    await user.should_see("key sk_test_…" + stripe_emulator.api_key[-4:])
    await user.should_see("United Kingdom")
    await user.should_see("Change keys")
    await user.should_see("Client Billing Account created. The key was checked with Stripe.")
    assert _element(user, "secret-key").value == ""  # secrets are never shown back
    assert _element(user, "webhook-secret").value == ""
    await user.should_not_see(stripe_emulator.api_key)

    await user.open(PATH)  # the stored state, on a fresh page
    await user.should_see("Connected to Stripe (test mode)")
    assert _element(user, "gateway-mode").text == "Test mode"  # the frame's badge
    assert _element(user, "secret-key").value == ""
    assert _element(user, "country").value == "GB"


async def test_unlink_asks_for_confirmation_then_shows_the_sandbox(
    user: User, stripe_emulator: StripeEmulator
) -> None:
    await _open_as_admin(user)
    await _connect(user, stripe_emulator)
    assert _element(user, "unlink").text == "Unlink account"  # the help article's button
    assert _element(user, "settings-nav-payments").text == "Client Billing"  # and its tab

    user.find(marker="unlink").click()
    dialog = _element(user, "unlink-dialog")
    assert isinstance(dialog, ui.dialog)
    await _wait_for(lambda: dialog.value, "the confirmation dialog")
    await user.should_see("Unlink your account?")
    user.find(marker="unlink-cancel").click()
    await _wait_for(lambda: not dialog.value, "the dialog to close")
    await user.should_see("Connected to Stripe (test mode)")

    user.find(marker="unlink").click()
    await _wait_for(lambda: dialog.value, "the confirmation dialog")
    assert _element(user, "unlink-confirm").text == "Unlink account"
    user.find(marker="unlink-confirm").click()
    await user.should_see(SANDBOX, retries=100)
    await user.should_see("Account unlinked. Payments are simulated in the sandbox.")
    await user.should_see("Create Client Billing Account")  # the help article's words
    assert _element(user, "privacy-url").value == "https://agency.example/privacy"
    assert (await selector.current_gateway()).name == "sandbox"

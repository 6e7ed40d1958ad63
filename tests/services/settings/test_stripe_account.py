"""Connecting the agency's Stripe account: validation, a real key check against the emulator, unlink."""

from __future__ import annotations

import functools
import socket
from typing import Any

import pytest
from tortoise import connections

from portal.core import vault
from portal.core.actors import Actor
from portal.core.organization import get_organization
from portal.db.models import AuditEntry, Organization
from portal.domain.errors import Forbidden, InvalidFields, InvalidInput
from portal.payments.gateways import selector
from portal.payments.gateways.stripe_gateway import StripeGateway
from portal.settings import stripe_account
from tests.services.conftest import World
from tests.stripe_emulator import ACCOUNT_ID, StripeEmulator

pytest_plugins = ["tests.conftest_stripe"]

WEBHOOK_SECRET = "whsec_portal_settings_test"
PRIVACY = "https://agency.example/privacy"
TERMS = "https://agency.example/terms"


@pytest.fixture(autouse=True)
async def stripe_env(stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The default gateway factory talks to the emulator; no Stripe key comes from the environment."""
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.base_url)
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example/")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    yield
    await selector.forget_cached()


def _fields(stripe_emulator: StripeEmulator, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "test_mode": True,
        "country": "gb",
        "privacy_url": PRIVACY,
        "terms_url": TERMS,
        "secret_key": stripe_emulator.api_key,
        "webhook_secret": WEBHOOK_SECRET,
    }
    values.update(changes)
    return values


async def _organization_row() -> dict[str, Any]:
    await get_organization()  # a new database has no row until the first use
    rows = await connections.get("default").execute_query_dict("SELECT * FROM organization")
    assert len(rows) == 1
    return rows[0]


async def test_connect_with_the_emulator_key_stores_only_encrypted_secrets(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    view = await stripe_account.connect(actor=world.admin, **_fields(stripe_emulator))

    assert view.connected and view.mode == "test"
    assert view.account_id == ACCOUNT_ID
    assert view.country == "GB"
    assert (view.privacy_url, view.terms_url) == (PRIVACY, TERMS)
    assert view.key_hint == "sk_test_…" + stripe_emulator.api_key[-4:]
    assert view.webhook_secret_set and view.connected_at is not None
    assert view.webhook_url == "https://portal.example/webhooks/stripe"
    row = await _organization_row()
    for column, value in row.items():
        assert stripe_emulator.api_key not in str(value), column
        assert WEBHOOK_SECRET not in str(value), column
    org = await Organization.get(id=1)
    assert vault.decrypt(org.stripe_secret_key_enc) == stripe_emulator.api_key
    assert vault.decrypt(org.stripe_webhook_secret_enc) == WEBHOOK_SECRET
    assert (org.stripe_mode, org.stripe_account_id, org.stripe_country) == ("test", ACCOUNT_ID, "GB")
    entry = await AuditEntry.get(action="stripe.connect")
    assert entry.actor_id == world.admin.user_id
    assert stripe_emulator.api_key not in f"{entry.subject} {entry.details}"
    assert WEBHOOK_SECRET not in f"{entry.subject} {entry.details}"
    assert await stripe_account.get_account(actor=world.admin) == view


async def test_connect_accepts_an_injected_gateway_factory(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    made: list[StripeGateway] = []

    def factory(secret_key: str, **kwargs: Any) -> StripeGateway:
        made.append(StripeGateway(secret_key, api_base=stripe_emulator.base_url, **kwargs))
        return made[-1]

    view = await stripe_account.connect(
        actor=world.admin, gateway_factory=factory, **_fields(stripe_emulator, country="US")
    )
    assert view.account_id == ACCOUNT_ID and len(made) == 1
    assert made[0].mode == "test"


async def test_a_wrong_key_is_refused_with_stripes_message_and_changes_nothing(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    before = await _organization_row()
    with pytest.raises(InvalidInput) as caught:
        await stripe_account.connect(
            actor=world.admin, **_fields(stripe_emulator, secret_key="sk_test_not_the_right_key_0000")
        )
    assert caught.value.field == "secret_key"
    assert caught.value.message.startswith("Stripe did not accept this key: Invalid API Key provided")
    assert "sk_test_not_the_right_key_0000" not in caught.value.message  # Stripe masks the key
    assert await _organization_row() == before
    assert not await AuditEntry.filter(action="stripe.connect").exists()
    assert (await selector.current_gateway()).name == "sandbox"


async def test_an_unreachable_stripe_is_refused_and_changes_nothing(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    factory = functools.partial(StripeGateway, api_base=f"http://127.0.0.1:{closed_port}")
    before = await _organization_row()
    with pytest.raises(InvalidInput) as caught:
        await stripe_account.connect(actor=world.admin, gateway_factory=factory, **_fields(stripe_emulator))
    assert caught.value.field == "secret_key"
    assert "could not be reached" in caught.value.message
    assert await _organization_row() == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"country": ""}, "country", "Choose your country."),
        ({"country": "XX"}, "country", "Choose your country."),
        ({"country": "EU"}, "country", "Choose your country."),
        ({"country": "USA"}, "country", "Choose your country."),
        (
            {"privacy_url": ""},
            "privacy_url",
            "Enter the full address of your privacy policy, starting with https://",
        ),
        (
            {"privacy_url": "agency.example/privacy"},
            "privacy_url",
            "Enter the full address of your privacy policy, starting with https://",
        ),
        (
            {"privacy_url": "javascript:alert(1)"},
            "privacy_url",
            "Enter the full address of your privacy policy, starting with https://",
        ),
        (
            {"privacy_url": "https://"},
            "privacy_url",
            "Enter the full address of your privacy policy, starting with https://",
        ),
        (
            {"privacy_url": "https://agency.example/" + "p" * 500},
            "privacy_url",
            "The address of your privacy policy is too long (500 characters at most).",
        ),
        (
            {"terms_url": ""},
            "terms_url",
            "Enter the full address of your terms of service, starting with https://",
        ),
        (
            {"terms_url": "ftp://agency.example/terms"},
            "terms_url",
            "Enter the full address of your terms of service, starting with https://",
        ),
        ({"secret_key": ""}, "secret_key", "Enter your Stripe secret key (it starts with sk_test_)."),
        (
            {"secret_key": "pk_test_abc123"},
            "secret_key",
            "This is a publishable key. Paste the secret key, which starts with sk_test_.",
        ),
        (
            {"secret_key": "sk_live_abc123"},
            "secret_key",
            "This is a live key. In test mode the key starts with sk_test_. Turn test mode off to use it.",
        ),
        (
            {"test_mode": False},
            "secret_key",
            "This is a test key. In live mode the key starts with sk_live_. Turn test mode on to use it.",
        ),
        (
            {"secret_key": "whatever"},
            "secret_key",
            "In test mode the secret key starts with sk_test_ (or rk_test_ for a restricted key).",
        ),
        (
            {"webhook_secret": ""},
            "webhook_secret",
            "Enter the webhook signing secret from Stripe's dashboard (it starts with whsec_).",
        ),
        (
            {"webhook_secret": "sk_test_abc"},
            "webhook_secret",
            "Enter the webhook signing secret from Stripe's dashboard (it starts with whsec_).",
        ),
    ],
)
async def test_every_invalid_field_is_refused_with_its_field(
    world: World, stripe_emulator: StripeEmulator, changes: dict[str, Any], field: str, message: str
) -> None:
    before = await _organization_row()
    with pytest.raises(InvalidInput) as caught:
        await stripe_account.connect(actor=world.admin, **_fields(stripe_emulator, **changes))
    assert (caught.value.field, caught.value.message) == (field, message)
    assert await _organization_row() == before


async def test_all_invalid_fields_are_reported_at_once(world: World, stripe_emulator: StripeEmulator) -> None:
    with pytest.raises(InvalidFields) as caught:
        await stripe_account.connect(
            actor=world.admin,
            test_mode=True,
            country="",
            privacy_url="",
            terms_url="x",
            secret_key="",
            webhook_secret="",
        )
    assert list(caught.value.errors) == [
        "country",
        "privacy_url",
        "terms_url",
        "secret_key",
        "webhook_secret",
    ]
    assert caught.value.field == "country"


async def test_a_restricted_key_passes_validation_and_is_checked_with_stripe(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await stripe_account.connect(
            actor=world.admin, **_fields(stripe_emulator, secret_key="rk_test_restricted1234")
        )
    assert caught.value.message.startswith("Stripe did not accept this key: ")


def _calls(actor: Actor, emulator: StripeEmulator) -> list[Any]:
    return [
        stripe_account.get_account(actor=actor),
        stripe_account.connect(actor=actor, **_fields(emulator)),
        stripe_account.unlink(actor=actor),
        stripe_account.update_policies(actor=actor, privacy_url=PRIVACY, terms_url=TERMS),
    ]


@pytest.mark.parametrize("who", ["staff", "alice"])
async def test_staff_and_clients_are_forbidden(
    world: World, stripe_emulator: StripeEmulator, who: str
) -> None:
    actor = getattr(world, who)
    before = await _organization_row()
    for call in _calls(actor, stripe_emulator):
        with pytest.raises(Forbidden):
            await call
    assert await _organization_row() == before


async def test_an_impersonating_admin_is_forbidden(world: World, stripe_emulator: StripeEmulator) -> None:
    impersonating = Actor(
        user_id=world.alice.user_id,
        role=world.alice.role,
        email="alice@x.test",
        name="Alice",
        client_id=world.alice_id,
        impersonator_id=world.admin.user_id,
        impersonation_id=1,
    )
    for call in _calls(impersonating, stripe_emulator):
        with pytest.raises(Forbidden):
            await call


async def test_unlink_returns_to_sandbox_and_keeps_the_policy_links(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    await stripe_account.connect(actor=world.admin, **_fields(stripe_emulator))
    view = await stripe_account.unlink(actor=world.admin)

    assert not view.connected and view.mode == "sandbox"
    assert (view.account_id, view.key_hint, view.webhook_secret_set, view.connected_at) == (
        "",
        "",
        False,
        None,
    )
    assert (view.privacy_url, view.terms_url) == (PRIVACY, TERMS)
    org = await Organization.get(id=1)
    assert (org.stripe_mode, org.stripe_secret_key_enc, org.stripe_webhook_secret_enc) == ("sandbox", "", "")
    assert org.stripe_account_id == ""
    entry = await AuditEntry.get(action="stripe.unlink")
    assert entry.subject == ACCOUNT_ID and entry.actor_id == world.admin.user_id


async def test_the_current_gateway_follows_connect_and_unlink(
    world: World, stripe_emulator: StripeEmulator
) -> None:
    assert (await selector.current_gateway()).name == "sandbox"
    await stripe_account.connect(actor=world.admin, **_fields(stripe_emulator))
    gateway = await selector.current_gateway()
    assert gateway.name == "stripe" and gateway.mode == "test"
    assert await gateway.verify_account() == ACCOUNT_ID
    await stripe_account.unlink(actor=world.admin)
    assert (await selector.current_gateway()).name == "sandbox"


async def test_update_policies_changes_only_the_links(world: World, stripe_emulator: StripeEmulator) -> None:
    await stripe_account.connect(actor=world.admin, **_fields(stripe_emulator))
    before = await Organization.get(id=1)
    view = await stripe_account.update_policies(
        actor=world.admin, privacy_url=" https://new.example/privacy ", terms_url="http://new.example/terms"
    )
    assert (view.privacy_url, view.terms_url) == ("https://new.example/privacy", "http://new.example/terms")
    assert view.connected and view.account_id == ACCOUNT_ID
    after = await Organization.get(id=1)
    assert after.stripe_secret_key_enc == before.stripe_secret_key_enc
    assert after.stripe_webhook_secret_enc == before.stripe_webhook_secret_enc
    assert await AuditEntry.filter(action="stripe.policies").count() == 1


async def test_update_policies_refuses_a_bad_link(world: World) -> None:
    before = await _organization_row()
    with pytest.raises(InvalidInput) as caught:
        await stripe_account.update_policies(actor=world.admin, privacy_url=PRIVACY, terms_url="terms")
    assert caught.value.field == "terms_url"
    assert caught.value.message == "Enter the full address of your terms of service, starting with https://"
    assert await _organization_row() == before


async def test_a_fresh_portal_is_in_the_sandbox(world: World) -> None:
    view = await stripe_account.get_account(actor=world.admin)
    assert not view.connected and view.mode == "sandbox" and view.key_hint == ""


def test_key_hints_and_countries() -> None:
    assert stripe_account.key_hint("sk_test_abcdef4242") == "sk_test_…4242"
    assert stripe_account.key_hint("rk_live_abcdef9876") == "rk_live_…9876"
    assert stripe_account.key_hint("") == ""
    names = stripe_account.countries()
    assert names["GB"] == "United Kingdom" and names["US"] == "United States"
    assert "EU" not in names and "ZZ" not in names and "001" not in names

"""The behaviour behind the benchmark fixes (bench/, docs/performance.md) stays correct."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tortoise.log import db_client_logger

from portal import gateway_events
from portal.config import get_settings
from portal.core import organization
from portal.db.models import Organization, WebhookEvent
from portal.payments import branding
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayEvent


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.funcName.startswith("execute_"):
            self.sql.append(str(record.args[0] if record.args else record.msg))


@contextmanager
def _statements() -> Iterator[_Statements]:
    handler = _Statements()
    level = db_client_logger.level
    db_client_logger.addHandler(handler)
    db_client_logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        db_client_logger.removeHandler(handler)
        db_client_logger.setLevel(level)


def test_settings_are_read_again_when_the_environment_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://one.example")
    first = get_settings()
    assert get_settings() is first  # nothing changed: not parsed again
    monkeypatch.setenv("PUBLIC_URL", "https://two.example")
    assert get_settings().public_url == "https://two.example"
    monkeypatch.delenv("PUBLIC_URL")
    assert get_settings().public_url != "https://two.example"


async def test_a_page_reads_the_organization_once_and_the_next_page_sees_a_change(db: str) -> None:
    await organization.get_organization()  # the row exists
    with organization.page_scope(), _statements() as seen:
        first = await organization.get_organization()
        brand = await branding.branding()  # the frame, and the gateway's mode, ask again
        assert await organization.get_organization() is first
    assert [s for s in seen.sql if "organization" in s.lower()] == [seen.sql[0]]
    assert brand.gateway_mode == "sandbox"

    await Organization.filter(id=1).update(name="Renamed Agency")
    assert first.name != "Renamed Agency"
    assert (await organization.get_organization()).name == "Renamed Agency"  # outside a page: read again
    with organization.page_scope():
        assert (await branding.branding()).name == "Renamed Agency"  # the next page reads it anew
    assert not organization.in_page_scope()


async def test_a_stripe_account_in_the_organization_wins_over_the_environment_outside_a_page(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_from_env")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_env")
    assert await selector.stripe_credentials() == ("sk_test_from_env", "whsec_env", "test")
    from portal.core import vault

    await organization.get_organization()
    await Organization.filter(id=1).update(
        stripe_mode="live",
        stripe_secret_key_enc=vault.encrypt("sk_live_org"),
        stripe_webhook_secret_enc=vault.encrypt("whsec_org"),
    )
    assert await selector.stripe_credentials() == ("sk_live_org", "whsec_org", "live")
    with organization.page_scope():
        assert await selector.current_mode() == "live"


async def test_an_event_nothing_handles_is_stored_once_in_one_statement(db: str) -> None:
    from portal.payments.gateways.selector import sandbox

    event = GatewayEvent(id="evt_unhandled", type="customer.created", data={"id": "cus_1"})
    with _statements() as seen:
        assert await gateway_events.ingest(provider="stripe", event=event, gateway=sandbox()) == "ignored"
    assert len(seen.sql) == 1 and seen.sql[0].lstrip().upper().startswith("INSERT")
    assert await gateway_events.ingest(provider="stripe", event=event, gateway=sandbox()) == "duplicate"
    row = await WebhookEvent.get(provider="stripe", event_id="evt_unhandled")
    assert row.processed_at is not None and row.attempts == 1
    assert await WebhookEvent.filter(event_id="evt_unhandled").count() == 1


async def test_a_handled_event_is_stored_claimed_with_its_effects(db: str) -> None:
    from portal.payments.gateways.selector import sandbox

    event = GatewayEvent(id="evt_sub", type="customer.subscription.updated", data={"id": "sub_unknown"})
    assert await gateway_events.ingest(provider="stripe", event=event, gateway=sandbox()) == "processed"
    assert await gateway_events.ingest(provider="stripe", event=event, gateway=sandbox()) == "duplicate"
    row = await WebhookEvent.get(provider="stripe", event_id="evt_sub")
    assert row.processed_at is not None and row.error == "" and row.attempts == 1

"""Stripe-Signature timestamps are bounded in both directions: more than 300 s in the past or in the future
is refused (the SDK bounds only the past)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from portal.payments.gateways.protocol import InvalidSignature
from portal.payments.gateways.stripe_gateway import StripeGateway
from portal.payments.gateways.stripe_webhooks import WEBHOOK_TOLERANCE_SECONDS
from tests.stripe_emulator import sign_payload

SECRET = "whsec_unit_timestamps"
NOW = 1_900_000_000
PAYLOAD = json.dumps({"id": "evt_ts", "type": "payment_intent.succeeded", "data": {"object": {}}}).encode()


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StripeGateway]:
    """A gateway that never calls Stripe, with the clock stopped at NOW (for the SDK and for us)."""
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    gw = StripeGateway("sk_test_unit", webhook_secret=SECRET, api_base="http://127.0.0.1:9")
    try:
        yield gw
    finally:
        await gw.close()


@pytest.mark.parametrize(
    "offset", [-301, 301, -10_000, 10_000], ids=["301s-past", "301s-future", "past", "future"]
)
async def test_a_signature_dated_outside_the_tolerance_either_way_is_refused(
    gateway: StripeGateway, offset: int
) -> None:
    with pytest.raises(InvalidSignature, match="tolerance"):
        gateway.parse_webhook(payload=PAYLOAD, signature=sign_payload(PAYLOAD, SECRET, NOW + offset))


@pytest.mark.parametrize("offset", [-299, 0, 299, -300, 300])
async def test_a_signature_dated_within_the_tolerance_either_way_is_accepted(
    gateway: StripeGateway, offset: int
) -> None:
    assert WEBHOOK_TOLERANCE_SECONDS == 300
    event = gateway.parse_webhook(payload=PAYLOAD, signature=sign_payload(PAYLOAD, SECRET, NOW + offset))
    assert event.id == "evt_ts"


async def test_a_future_date_does_not_rescue_a_bad_signature(gateway: StripeGateway) -> None:
    with pytest.raises(InvalidSignature):
        gateway.parse_webhook(payload=PAYLOAD, signature=sign_payload(PAYLOAD, "whsec_other", NOW + 100))

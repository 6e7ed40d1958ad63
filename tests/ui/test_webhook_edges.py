"""The real /webhooks/stripe route behind main.py's middlewares: bodies over MAX_BODY_BYTES are refused
with 413 before they are read whole, signatures dated outside 300 s either way with 400, and nothing is
stored for either; a normal signed event is still accepted."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
from nicegui.testing import User

from portal.db.models import WebhookEvent
from portal.payments.gateways import selector
from tests.stripe_emulator import sign_payload

SECRET = "whsec_edge_test_secret"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
async def stripe_configured(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Stripe keys from the environment; the events used here need no call to Stripe (nothing listens)."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_edges")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
    yield
    await selector.forget_cached()


def _event(event_id: str, padding: int = 0) -> bytes:
    """A Stripe event no handler acts on (stored and marked processed, no call to Stripe)."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {"id": "cus_edge", "object": "customer", "description": "x" * padding}},
        }
    ).encode()


async def _post(user: User, payload: bytes | AsyncIterator[bytes], signature: str) -> int:
    headers = {"content-type": "application/json", "stripe-signature": signature}
    response = await user.http_client.post("/webhooks/stripe", content=payload, headers=headers)
    return response.status_code


async def test_a_normal_signed_webhook_is_still_accepted(user: User) -> None:
    await user.open("/login")
    payload = _event("evt_edge_ok", padding=MIB // 2)  # half a MiB: well inside the bound
    assert await _post(user, payload, sign_payload(payload, SECRET)) == 200
    assert await WebhookEvent.filter(event_id="evt_edge_ok").count() == 1


async def test_a_2_mib_signed_webhook_is_refused_with_413_and_nothing_stored(user: User) -> None:
    await user.open("/login")
    payload = _event("evt_edge_big", padding=2 * MIB)  # correctly signed: only its size is wrong
    assert len(payload) > 2 * MIB
    assert await _post(user, payload, sign_payload(payload, SECRET)) == 413
    assert await WebhookEvent.all().count() == 0


async def test_a_chunked_oversized_webhook_is_refused_with_413_before_the_end(user: User) -> None:
    await user.open("/login")
    payload = _event("evt_edge_chunked", padding=2 * MIB)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the body is counted as it arrives
        nonlocal sent
        for start in range(0, len(payload), 64 * 1024):
            sent += 1
            yield payload[start : start + 64 * 1024]

    assert await _post(user, chunks(), sign_payload(payload, SECRET)) == 413
    assert sent <= MIB // (64 * 1024) + 2  # it stopped reading just past 1 MiB
    assert await WebhookEvent.all().count() == 0


# 10 s either side of the 300 s tolerance: a loaded CI machine takes more than a second between signing and
# checking (a signature 299 s old was refused there once), and time passing makes a future one nearer
@pytest.mark.parametrize("offset", [-310, 310], ids=["310s-past", "310s-future"])
async def test_a_signature_dated_outside_300_s_is_refused_with_400_and_nothing_stored(
    user: User, offset: int
) -> None:
    await user.open("/login")
    payload = _event(f"evt_edge_{offset}")
    assert await _post(user, payload, sign_payload(payload, SECRET, int(time.time()) + offset)) == 400
    assert await WebhookEvent.all().count() == 0


@pytest.mark.parametrize("offset", [-290, 290], ids=["290s-past", "290s-future"])
async def test_a_signature_dated_within_300_s_is_accepted(user: User, offset: int) -> None:
    await user.open("/login")
    payload = _event(f"evt_edge_{offset}")
    assert await _post(user, payload, sign_payload(payload, SECRET, int(time.time()) + offset)) == 200
    assert await WebhookEvent.filter(event_id=f"evt_edge_{offset}").count() == 1

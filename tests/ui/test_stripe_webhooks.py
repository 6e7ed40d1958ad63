"""The real /webhooks/stripe route with the app configured for Stripe (the emulator at the HTTP edge)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from nicegui.testing import User

from portal.db.models import Allocation, Invoice, Payment, WebhookEvent
from portal.domain.status import InvoiceStatus
from portal.payments import charges
from portal.payments.gateways import selector
from tests.stripe_emulator import DEFAULT_API_KEY, StripeEmulator, sign_payload

pytest_plugins = ["tests.conftest_stripe"]
SECRET = "whsec_route_test_secret"


@pytest.fixture(autouse=True)
def stripe_configured(stripe_emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the app against the emulator with a webhook signing secret."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.base_url)


async def _post(user: User, payload: bytes, signature: str | None) -> int:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["stripe-signature"] = signature
    response = await user.http_client.post("/webhooks/stripe", content=payload, headers=headers)
    return response.status_code


EVENT = json.dumps(
    {
        "id": "evt_sig",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_x"}},
        "created": int(time.time()),
        "object": "event",
    }
).encode()


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "t=1,v1=deadbeef",
        sign_payload(EVENT, "whsec_someone_else"),
        sign_payload(EVENT, SECRET, timestamp=int(time.time()) - 301),
    ],
    ids=["missing", "garbage", "wrong-secret", "stale"],
)
async def test_unsigned_or_badly_signed_webhooks_are_refused_before_anything_is_written(
    user: User, signature: str | None
) -> None:
    await user.open("/login")
    assert await _post(user, EVENT, signature) == 400
    assert await WebhookEvent.all().count() == 0


async def test_a_signed_checkout_completion_through_the_route_pays_the_invoice_once(
    user: User, stripe_emulator: StripeEmulator
) -> None:
    await user.open("/login")
    gateway = await selector.current_gateway()
    assert gateway.name == "stripe"
    invoice = await Invoice.filter(status=InvoiceStatus.open, number__not_isnull=True).order_by("id").first()
    outcome = await charges.start_checkout(
        actor=None,
        purpose="invoice",
        target_id=invoice.id,
        success_url="http://test/billing",
        cancel_url="http://test/billing",
    )
    session_id = (await Payment.get(id=outcome.payment_id)).gateway_checkout_id
    event = await asyncio.to_thread(stripe_emulator.complete_checkout, session_id)
    assert event["type"] == "checkout.session.completed"
    payload = json.dumps(event).encode()
    signature = sign_payload(payload, SECRET)
    statuses = await asyncio.gather(*(_post(user, payload, signature) for _ in range(3)))
    assert statuses == [200, 200, 200]
    assert (await Invoice.get(id=invoice.id)).status == InvoiceStatus.paid
    payment = await Payment.get(id=outcome.payment_id)
    assert payment.status == "succeeded" and payment.gateway_payment_id.startswith("pi_")
    assert await Allocation.filter(invoice_id=invoice.id).count() == 1
    assert await WebhookEvent.filter(provider="stripe").count() == 1
    await selector.forget_cached()


async def test_a_key_from_the_environment_is_what_the_pages_say_is_in_use(user: User) -> None:
    from tests.ui.conftest import sign_in

    await sign_in(user, "admin@demo.test")
    await user.should_see("Clients", retries=50)
    await user.should_see("Test mode")  # the header badge: not "Sandbox", since Stripe takes the payments
    await user.open("/settings/payments")
    await user.should_see("Using the server's Stripe key from STRIPE_SECRET_KEY", retries=20)
    await selector.forget_cached()

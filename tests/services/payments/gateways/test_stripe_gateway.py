"""StripeGateway: the real `stripe` SDK against the localstripe-based emulator (tests/stripe_emulator.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from portal.payments.gateways.protocol import (
    ChargeStatus,
    GatewayError,
    GatewayPayment,
    InvalidSignature,
    NewCard,
    PaymentGateway,
)
from portal.payments.gateways.stripe_amounts import from_stripe_amount, to_stripe_amount
from portal.payments.gateways.stripe_errors import decline_message
from portal.payments.gateways.stripe_gateway import StripeGateway
from tests.stripe_emulator import StripeEmulator, sign_payload

pytest_plugins = ["tests.conftest_stripe"]

WEBHOOK_SECRET = "whsec_test_portal_emulator"
GENERIC_DECLINE = "Your card was declined. Please use another card or contact your bank."


@pytest.fixture
def key() -> Callable[[str], str]:
    """Idempotency keys unique to this test (the emulator remembers keys for the whole run)."""
    prefix = uuid.uuid4().hex[:12]
    return lambda name: f"test:{prefix}:{name}"


@pytest.fixture
async def gateway(stripe_emulator: StripeEmulator) -> AsyncIterator[StripeGateway]:
    """A gateway pointed at the emulator."""
    gw = StripeGateway(
        stripe_emulator.api_key, webhook_secret=WEBHOOK_SECRET, api_base=stripe_emulator.base_url
    )
    try:
        yield gw
    finally:
        await gw.close()


@pytest.fixture
async def customer(gateway: StripeGateway, key: Callable[[str], str]) -> str:
    """A fresh customer id."""
    return await gateway.create_customer(
        email="alice@x.test", name="Alice Archer", idempotency_key=key("cus")
    )


@pytest.fixture
async def card(gateway: StripeGateway, customer: str, key: Callable[[str], str]) -> str:
    """The id of a Visa 4242 saved for `customer`."""
    saved = await gateway.save_method(
        customer_ref=customer, method="pm_card_visa", idempotency_key=key("card")
    )
    return saved.ref


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, asyncio.Queue[tuple[bytes, str]]]]:
    """A tiny HTTP server on 127.0.0.1 that queues every (body, Stripe-Signature) it receives."""
    received: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await received.put((await request.read(), request.headers.get("Stripe-Signature", "")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhooks/stripe", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/webhooks/stripe", received
    finally:
        await runner.cleanup()


# -- amounts and messages (no network) ---------------------------------------------------------------


def test_amounts_convert_only_where_stripe_and_iso_disagree() -> None:
    assert to_stripe_amount(1234, "USD") == 1234
    assert to_stripe_amount(500, "JPY") == 500
    assert to_stripe_amount(500, "jpy") == 500
    assert to_stripe_amount(5, "ISK") == 500  # zero-decimal in ISO, two-decimal at Stripe
    assert to_stripe_amount(7, "UGX") == 700
    assert to_stripe_amount(1230, "KWD") == 1230
    assert to_stripe_amount(1999, "HUF") == 1999  # two decimals in ISO 4217 and in Stripe's API
    assert to_stripe_amount(1999, "TWD") == 1999
    assert to_stripe_amount(200, "MGA") == 2  # two decimals in ISO 4217, zero-decimal at Stripe
    assert from_stripe_amount(1234, "usd") == 1234
    assert from_stripe_amount(500, "jpy") == 500
    assert from_stripe_amount(500, "isk") == 5
    assert from_stripe_amount(700, "ugx") == 7
    assert from_stripe_amount(1230, "kwd") == 1230
    assert from_stripe_amount(1999, "huf") == 1999
    assert from_stripe_amount(1999, "twd") == 1999
    assert from_stripe_amount(2, "mga") == 200
    for currency, amount in [("ISK", 123), ("UGX", 1), ("JPY", 9), ("EUR", 0), ("USD", 10**12)]:
        assert from_stripe_amount(to_stripe_amount(amount, currency), currency) == amount


def test_amounts_stripe_cannot_take_are_refused() -> None:
    with pytest.raises(GatewayError) as caught:
        to_stripe_amount(1235, "KWD")  # Stripe wants three-decimal amounts rounded to tens
    assert caught.value.code == "amount_not_representable"
    with pytest.raises(GatewayError) as caught:
        to_stripe_amount(150, "MGA")  # 1.50 MGA: Stripe has no fraction of an ariary
    assert caught.value.code == "amount_not_representable"
    with pytest.raises(TypeError):
        to_stripe_amount(12.5, "USD")  # type: ignore[arg-type]


def test_decline_codes_have_plain_words() -> None:
    assert decline_message("card_declined") == GENERIC_DECLINE
    assert decline_message("generic_decline") == GENERIC_DECLINE
    assert decline_message("stolen_card") == GENERIC_DECLINE
    assert decline_message("lost_card") == GENERIC_DECLINE
    assert decline_message("something_new") == GENERIC_DECLINE
    assert (
        decline_message("insufficient_funds") == "Your card has insufficient funds. Please use another card."
    )
    assert decline_message("authentication_required") == "Your bank asks you to confirm this payment."


# -- account -----------------------------------------------------------------------------------------


async def test_gateway_satisfies_the_protocol_and_verifies_its_key(gateway: StripeGateway) -> None:
    assert isinstance(gateway, PaymentGateway)
    assert gateway.name == "stripe"
    assert gateway.mode == "test"
    assert (await gateway.verify_account()).startswith("acct_")


async def test_verify_account_with_a_wrong_key_raises(stripe_emulator: StripeEmulator) -> None:
    wrong = StripeGateway("sk_test_not_the_right_key", api_base=stripe_emulator.base_url)
    try:
        with pytest.raises(GatewayError) as caught:
            await wrong.verify_account()
    finally:
        await wrong.close()
    assert caught.value.code == "invalid_key"
    assert caught.value.message.startswith("Stripe did not accept this secret key: ")
    assert not caught.value.retryable


async def test_verify_account_refuses_a_test_key_in_live_mode(stripe_emulator: StripeEmulator) -> None:
    live = StripeGateway(stripe_emulator.api_key, api_base=stripe_emulator.base_url, mode="live")
    try:
        with pytest.raises(GatewayError) as caught:
            await live.verify_account()
    finally:
        await live.close()
    assert caught.value.code == "mode_mismatch"


async def test_unreachable_stripe_is_a_retryable_error(key: Callable[[str], str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    gw = StripeGateway("sk_test_whatever", api_base=f"http://127.0.0.1:{closed_port}")
    try:
        with pytest.raises(GatewayError) as caught:
            await gw.create_customer(email="a@x.test", name="A", idempotency_key=key("cus"))
    finally:
        await gw.close()
    assert caught.value.retryable
    assert caught.value.code == "network_error"


# -- saved methods -----------------------------------------------------------------------------------


async def test_saved_card_is_listed(gateway: StripeGateway, customer: str, key: Callable[[str], str]) -> None:
    saved = await gateway.save_method(customer_ref=customer, method="pm_card_visa", idempotency_key=key("pm"))
    assert saved.ref.startswith("pm_") and saved.ref != "pm_card_visa"
    assert (saved.kind, saved.brand, saved.last4) == ("card", "visa", "4242")
    assert saved.exp_month and saved.exp_year
    assert await gateway.list_methods(customer_ref=customer) == [saved]


async def test_card_declined_at_save_time_raises_with_its_code(
    gateway: StripeGateway, customer: str, key: Callable[[str], str]
) -> None:
    with pytest.raises(GatewayError) as caught:  # 4000 0000 0000 0002
        await gateway.save_method(
            customer_ref=customer, method="pm_card_visa_chargeDeclined", idempotency_key=key("pm")
        )
    assert caught.value.code == "card_declined"
    assert caught.value.message == GENERIC_DECLINE
    assert await gateway.list_methods(customer_ref=customer) == []


async def test_a_typed_card_is_not_accepted(gateway: StripeGateway, customer: str) -> None:
    with pytest.raises(GatewayError) as caught:
        await gateway.save_method(
            customer_ref=customer, method=NewCard("4242424242424242", 12, 2030), idempotency_key="unused"
        )
    assert caught.value.code == "unsupported_method"


async def test_detached_method_leaves_the_list(gateway: StripeGateway, customer: str, card: str) -> None:
    await gateway.detach_method(method_ref=card)
    assert await gateway.list_methods(customer_ref=customer) == []


async def test_default_method_is_set_on_the_customer(
    gateway: StripeGateway, stripe_emulator: StripeEmulator, customer: str, card: str
) -> None:
    await gateway.set_default_method(customer_ref=customer, method_ref=card)
    raw = stripe_emulator.retrieve(f"/v1/customers/{customer}")
    assert raw["invoice_settings"]["default_payment_method"] == card


# -- charges -----------------------------------------------------------------------------------------


async def test_charge_succeeds_and_is_retrievable(
    gateway: StripeGateway, customer: str, card: str, key: Callable[[str], str]
) -> None:
    result = await gateway.charge(
        customer_ref=customer,
        method_ref=card,
        amount_minor=12_345,
        currency="USD",
        idempotency_key=key("charge"),
        metadata={"invoice_id": "42", "attempt": "1"},
    )
    assert result.status is ChargeStatus.succeeded
    assert result.payment_ref.startswith("pi_")
    assert (result.decline_code, result.message) == ("", "")
    payment = await gateway.retrieve_payment(payment_ref=result.payment_ref)
    assert isinstance(payment, GatewayPayment)
    assert (payment.amount_minor, payment.currency, payment.status) == (12_345, "USD", "succeeded")
    assert payment.metadata == {"invoice_id": "42", "attempt": "1"}
    assert type(payment.metadata) is dict
    assert (payment.customer_ref, payment.method_ref) == (customer, card)
    assert payment.amount_refunded_minor == 0
    assert abs(payment.created - time.time()) < 60


async def test_declined_charge_is_a_failed_result_in_plain_words(
    gateway: StripeGateway, customer: str, key: Callable[[str], str]
) -> None:
    failing = await gateway.save_method(  # 4000 0000 0000 0341: attaches, then every charge fails
        customer_ref=customer, method="pm_card_chargeCustomerFail", idempotency_key=key("pm")
    )
    result = await gateway.charge(
        customer_ref=customer,
        method_ref=failing.ref,
        amount_minor=5_000,
        currency="EUR",
        idempotency_key=key("charge"),
        metadata={"invoice_id": "7"},
    )
    assert result.status is ChargeStatus.failed
    assert result.decline_code == "card_declined"
    assert result.message == GENERIC_DECLINE
    assert result.payment_ref.startswith("pi_")
    payment = await gateway.retrieve_payment(payment_ref=result.payment_ref)
    assert payment.status == "requires_payment_method"


async def test_same_idempotency_key_charges_once(
    gateway: StripeGateway, customer: str, card: str, key: Callable[[str], str]
) -> None:
    before = int(time.time()) - 1
    marker = uuid.uuid4().hex
    attempts = [
        await gateway.charge(
            customer_ref=customer,
            method_ref=card,
            amount_minor=2_500,
            currency="USD",
            idempotency_key=key("invoice:42:attempt:1"),
            metadata={"marker": marker},
        )
        for _ in range(2)
    ]
    assert attempts[0] == attempts[1]
    assert attempts[0].status is ChargeStatus.succeeded
    listed = await gateway.list_payments(created_after=before)
    assert [p.ref for p in listed if p.metadata.get("marker") == marker] == [attempts[0].payment_ref]
    with pytest.raises(GatewayError) as caught:  # the same key with other details is refused
        await gateway.charge(
            customer_ref=customer,
            method_ref=card,
            amount_minor=9_999,
            currency="USD",
            idempotency_key=key("invoice:42:attempt:1"),
            metadata={"marker": marker},
        )
    assert caught.value.code == "idempotency_error"


async def test_jpy_charge_keeps_its_amount(
    gateway: StripeGateway,
    stripe_emulator: StripeEmulator,
    customer: str,
    card: str,
    key: Callable[[str], str],
) -> None:
    result = await gateway.charge(
        customer_ref=customer,
        method_ref=card,
        amount_minor=500,
        currency="JPY",
        idempotency_key=key("c"),
        metadata={},
    )
    raw = stripe_emulator.retrieve(f"/v1/payment_intents/{result.payment_ref}")
    assert (raw["amount"], raw["currency"]) == (500, "jpy")  # no x100
    payment = await gateway.retrieve_payment(payment_ref=result.payment_ref)
    assert (payment.amount_minor, payment.currency) == (500, "JPY")


async def test_isk_charge_is_sent_in_stripe_units(
    gateway: StripeGateway,
    stripe_emulator: StripeEmulator,
    customer: str,
    card: str,
    key: Callable[[str], str],
) -> None:
    result = await gateway.charge(
        customer_ref=customer,
        method_ref=card,
        amount_minor=5,
        currency="ISK",
        idempotency_key=key("c"),
        metadata={},
    )
    raw = stripe_emulator.retrieve(f"/v1/payment_intents/{result.payment_ref}")
    assert (raw["amount"], raw["currency"]) == (500, "isk")
    payment = await gateway.retrieve_payment(payment_ref=result.payment_ref)
    assert (payment.amount_minor, payment.currency) == (5, "ISK")


async def test_list_payments_only_returns_newer_ones(
    gateway: StripeGateway, customer: str, card: str, key: Callable[[str], str]
) -> None:
    result = await gateway.charge(
        customer_ref=customer,
        method_ref=card,
        amount_minor=100,
        currency="USD",
        idempotency_key=key("c"),
        metadata={},
    )
    assert result.payment_ref in {
        p.ref for p in await gateway.list_payments(created_after=int(time.time()) - 30)
    }
    assert await gateway.list_payments(created_after=int(time.time()) + 3600) == []


# -- subscriptions -----------------------------------------------------------------------------------


async def test_subscription_starts_then_cancels_at_period_end_then_now(
    gateway: StripeGateway,
    stripe_emulator: StripeEmulator,
    customer: str,
    card: str,
    key: Callable[[str], str],
) -> None:
    info = await gateway.create_subscription(
        customer_ref=customer,
        method_ref=card,
        amount_minor=2_900,
        currency="EUR",
        interval="month",
        description="Website care plan",
        idempotency_key=key("sub"),
        metadata={"plan_id": "3"},
    )
    assert info.ref.startswith("sub_")
    assert info.status == "active"
    assert info.current_period_end is not None
    assert timedelta(days=27) < info.current_period_end - datetime.now(UTC) < timedelta(days=32)
    assert not info.cancel_at_period_end
    raw = stripe_emulator.retrieve(f"/v1/subscriptions/{info.ref}")
    assert raw["default_payment_method"] == card
    assert (raw["plan"]["amount"], raw["plan"]["currency"], raw["plan"]["interval"]) == (
        2_900,
        "eur",
        "month",
    )
    assert raw["metadata"] == {"plan_id": "3"}

    later = await gateway.cancel_subscription(ref=info.ref, at_period_end=True)
    assert (later.status, later.cancel_at_period_end) == ("active", True)
    assert await gateway.retrieve_subscription(ref=info.ref) == later

    now = await gateway.cancel_subscription(ref=info.ref, at_period_end=False)
    assert now.status == "canceled"
    assert (await gateway.retrieve_subscription(ref=info.ref)).status == "canceled"


async def test_subscription_method_can_be_switched(
    gateway: StripeGateway,
    stripe_emulator: StripeEmulator,
    customer: str,
    card: str,
    key: Callable[[str], str],
) -> None:
    info = await gateway.create_subscription(
        customer_ref=customer,
        method_ref=card,
        amount_minor=1_000,
        currency="USD",
        interval="year",
        description="Annual support",
        idempotency_key=key("sub"),
        metadata={},
    )
    other = await gateway.save_method(
        customer_ref=customer, method="pm_card_visa", idempotency_key=key("pm2")
    )
    updated = await gateway.update_subscription_method(ref=info.ref, method_ref=other.ref)
    assert updated.ref == info.ref and updated.status == "active"
    assert stripe_emulator.retrieve(f"/v1/subscriptions/{info.ref}")["default_payment_method"] == other.ref
    with pytest.raises(GatewayError) as caught:
        await gateway.create_subscription(
            customer_ref=customer,
            method_ref=card,
            amount_minor=1_000,
            currency="USD",
            interval="fortnight",
            description="?",
            idempotency_key=key("bad"),
            metadata={},
        )
    assert caught.value.code == "invalid_interval"


# -- refunds -----------------------------------------------------------------------------------------


async def test_partial_then_full_refund(
    gateway: StripeGateway, customer: str, card: str, key: Callable[[str], str]
) -> None:
    paid = await gateway.charge(
        customer_ref=customer,
        method_ref=card,
        amount_minor=10_000,
        currency="EUR",
        idempotency_key=key("c"),
        metadata={},
    )
    first = await gateway.refund(payment_ref=paid.payment_ref, amount_minor=3_000, idempotency_key=key("r1"))
    assert first.ref.startswith("re_")
    assert (first.status, first.amount_minor) == ("succeeded", 3_000)
    assert (await gateway.retrieve_payment(payment_ref=paid.payment_ref)).amount_refunded_minor == 3_000
    again = await gateway.refund(payment_ref=paid.payment_ref, amount_minor=3_000, idempotency_key=key("r1"))
    assert again == first  # a retried refund refunds once
    rest = await gateway.refund(payment_ref=paid.payment_ref, amount_minor=7_000, idempotency_key=key("r2"))
    assert rest.amount_minor == 7_000 and rest.ref != first.ref
    assert (await gateway.retrieve_payment(payment_ref=paid.payment_ref)).amount_refunded_minor == 10_000


async def test_isk_refund_converts_back(
    gateway: StripeGateway, customer: str, card: str, key: Callable[[str], str]
) -> None:
    paid = await gateway.charge(
        customer_ref=customer,
        method_ref=card,
        amount_minor=900,
        currency="ISK",
        idempotency_key=key("c"),
        metadata={},
    )
    refund = await gateway.refund(payment_ref=paid.payment_ref, amount_minor=400, idempotency_key=key("r"))
    assert refund.amount_minor == 400
    assert (await gateway.retrieve_payment(payment_ref=paid.payment_ref)).amount_refunded_minor == 400


# -- webhooks ----------------------------------------------------------------------------------------


def _event_payload(**data: object) -> bytes:
    return json.dumps(
        {
            "id": "evt_" + uuid.uuid4().hex[:14],
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": {"id": "pi_123", "object": "payment_intent", **data}},
        }
    ).encode()


async def test_parse_webhook_accepts_a_correct_signature(gateway: StripeGateway) -> None:
    payload = _event_payload(metadata={"invoice_id": "42"})
    event = gateway.parse_webhook(payload=payload, signature=sign_payload(payload, WEBHOOK_SECRET))
    assert event.id.startswith("evt_")
    assert event.type == "payment_intent.succeeded"
    assert event.data == {"id": "pi_123", "object": "payment_intent", "metadata": {"invoice_id": "42"}}
    assert type(event.data) is dict
    assert abs(event.created - time.time()) < 60


async def test_parse_webhook_rejects_missing_wrong_and_stale_signatures(gateway: StripeGateway) -> None:
    payload = _event_payload()
    stale = sign_payload(payload, WEBHOOK_SECRET, int(time.time()) - 301)
    wrong_secret = sign_payload(payload, "whsec_someone_else")
    tampered = sign_payload(payload, WEBHOOK_SECRET)
    for signature, body in [
        ("", payload),
        ("garbage", payload),
        (wrong_secret, payload),
        (stale, payload),
        (tampered, payload.replace(b"pi_123", b"pi_999")),
    ]:
        with pytest.raises(InvalidSignature):
            gateway.parse_webhook(payload=body, signature=signature)
    recent = sign_payload(payload, WEBHOOK_SECRET, int(time.time()) - 290)
    assert gateway.parse_webhook(payload=payload, signature=recent).type == "payment_intent.succeeded"


async def test_parse_webhook_without_a_secret_rejects_everything(stripe_emulator: StripeEmulator) -> None:
    gw = StripeGateway(stripe_emulator.api_key, api_base=stripe_emulator.base_url)
    try:
        payload = _event_payload()
        with pytest.raises(InvalidSignature):
            gw.parse_webhook(payload=payload, signature=sign_payload(payload, ""))
    finally:
        await gw.close()


# -- hosted checkout ---------------------------------------------------------------------------------


async def test_checkout_round_trip_delivers_a_signed_webhook(
    gateway: StripeGateway, stripe_emulator: StripeEmulator, key: Callable[[str], str]
) -> None:
    metadata = {"billing_request_id": "17", "marker": uuid.uuid4().hex}
    async with webhook_receiver() as (url, received):
        webhook_id = stripe_emulator.register_webhook(
            url, WEBHOOK_SECRET, events=["checkout.session.completed"]
        )
        try:
            start = await gateway.create_checkout(
                amount_minor=4_200,
                currency="EUR",
                description="Invoice INV-0042",
                success_url="http://127.0.0.1/pay/done",
                cancel_url="http://127.0.0.1/pay/cancel",
                idempotency_key=key("checkout"),
                metadata=metadata,
            )
            assert start.session_id.startswith("cs_test_")
            assert start.url.startswith("http://127.0.0.1:")
            again = await gateway.create_checkout(
                amount_minor=4_200,
                currency="EUR",
                description="Invoice INV-0042",
                success_url="http://127.0.0.1/pay/done",
                cancel_url="http://127.0.0.1/pay/cancel",
                idempotency_key=key("checkout"),
                metadata=metadata,
            )
            assert again == start  # a double click opens the same page

            sent = await asyncio.to_thread(stripe_emulator.complete_checkout, start.session_id)
            assert sent["type"] == "checkout.session.completed"
            body, signature = await asyncio.wait_for(received.get(), timeout=10)
        finally:
            stripe_emulator.unregister_webhook(webhook_id)

    event = gateway.parse_webhook(payload=body, signature=signature)
    assert (event.id, event.type) == (sent["id"], "checkout.session.completed")
    session = event.data
    assert session["id"] == start.session_id
    assert (session["status"], session["payment_status"]) == ("complete", "paid")
    assert (session["amount_total"], session["currency"]) == (4_200, "eur")
    assert session["metadata"] == metadata
    payment = await gateway.retrieve_payment(payment_ref=session["payment_intent"])
    assert (payment.status, payment.amount_minor, payment.currency) == ("succeeded", 4_200, "EUR")
    assert payment.metadata == metadata


async def test_checkout_offers_the_debit_of_the_currency(
    gateway: StripeGateway, stripe_emulator: StripeEmulator, customer: str, key: Callable[[str], str]
) -> None:
    expected = {
        "EUR": ["card", "sepa_debit"],
        "USD": ["card", "us_bank_account"],
        "GBP": ["card", "bacs_debit"],
    }
    for currency, method_types in expected.items():
        start = await gateway.create_checkout(
            amount_minor=1_000,
            currency=currency,
            description="Deposit",
            success_url="http://127.0.0.1/ok",
            cancel_url="http://127.0.0.1/cancel",
            idempotency_key=key(f"checkout:{currency}"),
            metadata={},
            customer_ref=customer,
            method_kinds=("card", "direct_debit"),
            save_method=True,
        )
        raw = stripe_emulator.retrieve(f"/v1/checkout/sessions/{start.session_id}")
        assert raw["payment_method_types"] == method_types
        assert raw["customer"] == customer
    with pytest.raises(GatewayError) as caught:
        await gateway.create_checkout(
            amount_minor=1_000,
            currency="JPY",
            description="Deposit",
            success_url="http://127.0.0.1/ok",
            cancel_url="http://127.0.0.1/cancel",
            idempotency_key=key("checkout:jpy"),
            metadata={},
            method_kinds=("direct_debit",),
        )
    assert caught.value.code == "no_method"


async def test_checkout_with_save_method_keeps_the_card(
    gateway: StripeGateway, stripe_emulator: StripeEmulator, customer: str, key: Callable[[str], str]
) -> None:
    start = await gateway.create_checkout(
        amount_minor=1_500,
        currency="USD",
        description="First invoice",
        success_url="http://127.0.0.1/ok",
        cancel_url="http://127.0.0.1/cancel",
        idempotency_key=key("checkout"),
        metadata={},
        customer_ref=customer,
        save_method=True,
    )
    await asyncio.to_thread(stripe_emulator.complete_checkout, start.session_id)
    assert [(m.brand, m.last4) for m in await gateway.list_methods(customer_ref=customer)] == [
        ("visa", "4242")
    ]

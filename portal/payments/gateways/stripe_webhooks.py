"""Stripe's webhooks: the signature and its timestamp checked, the event parsed."""

from __future__ import annotations

import json
import time

import stripe

from portal.payments.gateways.protocol import GatewayEvent, InvalidSignature

WEBHOOK_TOLERANCE_SECONDS = 300
"""Webhooks signed longer ago, or dated further ahead, than this are refused (Stripe's own default)."""


def _check_signed_at(signature: str, *, now: float) -> None:
    """Refuse a (verified) Stripe-Signature whose `t=` lies more than the tolerance away from `now`."""
    try:  # read as the SDK reads it: the first `t=` item
        signed_at = int(next(item.split("=", 2)[1] for item in signature.split(",") if item.startswith("t=")))
    except (StopIteration, ValueError):
        raise InvalidSignature("The Stripe-Signature header has no timestamp.") from None
    if abs(now - signed_at) > WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidSignature(f"Timestamp outside the tolerance zone ({signed_at}).")


def parse_event(*, payload: bytes, signature: str, webhook_secret: str) -> GatewayEvent:
    """Verify the Stripe-Signature header and parse the event. The signature's timestamp must be within
    300 s of now in either direction: the SDK bounds only the past, a future date would let a captured
    request be replayed for as long as its date lies ahead."""
    if not webhook_secret:
        raise InvalidSignature("No webhook signing secret is configured.")
    if not signature:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
        _check_signed_at(signature, now=time.time())
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(exc.user_message or "Invalid signature.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSignature("The webhook body is not a JSON event.") from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise InvalidSignature("The webhook body is not a Stripe event.")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    obj = data.get("object")
    return GatewayEvent(
        id=str(event["id"]),
        type=str(event["type"]),
        data=obj if isinstance(obj, dict) else {},
        created=int(event.get("created") or 0),
    )

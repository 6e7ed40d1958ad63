"""POST /webhooks/stripe: verify the signature before anything is written, store the event, answer, then
process it exactly once (after the answer is sent; the jobs retry what is left unprocessed). A body over
MAX_BODY_BYTES never gets here: `portal.security.BodyLimit` answers 413 before it is read whole."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from portal import gateway_events
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayEvent, InvalidSignature, PaymentGateway

log = logging.getLogger(__name__)


async def stripe_webhook(request: Request) -> JSONResponse:
    """Stripe's endpoint: 400 for a bad signature (nothing stored), 200 once the event is stored (or was
    stored before), 500 when it cannot be stored (Stripe delivers it again)."""
    payload = await request.body()
    gateway = await selector.webhook_gateway()
    try:
        event = gateway.parse_webhook(payload=payload, signature=request.headers.get("stripe-signature", ""))
    except InvalidSignature as exc:
        return JSONResponse({"error": f"invalid signature: {exc}"}, status_code=400)
    try:
        new = await gateway_events.accept(provider="stripe", event=event)
    except Exception:
        log.exception(
            "webhook %s (%s) could not be stored; Stripe will deliver it again", event.id, event.type
        )
        return JSONResponse({"error": "not stored"}, status_code=500)
    return JSONResponse(
        {"received": True, "outcome": "accepted" if new else "duplicate"},
        background=BackgroundTask(_process, event, gateway),
    )


async def _process(event: GatewayEvent, gateway: PaymentGateway) -> None:
    """After the answer: process the stored event once (a duplicate delivery finds it processed)."""
    try:
        await gateway_events.process_stored(provider="stripe", event=event, gateway=gateway)
    except Exception:
        log.exception("webhook %s (%s) failed; the jobs will try it again", event.id, event.type)


def register_routes(app) -> None:
    """Add the webhook route (main.py calls this)."""
    app.add_api_route("/webhooks/stripe", stripe_webhook, methods=["POST"], include_in_schema=False)

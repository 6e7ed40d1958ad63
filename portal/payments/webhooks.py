"""POST /webhooks/stripe: verify the signature before anything is written, then ingest exactly once."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse

from portal.payments.gateway import InvalidSignature
from portal.services import gateway_events, gateways

log = logging.getLogger(__name__)


async def stripe_webhook(request: Request) -> JSONResponse:
    """Stripe's endpoint: 400 for a bad signature, 200 when processed or a duplicate, 500 to be retried."""
    payload = await request.body()
    gateway = await gateways.current_gateway()
    try:
        event = gateway.parse_webhook(payload=payload, signature=request.headers.get("stripe-signature", ""))
    except InvalidSignature as exc:
        return JSONResponse({"error": f"invalid signature: {exc}"}, status_code=400)
    try:
        outcome = await gateway_events.ingest(provider="stripe", event=event, gateway=gateway)
    except Exception:
        log.exception("webhook %s (%s) failed; Stripe will deliver it again", event.id, event.type)
        return JSONResponse({"error": "processing failed"}, status_code=500)
    return JSONResponse({"received": True, "outcome": outcome})


def register_routes(app) -> None:
    """Add the webhook route (main.py calls this)."""
    app.add_api_route("/webhooks/stripe", stripe_webhook, methods=["POST"], include_in_schema=False)

"""Which payment gateway is in use: the agency's Stripe account when one is connected, else the sandbox."""

from __future__ import annotations

import time
from typing import Protocol

from portal.config import get_settings
from portal.core import organization, vault
from portal.db.models import Organization
from portal.payments.gateways.protocol import GatewayEvent, PaymentGateway
from portal.payments.gateways.sandbox import SandboxGateway
from portal.payments.gateways.stripe_gateway import StripeGateway

_cache: dict[tuple[str, str, str], PaymentGateway] = {}
WEBHOOK_LOOKUP_SECONDS = 5.0
_webhook: tuple[float, tuple[str, ...], PaymentGateway] | None = None
_STRIPE_COLUMNS = ("stripe_mode", "stripe_secret_key_enc", "stripe_webhook_secret_enc")


class SandboxEventHandler(Protocol):
    """What the sandbox's events are handed to (`portal.gateway_events.ingest`)."""

    async def __call__(self, *, provider: str, event: GatewayEvent, gateway: PaymentGateway) -> object: ...


_sandbox_event_handler: SandboxEventHandler | None = None


def on_sandbox_event(handler: SandboxEventHandler) -> None:
    """Hand every event the sandbox emits to `handler`, as Stripe's webhooks are (main.py wires it at
    start-up)."""
    global _sandbox_event_handler
    _sandbox_event_handler = handler


async def _emit_sandbox_event(event: GatewayEvent) -> None:
    if _sandbox_event_handler is None:
        raise RuntimeError("No handler for the sandbox's events: call selector.on_sandbox_event at start-up.")
    await _sandbox_event_handler(provider="sandbox", event=event, gateway=sandbox())


def sandbox() -> SandboxGateway:
    """The sandbox gateway, wired to the webhook handlers."""
    return SandboxGateway(emit=_emit_sandbox_event, public_url=get_settings().public_url)


async def stripe_credentials() -> tuple[str, str, str]:
    """(secret key, webhook secret, mode) from the organization's settings, else from the environment."""
    if organization.in_page_scope():  # the page build reads the row once for everybody
        org = await organization.get_organization()
        mode, key_enc, hook_enc = org.stripe_mode, org.stripe_secret_key_enc, org.stripe_webhook_secret_enc
    else:  # three columns, not the whole row (every webhook and payment asks)
        row = await Organization.filter(id=1).first().values_list(*_STRIPE_COLUMNS)
        mode, key_enc, hook_enc = row if row is not None else ("sandbox", "", "")
    if mode in ("test", "live") and key_enc:
        return vault.decrypt(key_enc), vault.decrypt(hook_enc), mode
    settings = get_settings()
    if settings.stripe_secret_key:
        mode = "live" if settings.stripe_secret_key.startswith("sk_live") else "test"
        return settings.stripe_secret_key, settings.stripe_webhook_secret, mode
    return "", "", "sandbox"


async def current_mode() -> str:
    """'sandbox', 'test' or 'live': what every page that moves money says it is in."""
    return (await stripe_credentials())[2]


async def current_gateway() -> PaymentGateway:
    """The gateway to use now (Stripe clients are kept per key and reused)."""
    key, webhook_secret, mode = await stripe_credentials()
    if not key:
        return sandbox()
    cache_key = (key, webhook_secret, get_settings().stripe_api_base)
    if cache_key not in _cache:
        _cache[cache_key] = StripeGateway(
            key, webhook_secret=webhook_secret, api_base=get_settings().stripe_api_base, mode=mode
        )
    return _cache[cache_key]


async def webhook_gateway() -> PaymentGateway:
    """The gateway that verifies incoming webhooks, looked up at most every 5 s in a process (every webhook
    asks). After the keys change in another process, a delivery signed with the new secret may be refused
    for those seconds: Stripe delivers it again."""
    global _webhook
    settings = get_settings()
    source = (
        settings.database_url,
        settings.stripe_secret_key,
        settings.stripe_webhook_secret,
        settings.stripe_api_base,
    )
    now = time.monotonic()
    if _webhook is not None and _webhook[1] == source and now - _webhook[0] < WEBHOOK_LOOKUP_SECONDS:
        return _webhook[2]
    gateway = await current_gateway()
    _webhook = (now, source, gateway)
    return gateway


async def forget_cached() -> None:
    """Close and drop cached Stripe clients (after the keys change or at shutdown)."""
    global _webhook
    _webhook = None
    for gateway in list(_cache.values()):
        await gateway.close()
    _cache.clear()

"""Which payment gateway is in use: the agency's Stripe account when one is connected, else the sandbox."""

from __future__ import annotations

from portal.config import get_settings
from portal.payments.gateway import GatewayEvent, PaymentGateway
from portal.payments.sandbox import SandboxGateway
from portal.services import vault
from portal.services.organization import get_organization

_cache: dict[tuple[str, str, str], PaymentGateway] = {}


async def _emit_sandbox_event(event: GatewayEvent) -> None:
    from portal.services import gateway_events

    await gateway_events.ingest(provider="sandbox", event=event, gateway=sandbox())


def sandbox() -> SandboxGateway:
    """The sandbox gateway, wired to the webhook handlers."""
    return SandboxGateway(emit=_emit_sandbox_event, public_url=get_settings().public_url)


async def stripe_credentials() -> tuple[str, str, str]:
    """(secret key, webhook secret, mode) from the organization's settings, else from the environment."""
    org = await get_organization()
    if org.stripe_mode in ("test", "live") and org.stripe_secret_key_enc:
        return (
            vault.decrypt(org.stripe_secret_key_enc),
            vault.decrypt(org.stripe_webhook_secret_enc),
            org.stripe_mode,
        )
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
    from portal.payments.stripe_gateway import StripeGateway

    cache_key = (key, webhook_secret, get_settings().stripe_api_base)
    if cache_key not in _cache:
        _cache[cache_key] = StripeGateway(
            key, webhook_secret=webhook_secret, api_base=get_settings().stripe_api_base, mode=mode
        )
    return _cache[cache_key]


async def forget_cached() -> None:
    """Close and drop cached Stripe clients (after the keys change or at shutdown)."""
    for gateway in list(_cache.values()):
        await gateway.close()
    _cache.clear()

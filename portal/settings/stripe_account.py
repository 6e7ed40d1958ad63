"""The agency's own Stripe account: connect (keys checked with a real API call), unlink, policy links.

Secrets are stored encrypted (portal/core/vault.py) and never leave this module in clear: the view
carries a hint such as "sk_test_…4242" only. Until an account is connected the portal uses the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Protocol
from urllib.parse import urlsplit

import babel
from tortoise.transactions import in_transaction

from portal.config import get_settings
from portal.core import audit, vault
from portal.core.actors import Actor, require_admin
from portal.core.clock import now_utc
from portal.core.organization import get_organization
from portal.db.models import Organization
from portal.domain.errors import InvalidInput
from portal.i18n import N_, _, normalize_locale
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError
from portal.payments.gateways.stripe_gateway import StripeGateway
from portal.settings.fields import raise_if_any

WEBHOOK_PATH = "/webhooks/stripe"
URL_MAX_LENGTH = 500
"""The length of Organization.privacy_url and terms_url."""

# Two-letter keys of CLDR's territory names that are not countries (or not real ones).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
_KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
_URL_MISSING = {
    "privacy_url": N_("Enter the full address of your privacy policy, starting with https://"),
    "terms_url": N_("Enter the full address of your terms of service, starting with https://"),
}
_URL_TOO_LONG = {
    "privacy_url": N_("The address of your privacy policy is too long ({count} characters at most)."),
    "terms_url": N_("The address of your terms of service is too long ({count} characters at most)."),
}


class AccountVerifier(Protocol):
    """What `connect` needs of a gateway: the key check and closing it afterwards."""

    async def verify_account(self) -> str: ...

    async def close(self) -> None: ...


GatewayFactory = Callable[..., AccountVerifier]
"""Called as `factory(secret_key, webhook_secret=..., mode=...)`."""


@dataclass(frozen=True)
class StripeAccountView:
    """What the payments settings page shows (never a secret)."""

    mode: str  # sandbox | test | live
    connected: bool
    account_id: str
    country: str
    privacy_url: str
    terms_url: str
    key_hint: str  # e.g. "sk_test_…4242", "" when no key
    webhook_secret_set: bool
    connected_at: datetime | None
    webhook_url: str
    environment_key: str = ""  # the key hint of STRIPE_SECRET_KEY when that is what takes payments


@cache
def countries(locale: str = "en") -> dict[str, str]:
    """ISO 3166 alpha-2 codes and their names in `locale` (English by default), sorted by name."""
    codes = [code for code in babel.Locale("en").territories if _is_country_code(code)]
    names = babel.Locale(normalize_locale(locale)).territories
    pairs = [(code, names.get(code, code)) for code in codes]
    return dict(sorted(pairs, key=lambda pair: pair[1]))


def _is_country_code(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper() and code not in _NOT_COUNTRIES


def key_hint(secret_key: str) -> str:
    """A recognisable, harmless form of a key: its prefix and last four characters."""
    if not secret_key:
        return ""
    match = _KEY_PATTERN.match(secret_key)
    prefix = f"{match.group(1)}_{match.group(2)}_" if match else ""
    return f"{prefix}…{secret_key[-4:]}"


def _view(org: Organization) -> StripeAccountView:
    connected = org.stripe_mode in ("test", "live") and bool(org.stripe_secret_key_enc)
    return StripeAccountView(
        mode=org.stripe_mode if connected else "sandbox",
        connected=connected,
        account_id=org.stripe_account_id if connected else "",
        country=org.stripe_country,
        privacy_url=org.privacy_url,
        terms_url=org.terms_url,
        key_hint=key_hint(vault.decrypt(org.stripe_secret_key_enc)) if connected else "",
        webhook_secret_set=connected and bool(org.stripe_webhook_secret_enc),
        connected_at=org.stripe_connected_at if connected else None,
        webhook_url=get_settings().public_url.rstrip("/") + WEBHOOK_PATH,
        environment_key=key_hint(get_settings().stripe_secret_key) if not connected else "",
    )


# --- validation: each check returns the clean value or an error message --------------------------------


def _check_country(value: str) -> tuple[str, str | None]:
    code = (value or "").strip().upper()
    if code not in countries():
        return code, _("Choose your country.")
    return code, None


def _check_url(value: str, field: str) -> tuple[str, str | None]:
    url = (value or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return url, _(_URL_MISSING[field])
    if len(url) > URL_MAX_LENGTH:
        return url, _(_URL_TOO_LONG[field], count=URL_MAX_LENGTH)
    return url, None


def _check_secret_key(value: str, mode: str) -> tuple[str, str | None]:
    key = (value or "").strip()
    expected = f"sk_{mode}_"
    restricted = f"rk_{mode}_"
    if not key:
        return key, _("Enter your Stripe secret key (it starts with {prefix}).", prefix=expected)
    if key.startswith("pk_"):
        return key, _(
            "This is a publishable key. Paste the secret key, which starts with {prefix}.", prefix=expected
        )
    other = "live" if mode == "test" else "test"
    if key.startswith((f"sk_{other}_", f"rk_{other}_")):
        if mode == "test":
            message = _(
                "This is a live key. In test mode the key starts with {prefix}. "
                "Turn test mode off to use it.",
                prefix=expected,
            )
        else:
            message = _(
                "This is a test key. In live mode the key starts with {prefix}. Turn test mode on to use it.",
                prefix=expected,
            )
        return key, message
    if not key.startswith((expected, restricted)) or not _KEY_PATTERN.match(key):
        if mode == "test":
            message = _(
                "In test mode the secret key starts with {prefix} (or {restricted} for a restricted key).",
                prefix=expected,
                restricted=restricted,
            )
        else:
            message = _(
                "In live mode the secret key starts with {prefix} (or {restricted} for a restricted key).",
                prefix=expected,
                restricted=restricted,
            )
        return key, message
    return key, None


def _check_webhook_secret(value: str) -> tuple[str, str | None]:
    secret = (value or "").strip()
    if not secret.startswith("whsec_") or len(secret) <= len("whsec_") or any(c.isspace() for c in secret):
        return secret, _("Enter the webhook signing secret from Stripe's dashboard (it starts with whsec_).")
    return secret, None


def _default_gateway(secret_key: str, *, webhook_secret: str, mode: str) -> AccountVerifier:
    return StripeGateway(
        secret_key, webhook_secret=webhook_secret, api_base=get_settings().stripe_api_base, mode=mode
    )


async def _verify(factory: GatewayFactory, secret_key: str, webhook_secret: str, mode: str) -> str:
    """The account id the key belongs to; InvalidInput on the secret key when Stripe refuses it."""
    gateway = factory(secret_key, webhook_secret=webhook_secret, mode=mode)
    try:
        return await gateway.verify_account()
    except GatewayError as exc:
        if exc.code == "network_error" or exc.retryable:
            raise InvalidInput(
                _("The key could not be checked: {problem} Nothing was changed.", problem=exc.message),
                field="secret_key",
            ) from exc
        detail = exc.message.removeprefix(_("Stripe did not accept this secret key: {problem}", problem=""))
        detail = detail.removeprefix("Stripe did not accept this secret key: ")
        raise InvalidInput(
            _("Stripe did not accept this key: {problem}", problem=detail), field="secret_key"
        ) from exc
    finally:
        await gateway.close()


# --- use cases ------------------------------------------------------------------------------------------


async def get_account(*, actor: Actor) -> StripeAccountView:
    """The payment settings as the admin sees them."""
    require_admin(actor)
    return _view(await get_organization())


async def connect(
    *,
    actor: Actor,
    test_mode: bool,
    country: str,
    privacy_url: str,
    terms_url: str,
    secret_key: str,
    webhook_secret: str,
    gateway_factory: GatewayFactory | None = None,
) -> StripeAccountView:
    """Check every field and the key (a real call to Stripe), then store the account; nothing on failure."""
    require_admin(actor)
    mode = "test" if test_mode else "live"
    country, country_error = _check_country(country)
    privacy_url, privacy_error = _check_url(privacy_url, "privacy_url")
    terms_url, terms_error = _check_url(terms_url, "terms_url")
    secret_key, key_error = _check_secret_key(secret_key, mode)
    webhook_secret, webhook_error = _check_webhook_secret(webhook_secret)
    raise_if_any(
        {
            "country": country_error,
            "privacy_url": privacy_error,
            "terms_url": terms_error,
            "secret_key": key_error,
            "webhook_secret": webhook_error,
        }
    )
    account_id = await _verify(gateway_factory or _default_gateway, secret_key, webhook_secret, mode)
    org = await get_organization()
    async with in_transaction():
        org.stripe_mode = mode
        org.stripe_secret_key_enc = vault.encrypt(secret_key)
        org.stripe_webhook_secret_enc = vault.encrypt(webhook_secret)
        org.stripe_account_id = account_id
        org.stripe_country = country
        org.privacy_url = privacy_url
        org.terms_url = terms_url
        org.stripe_connected_at = now_utc()
        await org.save(
            update_fields=[
                "stripe_mode",
                "stripe_secret_key_enc",
                "stripe_webhook_secret_enc",
                "stripe_account_id",
                "stripe_country",
                "privacy_url",
                "terms_url",
                "stripe_connected_at",
                "updated_at",
            ]
        )
        await audit.record(
            actor=actor,
            action="stripe.connect",
            subject=account_id,
            details={"mode": mode, "country": country, "key": key_hint(secret_key)},
        )
    await selector.forget_cached()
    return _view(org)


async def unlink(*, actor: Actor) -> StripeAccountView:
    """Forget the keys and the account: back to the sandbox (policy links and country stay)."""
    require_admin(actor)
    org = await get_organization()
    previous = org.stripe_account_id
    async with in_transaction():
        org.stripe_mode = "sandbox"
        org.stripe_secret_key_enc = ""
        org.stripe_webhook_secret_enc = ""
        org.stripe_account_id = ""
        org.stripe_connected_at = None
        await org.save(
            update_fields=[
                "stripe_mode",
                "stripe_secret_key_enc",
                "stripe_webhook_secret_enc",
                "stripe_account_id",
                "stripe_connected_at",
                "updated_at",
            ]
        )
        await audit.record(actor=actor, action="stripe.unlink", subject=previous)
    await selector.forget_cached()
    return _view(org)


async def update_policies(*, actor: Actor, privacy_url: str, terms_url: str) -> StripeAccountView:
    """Change the privacy policy and terms of service links without touching the keys."""
    require_admin(actor)
    privacy_url, privacy_error = _check_url(privacy_url, "privacy_url")
    terms_url, terms_error = _check_url(terms_url, "terms_url")
    raise_if_any({"privacy_url": privacy_error, "terms_url": terms_error})
    org = await get_organization()
    async with in_transaction():
        org.privacy_url = privacy_url
        org.terms_url = terms_url
        await org.save(update_fields=["privacy_url", "terms_url", "updated_at"])
        await audit.record(
            actor=actor,
            action="stripe.policies",
            details={"privacy_url": privacy_url, "terms_url": terms_url},
        )
    return _view(org)

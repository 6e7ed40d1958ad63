"""Stripe's objects as the portal's plain values: payment methods, subscriptions, payments, checkout types."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import stripe

from portal.payments.gateways.protocol import GatewayPayment, SavedMethod, SubscriptionInfo
from portal.payments.gateways.stripe_amounts import from_stripe_amount
from portal.payments.gateways.stripe_errors import decline_message

_DEBIT_TYPES = {"EUR": "sepa_debit", "USD": "us_bank_account", "GBP": "bacs_debit"}
_METHOD_KINDS = {
    "card": "card",
    "sepa_debit": "direct_debit",
    "us_bank_account": "direct_debit",
    "bacs_debit": "direct_debit",
    "au_becs_debit": "direct_debit",
    "acss_debit": "direct_debit",
    "customer_balance": "bank_transfer",
}


def plain(obj: Any) -> dict[str, Any]:
    """An SDK object (or a dict) as a plain, recursive dict."""
    if obj is None:
        return {}
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"unexpected Stripe value {type(obj).__name__}")


def id_of(value: Any) -> str:
    """The id of a field that is either an id or an expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("id") or "")
    if isinstance(value, stripe.StripeObject):
        return str(value.to_dict().get("id") or "")
    return ""


def _metadata(value: Any) -> dict[str, str]:
    """Stripe metadata as a plain dict of strings."""
    return {str(k): str(v) for k, v in (plain(value) if value else {}).items()}


def _timestamp(value: Any) -> datetime | None:
    """A Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def saved_method(pm: dict[str, Any]) -> SavedMethod | None:
    """A Stripe PaymentMethod as a SavedMethod (None for kinds the portal does not track)."""
    pm_type = str(pm.get("type") or "")
    kind = _METHOD_KINDS.get(pm_type)
    if kind is None:
        return None
    if pm_type == "card":
        card = pm.get("card") or {}
        return SavedMethod(
            ref=str(pm["id"]),
            kind=kind,
            brand=str(card.get("brand") or ""),
            last4=str(card.get("last4") or ""),
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
        )
    details = pm.get(pm_type) or {}
    return SavedMethod(ref=str(pm["id"]), kind=kind, brand=pm_type, last4=str(details.get("last4") or ""))


def subscription_info(sub: dict[str, Any]) -> SubscriptionInfo:
    """A Stripe Subscription as SubscriptionInfo; the period end lives on the items since API 2025-03-31."""
    period_end = sub.get("current_period_end")
    if not period_end:
        items = (sub.get("items") or {}).get("data") or []
        ends = [item.get("current_period_end") for item in items if item.get("current_period_end")]
        period_end = min(ends) if ends else None
    return SubscriptionInfo(
        ref=str(sub["id"]),
        status=str(sub.get("status") or ""),
        current_period_end=_timestamp(period_end),
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
    )


def gateway_payment(pi: dict[str, Any]) -> GatewayPayment:
    """A Stripe PaymentIntent (with `latest_charge` expanded when possible) as a GatewayPayment."""
    currency = str(pi["currency"]).upper()
    charge = pi.get("latest_charge")
    refunded = int(charge.get("amount_refunded") or 0) if isinstance(charge, dict) else 0
    return GatewayPayment(
        ref=str(pi["id"]),
        amount_minor=from_stripe_amount(int(pi["amount"]), currency),
        currency=currency,
        status=str(pi.get("status") or ""),
        metadata=_metadata(pi.get("metadata")),
        customer_ref=id_of(pi.get("customer")),
        method_ref=id_of(pi.get("payment_method")),
        created=int(pi.get("created") or 0),
        amount_refunded_minor=from_stripe_amount(refunded, currency),
        failure_message=_failure_message(pi),
    )


def _failure_message(pi: dict[str, Any]) -> str:
    """The last payment error of an intent, in the plain words the portal shows."""
    error = pi.get("last_payment_error")
    if not isinstance(error, dict):
        return ""
    return decline_message(str(error.get("decline_code") or error.get("code") or "card_declined"))


def checkout_method_types(method_kinds: Iterable[str], currency: str) -> list[str]:
    """Stripe payment method types for the portal's method kinds (skipping those `currency` lacks)."""
    types: list[str] = []
    for kind in method_kinds:
        pm_type = "card" if kind == "card" else _DEBIT_TYPES.get(currency) if kind == "direct_debit" else None
        if pm_type and pm_type not in types:
            types.append(pm_type)
    return types

"""A client's subscriptions: list them, switch the card they are charged to, cancel at the period end, resume.

The gateway is the source of truth for a subscription's schedule: every change is made there first (or,
for the card, written here first under the client's lock and undone when the gateway refuses), and the
period end and the cancellation flag are taken from the gateway's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, check_client_access, require_staff
from portal.core.clock import now_utc
from portal.db.models import Client, PaymentMethod, Subscription
from portal.domain.errors import Conflict, NotFound
from portal.domain.status import LIVE, SubscriptionStatus
from portal.events import Event, publish
from portal.i18n import N_, _
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError, PaymentGateway, SubscriptionInfo
from portal.payments.methods import OTHER_ACCOUNT_METHOD, subscription_label

_ORDER: dict[str, int] = {"active": 0, "past_due": 0, "canceled": 2}  # anything else in between
_PER = {"day": N_("per day"), "week": N_("per week"), "month": N_("per month"), "year": N_("per year")}
_EVERY = {
    "day": N_("every {count} days"),
    "week": N_("every {count} weeks"),
    "month": N_("every {count} months"),
    "year": N_("every {count} years"),
}
NOT_FOUND = N_("That subscription does not exist.")
METHOD_NOT_FOUND = N_("That payment method does not exist.")
OTHER_ACCOUNT_SUBSCRIPTION = N_(
    "This subscription belongs to another payment account. Please contact us to change it."
)
ENDED = N_("This subscription has already ended.")


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the client's billing page shows it."""

    id: int
    name: str
    amount_minor: int
    currency: str
    interval_label: str  # "per month", "every 3 months"
    status: str
    period_end: datetime | None  # the next payment, or the end when cancel_at_period_end
    cancel_at_period_end: bool
    method_label: str  # "Visa •••• 4242", "" when no card is set
    method_id: int | None

    @property
    def is_live(self) -> bool:
        """Still running (it may be set to end at the period end)."""
        return self.status in LIVE

    @property
    def next_payment_on(self) -> date | None:
        """The date of the next charge (None when it ends instead)."""
        if not self.is_live or self.cancel_at_period_end or self.period_end is None:
            return None
        return self.period_end.date()

    @property
    def ends_on(self) -> date | None:
        """The last day of a subscription that is set to end at its period end."""
        if not self.is_live or not self.cancel_at_period_end or self.period_end is None:
            return None
        return self.period_end.date()


def interval_label(interval: str, count: int = 1) -> str:
    """'per month', 'every 3 months' (in the current locale)."""
    if count <= 1:
        return _(_PER[interval]) if interval in _PER else f"per {interval}"
    return _(_EVERY[interval], count=count) if interval in _EVERY else f"every {count} {interval}s"


def method_label(method: PaymentMethod | None) -> str:
    """'Visa •••• 4242' (empty without a method)."""
    if method is None:
        return ""
    return _card_label(method.brand, method.last4)


def _card_label(brand: str, last4: str) -> str:
    return f"{brand.replace('_', ' ').title()} •••• {last4}"


async def _view(sub: Subscription) -> SubscriptionView:
    await sub.fetch_related("plan", "payment_method")
    return _view_of(sub)


# the subscription's own columns a view is made of
_LISTED = (
    "id",
    "description",
    "amount_minor",
    "currency",
    "interval",
    "interval_count",
    "status",
    "current_period_end",
    "cancel_at_period_end",
    "payment_method_id",
)


def _view_of(sub: Subscription) -> SubscriptionView:
    """The view of a subscription whose plan and method are loaded (fetched or select_related)."""
    method = sub.payment_method if sub.payment_method_id else None
    plan = sub.plan if sub.plan_id else None
    fields = {name: getattr(sub, name) for name in _LISTED}
    return _view_from(fields, plan_name=plan.name if plan else None, method=method_label(method))


def _view_from(fields: dict, *, plan_name: str | None, method: str) -> SubscriptionView:
    """The view from a subscription's `_LISTED` values, its plan's name and its card's label."""
    return SubscriptionView(
        id=fields["id"],
        name=subscription_label(plan_name, fields["description"]),
        amount_minor=fields["amount_minor"],
        currency=fields["currency"],
        interval_label=interval_label(fields["interval"], fields["interval_count"]),
        status=fields["status"],
        period_end=fields["current_period_end"],
        cancel_at_period_end=fields["cancel_at_period_end"],
        method_label=method,
        method_id=fields["payment_method_id"],
    )


async def list_subscriptions(*, actor: Actor, client_id: int) -> list[SubscriptionView]:
    """A client's subscriptions: active and past-due first, canceled last."""
    check_client_access(actor, client_id)
    # one statement, the plan's name and the card joined in, as plain values (no model objects)
    rows = await (
        Subscription.filter(client_id=client_id)
        .order_by("id")
        .values(*_LISTED, "plan__name", "payment_method__brand", "payment_method__last4")
    )
    views = [
        _view_from(
            {name: row[name] for name in _LISTED},
            plan_name=row["plan__name"],
            method=_card_label(row["payment_method__brand"], row["payment_method__last4"])
            if row["payment_method_id"]
            else "",
        )
        for row in rows
    ]
    return sorted(views, key=lambda v: (_ORDER.get(v.status, 1), v.id))


async def get_subscription(*, actor: Actor, subscription_id: int) -> SubscriptionView:
    """One subscription of the actor's client (another client's is 'not found')."""
    return await _view(await _subscription_for(actor, subscription_id))


async def _subscription_for(actor: Actor, subscription_id: int) -> Subscription:
    sub = await Subscription.get_or_none(id=subscription_id)
    if sub is None:
        raise NotFound(_(NOT_FOUND))
    try:
        check_client_access(actor, sub.client_id)
    except NotFound:
        raise NotFound(_(NOT_FOUND)) from None
    return sub


async def _gateway_for(sub: Subscription) -> PaymentGateway:
    gateway = await selector.current_gateway()
    if sub.gateway != gateway.key:
        raise Conflict(_(OTHER_ACCOUNT_SUBSCRIPTION))
    return gateway


async def _changed(actor: Actor, sub: Subscription, action: str, details: dict) -> SubscriptionView:
    await audit.record(
        actor=actor, action=action, subject=f"subscription:{sub.id}", client_id=sub.client_id, details=details
    )
    await publish(Event("subscription.changed", client_id=sub.client_id, data={"subscription_id": sub.id}))
    return await _view(await Subscription.get(id=sub.id))


async def change_method(*, actor: Actor, subscription_id: int, method_id: int) -> SubscriptionView:
    """Charge the subscription to another of the client's cards (of the current gateway account).

    Written here first under the client's lock (so that a card being deleted cannot be picked, and a card
    picked cannot be deleted), then at the gateway; a refusal there puts the previous card back.
    """
    sub = await _subscription_for(actor, subscription_id)
    gateway = await _gateway_for(sub)
    async with in_transaction():
        await Client.select_for_update().get(id=sub.client_id)
        sub = await Subscription.select_for_update().get(id=sub.id)
        if sub.status not in LIVE:
            raise Conflict(_(ENDED))
        method = await PaymentMethod.get_or_none(
            id=method_id, client_id=sub.client_id, detached_at__isnull=True
        )
        if method is None:
            raise NotFound(_(METHOD_NOT_FOUND))
        if method.gateway != gateway.key:
            raise Conflict(_(OTHER_ACCOUNT_METHOD))
        previous = sub.payment_method_id
        if previous == method.id:
            return await _view(sub)
        await Subscription.filter(id=sub.id).update(payment_method_id=method.id)
    if sub.gateway_ref:
        try:
            await gateway.update_subscription_method(ref=sub.gateway_ref, method_ref=method.gateway_ref)
        except GatewayError as exc:
            await Subscription.filter(id=sub.id, payment_method_id=method.id).update(
                payment_method_id=previous
            )
            raise Conflict(_("The payment method was not changed: {problem}", problem=exc.message)) from exc
    details = {"from_method_id": previous, "to_method_id": method.id, "last4": method.last4}
    return await _changed(actor, sub, "subscription.change_method", details)


async def _apply(sub: Subscription, info: SubscriptionInfo) -> None:
    """Take the gateway's word for the cancellation flag and the period end."""
    await Subscription.filter(id=sub.id).update(
        cancel_at_period_end=info.cancel_at_period_end,
        current_period_end=info.current_period_end or sub.current_period_end,
    )


async def cancel_at_period_end(*, actor: Actor, subscription_id: int) -> SubscriptionView:
    """Stop the subscription at the end of the period already paid for (nothing more is charged)."""
    sub = await _subscription_for(actor, subscription_id)
    if sub.status not in LIVE:
        raise Conflict(_(ENDED))
    if sub.cancel_at_period_end:
        return await _view(sub)
    gateway = await _gateway_for(sub)
    if sub.gateway_ref:
        try:
            info = await gateway.cancel_subscription(ref=sub.gateway_ref, at_period_end=True)
        except GatewayError as exc:
            raise Conflict(_("The subscription was not canceled: {reason}", reason=exc.message)) from exc
        await _apply(sub, info)
    else:
        await Subscription.filter(id=sub.id).update(cancel_at_period_end=True)
    return await _changed(
        actor, sub, "subscription.cancel_at_period_end", {"ends_at": _iso(sub.current_period_end)}
    )


async def cancel_now(*, actor: Actor, subscription_id: int) -> SubscriptionView:
    """Staff: end a subscription at once (nothing more is charged; what was paid is not refunded here)."""
    require_staff(actor)
    sub = await _subscription_for(actor, subscription_id)
    if sub.status not in (*LIVE, SubscriptionStatus.incomplete):
        raise Conflict(_(ENDED))
    if sub.gateway_ref:
        gateway = await _gateway_for(sub)
        try:
            await gateway.cancel_subscription(ref=sub.gateway_ref, at_period_end=False)
        except GatewayError as exc:
            raise Conflict(_("The subscription was not canceled: {reason}", reason=exc.message)) from exc
    await Subscription.filter(id=sub.id).update(
        status=SubscriptionStatus.canceled, cancel_at_period_end=False, canceled_at=now_utc()
    )
    return await _changed(actor, sub, "subscription.cancel_now", {"was": sub.status})


async def resume(*, actor: Actor, subscription_id: int) -> SubscriptionView:
    """Keep a subscription that was set to end, as long as its period has not ended yet."""
    sub = await _subscription_for(actor, subscription_id)
    ended = sub.current_period_end is not None and sub.current_period_end <= now_utc()
    if sub.status not in LIVE or ended:
        raise Conflict(_("This subscription has already ended. Please ask us to start a new one."))
    if not sub.cancel_at_period_end:
        return await _view(sub)
    gateway = await _gateway_for(sub)
    if sub.gateway_ref:
        try:
            info = await gateway.resume_subscription(ref=sub.gateway_ref)
        except GatewayError as exc:
            raise Conflict(_("The subscription was not resumed: {problem}", problem=exc.message)) from exc
        await _apply(sub, info)
    else:
        await Subscription.filter(id=sub.id).update(cancel_at_period_end=False)
    return await _changed(actor, sub, "subscription.resume", {})


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""

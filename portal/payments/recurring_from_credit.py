"""A recurring billing request paid from credit or offline: the subscription starts on the default card.

Credit (or money staff received offline) pays the first period; the gateway charges the next ones to the
card the client made their default (the card it renews on), from the end of the period just paid. Without
such a card, credit is not offered and an offline payment is refused for a recurring request: the request
would be Paid with nothing to renew it.

The subscription row is written (incomplete) in the same transaction as the use of credit or the payment,
then started at the gateway after commit under a key made of the request's id, so a retry or a double
click starts one.
"""

from __future__ import annotations

import logging

from tortoise.transactions import in_transaction

from portal.core.clock import now_utc
from portal.db.models import BillingRequest, Client, Invoice, PaymentMethod, Subscription
from portal.domain.errors import Conflict
from portal.domain.periods import period_length
from portal.domain.status import BillingType, SubscriptionStatus, brand_label, local_label
from portal.events import Event, publish
from portal.i18n import N_, _
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError, PaymentGateway
from portal.payments.methods import ensure_customer

log = logging.getLogger(__name__)

NEEDS_CARD = N_(
    "Recurring requests need a saved card to renew on: add a card and make it the default, "
    "or pay this request with a card."
)
OFFLINE_NEEDS_CARD = N_(
    "{number} is a recurring request: it renews on the client's default card, and the client has none. "
    "Charge a card for it instead, or ask the client to add a card first."
)
OFFLINE_PAID_WHOLE = N_("A recurring request is paid whole: record {due} for {number}.")
NOT_STARTED = N_(
    "The credit was applied, but the payment service did not start the subscription yet ({reason}). "
    "Press again to retry: nothing is taken from credit twice."
)


async def recurring_request_of(invoice_billing_request_id: int | None) -> BillingRequest | None:
    """The recurring billing request an invoice was raised for, or None."""
    if invoice_billing_request_id is None:
        return None
    request = await BillingRequest.get_or_none(id=invoice_billing_request_id)
    if request is None or request.billing_type != BillingType.recurring:
        return None
    return request


async def recurring_requests(open_items: dict[int, tuple[Invoice, int]]) -> set[int]:
    """The ids of the recurring billing requests that some of these open invoices were raised for."""
    ids = {inv.billing_request_id for inv, _due in open_items.values() if inv.billing_request_id}
    if not ids:
        return set()
    return set(
        await BillingRequest.filter(id__in=list(ids), billing_type=BillingType.recurring).values_list(
            "id", flat=True
        )
    )


async def renewal_card(client_id: int) -> PaymentMethod | None:
    """The client's default card of the current gateway account: the card a subscription renews on."""
    gateway = await selector.current_gateway()
    return await PaymentMethod.get_or_none(
        client_id=client_id, is_default=True, kind="card", detached_at__isnull=True, gateway=gateway.key
    )


def card_label(method: PaymentMethod) -> str:
    """'Visa •••• 4242'."""
    return f"{brand_label(method.brand) or local_label(method.kind)} •••• {method.last4}"


async def add_subscription(*, request: BillingRequest, method: PaymentMethod) -> int:
    """In the caller's transaction: the request's subscription, incomplete until the gateway starts it."""
    existing = await Subscription.get_or_none(billing_request_id=request.id)
    if existing is not None:
        return existing.id
    sub = await Subscription.create(
        client_id=request.client_id,
        billing_request_id=request.id,
        description=request.description,
        amount_minor=request.amount_minor,
        currency=request.currency,
        interval=request.interval or "month",
        interval_count=1,
        status=SubscriptionStatus.incomplete,
        payment_method_id=method.id,
        gateway=method.gateway,
    )
    return sub.id


async def start_subscription(
    *, request_id: int, gateway: PaymentGateway | None = None
) -> Subscription | None:
    """Start the request's incomplete subscription at the gateway (once); None when there is none.

    Raises GatewayError when the gateway did not start it (it stays incomplete; calling again retries)."""
    sub = await Subscription.get_or_none(billing_request_id=request_id)
    if sub is None or sub.status != SubscriptionStatus.incomplete:
        return sub
    gateway = gateway or await selector.current_gateway()
    method = await PaymentMethod.get_or_none(id=sub.payment_method_id) if sub.payment_method_id else None
    if method is None or method.detached_at is not None:
        raise GatewayError(_("the card it renews on was removed"))
    client = await Client.get(id=sub.client_id)
    start = now_utc()
    info = await gateway.create_subscription(
        customer_ref=await ensure_customer(client=client, gateway=gateway),
        method_ref=method.gateway_ref,
        amount_minor=sub.amount_minor,
        currency=sub.currency,
        interval=sub.interval,
        description=sub.description or "Subscription",
        idempotency_key=f"billing_request:{request_id}:credit_subscription",
        metadata={"portal_subscription_id": str(sub.id), "billing_request": str(request_id)},
        trial_end=start + period_length(sub.interval, sub.interval_count),
        interval_count=sub.interval_count,
    )
    async with in_transaction():
        started = await Subscription.filter(id=sub.id, status=SubscriptionStatus.incomplete).update(
            status=SubscriptionStatus.active,
            gateway_ref=info.ref,
            current_period_start=start,
            current_period_end=info.current_period_end,
            cancel_at_period_end=info.cancel_at_period_end,
        )
    if started:
        await publish(
            Event("subscription.changed", client_id=sub.client_id, data={"subscription_id": sub.id})
        )
    return await Subscription.get(id=sub.id)


class StartFailed(Conflict):
    """The credit was applied but the gateway did not start the subscription (retrying finishes it)."""


async def start_or_explain(request_id: int) -> Subscription | None:
    """Start the subscription; a gateway failure is logged and raised as a Conflict the payer can read."""
    try:
        return await start_subscription(request_id=request_id)
    except GatewayError as exc:
        log.warning("subscription of billing request %s paid from credit not started: %s", request_id, exc)
        raise StartFailed(_(NOT_STARTED, reason=exc.message)) from exc

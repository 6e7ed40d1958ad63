"""Starting a client's subscription from staff: the plans and cards on offer, the first charge, the start.

Starting a subscription follows the path of a paid recurring billing request (`payments.start_recurring`):
the first period is charged now, as a numbered invoice paid with the client's saved card through the
one online charge (`payments.begin_payment`, `payments.charge_pending`: Pay Now's path); the gateway
subscription is then created to charge the next periods itself, its first charge at the end of the
period just paid (`trial_end`). Renewals come back as `invoice.paid` events (`gateway_events`).

Exactly once: the dialog passes one idempotency key per opening. The first-period payment is stored under
that key (the `payment.idempotency_key` column is unique), the card is charged with it and the gateway
subscription is created with a key made of our subscription's id, so a double click, a retry after a
time-out or two racing requests charge once and start one subscription.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from portal.billing import invoices
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import now_utc, today
from portal.db.models import Client, Invoice, Payment, PaymentMethod, Plan, Subscription
from portal.domain.errors import Conflict, InvalidFields, InvalidInput, NotFound
from portal.domain.periods import period_length
from portal.domain.status import InvoiceStatus, PaymentStatus, SubscriptionStatus
from portal.events import Event, publish
from portal.i18n import N_, _, format_date
from portal.payments import charges
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError, PaymentGateway
from portal.payments.methods import MethodRow, ensure_customer, payment_methods
from portal.subscriptions.plans import PLAN_NOT_FOUND, STARTABLE, PlanView, list_plans

log = logging.getLogger(__name__)

KEY_MAX = 100
CLIENT_NOT_FOUND = N_("That client does not exist.")


# -- subscribing a client -------------------------------------------------------------------------
def currency_question(plan_currency: str, client_currency: str, client_name: str) -> str:
    """What staff confirm before a client is charged in another currency than their own."""
    return _(
        "This plan is billed in {plan_currency}, but {client} pays in {client_currency}. "
        "Confirm that {client} is charged in {plan_currency}.",
        plan_currency=plan_currency,
        client_currency=client_currency,
        client=client_name,
    )


@dataclass(frozen=True)
class SubscribeOptions:
    """What the subscribe dialog offers: the active plans and the client's usable saved cards (masked)."""

    client_id: int
    client_name: str
    client_currency: str  # a plan in another currency needs an explicit confirmation
    mode: str  # sandbox | test | live
    plans: list[PlanView]
    methods: list[MethodRow]


async def subscribe_options(*, actor: Actor, client_id: int) -> SubscribeOptions:
    """Staff: the plans on offer and the client's cards of the current gateway account."""
    require_staff(actor)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_(CLIENT_NOT_FOUND))
    methods = [m for m in await payment_methods(actor=actor, client_id=client_id) if m.kind == "card"]
    return SubscribeOptions(
        client_id=client.id,
        client_name=client.name,
        client_currency=client.currency,
        mode=await selector.current_mode(),
        plans=await list_plans(actor=actor, include_archived=False),
        methods=methods,
    )


@dataclass(frozen=True)
class SubscribeResult:
    """The outcome of Subscribe: started, declined (nothing started), or pending (press again to finish)."""

    status: str  # active | declined | pending
    message: str
    subscription_id: int | None = None

    @property
    def ok(self) -> bool:
        """The subscription runs."""
        return self.status == "active"


def _payment_key(idempotency_key: str) -> str:
    return f"subscription_start:{idempotency_key}"


async def subscribe(
    *,
    actor: Actor,
    client_id: int,
    plan_id: int | None,
    method_id: int | None,
    idempotency_key: str,
    confirm_currency: bool = False,
) -> SubscribeResult:
    """Staff: subscribe a client to an active plan, charging the first period now to a saved card.

    A plan priced in another currency than the client's is refused unless `confirm_currency` is True (the
    dialog asks, naming both currencies); every wrong field is reported at once (`InvalidFields`).

    The same `idempotency_key` (one per dialog opening) always gives the same subscription: a second call
    finishes what the first started (it never charges twice) and reports the same outcome.
    """
    require_staff(actor)
    key = (idempotency_key or "").strip()
    if not key or len(key) > KEY_MAX:
        raise InvalidInput(_("This form has expired. Close it and open it again."), field="idempotency_key")
    gateway = await selector.current_gateway()
    payment = await Payment.get_or_none(idempotency_key=_payment_key(key))
    fresh = payment is None
    if payment is None:
        payment = await _begin(actor, gateway, client_id, plan_id, method_id, key, confirm_currency)
    elif payment.client_id != client_id:
        raise InvalidInput(_("This form was used for another client. Close it and open it again."))
    return await _drive(actor, gateway, payment, fresh=fresh)


async def _begin(
    actor: Actor,
    gateway: PaymentGateway,
    client_id: int,
    plan_id: int | None,
    method_id: int | None,
    key: str,
    confirm_currency: bool,
) -> Payment:
    """Check everything, then write the subscription (incomplete), the first period's invoice and its
    pending payment in one transaction, under the client's lock."""
    problems: dict[str, str] = {}
    if plan_id is None:
        problems["plan"] = _("Choose a plan.")
    if method_id is None:
        problems["method"] = _("Choose the card to charge.")
    if problems:
        raise InvalidFields(problems)
    async with in_transaction():
        client = await Client.select_for_update().get_or_none(id=client_id)
        if client is None:
            raise NotFound(_(CLIENT_NOT_FOUND))
        existing = await Payment.get_or_none(idempotency_key=_payment_key(key))
        if existing is not None:  # a racing click got here first
            return existing
        if client.archived:
            raise Conflict(
                _(
                    "{client} is archived: restore the client before starting a subscription.",
                    client=client.name,
                )
            )
        plan = await Plan.get_or_none(id=plan_id)
        if plan is None:
            problems["plan"] = _(PLAN_NOT_FOUND)
        elif not plan.active:
            problems["plan"] = _(
                "“{plan}” is archived and no longer offered. Choose another plan.", plan=plan.name
            )
        elif plan.currency != client.currency and not confirm_currency:
            problems["confirm_currency"] = currency_question(plan.currency, client.currency, client.name)
        method = await PaymentMethod.get_or_none(id=method_id, client_id=client.id, detached_at__isnull=True)
        if method is None:
            problems["method"] = _("Choose one of {client}'s saved cards.", client=client.name)
        elif method.gateway != gateway.key:
            problems["method"] = _(
                "This card was saved with another payment account and cannot be charged now."
            )
        elif method.kind != "card":
            problems["method"] = _("Subscriptions are charged to a card. Choose a saved card.")
        if problems:
            raise InvalidFields(problems)
        assert plan is not None and method is not None
        if await Subscription.filter(
            client_id=client.id, plan_id=plan.id, status__in=list(STARTABLE)
        ).exists():
            raise Conflict(
                _("{client} already has a running “{plan}” subscription.", client=client.name, plan=plan.name)
            )
        staff_id = actor.impersonator_id or actor.user_id
        sub = await Subscription.create(
            client_id=client.id,
            plan_id=plan.id,
            description=plan.name,
            amount_minor=plan.amount_minor,
            currency=plan.currency,
            interval=plan.interval,
            interval_count=plan.interval_count,
            status=SubscriptionStatus.incomplete,
            payment_method_id=method.id,
            gateway=gateway.key,
        )
        invoice = await invoices.issue_single_line(
            client_id=client.id,
            description=plan.name,
            amount_minor=plan.amount_minor,
            currency=plan.currency,
            due_date=today(),
            notes=plan.description,
            created_by_id=staff_id,
            subscription_id=sub.id,
        )
        target = await charges.load_target(purpose="invoice", target_id=invoice.id)
        return await charges.begin_payment(
            target, gateway=gateway, method=method, actor=actor, idempotency_key=_payment_key(key)
        )


async def _drive(actor: Actor, gateway: PaymentGateway, payment: Payment, *, fresh: bool) -> SubscribeResult:
    """Take the first payment to its end through the one online charge (`payments.charge_pending`, with
    its own key), then start the gateway subscription, or abandon it if the payment failed."""
    invoice = await Invoice.get(id=payment.invoice_id)
    sub = await Subscription.get_or_none(id=invoice.subscription_id) if invoice.subscription_id else None
    if payment.status == PaymentStatus.pending:
        outcome = await charges.charge_pending(
            payment=payment,
            method=await PaymentMethod.get(id=payment.payment_method_id),
            gateway=gateway,
            declined=_CARD_DECLINED,
            needs_payer=_NEEDS_CARDHOLDER,
            fresh=fresh,
        )
        if outcome.status == "processing":
            return SubscribeResult("pending", _(_NOT_CONFIRMED), sub.id if sub else None)
        payment = await Payment.get(id=payment.id)
    if payment.status == PaymentStatus.pending:
        return SubscribeResult("pending", _(_NOT_CONFIRMED), sub.id if sub else None)
    if payment.status == PaymentStatus.failed:
        await _abandon(actor, invoice, sub, payment)
        return SubscribeResult(
            "declined",
            _(
                "The first payment failed: {reason} No subscription was started.",
                reason=payment.failure_message,
            ),
        )
    if sub is None:  # paid, but the subscription row is gone (deleted by hand): nothing to start
        raise Conflict(_("The first payment was received but its subscription no longer exists."))
    return await _start_at_gateway(actor, gateway, sub, payment, invoice)


_NOT_CONFIRMED = N_(
    "The payment service has not confirmed the first payment yet. Press Subscribe again in a moment: "
    "the card is charged only once."
)


_CARD_DECLINED = N_("The card was declined.")


_NEEDS_CARDHOLDER = N_("The bank asks the cardholder to confirm this payment, which needs them present.")


async def _abandon(actor: Actor, invoice: Invoice, sub: Subscription | None, payment: Payment) -> None:
    """A declined first payment: void its invoice and drop the subscription that never started (once)."""
    async with in_transaction():
        voided = await Invoice.filter(id=invoice.id, status=InvoiceStatus.open).update(
            status=InvoiceStatus.deleted, subscription_id=None
        )
        if sub is not None:
            await Subscription.filter(id=sub.id, status=SubscriptionStatus.incomplete).delete()
        if voided:
            await audit.record(
                actor=actor,
                action="subscription.start_failed",
                subject=f"payment:{payment.id}",
                client_id=payment.client_id,
                details={
                    "plan_id": sub.plan_id if sub else None,
                    "invoice_id": invoice.id,
                    "message": payment.failure_message,
                },
            )


async def _start_at_gateway(
    actor: Actor, gateway: PaymentGateway, sub: Subscription, payment: Payment, invoice: Invoice
) -> SubscribeResult:
    """The first period is paid: the gateway charges the next ones, from the end of this one."""
    if sub.status != SubscriptionStatus.incomplete:
        return SubscribeResult("active", _started(sub), sub.id)

    method = await PaymentMethod.get(id=sub.payment_method_id) if sub.payment_method_id else None
    client = await Client.get(id=sub.client_id)
    start = now_utc()
    try:
        customer = await ensure_customer(client=client, gateway=gateway)
        info = await gateway.create_subscription(
            customer_ref=customer,
            method_ref=method.gateway_ref if method else "",
            amount_minor=sub.amount_minor,
            currency=sub.currency,
            interval=sub.interval,
            description=sub.description or _("Subscription"),
            idempotency_key=f"subscription:{sub.id}:start",
            metadata={"portal_subscription_id": str(sub.id), "plan": str(sub.plan_id or "")},
            trial_end=start + period_length(sub.interval, sub.interval_count),
            interval_count=sub.interval_count,
        )
    except GatewayError as exc:
        log.warning("subscription %s paid but not started at the gateway: %s", sub.id, exc.message)
        return SubscribeResult(
            "pending",
            _(
                "The first payment was received, but the payment service did not start the subscription "
                "({reason}). Press Subscribe again to retry: nothing is charged twice.",
                reason=exc.message,
            ),
            sub.id,
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
            await audit.record(
                actor=actor,
                action="subscription.create",
                subject=f"subscription:{sub.id}",
                client_id=sub.client_id,
                details={
                    "plan_id": sub.plan_id,
                    "amount_minor": sub.amount_minor,
                    "currency": sub.currency,
                    "interval": sub.interval,
                    "interval_count": sub.interval_count,
                    "method_id": sub.payment_method_id,
                    "last4": method.last4 if method else "",
                    "first_payment_id": payment.id,
                    "first_invoice_id": invoice.id,
                },
            )
    if started:
        await publish(
            Event("subscription.changed", client_id=sub.client_id, data={"subscription_id": sub.id})
        )
    return SubscribeResult("active", _started(await Subscription.get(id=sub.id)), sub.id)


def _started(sub: Subscription) -> str:
    if sub.current_period_end is None:
        return _("The subscription started.")
    return _(
        "The subscription started and the first period was paid. Next payment on {date}.",
        date=format_date(sub.current_period_end),
    )

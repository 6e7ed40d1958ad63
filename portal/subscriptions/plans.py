"""Plans (the console's price list for subscriptions) and starting a client's subscription from staff.

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
from datetime import datetime

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from portal.billing import invoices
from portal.clients import profiles
from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.core.paging import Page, bounds, client_matches, fetch
from portal.db.models import Client, Invoice, Payment, PaymentMethod, Plan, Subscription
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.money import normalize_currency, parse_amount
from portal.domain.periods import period_length
from portal.domain.status import (
    Interval,
    InvoiceStatus,
    PaymentStatus,
    SubscriptionStatus,
)
from portal.events import Event, publish
from portal.i18n import N_, _, format_date, get_locale
from portal.payments import online
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError, PaymentGateway
from portal.subscriptions.lifecycle import LIVE, interval_label, method_label

log = logging.getLogger(__name__)

PAGE_SIZE = 25
NAME_MAX = 200
DESCRIPTION_MAX = 2000
KEY_MAX = 100
MAX_COUNT = {"day": 365, "week": 52, "month": 12, "year": 1}
"""The longest billing period a gateway accepts is one year (Stripe's rule, the sandbox follows it)."""
UNITS = {"day": N_("days"), "week": N_("weeks"), "month": N_("months"), "year": N_("years")}
STATUS_FILTERS = tuple(s.value for s in SubscriptionStatus)
STARTABLE = (*LIVE, SubscriptionStatus.incomplete)
"""Statuses a subscription can be canceled from (incomplete: paid for but not started at the gateway)."""
PLAN_NOT_FOUND = N_("That plan does not exist.")
CLIENT_NOT_FOUND = N_("That client does not exist.")


# -- plans ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanView:
    """A plan as the console shows it, with how many subscriptions still run on it."""

    id: int
    name: str
    description: str
    amount_minor: int
    currency: str
    interval: str
    interval_count: int
    active: bool
    live_subscriptions: int

    @property
    def period_label(self) -> str:
        """'per month', 'every 3 months'."""
        return interval_label(self.interval, self.interval_count)


def _view(plan: Plan, live: int) -> PlanView:
    return PlanView(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        amount_minor=plan.amount_minor,
        currency=plan.currency,
        interval=plan.interval,
        interval_count=plan.interval_count,
        active=plan.active,
        live_subscriptions=live,
    )


async def _live_counts(plan_ids: list[int]) -> dict[int, int]:
    if not plan_ids:
        return {}
    rows = (
        await Subscription.filter(plan_id__in=plan_ids, status__in=list(STARTABLE))
        .annotate(n=Count("id"))
        .group_by("plan_id")
        .values("plan_id", "n")
    )
    return {row["plan_id"]: row["n"] for row in rows}


async def list_plans(*, actor: Actor, include_archived: bool = True) -> list[PlanView]:
    """Staff: every plan (active ones first, by name), or only those offered for new subscriptions."""
    require_staff(actor)
    query = Plan.all() if include_archived else Plan.filter(active=True)
    plans = await query.order_by("-active", "name", "id")
    counts = await _live_counts([p.id for p in plans])
    return [_view(p, counts.get(p.id, 0)) for p in plans]


async def default_currency(*, actor: Actor) -> str:
    """Staff: the currency a new plan starts with (the organization's default)."""
    require_staff(actor)
    return (await get_organization()).default_currency


async def get_plan(*, actor: Actor, plan_id: int) -> PlanView:
    """Staff: one plan."""
    require_staff(actor)
    plan = await Plan.get_or_none(id=plan_id)
    if plan is None:
        raise NotFound(_(PLAN_NOT_FOUND))
    return _view(plan, (await _live_counts([plan.id])).get(plan.id, 0))


@dataclass(frozen=True)
class _PlanFields:
    name: str
    description: str
    amount_minor: int
    currency: str
    interval: str
    interval_count: int


def _clean(
    *,
    name: str,
    description: str,
    price: str,
    currency: str,
    interval: str,
    interval_count: int | str | float | None,
    locale: str | None,
) -> _PlanFields:
    """Check every field; the first problem is raised with the field it belongs to."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Enter the plan's name."), field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(_("The name can be at most {max} characters.", max=NAME_MAX), field="name")
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(
            _("The description can be at most {max} characters.", max=DESCRIPTION_MAX), field="description"
        )
    try:
        currency = normalize_currency(currency or "")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="currency") from None
    try:
        amount = parse_amount(price or "", currency, locale or get_locale())
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="price") from None
    if amount <= 0:
        raise InvalidInput(_("The price must be greater than zero."), field="price")
    if interval not in MAX_COUNT:
        raise InvalidInput(
            _("Choose how often the plan is billed: days, weeks, months or years."), field="interval"
        )
    count = _count(interval_count)
    top = MAX_COUNT[interval]
    if count is None or not 1 <= count <= top:
        message = (
            _("Plans billed in years renew every year: enter 1.")
            if top == 1
            else _("Enter a whole number of {unit} from 1 to {max}.", unit=_(UNITS[interval]), max=top)
        )
        raise InvalidInput(message, field="interval_count")
    return _PlanFields(name, description, amount, currency, interval, count)


def _count(value: int | str | float | None) -> int | None:
    """A whole number from a number field (which gives floats) or text; None if it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    return int(text) if text.isdigit() else None


async def _check_name_free(name: str, *, plan_id: int | None) -> None:
    query = Plan.filter(name__iexact=name)
    if plan_id is not None:
        query = query.exclude(id=plan_id)
    if await query.exists():
        raise InvalidInput(_("There is already a plan named “{name}”.", name=name), field="name")


async def create_plan(
    *,
    actor: Actor,
    name: str,
    price: str,
    currency: str,
    interval: str = Interval.month,
    interval_count: int | str | float | None = 1,
    description: str = "",
    locale: str | None = None,
) -> PlanView:
    """Staff: a new plan; `price` is the text typed in the plan's currency (parsed for `locale`)."""
    require_staff(actor)
    fields = _clean(
        name=name,
        description=description,
        price=price,
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        locale=locale,
    )
    async with in_transaction():
        await _check_name_free(fields.name, plan_id=None)
        plan = await Plan.create(**fields.__dict__, active=True)
        await audit.record(
            actor=actor, action="plan.create", subject=f"plan:{plan.id}", details=_details(plan)
        )
    return _view(plan, 0)


async def update_plan(
    *,
    actor: Actor,
    plan_id: int,
    name: str,
    price: str,
    currency: str,
    interval: str,
    interval_count: int | str | float | None,
    description: str = "",
    locale: str | None = None,
) -> PlanView:
    """Staff: change a plan; subscriptions already running keep the price and period they started with."""
    require_staff(actor)
    fields = _clean(
        name=name,
        description=description,
        price=price,
        currency=currency,
        interval=interval,
        interval_count=interval_count,
        locale=locale,
    )
    async with in_transaction():
        plan = await Plan.select_for_update().get_or_none(id=plan_id)
        if plan is None:
            raise NotFound(_(PLAN_NOT_FOUND))
        await _check_name_free(fields.name, plan_id=plan.id)
        before = _details(plan)
        plan.update_from_dict(fields.__dict__)
        await plan.save()
        after = _details(plan)
        changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
        if changed:
            await audit.record(actor=actor, action="plan.update", subject=f"plan:{plan.id}", details=changed)
    return await get_plan(actor=actor, plan_id=plan.id)


def _details(plan: Plan) -> dict[str, object]:
    return {
        "name": plan.name,
        "description": plan.description,
        "amount_minor": plan.amount_minor,
        "currency": plan.currency,
        "interval": plan.interval,
        "interval_count": plan.interval_count,
    }


async def _set_active(actor: Actor, plan_id: int, active: bool) -> PlanView:
    require_staff(actor)
    async with in_transaction():
        plan = await Plan.select_for_update().get_or_none(id=plan_id)
        if plan is None:
            raise NotFound(_(PLAN_NOT_FOUND))
        if plan.active != active:
            plan.active = active
            await plan.save(update_fields=["active"])
            action = "plan.restore" if active else "plan.archive"
            await audit.record(
                actor=actor, action=action, subject=f"plan:{plan.id}", details={"name": plan.name}
            )
    return await get_plan(actor=actor, plan_id=plan_id)


async def archive_plan(*, actor: Actor, plan_id: int) -> PlanView:
    """Staff: stop offering a plan for new subscriptions (running ones continue unchanged)."""
    return await _set_active(actor, plan_id, False)


async def restore_plan(*, actor: Actor, plan_id: int) -> PlanView:
    """Staff: offer an archived plan again."""
    return await _set_active(actor, plan_id, True)


async def delete_plan(*, actor: Actor, plan_id: int) -> None:
    """Staff: delete a plan no running subscription uses (ended ones keep its name as their description)."""
    require_staff(actor)
    async with in_transaction():
        plan = await Plan.select_for_update().get_or_none(id=plan_id)
        if plan is None:
            raise NotFound(_(PLAN_NOT_FOUND))
        live = await Subscription.filter(plan_id=plan.id, status__in=list(STARTABLE)).count()
        if live:
            raise Conflict(
                _(
                    "“{name}” has {count} running subscription(s), so it cannot be deleted. Archive it "
                    "instead: it is then no longer offered, and the running subscriptions continue.",
                    name=plan.name,
                    count=live,
                )
            )
        await Subscription.filter(plan_id=plan.id).update(plan_id=None)
        await plan.delete()
        await audit.record(
            actor=actor, action="plan.delete", subject=f"plan:{plan_id}", details=_details(plan)
        )


# -- the console's subscriptions list -------------------------------------------------------------
@dataclass(frozen=True)
class SubscriptionRow:
    """A subscription as the console list shows it."""

    id: int
    client_id: int
    client_name: str
    plan_id: int | None
    name: str
    amount_minor: int
    currency: str
    interval: str
    interval_count: int
    status: str
    cancel_at_period_end: bool
    current_period_end: datetime | None
    method_label: str

    @property
    def is_live(self) -> bool:
        """Still charging (possibly set to end at the period end)."""
        return self.status in LIVE

    @property
    def period_label(self) -> str:
        """'per month', 'every 3 months'."""
        return interval_label(self.interval, self.interval_count)


@dataclass(frozen=True)
class SubscriptionPage(Page[SubscriptionRow]):
    """One page of the console's subscriptions list."""


def _row(sub: Subscription) -> SubscriptionRow:
    plan = sub.plan if sub.plan_id else None
    method = sub.payment_method if sub.payment_method_id else None
    return SubscriptionRow(
        id=sub.id,
        client_id=sub.client_id,
        client_name=sub.client.name,
        plan_id=sub.plan_id,
        name=(plan.name if plan else "") or sub.description or _("Subscription"),
        amount_minor=sub.amount_minor,
        currency=sub.currency,
        interval=sub.interval,
        interval_count=sub.interval_count,
        status=sub.status,
        cancel_at_period_end=sub.cancel_at_period_end,
        current_period_end=sub.current_period_end,
        method_label=method_label(method),
    )


async def search_subscriptions(
    *,
    actor: Actor,
    status: str = "",
    plan_id: int | None = None,
    search: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> SubscriptionPage:
    """Staff: subscriptions filtered by status, plan and a search on the client, newest first, one page."""
    require_staff(actor)
    if status and status not in STATUS_FILTERS:
        raise InvalidInput(_("Choose a status from the list."), field="status")
    page, page_size = bounds(page, page_size)
    query = Subscription.all()
    if status:
        query = query.filter(status=status)
    if plan_id is not None:
        query = query.filter(plan_id=plan_id)
    if term := (search or "").strip():
        query = query.filter(client_matches(term))
    query = query.prefetch_related("client", "plan", "payment_method")
    subs, total = await fetch(query, page, page_size, "-id")
    return SubscriptionPage(rows=[_row(s) for s in subs], total=total, page=page, page_size=page_size)


async def get_subscription_row(*, actor: Actor, subscription_id: int) -> SubscriptionRow:
    """Staff: one subscription as the console shows it."""
    require_staff(actor)
    sub = await Subscription.get_or_none(id=subscription_id).prefetch_related(
        "client", "plan", "payment_method"
    )
    if sub is None:
        raise NotFound(_("That subscription does not exist."))
    return _row(sub)


# -- subscribing a client -------------------------------------------------------------------------
@dataclass(frozen=True)
class SubscribeOptions:
    """What the subscribe dialog offers: the active plans and the client's usable saved cards (masked)."""

    client_id: int
    client_name: str
    mode: str  # sandbox | test | live
    plans: list[PlanView]
    methods: list[profiles.MethodRow]


async def subscribe_options(*, actor: Actor, client_id: int) -> SubscribeOptions:
    """Staff: the plans on offer and the client's cards of the current gateway account."""
    require_staff(actor)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound(_(CLIENT_NOT_FOUND))
    methods = [
        m for m in await profiles.payment_methods(actor=actor, client_id=client_id) if m.kind == "card"
    ]
    return SubscribeOptions(
        client_id=client.id,
        client_name=client.name,
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
    *, actor: Actor, client_id: int, plan_id: int | None, method_id: int | None, idempotency_key: str
) -> SubscribeResult:
    """Staff: subscribe a client to an active plan, charging the first period now to a saved card.

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
        payment = await _begin(actor, gateway, client_id, plan_id, method_id, key)
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
) -> Payment:
    """Check everything, then write the subscription (incomplete), the first period's invoice and its
    pending payment in one transaction, under the client's lock."""
    if plan_id is None:
        raise InvalidInput(_("Choose a plan."), field="plan")
    if method_id is None:
        raise InvalidInput(_("Choose the card to charge."), field="method")
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
            raise InvalidInput(_(PLAN_NOT_FOUND), field="plan")
        if not plan.active:
            raise InvalidInput(
                _("“{plan}” is archived and no longer offered. Choose another plan.", plan=plan.name),
                field="plan",
            )
        method = await PaymentMethod.get_or_none(id=method_id, client_id=client.id, detached_at__isnull=True)
        if method is None:
            raise InvalidInput(_("Choose one of {client}'s saved cards.", client=client.name), field="method")
        if method.gateway != gateway.key:
            raise InvalidInput(
                _("This card was saved with another payment account and cannot be charged now."),
                field="method",
            )
        if method.kind != "card":
            raise InvalidInput(_("Subscriptions are charged to a card. Choose a saved card."), field="method")
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
        target = await online.load_target(purpose="invoice", target_id=invoice.id)
        return await online.begin_payment(
            target, gateway=gateway, method=method, actor=actor, idempotency_key=_payment_key(key)
        )


async def _drive(actor: Actor, gateway: PaymentGateway, payment: Payment, *, fresh: bool) -> SubscribeResult:
    """Take the first payment to its end through the one online charge (`payments.charge_pending`, with
    its own key), then start the gateway subscription, or abandon it if the payment failed."""
    invoice = await Invoice.get(id=payment.invoice_id)
    sub = await Subscription.get_or_none(id=invoice.subscription_id) if invoice.subscription_id else None
    if payment.status == PaymentStatus.pending:
        outcome = await online.charge_pending(
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
        customer = await online.ensure_customer(client=client, gateway=gateway)
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

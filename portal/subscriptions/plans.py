"""Plans: the console's price list for subscriptions (list, create, update, archive, restore, delete)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from portal.core import audit
from portal.core.actors import Actor, require_staff
from portal.core.organization import get_organization
from portal.db.models import Plan, Subscription
from portal.domain.errors import Conflict, InvalidFields, InvalidInput, NotFound
from portal.domain.money import normalize_currency, parse_amount
from portal.domain.status import LIVE, Interval, SubscriptionStatus
from portal.i18n import N_, _, get_locale, ngettext
from portal.subscriptions.client_subscriptions import interval_label

NAME_MAX = 200
DESCRIPTION_MAX = 2000
MAX_COUNT = {"day": 365, "week": 52, "month": 12, "year": 1}
"""The longest billing period a gateway accepts is one year (Stripe's rule, the sandbox follows it)."""
UNITS = {"day": N_("days"), "week": N_("weeks"), "month": N_("months"), "year": N_("years")}
STARTABLE = (*LIVE, SubscriptionStatus.incomplete)
"""Statuses a subscription can be canceled from (incomplete: paid for but not started at the gateway)."""
PLAN_NOT_FOUND = N_("That plan does not exist.")


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
) -> tuple[_PlanFields, dict[str, str]]:
    """Check every field at once: the cleaned fields and each wrong field's message (empty when none)."""
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = _("Enter the plan's name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("The name can be at most {max} characters.", max=NAME_MAX)
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = _("The description can be at most {max} characters.", max=DESCRIPTION_MAX)
    amount = 0
    try:
        currency = normalize_currency(currency or "")
    except InvalidInput as exc:
        errors["currency"] = exc.message
    else:
        try:
            amount = parse_amount(price or "", currency, locale or get_locale())
        except InvalidInput as exc:
            errors["price"] = exc.message
        else:
            if amount <= 0:
                errors["price"] = _("The price must be greater than zero.")
    count = _count(interval_count)
    if interval not in MAX_COUNT:
        errors["interval"] = _("Choose how often the plan is billed: days, weeks, months or years.")
    elif count is None or not 1 <= count <= MAX_COUNT[interval]:
        top = MAX_COUNT[interval]
        errors["interval_count"] = (
            _("Plans billed in years renew every year: enter 1.")
            if top == 1
            else _("Enter a whole number of {unit} from 1 to {max}.", unit=_(UNITS[interval]), max=top)
        )
    return _PlanFields(name, description, amount, currency, interval, count or 0), errors


async def _checked(*, plan_id: int | None, locale: str | None, **values: Any) -> _PlanFields:
    """The cleaned fields, or InvalidFields naming every wrong field at once (nothing is written)."""
    fields, errors = _clean(locale=locale, **values)
    if "name" not in errors and (taken := await _name_taken(fields.name, plan_id=plan_id)):
        errors["name"] = taken
    if errors:
        raise InvalidFields(errors)
    return fields


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


async def _name_taken(name: str, *, plan_id: int | None) -> str | None:
    query = Plan.filter(name__iexact=name)
    if plan_id is not None:
        query = query.exclude(id=plan_id)
    if await query.exists():
        return _("There is already a plan named “{name}”.", name=name)
    return None


async def _check_name_free(name: str, *, plan_id: int | None) -> None:
    if (taken := await _name_taken(name, plan_id=plan_id)) is not None:
        raise InvalidInput(taken, field="name")


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
    fields = await _checked(
        plan_id=None,
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
    if not await Plan.exists(id=plan_id):
        raise NotFound(_(PLAN_NOT_FOUND))
    fields = await _checked(
        plan_id=plan_id,
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
                ngettext(
                    "“{name}” has {count} running subscription, so it cannot be deleted. Archive it "
                    "instead: it is then no longer offered, and the running subscription continues.",
                    "“{name}” has {count} running subscriptions, so it cannot be deleted. Archive it "
                    "instead: it is then no longer offered, and the running subscriptions continue.",
                    live,
                    name=plan.name,
                )
            )
        await Subscription.filter(plan_id=plan.id).update(plan_id=None)
        await plan.delete()
        await audit.record(
            actor=actor, action="plan.delete", subject=f"plan:{plan_id}", details=_details(plan)
        )

"""The console's subscriptions list: filtered by status, plan and client; one page or one row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.core.actors import Actor, require_staff
from portal.core.paging import Page, bounds, client_matches, fetch
from portal.db.models import Subscription
from portal.domain.errors import InvalidInput, NotFound
from portal.domain.status import LIVE, SubscriptionStatus
from portal.i18n import _
from portal.subscriptions.client_subscriptions import interval_label, method_label

PAGE_SIZE = 25
STATUS_FILTERS = tuple(s.value for s in SubscriptionStatus)


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

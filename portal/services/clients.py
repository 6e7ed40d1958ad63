"""Clients: the console's list (search, paging) and a client's own profile."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.expressions import Q

from portal.db.models import Client, PaymentMethod, Subscription
from portal.domain.errors import NotFound
from portal.domain.status import SubscriptionStatus
from portal.services.actors import Actor, check_client_access, require_staff

PAGE_SIZE = 25


@dataclass(frozen=True)
class ClientRow:
    """A client as the console list shows it."""

    id: int
    name: str
    company: str
    email: str
    currency: str


@dataclass(frozen=True)
class ClientPage:
    """One page of the clients list."""

    rows: list[ClientRow]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class ClientProfile:
    """The header of a client's billing page."""

    id: int
    name: str
    company: str
    email: str
    currency: str
    avatar_path: str
    plans: list[str]
    payment_method_count: int

    @property
    def initials(self) -> str:
        """Up to two initials for an avatar without a picture."""
        parts = [p for p in self.name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"


async def list_clients(
    *, actor: Actor, search: str = "", page: int = 1, page_size: int = PAGE_SIZE
) -> ClientPage:
    """Staff: clients matching a search on name, company or email, one page at a time."""
    require_staff(actor)
    page = max(1, page)
    page_size = min(max(1, page_size), 100)
    query = Client.filter(archived=False)
    if term := search.strip():
        query = query.filter(Q(name__icontains=term) | Q(company__icontains=term) | Q(email__icontains=term))
    total = await query.count()
    clients = await query.order_by("name", "id").offset((page - 1) * page_size).limit(page_size)
    rows = [ClientRow(c.id, c.name, c.company, c.email, c.currency) for c in clients]
    return ClientPage(rows=rows, total=total, page=page, page_size=page_size)


async def get_profile(*, actor: Actor, client_id: int) -> ClientProfile:
    """A client's name, company, avatar and current plans."""
    check_client_access(actor, client_id)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound("That client does not exist.")
    subs = await Subscription.filter(
        client_id=client_id, status__in=[SubscriptionStatus.active, SubscriptionStatus.past_due]
    ).prefetch_related("plan")
    plans = [s.plan.name if s.plan else s.description for s in subs]
    methods = await PaymentMethod.filter(client_id=client_id, detached_at__isnull=True).count()
    return ClientProfile(
        id=client.id,
        name=client.name,
        company=client.company,
        email=client.email,
        currency=client.currency,
        avatar_path=client.avatar_path,
        plans=plans,
        payment_method_count=methods,
    )


@dataclass(frozen=True)
class MethodRow:
    """A saved payment method, masked."""

    id: int
    kind: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    is_default: bool

    @property
    def label(self) -> str:
        """'Visa •••• 4242 (12/2028)'."""
        expiry = f" ({self.exp_month:02d}/{self.exp_year})" if self.exp_month and self.exp_year else ""
        return f"{self.brand.replace('_', ' ').title()} •••• {self.last4}{expiry}"


async def payment_methods(*, actor: Actor, client_id: int) -> list[MethodRow]:
    """A client's saved methods, default first."""
    check_client_access(actor, client_id)
    from portal.services.gateways import current_gateway

    usable = (await current_gateway()).key  # methods saved with another gateway account cannot be charged
    rows = await PaymentMethod.filter(client_id=client_id, detached_at__isnull=True, gateway=usable).order_by(
        "-is_default", "id"
    )
    return [MethodRow(m.id, m.kind, m.brand, m.last4, m.exp_month, m.exp_year, m.is_default) for m in rows]

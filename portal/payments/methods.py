"""Saved payment methods: add a card, make one the default, delete one that pays no subscription.

A card is added on a hosted page, never on ours: Stripe Checkout in setup mode (the card arrives by the
`checkout.session.completed` / `setup_intent.succeeded` webhooks), or in the sandbox its own setup page
(/sandbox/setup/{id}). Either way `record_setup` mirrors the method from the re-fetched setup intent.

The default is one per client and gateway account (the account's customer has one default too, and the
client only ever sees the methods of the account in use). Changes that race (deleting a card while a
subscription is switched to it) take the client's row lock first, as the payment code does.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.config import get_settings
from portal.core import audit
from portal.core.actors import Actor, check_client_access, require_client
from portal.core.clock import now_utc, today
from portal.db.models import Client, GatewayCustomer, PaymentMethod, Subscription
from portal.domain.errors import Conflict, InvalidInput, NotFound
from portal.domain.status import LIVE, brand_label, local_label
from portal.events import Event, publish
from portal.i18n import N_, _, get_locale
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayError, NewCard, PaymentGateway

log = logging.getLogger(__name__)

EXPIRY_WARNING_DAYS = 30
NOT_FOUND = N_("That payment method does not exist.")
SETUP_NOT_FOUND = N_("This card form does not exist. Please start again from your billing page.")
CARD_SAVED = N_("Your card is saved.")
OTHER_ACCOUNT_METHOD = N_("This card was saved with another payment account. Please add it again.")


@dataclass(frozen=True)
class MethodView:
    """A saved method as the billing page lists it."""

    id: int
    kind: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    is_default: bool
    expires_soon: bool
    expired: bool
    kept_because: str = ""  # why it cannot be deleted now (it pays a running subscription), else ''

    @property
    def label(self) -> str:
        """'Visa •••• 4242'."""
        return f"{brand_label(self.brand) or local_label(self.kind)} •••• {self.last4}"

    @property
    def expiry(self) -> str:
        """'12/2028' ('' for methods without an expiry, such as bank debits)."""
        return f"{self.exp_month:02d}/{self.exp_year}" if self.exp_month and self.exp_year else ""


def expiry_state(exp_month: int | None, exp_year: int | None, *, on: date) -> tuple[bool, bool]:
    """(expires soon, expired): a card works until the end of its expiry month; it 'expires soon' once
    that month begins within EXPIRY_WARNING_DAYS (the last month in which it can still be replaced)."""
    if not exp_month or not exp_year:
        return False, False
    horizon = on + timedelta(days=EXPIRY_WARNING_DAYS)
    expired = (exp_year, exp_month) < (on.year, on.month)
    return not expired and (exp_year, exp_month) <= (horizon.year, horizon.month), expired


async def list_methods(*, actor: Actor, client_id: int) -> list[MethodView]:
    """The client's saved methods of the gateway account in use, default first, with expiry warnings."""
    rows = await payment_methods(actor=actor, client_id=client_id)
    now = today()
    paying: dict[int, list[str]] = {}
    subs = Subscription.filter(payment_method_id__in=[row.id for row in rows], status__in=list(LIVE))
    # plain values, the plan's name joined in: one statement and no model objects
    for method_id, plan_name, description in await subs.order_by("id").values_list(
        "payment_method_id", "plan__name", "description"
    ):
        paying.setdefault(method_id, []).append(subscription_label(plan_name, description))
    views = []
    for row in rows:
        soon, expired = expiry_state(row.exp_month, row.exp_year, on=now)
        kept = refusal_message(row, paying[row.id]) if row.id in paying else ""
        views.append(MethodView(*_fields(row), expires_soon=soon, expired=expired, kept_because=kept))
    return views


def _fields(row: MethodRow) -> tuple:
    return row.id, row.kind, row.brand, row.last4, row.exp_month, row.exp_year, row.is_default


# -- adding a card ------------------------------------------------------------------------------------
def _own_url(url: str) -> str:
    """An absolute URL of this portal ('/billing' -> 'https://portal.example/billing'); others refused."""
    base = get_settings().public_url.rstrip("/")
    if url.startswith("/") and not url.startswith("//"):
        return base + url
    if url == base or url.startswith(base + "/"):
        return url
    raise InvalidInput(_("The return address must be a page of this portal."), field="return_url")


async def start_add_card(*, actor: Actor, return_url: str) -> str:
    """Where to send the client to add a card: Stripe Checkout (setup mode) or the sandbox's setup page."""
    client_id = require_client(actor)
    back = _own_url(return_url)
    client = await Client.get_or_none(id=client_id)
    if client is None:
        raise NotFound()
    gateway = await selector.current_gateway()
    try:
        customer = await ensure_customer(client=client, gateway=gateway)
        start = await gateway.create_setup_checkout(
            customer_ref=customer,
            success_url=back,
            cancel_url=back,
            idempotency_key=f"client:{client_id}:setup:{secrets.token_hex(8)}",
            locale=get_locale(),  # the card page speaks the language of the page the client came from
        )
    except GatewayError as exc:
        raise Conflict(_("The card form could not be opened: {problem}", problem=exc.message)) from exc
    await audit.record(
        actor=actor,
        action="payment_method.add_started",
        subject=f"setup:{start.session_id}",
        client_id=client_id,
        details={"gateway": gateway.key},
    )
    return start.url


async def record_setup(*, gateway: PaymentGateway, setup_ref: str, source: str) -> int | None:
    """Mirror the method a setup intent saved (re-fetched at the gateway); return our method's id.

    The client's first method (of this gateway account) becomes the default, here and at the gateway.
    Called by the sandbox setup page and by the webhook of a setup-mode Checkout Session.
    """
    info = await gateway.retrieve_setup_intent(ref=setup_ref)
    if info.status != "succeeded" or not info.method_ref:
        return None
    client = await client_for_customer(gateway=gateway, customer_ref=info.customer_ref)
    if client is None:
        return None
    method = await upsert_method(
        client_id=client.id, customer_ref=info.customer_ref, method_ref=info.method_ref, gateway=gateway
    )
    if method is None or method.detached_at is not None:
        return None
    has_default = await PaymentMethod.filter(
        client_id=client.id, gateway=gateway.key, is_default=True, detached_at__isnull=True
    ).exists()
    if not has_default:  # upsert_method looks for a default in every gateway account, we in this one
        await PaymentMethod.filter(id=method.id).update(is_default=True)
        method.is_default = True
    if method.is_default:
        await gateway.set_default_method(customer_ref=info.customer_ref, method_ref=method.gateway_ref)
    await audit.record(
        actor=None,
        action="payment_method.add",
        subject=f"payment_method:{method.id}",
        client_id=client.id,
        details={"via": source, "brand": method.brand, "last4": method.last4, "default": method.is_default},
    )
    return method.id


@dataclass(frozen=True)
class SetupPage:
    """A sandbox setup session as its page shows it."""

    session_id: str
    status: str  # open | complete
    return_url: str
    locale: str = ""  # the language the page is shown in (the one the client asked in); empty: unknown


@dataclass(frozen=True)
class SetupResult:
    """What happened when the card was submitted on the sandbox setup page."""

    ok: bool
    message: str
    redirect_url: str = ""


async def sandbox_setup_page(*, session_id: str) -> SetupPage:
    """The sandbox setup session behind /sandbox/setup/{id}."""
    try:
        data = await selector.sandbox().setup_details(session_id)
    except GatewayError as exc:
        raise NotFound(_(SETUP_NOT_FOUND)) from exc
    return SetupPage(
        session_id=data["id"],
        status=data["status"],
        return_url=data["success_url"],
        locale=str(data.get("locale") or ""),
    )


async def complete_sandbox_setup(
    *, session_id: str, number: str, exp_month: int, exp_year: int, cvc: str = ""
) -> SetupResult:
    """Save a typed card on a sandbox setup session; a decline is reported in plain words."""
    page = await sandbox_setup_page(session_id=session_id)
    if page.status != "open":  # submitted twice: the card is already saved
        return SetupResult(True, _(CARD_SAVED), page.return_url)
    gateway = selector.sandbox()
    try:
        await gateway.complete_setup(session_id, card=NewCard(number, exp_month, exp_year, cvc))
    except GatewayError as exc:
        return SetupResult(False, exc.message)
    setup_ref = (await gateway.setup_details(session_id))["setup_intent"]
    method_id = await record_setup(gateway=gateway, setup_ref=setup_ref, source=f"setup:{session_id}")
    if method_id is not None:
        client_id = (await PaymentMethod.get(id=method_id)).client_id
        await publish(Event("payment_method.changed", client_id=client_id, data={"method_id": method_id}))
    return SetupResult(True, _(CARD_SAVED), page.return_url)


# -- default and delete -------------------------------------------------------------------------------
async def _method_for(actor: Actor, method_id: int) -> PaymentMethod:
    """A saved method the actor may manage (another client's is 'not found')."""
    method = await PaymentMethod.get_or_none(id=method_id, detached_at__isnull=True)
    if method is None:
        raise NotFound(_(NOT_FOUND))
    try:
        check_client_access(actor, method.client_id)
    except NotFound:
        raise NotFound(_(NOT_FOUND)) from None
    return method


async def _gateway_for(method: PaymentMethod) -> PaymentGateway:
    gateway = await selector.current_gateway()
    if method.gateway != gateway.key:
        raise Conflict(_(OTHER_ACCOUNT_METHOD))
    return gateway


async def _customer_ref(client_id: int, gateway: PaymentGateway) -> str:
    return await ensure_customer(client=await Client.get(id=client_id), gateway=gateway)


async def make_default(*, actor: Actor, method_id: int) -> None:
    """Make a method the client's default (the only one), at the gateway too."""
    method = await _method_for(actor, method_id)
    if method.is_default:
        return
    gateway = await _gateway_for(method)
    try:
        customer = await _customer_ref(method.client_id, gateway)
        await gateway.set_default_method(customer_ref=customer, method_ref=method.gateway_ref)
    except GatewayError as exc:
        raise Conflict(_("The default card was not changed: {problem}", problem=exc.message)) from exc
    async with in_transaction():
        await Client.select_for_update().get(id=method.client_id)
        if not await PaymentMethod.exists(id=method.id, detached_at__isnull=True):
            raise NotFound(_(NOT_FOUND))
        await (
            PaymentMethod.filter(client_id=method.client_id, gateway=gateway.key, is_default=True)
            .exclude(id=method.id)
            .update(is_default=False)
        )
        await PaymentMethod.filter(id=method.id).update(is_default=True)
        await audit.record(
            actor=actor,
            action="payment_method.default",
            subject=f"payment_method:{method.id}",
            client_id=method.client_id,
            details={"brand": method.brand, "last4": method.last4},
        )
    await publish(Event("payment_method.changed", client_id=method.client_id, data={"method_id": method.id}))


def refusal_message(method: PaymentMethod | MethodRow, names: list[str]) -> str:
    """Why a method that pays subscriptions cannot be deleted, naming them."""
    card = method.kind == "card"
    quoted = [f"“{name}”" for name in names]
    if len(quoted) == 1:
        if card:
            return _(
                "This card pays your subscription {name}. Switch that subscription to another card "
                "first (Manage → Change payment method).",
                name=quoted[0],
            )
        return _(
            "This payment method pays your subscription {name}. Switch that subscription to another "
            "payment method first (Manage → Change payment method).",
            name=quoted[0],
        )
    listed = _("{names} and {last}", names=", ".join(quoted[:-1]), last=quoted[-1])
    if card:
        return _(
            "This card pays your subscriptions {names}. Switch those subscriptions to another card "
            "first (Manage → Change payment method).",
            names=listed,
        )
    return _(
        "This payment method pays your subscriptions {names}. Switch those subscriptions to another "
        "payment method first (Manage → Change payment method).",
        names=listed,
    )


async def _refuse_if_paying(method: PaymentMethod) -> None:
    subs = await Subscription.filter(payment_method_id=method.id, status__in=list(LIVE)).order_by("id")
    for sub in subs:
        await sub.fetch_related("plan")
    if subs:
        raise Conflict(refusal_message(method, [subscription_name(sub) for sub in subs]))


async def delete_method(*, actor: Actor, method_id: int) -> None:
    """Remove a saved method, unless a running subscription is charged to it.

    Marked removed here first, under the client's lock (so no subscription can be switched to it
    meanwhile), then detached at the gateway; a refusal there brings it back. When it was the default,
    the newest remaining method of the same account becomes the default.
    """
    method = await _method_for(actor, method_id)
    gateway = await _gateway_for(method)
    async with in_transaction():
        await Client.select_for_update().get(id=method.client_id)
        method = await PaymentMethod.select_for_update().get(id=method.id)
        if method.detached_at is not None:
            raise NotFound(_(NOT_FOUND))
        await _refuse_if_paying(method)
        await PaymentMethod.filter(id=method.id).update(detached_at=now_utc())
    try:
        await gateway.detach_method(method_ref=method.gateway_ref)
    except GatewayError as exc:
        if exc.code != "resource_missing":  # already gone at the gateway: removed all the same
            await PaymentMethod.filter(id=method.id).update(detached_at=None)
            raise Conflict(_("The card was not removed: {problem}", problem=exc.message)) from exc
    promoted = await _after_detach(actor, method, gateway)
    if promoted is not None:
        try:
            customer = await _customer_ref(method.client_id, gateway)
            await gateway.set_default_method(customer_ref=customer, method_ref=promoted.gateway_ref)
        except GatewayError as exc:
            log.warning("new default method %s not set at the gateway: %s", promoted.id, exc.message)
    await publish(Event("payment_method.changed", client_id=method.client_id, data={"method_id": method.id}))


async def _after_detach(actor: Actor, method: PaymentMethod, gateway: PaymentGateway) -> PaymentMethod | None:
    """Drop the default flag of a removed method, promote the newest remaining one; audit. Returns it."""
    promoted = None
    async with in_transaction():
        await Client.select_for_update().get(id=method.client_id)
        if method.is_default:
            await PaymentMethod.filter(id=method.id).update(is_default=False)
            promoted = (
                await PaymentMethod.filter(
                    client_id=method.client_id, gateway=gateway.key, detached_at__isnull=True
                )
                .order_by("-created_at", "-id")
                .first()
            )
            if promoted is not None:
                await PaymentMethod.filter(id=promoted.id).update(is_default=True)
            elif await Client.filter(id=method.client_id, auto_charge=True).update(auto_charge=False):
                # nothing left to charge: auto-charge stops rather than failing on every new invoice
                await audit.record(
                    actor=actor,
                    action="client.auto_charge",
                    subject=f"client:{method.client_id}",
                    client_id=method.client_id,
                    details={"enabled": False, "reason": "last card removed"},
                )
        await audit.record(
            actor=actor,
            action="payment_method.delete",
            subject=f"payment_method:{method.id}",
            client_id=method.client_id,
            details={
                "brand": method.brand,
                "last4": method.last4,
                "new_default_id": promoted.id if promoted else None,
            },
        )
    return promoted


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
        return f"{brand_label(self.brand) or local_label(self.kind)} •••• {self.last4}{expiry}"


async def payment_methods(*, actor: Actor, client_id: int) -> list[MethodRow]:
    """A client's saved methods, default first."""
    check_client_access(actor, client_id)
    usable = (
        await selector.current_gateway()
    ).key  # methods saved with another gateway account cannot be charged
    query = PaymentMethod.filter(client_id=client_id, detached_at__isnull=True, gateway=usable)
    # plain values: no model object per row
    rows = await query.order_by("-is_default", "id").values_list(
        "id", "kind", "brand", "last4", "exp_month", "exp_year", "is_default"
    )
    return [MethodRow(*row) for row in rows]


def subscription_name(sub: Subscription) -> str:
    """The plan's name, else the subscription's description (the plan must be fetched)."""
    plan = sub.plan if sub.plan_id else None
    return subscription_label(plan.name if plan else None, sub.description)


def subscription_label(plan_name: str | None, description: str) -> str:
    """What a subscription is called: its plan's name, else its description, else 'Subscription'."""
    return plan_name or description or _("Subscription")


METHOD_LABELS = {
    "card": N_("Card"),
    "bank_transfer": N_("Bank transfer"),
    "direct_debit": N_("Direct debit"),
    "cash": N_("Cash"),
    "cheque": N_("Cheque"),
    "other": N_("Other"),
}


def method_label(method: str, saved: PaymentMethod | None = None) -> str:
    """'Visa •••• 4242' for a saved card, else 'Bank transfer', 'Cash', 'Card'... (in the current locale)"""
    if saved is not None and saved.kind == "card" and saved.last4:
        return f"{brand_label(saved.brand) or _('Card')} •••• {saved.last4}"
    return _(METHOD_LABELS.get(method, method.replace("_", " ").capitalize()))


async def ensure_customer(*, client: Client, gateway: PaymentGateway) -> str:
    """The client's customer at the gateway, created once."""
    existing = await GatewayCustomer.get_or_none(client_id=client.id, gateway=gateway.key)
    if existing is not None:
        return existing.ref
    ref = await gateway.create_customer(
        email=client.email, name=client.name, idempotency_key=f"client:{client.id}:customer:{gateway.key}"
    )
    try:
        async with in_transaction():
            await GatewayCustomer.create(client_id=client.id, gateway=gateway.key, ref=ref)
    except IntegrityError:  # created by a concurrent request with the same idempotency key
        pass
    return (await GatewayCustomer.get(client_id=client.id, gateway=gateway.key)).ref


async def client_for_customer(*, gateway: PaymentGateway, customer_ref: str) -> Client | None:
    """The client behind a gateway customer reference (None when it is not ours)."""
    if not customer_ref:
        return None
    row = await GatewayCustomer.get_or_none(gateway=gateway.key, ref=customer_ref).prefetch_related("client")
    return row.client if row else None


async def upsert_method(
    *, client_id: int | None, customer_ref: str, method_ref: str, gateway: PaymentGateway
) -> PaymentMethod | None:
    """Mirror a gateway payment method in our table (after a checkout saved it)."""
    if client_id is None or not method_ref:
        return None
    existing = await PaymentMethod.get_or_none(gateway=gateway.key, gateway_ref=method_ref)
    if existing is not None:
        return existing
    saved = next(
        (m for m in await gateway.list_methods(customer_ref=customer_ref) if m.ref == method_ref), None
    )
    if saved is None:
        return None
    has_default = await PaymentMethod.filter(
        client_id=client_id, is_default=True, detached_at__isnull=True
    ).exists()
    try:
        return await PaymentMethod.create(
            client_id=client_id,
            gateway=gateway.key,
            gateway_ref=saved.ref,
            kind=saved.kind,
            brand=saved.brand,
            last4=saved.last4,
            exp_month=saved.exp_month,
            exp_year=saved.exp_year,
            is_default=not has_default,
        )
    except IntegrityError:
        return await PaymentMethod.get(gateway=gateway.key, gateway_ref=method_ref)

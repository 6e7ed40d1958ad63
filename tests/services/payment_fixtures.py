"""Shared set-up for payment tests: a client with a sandbox customer and cards, and invoices to pay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Client, PaymentMethod
from portal.payments import ledger, methods
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import NewCard
from portal.payments.gateways.sandbox import SandboxGateway
from tests.services.conftest import World

VISA = "4242424242424242"
DECLINES_ON_CHARGE = "4000000000000341"


def sandbox() -> SandboxGateway:
    """The sandbox wired to the real event handlers, as the app uses it."""
    return selector.sandbox()


async def add_card(
    world: World, number: str = VISA, *, default: bool = True, client_id: int | None = None
) -> int:
    """Save a card for Alice (or another client) in the sandbox and mirror it like the app does."""
    client = await Client.get(id=client_id or world.alice_id)
    gateway = SandboxGateway()  # no events: the test writes the row itself
    saved = await gateway.save_method(
        customer_ref=await methods.ensure_customer(client=client, gateway=gateway),
        method=NewCard(number, 12, today().year + 3, "123"),
        idempotency_key=f"t:{client.id}:{number}:{default}",
    )
    method = await PaymentMethod.create(
        client_id=client.id,
        gateway="sandbox",
        gateway_ref=saved.ref,
        kind="card",
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        is_default=default,
    )
    return method.id


async def invoice_for(world: World, amount: int, *, client_id: int | None = None, days: int = 10) -> int:
    """An open invoice without tax for exactly `amount` minor units."""
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=client_id or world.alice_id,
        lines=[LineDraft("Work", Decimal(1), amount, Decimal(0))],
        due_date=today() + timedelta(days=days),
    )


async def cash_payment(world: World, amount: int, *, to_credit: bool = False, key: str | None = None) -> int:
    """Alice pays `amount` USD cash, recorded by staff (oldest invoice first; what is over becomes credit
    only with `to_credit`); the payment's id."""
    result = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=amount,
        currency="USD",
        method="cash",
        received_on=today(),
        overpayment_to_credit=to_credit,
        idempotency_key=key,
    )
    return result.payment_id

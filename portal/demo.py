"""Demo data for a new database: an agency, its people, three clients and their billing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from portal.accounts import sessions
from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.billing.quote_editor import next_quote_number
from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.core.organization import get_organization
from portal.db.models import (
    BillingRequest,
    Client,
    PaymentMethod,
    Plan,
    Quote,
    QuoteLine,
    Subscription,
    TaxRate,
    User,
)
from portal.domain.status import BillingRequestStatus, QuoteStatus, Role, SubscriptionStatus
from portal.domain.tax import LineInput, invoice_totals, line_amounts
from portal.payments import ledger, methods
from portal.payments.gateways.protocol import NewCard
from portal.payments.gateways.sandbox import SandboxGateway

DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoLogin:
    """A demo account to print."""

    role: str
    email: str
    password: str


DEMO_LOGINS = [
    DemoLogin("admin", "admin@demo.test", DEMO_PASSWORD),
    DemoLogin("staff", "staff@demo.test", DEMO_PASSWORD),
    DemoLogin("client", "client@demo.test", DEMO_PASSWORD),
    DemoLogin("client (EUR)", "emile@demo.test", DEMO_PASSWORD),
    DemoLogin("client (JPY)", "yuki@demo.test", DEMO_PASSWORD),
]


async def is_empty() -> bool:
    """True when nobody can sign in yet (a new database)."""
    return not await User.exists()


async def load_demo() -> list[DemoLogin]:
    """Create the demo data if the database is empty; return the demo logins."""
    if not await is_empty():
        return DEMO_LOGINS
    async with in_transaction():
        await _load()
    return DEMO_LOGINS


async def _load() -> None:
    org = await get_organization()
    org.name = "Northwind Studio"
    org.billing_address = "12 Harbour Road\nBristol BS1 4QA\nUnited Kingdom"
    org.bank_details = "Northwind Studio Ltd\nIBAN GB33 BUKB 2020 1555 5555 55\nBIC BUKBGB22"
    org.default_currency = "USD"
    org.privacy_url = "https://northwind.example/privacy"
    # its legal identity (Settings, Organization): what its e-invoices name as the seller
    org.legal_name, org.legal_form, org.company_id = (
        "Northwind Studio Ltd",
        "Private limited company",
        "09876543",
    )
    org.vat_number, org.postcode, org.city, org.country = "GB980780684", "BS1 4QA", "Bristol", "GB"
    org.terms_url = "https://northwind.example/terms"
    await org.save()

    vat = await TaxRate.create(name="VAT", rate=Decimal("20"))
    await TaxRate.create(name="NY sales tax", rate=Decimal("8.875"))
    jct = await TaxRate.create(name="Consumption tax", rate=Decimal("10"))

    admin_id = await sessions.create_user(
        email="admin@demo.test", password=DEMO_PASSWORD, role=Role.admin, full_name="Alex Admin"
    )
    await sessions.create_user(
        email="staff@demo.test", password=DEMO_PASSWORD, role=Role.staff, full_name="Sam Staff"
    )
    admin = Actor(user_id=admin_id, role=Role.admin, email="admin@demo.test", name="Alex Admin")

    ada = await Client.create(
        name="Ada Lovelace", company="Analytical Engines Ltd", email="client@demo.test", currency="USD"
    )
    emile = await Client.create(
        name="Émile Durand", company="Atelier Durand", email="emile@demo.test", currency="EUR", locale="fr"
    )
    yuki = await Client.create(name="Yuki Tanaka", company="", email="yuki@demo.test", currency="JPY")
    for client, email in ((ada, "client@demo.test"), (emile, "emile@demo.test"), (yuki, "yuki@demo.test")):
        await sessions.create_user(
            email=email, password=DEMO_PASSWORD, role=Role.client, full_name=client.name, client_id=client.id
        )

    bank = SandboxGateway()  # no events: the demo writes its own rows
    soon = today()  # a card that expires at the end of this month: the dashboard asks to replace it
    ada_visa = await _card(bank, ada, "4242424242424242", 12, today().year + 2, default=True)
    await _card(bank, ada, "5555555555554444", soon.month, soon.year)
    await _card(bank, emile, "4242424242424242", 6, today().year + 3, default=True)
    yuki_card = await _card(bank, yuki, "3566002020360505", 3, today().year + 2, default=True)

    care = await Plan.create(name="Website Care", amount_minor=4900, currency="USD", interval="month")
    await Plan.create(name="Hosting", amount_minor=1900, currency="EUR", interval="month")
    support = await Plan.create(name="Design Support", amount_minor=5000, currency="JPY", interval="month")
    now = now_utc()
    for client, plan, method in ((ada, care, ada_visa), (yuki, support, yuki_card)):
        renewal = await bank.create_subscription(
            customer_ref=await methods.ensure_customer(client=client, gateway=bank),
            method_ref=method.gateway_ref,
            amount_minor=plan.amount_minor,
            currency=plan.currency,
            interval=plan.interval,
            description=plan.name,
            idempotency_key=f"demo:subscription:{client.id}:{plan.id}",
            metadata={},
            trial_end=now + timedelta(days=20),
        )
        await Subscription.create(
            client=client,
            plan=plan,
            description=plan.name,
            amount_minor=plan.amount_minor,
            currency=plan.currency,
            interval=plan.interval,
            status=SubscriptionStatus.active,
            payment_method=method,
            gateway="sandbox",
            gateway_ref=renewal.ref,
            current_period_start=now - timedelta(days=10),
            current_period_end=now + timedelta(days=20),
        )

    vat_rate = Decimal(vat.rate)
    design = LineDraft("Website redesign", Decimal(1), 120000, vat_rate, "VAT", today() - timedelta(days=5))
    hosting = LineDraft("Hosting, 3 months", Decimal(3), 1999, vat_rate, "VAT", today() - timedelta(days=5))
    await invoices.create_invoice(
        actor=admin, client_id=ada.id, lines=[design, hosting], due_date=today() + timedelta(days=14)
    )
    await invoices.create_invoice(
        actor=admin,
        client_id=ada.id,
        issue_date=today() - timedelta(days=40),
        due_date=today() - timedelta(days=10),
        lines=[LineDraft("SEO audit", Decimal("2.5"), 8000, vat_rate, "VAT", today() - timedelta(days=40))],
    )
    paid_id = await invoices.create_invoice(
        actor=admin,
        client_id=ada.id,
        issue_date=today() - timedelta(days=60),
        due_date=today() - timedelta(days=30),
        lines=[LineDraft("Logo design", Decimal(1), 45000, vat_rate, "VAT", today() - timedelta(days=60))],
    )
    paid = await invoices.get_invoice_summary(actor=admin, invoice_id=paid_id)
    await ledger.record_offline_payment(
        actor=admin,
        client_id=ada.id,
        amount_minor=paid.amount_due_minor,
        currency="USD",
        method="bank_transfer",
        received_on=today() - timedelta(days=32),
        reference="BT-2291",
        invoice_id=paid_id,
    )
    await ledger.adjust_credit(
        actor=admin, client_id=ada.id, amount_minor=2500, currency="USD", note="Goodwill credit for a delay"
    )
    await invoices.create_invoice(
        actor=admin,
        client_id=emile.id,
        due_date=today() + timedelta(days=30),
        lines=[LineDraft("Brand workshop", Decimal(2), 65000, vat_rate, "TVA", today())],
    )
    await invoices.create_invoice(
        actor=admin,
        client_id=yuki.id,
        due_date=today() + timedelta(days=7),
        lines=[
            LineDraft("Illustration set", Decimal(4), 12000, Decimal(jct.rate), "Consumption tax", today())
        ],
    )

    await _quote(ada, "estimate", "Mobile app prototype", [("Prototype, 10 screens", 1, 350000)], vat_rate)
    await _quote(ada, "proposal", "Annual retainer 2027", [("Retainer, per month", 12, 150000)], vat_rate)

    await BillingRequest.create(
        client=ada,
        email=ada.email,
        description="Rush fee for launch weekend",
        currency="USD",
        amount_minor=25000,
        success_url="https://northwind.example/thanks",
        cancel_url="https://northwind.example/cancelled",
        status=BillingRequestStatus.pending,
        sent_at=now,
        expires_at=now + timedelta(hours=24),
        created_by_id=admin_id,
    )
    await BillingRequest.create(
        client=ada,
        email=ada.email,
        description="Stock photos",
        currency="USD",
        amount_minor=4500,
        success_url="https://northwind.example/thanks",
        cancel_url="https://northwind.example/cancelled",
        status=BillingRequestStatus.expired,
        sent_at=now - timedelta(days=2),
        expires_at=now - timedelta(days=1),
        created_by_id=admin_id,
    )


async def _card(
    bank: SandboxGateway, client: Client, number: str, month: int, year: int, *, default: bool = False
) -> PaymentMethod:
    """A card saved in the sandbox, mirrored in our table like a real setup would."""
    saved = await bank.save_method(
        customer_ref=await methods.ensure_customer(client=client, gateway=bank),
        method=NewCard(number, month, year, "123"),
        idempotency_key=f"demo:card:{client.id}:{number}",
    )
    return await PaymentMethod.create(
        client=client,
        gateway="sandbox",
        gateway_ref=saved.ref,
        kind=saved.kind,
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        is_default=default,
    )


async def _quote(
    client: Client, kind: str, title: str, lines: list[tuple[str, int, int]], rate: Decimal
) -> None:
    inputs = [LineInput(Decimal(q), price, rate) for _, q, price in lines]
    totals = invoice_totals(inputs)
    quote = await Quote.create(
        kind=kind,
        client=client,
        number=await next_quote_number(kind),  # a sent quote carries its number, as `send_quote` gives it
        title=title,
        status=QuoteStatus.sent,
        currency=client.currency,
        issue_date=today(),
        valid_until=today() + timedelta(days=30),
        terms="Valid for 30 days. 50% due on approval.",
        subtotal_minor=totals.subtotal_minor,
        tax_minor=totals.tax_minor,
        total_minor=totals.total_minor,
    )
    for position, ((description, _, _), item) in enumerate(zip(lines, inputs, strict=True)):
        amounts = line_amounts(item)
        await QuoteLine.create(
            quote=quote,
            position=position,
            description=description,
            quantity=item.quantity,
            unit_price_minor=item.unit_price_minor,
            tax_name="VAT",
            tax_rate=rate,
            net_minor=amounts.net_minor,
            tax_minor=amounts.tax_minor,
            gross_minor=amounts.gross_minor,
        )

"""The console's role rules at the service level, swept over every staff-only and admin-only service.

For each entry of `RULES` on a fresh database with real records to act on:
1. a client actor (Alice, acting even on her own records) gets `Forbidden` or `NotFound`;
2. admin-only entries also refuse a staff member with `Forbidden`;
3. after each refusal every table holds exactly what it held before (no row written, changed or removed,
   no email queued, nothing sent to the sandbox gateway);
4. the same call by the least role allowed gets through the role check (it may still meet a business rule,
   but never `Forbidden` or `NotFound`), which proves the refusal came from the role and not from bad ids.

`test_every_role_checked_service_is_in_the_table` reads the use-case packages (`tests/packages.py`) and
fails for any public service that calls `require_staff` or `require_admin` and is missing here, so a
new console service cannot be left out. To add one: a line in `RULES` (module, function, the keyword
arguments but `actor`, and the level).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise import Tortoise

from portal.billing import billing_requests, invoices
from portal.billing.invoices import LineDraft
from portal.clients import imports
from portal.core.actors import Actor
from portal.core.clock import now_utc, today
from portal.db.models import Client, ImpersonationSession, Quote, QuoteLine, TaxRate
from portal.domain.errors import DomainError, Forbidden, NotFound
from portal.payments import credit_requests
from portal.subscriptions import plans, subscribe
from tests.packages import use_case_modules
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card

STAFF, ADMIN = "staff", "admin"


@dataclass
class Records:
    """Real records of every kind for the calls to act on (Alice's, so that a client acts on her own)."""

    world: World
    plan_id: int = 0
    card_id: int = 0
    subscription_id: int = 0
    online_payment_id: int = 0
    open_invoice_id: int = 0
    draft_invoice_id: int = 0
    draft_quote_id: int = 0
    approved_quote_id: int = 0
    billing_request_id: int = 0
    credit_request_id: int = 0
    tax_rate_id: int = 0
    lapsed_impersonation_id: int = 0
    uninvited_client_id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def alice(self) -> int:
        return self.world.alice_id


@pytest.fixture(autouse=True)
def sandbox_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox takes the payments (no Stripe key from the environment)."""
    monkeypatch.setenv("PUBLIC_URL", "https://portal.example")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)


async def _quote(client_id: int, status: str) -> int:
    quote = await Quote.create(
        kind="estimate",
        client_id=client_id,
        number=None if status == "draft" else f"EST-{status}",
        title="Redesign",
        status=status,
        currency="USD",
        issue_date=today(),
        valid_until=today() + timedelta(days=30),
        subtotal_minor=10000,
        tax_minor=0,
        total_minor=10000,
    )
    await QuoteLine.create(
        quote_id=quote.id,
        description="Design",
        quantity=Decimal(1),
        unit_price_minor=10000,
        tax_rate=Decimal(0),
        net_minor=10000,
        tax_minor=0,
        gross_minor=10000,
    )
    return quote.id


@pytest.fixture
async def records(world: World) -> Records:
    staff = world.staff
    r = Records(world)
    r.plan_id = (await plans.create_plan(actor=staff, name="Care", price="49", currency="USD")).id
    other_plan = (await plans.create_plan(actor=staff, name="Hosting", price="19", currency="USD")).id
    r.card_id = await add_card(world)
    started = await subscribe.subscribe(
        actor=staff, client_id=r.alice, plan_id=other_plan, method_id=r.card_id, idempotency_key="records"
    )
    assert started.ok, started.message
    r.subscription_id = started.subscription_id or 0
    from portal.db.models import Invoice, Payment

    first_invoice = await Invoice.get(subscription_id=r.subscription_id)
    r.online_payment_id = (await Payment.get(invoice_id=first_invoice.id)).id
    line = LineDraft("Work", Decimal(1), 12000, Decimal(0))
    r.open_invoice_id = await invoices.create_invoice(
        actor=staff, client_id=r.alice, lines=[line], due_date=today() + timedelta(days=10)
    )
    r.draft_invoice_id = await invoices.create_invoice(
        actor=staff, client_id=r.alice, lines=[line], due_date=today() + timedelta(days=10), send=False
    )
    r.draft_quote_id = await _quote(r.alice, "draft")
    r.approved_quote_id = await _quote(r.alice, "approved")
    sent = await billing_requests.create_billing_request(
        actor=staff,
        client_id=r.alice,
        email="alice@x.test",
        currency="USD",
        amount_minor=5000,
        success_url="https://a.example/ok",
        cancel_url="https://a.example/no",
        billing_type="one_time",
    )
    r.billing_request_id = sent.id
    r.credit_request_id = await credit_requests.create_credit_request(
        actor=staff, client_id=r.alice, amount_minor=3000, currency="USD"
    )
    r.tax_rate_id = (await TaxRate.create(name="VAT", rate=Decimal("20"))).id
    r.lapsed_impersonation_id = (
        await ImpersonationSession.create(
            admin_id=world.admin.user_id,
            client_id=r.alice,
            reason="Ticket 12",
            expires_at=now_utc() - timedelta(minutes=1),
        )
    ).id
    r.uninvited_client_id = (await Client.create(name="Carol Cook", email="carol@x.test", currency="USD")).id
    return r


# -- the table ------------------------------------------------------------------------------------
Kwargs = Callable[[Records], dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    """One service: where it is, the keyword arguments of a real call (all but `actor`), who may call it."""

    module: str
    function: str
    kwargs: Kwargs
    level: str = STAFF
    permitted_actor: str = ""  # "admin" when only the admin owns the record acted on (own sessions)
    marks: tuple[Any, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.module}.{self.function}"


def _client_form() -> Any:
    from portal.clients.profiles import ClientForm

    return ClientForm(name="Dan Dale", email="dan@x.test", currency="USD")


def _invoice_form() -> Any:
    from portal.billing.invoice_editor import InvoiceForm
    from portal.billing.line_input import LineForm

    return InvoiceForm(
        currency="USD",
        issue_date=today().isoformat(),
        due_date=(today() + timedelta(days=14)).isoformat(),
        lines=[LineForm(description="Work", quantity="1", unit_price="100.00")],
    )


def _quote_form() -> Any:
    from portal.billing.line_input import LineForm
    from portal.billing.quote_editor import QuoteForm

    return QuoteForm(
        currency="USD", title="Audit", lines=[LineForm(description="Audit", quantity="1", unit_price="80")]
    )


def _legal_identity() -> Any:
    from portal.settings.business_details import LegalIdentityView

    return LegalIdentityView("Acme SAS", "SAS", "732829320", "FR40303265045", "75002", "Paris", "FR", False)


def _smtp_form() -> Any:
    from portal.settings.email import SmtpForm

    return SmtpForm(mode="default")


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (4, 4), "#2563eb").save(buffer, format="PNG")
    return buffer.getvalue()


NOTHING: Kwargs = lambda r: {}  # noqa: E731

RULES: list[Rule] = [
    # clients and the client record
    Rule("clients.profiles", "list_clients", NOTHING),
    Rule("clients.profiles", "client_currencies", NOTHING),
    Rule("clients.profiles", "new_client_form", NOTHING),
    Rule("clients.profiles", "get_client_form", lambda r: {"client_id": r.alice}),
    Rule("clients.profiles", "create_client", lambda r: {"form": _client_form()}),
    Rule("clients.profiles", "update_client", lambda r: {"client_id": r.alice, "form": _client_form()}),
    Rule("clients.client_record", "get_client_record", lambda r: {"client_id": r.alice}),
    Rule("accounts.invitations", "invite_client", lambda r: {"client_id": r.uninvited_client_id}),
    # invoices
    Rule(
        "billing.invoices",
        "create_invoice",
        lambda r: {
            "client_id": r.alice,
            "lines": [LineDraft("Work", Decimal(1), 500, Decimal(0))],
            "due_date": today() + timedelta(days=5),
        },
    ),
    Rule("billing.invoice_list", "list_invoices", NOTHING),
    Rule("billing.invoice_editor", "new_invoice", lambda r: {"client_id": r.alice}),
    Rule("billing.invoice_editor", "get_invoice_editor", lambda r: {"invoice_id": r.draft_invoice_id}),
    Rule("billing.invoice_editor", "save_draft", lambda r: {"form": _invoice_form(), "client_id": r.alice}),
    Rule("billing.invoice_editor", "send_invoice", lambda r: {"invoice_id": r.draft_invoice_id}),
    Rule("billing.invoice_editor", "resend_invoice", lambda r: {"invoice_id": r.open_invoice_id}),
    Rule("billing.invoice_editor", "void_invoice", lambda r: {"invoice_id": r.open_invoice_id}),
    Rule("billing.invoice_editor", "duplicate_invoice", lambda r: {"invoice_id": r.open_invoice_id}),
    Rule(
        "billing.invoice_editor",
        "draft_from_lines",
        lambda r: {
            "client_id": r.alice,
            "currency": "USD",
            "drafts": [LineDraft("Work", Decimal(1), 500, Decimal(0))],
            "action_details": {},
        },
    ),
    # estimates and proposals
    Rule("billing.quote_editor", "list_quotes", NOTHING),
    Rule("billing.quote_editor", "new_quote", lambda r: {"client_id": r.alice, "kind": "estimate"}),
    Rule("billing.quote_editor", "get_quote_editor", lambda r: {"quote_id": r.draft_quote_id}),
    Rule(
        "billing.quote_editor",
        "save_quote_draft",
        lambda r: {"form": _quote_form(), "client_id": r.alice, "kind": "estimate"},
    ),
    Rule("billing.quote_editor", "send_quote", lambda r: {"quote_id": r.draft_quote_id}),
    Rule("billing.quote_editor", "convert_quote", lambda r: {"quote_id": r.approved_quote_id}),
    # billing and credit requests, payments, credit
    Rule(
        "billing.billing_requests",
        "create_billing_request",
        lambda r: {
            "client_id": r.alice,
            "email": "alice@x.test",
            "currency": "USD",
            "amount_minor": 2500,
            "success_url": "https://a.example/ok",
            "cancel_url": "https://a.example/no",
            "billing_type": "one_time",
        },
    ),
    Rule(
        "billing.billing_requests",
        "delete_billing_request",
        lambda r: {"request_id": r.billing_request_id},
    ),
    Rule("billing.billing_requests", "list_billing_requests", NOTHING),
    Rule("billing.billing_requests", "billing_request_link", lambda r: {"request_id": r.billing_request_id}),
    Rule("billing.staff_charges", "payment_context", lambda r: {"client_id": r.alice}),
    Rule(
        "billing.staff_charges",
        "charge_stored_method",
        lambda r: {
            "client_id": r.alice,
            "invoice_id": r.open_invoice_id,
            "method_id": r.card_id,
            "idempotency_key": "roles-sweep-key",
        },
    ),
    Rule(
        "payments.credit_requests",
        "create_credit_request",
        lambda r: {"client_id": r.alice, "amount_minor": 100, "currency": "USD"},
    ),
    Rule(
        "payments.credit_requests",
        "delete_credit_request",
        lambda r: {"credit_request_id": r.credit_request_id},
    ),
    Rule(
        "payments.ledger",
        "record_offline_payment",
        lambda r: {
            "client_id": r.alice,
            "amount_minor": 12000,
            "currency": "USD",
            "method": "cash",
            "received_on": today(),
            "invoice_id": r.open_invoice_id,
        },
    ),
    Rule(
        "payments.ledger",
        "adjust_credit",
        lambda r: {"client_id": r.alice, "amount_minor": 500, "currency": "USD", "note": "Goodwill"},
    ),
    Rule(
        "payments.refunds",
        "refund_payment",
        lambda r: {"payment_id": r.online_payment_id, "amount_minor": 100},
    ),
    Rule("payments.refunds", "refund_offer", lambda r: {"payment_id": r.online_payment_id}),
    Rule(
        "billing.refund_credit",
        "refund",
        lambda r: {"payment_id": r.online_payment_id, "amount_minor": 100},
    ),
    # the accountant's files and the clients import
    Rule(
        "billing.exports",
        "open_export",
        lambda r: {"kind": "payments", "date_from": "2026-01-01", "date_to": "2026-12-31"},
    ),
    Rule("clients.imports", "preview_import", lambda r: {"data": b"name,email\nNew Co,new@co.test\n"}),
    Rule(
        "clients.imports",
        "confirm_import",
        lambda r: {"preview": imports.ImportPreview(key="roles", filename="clients.csv", rows=())},
    ),
    Rule("payments.charges", "set_auto_charge", lambda r: {"client_id": r.alice, "enabled": True}),
    # plans and subscriptions
    Rule("subscriptions.plans", "list_plans", NOTHING),
    Rule("subscriptions.plans", "default_currency", NOTHING),
    Rule("subscriptions.plans", "get_plan", lambda r: {"plan_id": r.plan_id}),
    Rule(
        "subscriptions.plans",
        "create_plan",
        lambda r: {"name": "Mine", "price": "5", "currency": "USD"},
    ),
    Rule(
        "subscriptions.plans",
        "update_plan",
        lambda r: {
            "plan_id": r.plan_id,
            "name": "Mine",
            "price": "5",
            "currency": "USD",
            "interval": "month",
            "interval_count": 1,
        },
    ),
    Rule("subscriptions.plans", "archive_plan", lambda r: {"plan_id": r.plan_id}),
    Rule("subscriptions.plans", "restore_plan", lambda r: {"plan_id": r.plan_id}),
    Rule("subscriptions.plans", "delete_plan", lambda r: {"plan_id": r.plan_id}),
    Rule("subscriptions.subscription_list", "search_subscriptions", NOTHING),
    Rule(
        "subscriptions.subscription_list",
        "get_subscription_row",
        lambda r: {"subscription_id": r.subscription_id},
    ),
    Rule("subscriptions.subscribe", "subscribe_options", lambda r: {"client_id": r.alice}),
    Rule(
        "subscriptions.subscribe",
        "subscribe",
        lambda r: {
            "client_id": r.alice,
            "plan_id": r.plan_id,
            "method_id": r.card_id,
            "idempotency_key": "roles-sweep-key",
        },
    ),
    Rule(
        "subscriptions.client_subscriptions", "cancel_now", lambda r: {"subscription_id": r.subscription_id}
    ),
    # overview and audit log
    Rule("billing.overview", "get_overview", NOTHING),
    Rule("billing.overview", "receivables", NOTHING),
    Rule("billing.overview", "payments_by_day", NOTHING),
    Rule("billing.overview", "payments_needing_review", NOTHING),
    Rule("billing.overview", "expiring_requests", NOTHING),
    Rule("core.audit", "recent", NOTHING),
    Rule("core.audit", "list_entries", NOTHING, level=ADMIN),
    Rule("core.audit", "filter_options", NOTHING, level=ADMIN),
    # impersonation
    Rule(
        "accounts.impersonation",
        "start",
        lambda r: {"client_id": r.alice, "reason": "Ticket 12"},
        level=ADMIN,
    ),
    Rule(
        "accounts.impersonation",
        "end_lapsed",
        lambda r: {"impersonation_id": r.lapsed_impersonation_id},
        permitted_actor=ADMIN,  # staff may close their own lapsed view; this one is the admin's
    ),
    # settings (admin), and the two staff may use
    Rule("settings.billing_and_tax", "list_tax_rates", NOTHING),
    Rule(
        "settings.reminder_schedule",
        "set_client_reminders",
        lambda r: {"client_id": r.alice, "enabled": False},
    ),
    Rule("settings.business_details", "get_organization_settings", NOTHING, level=ADMIN),
    Rule(
        "settings.business_details",
        "update_organization",
        lambda r: {"name": "New Name", "billing_address": "1 Road", "bank_details": "IBAN"},
        level=ADMIN,
    ),
    Rule("settings.business_details", "get_legal_identity", NOTHING, level=ADMIN),
    Rule(
        "settings.business_details",
        "update_legal_identity",
        lambda r: {"values": _legal_identity()},
        level=ADMIN,
    ),
    Rule("settings.billing_and_tax", "get_billing_settings", NOTHING, level=ADMIN),
    Rule(
        "settings.billing_and_tax",
        "update_billing",
        lambda r: {"default_currency": "EUR", "apply_credit_automatically": True},
        level=ADMIN,
    ),
    Rule(
        "settings.billing_and_tax",
        "create_tax_rate",
        lambda r: {"name": "Reduced", "rate": "5.5"},
        level=ADMIN,
    ),
    Rule(
        "settings.billing_and_tax",
        "update_tax_rate",
        lambda r: {"tax_rate_id": r.tax_rate_id, "name": "VAT", "rate": "21"},
        level=ADMIN,
    ),
    Rule(
        "settings.billing_and_tax", "archive_tax_rate", lambda r: {"tax_rate_id": r.tax_rate_id}, level=ADMIN
    ),
    Rule(
        "settings.billing_and_tax", "delete_tax_rate", lambda r: {"tax_rate_id": r.tax_rate_id}, level=ADMIN
    ),
    Rule("settings.template", "get_template", NOTHING, level=ADMIN),
    Rule(
        "settings.template",
        "update_template",
        lambda r: {"theme_color": "#112233", "footer": "Thanks", "number_pattern": "INV-{YYYY}-{seq:04}"},
        level=ADMIN,
    ),
    Rule(
        "settings.template",
        "preview_invoice_pdf",
        lambda r: {"theme_color": "#112233", "footer": "Thanks", "number_pattern": "INV-{YYYY}-{seq:04}"},
        level=ADMIN,
    ),
    Rule(
        "settings.template",
        "next_invoice_number",
        lambda r: {"number_pattern": "INV-{YYYY}-{seq:04}"},
        level=ADMIN,
    ),
    Rule("settings.template", "upload_logo", lambda r: {"data": _png()}, level=ADMIN),
    Rule("settings.template", "remove_logo", NOTHING, level=ADMIN),
    Rule("settings.reminder_schedule", "get_reminders", NOTHING, level=ADMIN),
    Rule(
        "settings.reminder_schedule",
        "update_reminders",
        lambda r: {"enabled": True, "offsets": [-1, 3]},
        level=ADMIN,
    ),
    Rule("settings.reminder_schedule", "set_reminders_enabled", lambda r: {"enabled": False}, level=ADMIN),
    Rule("settings.reminder_schedule", "add_reminder", lambda r: {"days": "5", "when": "after"}, level=ADMIN),
    Rule("settings.reminder_schedule", "remove_reminder", lambda r: {"offset": 7}, level=ADMIN),
    Rule("settings.email", "get_email_settings", NOTHING, level=ADMIN),
    Rule("settings.email", "update_email_settings", lambda r: {"form": _smtp_form()}, level=ADMIN),
    Rule(
        "settings.email",
        "send_test_email",
        lambda r: {"to": "admin@x.test", "form": _smtp_form()},
        level=ADMIN,
    ),
    Rule("settings.stripe_account", "get_account", NOTHING, level=ADMIN),
    Rule(
        "settings.stripe_account",
        "connect",
        lambda r: {
            "test_mode": True,
            "country": "FR",
            "privacy_url": "https://a.example/privacy",
            "terms_url": "https://a.example/terms",
            "secret_key": "",  # refused as input by the permitted call: nothing reaches Stripe
            "webhook_secret": "",
        },
        level=ADMIN,
    ),
    Rule(
        "settings.stripe_account",
        "update_policies",
        lambda r: {"privacy_url": "https://a.example/privacy", "terms_url": "https://a.example/terms"},
        level=ADMIN,
    ),
    Rule("settings.stripe_account", "unlink", NOTHING, level=ADMIN),
]


# -- the sweep ------------------------------------------------------------------------------------
async def _everything() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table."""
    state: dict[str, list[dict[str, Any]]] = {}
    for name, model in sorted(Tortoise.apps["models"].items()):
        state[name] = await model.all().order_by(model._meta.pk_attr).values()
    return state


def _resolve(rule: Rule) -> Callable[..., Any]:
    module = importlib.import_module(f"portal.{rule.module}")
    function = getattr(module, rule.function, None)
    assert function is not None, f"{rule.id} is in the table but not in portal.{rule.module}"
    return function


async def _refused(function: Callable[..., Any], actor: Actor, kwargs: dict[str, Any], errors: tuple) -> None:
    before = await _everything()
    with pytest.raises(errors):
        await function(actor=actor, **kwargs)
    after = await _everything()
    changed = [table for table in before if before[table] != after[table]]
    assert not changed, f"refused, but changed: {changed}"


@pytest.mark.parametrize("rule", [pytest.param(r, id=r.id, marks=r.marks) for r in RULES])
async def test_the_console_refuses_the_wrong_role_and_changes_nothing(records: Records, rule: Rule) -> None:
    function = _resolve(rule)
    world = records.world
    # a client, even on its own records
    await _refused(function, world.alice, rule.kwargs(records), (Forbidden, NotFound))
    if rule.level == ADMIN:
        await _refused(function, world.staff, rule.kwargs(records), (Forbidden,))
    # the role allowed gets past the role check (business rules may still say no)
    permitted = world.admin if ADMIN in (rule.level, rule.permitted_actor) else world.staff
    try:
        await function(actor=permitted, **rule.kwargs(records))
    except (Forbidden, NotFound) as exc:
        pytest.fail(f"{rule.id} refused the {rule.level} role it is meant for: {exc.message}")
    except DomainError:
        pass


def _role_checked_services() -> set[str]:
    """Every public coroutine of the use-case packages taking an actor and calling require_staff/admin."""
    found: set[str] = set()
    for module in use_case_modules():
        for name, function in inspect.getmembers(module, inspect.iscoroutinefunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            if "actor" not in inspect.signature(function).parameters:
                continue
            source = inspect.getsource(function)
            if "require_staff(" in source or "require_admin(" in source:
                found.add(f"{module.__name__.removeprefix('portal.')}.{name}")
    return found


def test_every_role_checked_service_is_in_the_table() -> None:
    listed = {rule.id for rule in RULES}
    missing = sorted(_role_checked_services() - listed)
    assert not missing, f"add these console services to RULES in {__name__}: {missing}"


def test_every_table_entry_names_a_service_that_exists() -> None:
    for rule in RULES:
        _resolve(rule)


def test_admin_only_entries_are_the_settings_impersonation_and_audit_log() -> None:
    admin_only = {rule.module for rule in RULES if rule.level == ADMIN}
    assert admin_only == {
        "settings.business_details",
        "settings.billing_and_tax",
        "settings.template",
        "settings.reminder_schedule",
        "settings.email",
        "settings.stripe_account",
        "accounts.impersonation",
        "core.audit",
    }

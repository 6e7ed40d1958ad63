"""Break-it sweep: another client's ids, and an admin viewing the portal as a client.

1. Every public service in the use-case packages (`tests/packages.py`) that takes an `actor` and an id
   keyword (`*_id`) is called
   by Bob with Alice's ids (and, where a call takes two ids, with his own record and her other one). A
   client-facing service answers `NotFound` with exactly the words it uses for an id that does not exist
   (never `Forbidden`, never "already paid" or "expired": those would tell Bob that her record exists and
   what state it is in); a staff-only service answers `Forbidden` or `NotFound`. Every table holds exactly
   what it held before. `test_every_id_taking_service_is_in_the_sweep` fails for a service that is in
   neither table, so a new one cannot slip through: add it to `CLIENT_CALLS` (its variants), or, when it
   is staff-only, to `RULES` in `test_console_roles.py`, which this sweep reuses. The public building
   blocks that check no permission of their own are in `INTERNAL`, and no page or component may use them.
2. An admin viewing the portal as Alice (the actor a browser holding the view gets) is refused by every
   staff-only and admin-only service of that same table, on Alice's own records, and nothing changes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from portal.accounts import impersonation, sessions
from portal.billing import billing_requests, invoice_editor
from portal.core.actors import Actor
from portal.db.models import BillingRequest, CreditNote, CreditRequest, Invoice, Quote
from portal.domain.errors import DomainError, Forbidden, NotFound
from portal.payments import credit_requests
from portal.subscriptions import plans, subscribe
from tests.packages import PORTAL, use_case_modules
from tests.services import test_console_roles as console
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for
from tests.services.test_console_roles import RULES, Records, _everything

records = console.records  # the console sweep's fixture: Alice's records of every kind
sandbox_only = console.sandbox_only  # autouse: the sandbox takes the payments

MISSING = 9_999_999  # an id no table holds


@dataclass(frozen=True)
class Ids:
    """Alice's records (`foreign_*`, what Bob must not reach) and Bob's own (`own_*`)."""

    foreign_client: int
    foreign_open_invoice: int
    foreign_paid_invoice: int
    foreign_draft_invoice: int
    foreign_receipt: int
    foreign_sent_quote: int
    foreign_approved_quote: int
    foreign_subscription: int
    foreign_card: int
    foreign_credit_request: int
    foreign_paid_credit_request: int
    foreign_billing_request: int
    foreign_expired_billing_request: int
    foreign_void_invoice: int
    foreign_credit_note: int
    own_invoice: int
    own_card: int
    own_subscription: int

    def missing(self) -> Ids:
        """The same call shapes with every foreign id replaced by one that does not exist."""
        changes = {name: MISSING for name in self.__dataclass_fields__ if name.startswith("foreign_")}
        return replace(self, **changes)


Variant = Callable[[Ids], dict[str, Any]]
URLS = {"success_url": "https://bob.example/ok", "cancel_url": "https://bob.example/no"}

# Client-facing services: every way Bob could name one of Alice's records (all but `actor`).
CLIENT_CALLS: dict[str, list[Variant]] = {
    "clients.profiles.get_profile": [lambda i: {"client_id": i.foreign_client}],
    "payments.methods.payment_methods": [lambda i: {"client_id": i.foreign_client}],
    "clients.dashboard.payables": [lambda i: {"client_id": i.foreign_client}],
    "clients.dashboard.open_summary": [lambda i: {"client_id": i.foreign_client}],
    "clients.dashboard.todo": [lambda i: {"client_id": i.foreign_client, "limit": 5}],
    "clients.dashboard.open_invoices_page": [
        lambda i: {"client_id": i.foreign_client, "page": 1, "page_size": 25}
    ],
    "clients.dashboard.expiring_cards": [lambda i: {"client_id": i.foreign_client}],
    "billing.documents.get_invoice": [
        lambda i: {"invoice_id": i.foreign_open_invoice},
        lambda i: {"invoice_id": i.foreign_paid_invoice},
        lambda i: {"invoice_id": i.foreign_draft_invoice},
    ],
    "billing.documents.get_receipt": [lambda i: {"payment_id": i.foreign_receipt}],
    # the stored (issued) documents: the same access rule as the pages, before anything is read or stored
    "billing.issued.invoice_pdf": [
        lambda i: {"invoice_id": i.foreign_open_invoice},
        lambda i: {"invoice_id": i.foreign_paid_invoice},
        lambda i: {"invoice_id": i.foreign_draft_invoice},
    ],
    "billing.issued.einvoice": [
        lambda i: {"invoice_id": i.foreign_open_invoice, "extension": "pdf"},
        lambda i: {"invoice_id": i.foreign_paid_invoice, "extension": "xml"},
    ],
    "billing.issued.receipt_pdf": [lambda i: {"payment_id": i.foreign_receipt}],
    "billing.issued.credit_note_pdf_download": [lambda i: {"credit_note_id": i.foreign_credit_note}],
    "billing.issued.credit_note_einvoice": [
        lambda i: {"credit_note_id": i.foreign_credit_note, "extension": "pdf"},
        lambda i: {"credit_note_id": i.foreign_credit_note, "extension": "xml"},
    ],
    "billing.credit_notes.get_credit_note": [lambda i: {"credit_note_id": i.foreign_credit_note}],
    "billing.credit_notes.of_invoice": [
        lambda i: {"invoice_id": i.foreign_void_invoice},
        lambda i: {"invoice_id": i.foreign_open_invoice},
    ],
    "clients.history.get_history": [lambda i: {"client_id": i.foreign_client}],
    "billing.quotes.decided_quotes": [lambda i: {"client_id": i.foreign_client, "limit": 10}],
    # refused on whose client it is, before the period is read
    "billing.statements.build_statement": [
        lambda i: {"client_id": i.foreign_client, "start": None, "end": None}
    ],
    "billing.statements.statement_document": [
        lambda i: {"client_id": i.foreign_client, "start": None, "end": None}
    ],
    "billing.invoices.get_invoice_summary": [
        lambda i: {"invoice_id": i.foreign_open_invoice},
        lambda i: {"invoice_id": i.foreign_paid_invoice},
    ],
    "billing.invoices.open_invoices": [lambda i: {"client_id": i.foreign_client}],
    "payments.ledger.credit_balances": [lambda i: {"client_id": i.foreign_client}],
    "payments.methods.list_methods": [lambda i: {"client_id": i.foreign_client}],
    "payments.methods.make_default": [lambda i: {"method_id": i.foreign_card}],
    "payments.methods.delete_method": [lambda i: {"method_id": i.foreign_card}],
    "payments.credit_payments.pay_from_credit": [
        lambda i: {"invoice_id": i.foreign_open_invoice},
        lambda i: {"invoice_id": i.foreign_paid_invoice},
    ],
    "payments.credit_payments.credit_offer": [
        lambda i: {"invoice_id": i.foreign_open_invoice},
        lambda i: {"invoice_id": i.foreign_paid_invoice},
    ],
    "payments.charges.pay_with_saved_method": [
        lambda i: {"purpose": "invoice", "target_id": i.foreign_open_invoice},
        lambda i: {"purpose": "invoice", "target_id": i.foreign_paid_invoice},
        lambda i: {"purpose": "invoice", "target_id": i.own_invoice, "method_id": i.foreign_card},
        lambda i: {"purpose": "invoice", "target_id": i.foreign_open_invoice, "method_id": i.own_card},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_credit_request},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_paid_credit_request},
        lambda i: {"purpose": "billing_request", "target_id": i.foreign_billing_request},
        lambda i: {"purpose": "billing_request", "target_id": i.foreign_expired_billing_request},
    ],
    "payments.charges.start_checkout": [
        lambda i: {"purpose": "invoice", "target_id": i.foreign_open_invoice, **URLS},
        lambda i: {"purpose": "invoice", "target_id": i.foreign_paid_invoice, **URLS},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_credit_request, **URLS},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_paid_credit_request, **URLS},
        lambda i: {"purpose": "billing_request", "target_id": i.foreign_billing_request, **URLS},
        lambda i: {"purpose": "billing_request", "target_id": i.foreign_expired_billing_request, **URLS},
    ],
    "payments.bank_transfer.details": [
        lambda i: {"purpose": "invoice", "target_id": i.foreign_open_invoice},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_credit_request},
    ],
    "payments.bank_transfer.mark_awaiting": [
        lambda i: {"purpose": "invoice", "target_id": i.foreign_open_invoice},
        lambda i: {"purpose": "invoice", "target_id": i.foreign_paid_invoice},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_credit_request},
        lambda i: {"purpose": "credit_request", "target_id": i.foreign_paid_credit_request},
    ],
    "payments.pay_all.overview": [lambda i: {"client_id": i.foreign_client, "currency": "USD"}],
    "payments.pay_all.pay_with_saved_method": [
        lambda i: {"currency": "JPY", "expected_minor": 5000, "method_id": i.foreign_card}
    ],
    "billing.quote_editor.quote_document": [
        lambda i: {"quote_id": i.foreign_sent_quote},
        lambda i: {"quote_id": i.foreign_approved_quote},
    ],
    "billing.quotes.get_quote": [lambda i: {"quote_id": i.foreign_sent_quote}],
    "billing.quotes.awaiting_decision": [lambda i: {"client_id": i.foreign_client}],
    "billing.quotes.decide": [
        lambda i: {"quote_id": i.foreign_sent_quote, "approve": True},
        lambda i: {"quote_id": i.foreign_approved_quote, "approve": False},
    ],
    "subscriptions.client_subscriptions.get_subscription": [
        lambda i: {"subscription_id": i.foreign_subscription}
    ],
    "subscriptions.client_subscriptions.list_subscriptions": [lambda i: {"client_id": i.foreign_client}],
    "subscriptions.client_subscriptions.cancel_at_period_end": [
        lambda i: {"subscription_id": i.foreign_subscription}
    ],
    "subscriptions.client_subscriptions.resume": [lambda i: {"subscription_id": i.foreign_subscription}],
    "subscriptions.client_subscriptions.change_method": [
        lambda i: {"subscription_id": i.foreign_subscription, "method_id": i.own_card},
        lambda i: {"subscription_id": i.own_subscription, "method_id": i.foreign_card},
    ],
}

# Public services that take an actor and an id but are building blocks of other services, never called by
# a page: the sweep checks that no page or component names them.
INTERNAL = {
    "core.audit.record": "writes the audit row of the service that calls it",
    "payments.refunds.record_refund": (
        "the refund ledger entry behind refund_payment (staff) and charge.refunded"
    ),
    "billing.invoice_editor.draft_from_lines": "the invoice draft inside convert_quote (staff)",
}


def _function(dotted: str) -> Callable[..., Any]:
    module, name = dotted.rsplit(".", 1)
    function = getattr(importlib.import_module(f"portal.{module}"), name, None)
    assert function is not None, f"{dotted} is in the sweep but not in portal.{module}"
    return function


def _id_taking_services() -> dict[str, Callable[..., Any]]:
    """Every public coroutine of the use-case packages with an `actor` and at least one `*_id` keyword."""
    found: dict[str, Callable[..., Any]] = {}
    for module in use_case_modules():
        for name, function in inspect.getmembers(module, inspect.iscoroutinefunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            params = inspect.signature(function).parameters
            if "actor" in params and any(p.endswith(("_id", "_ids")) for p in params):
                found[f"{module.__name__.removeprefix('portal.')}.{name}"] = function
    return found


def _staff_only(function: Callable[..., Any]) -> bool:
    source = inspect.getsource(function)
    return "require_staff(" in source or "require_admin(" in source


STAFF_RULES = {rule.id: rule for rule in RULES}


# -- records --------------------------------------------------------------------------------------
async def _sent_quote(client_id: int) -> int:
    from tests.services.test_console_roles import _quote

    quote_id = await _quote(client_id, "sent")
    await Quote.filter(id=quote_id).update(number=f"EST-SENT-{client_id}")
    return quote_id


@pytest.fixture
async def ids(records: Records) -> Ids:
    """Alice's records of every kind (from the console sweep's fixture, plus a few states), and Bob's."""
    world, staff = records.world, records.world.staff
    paid_invoice = await Invoice.get(subscription_id=records.subscription_id)
    paid_credit = await credit_requests.create_credit_request(
        actor=staff, client_id=records.alice, amount_minor=700, currency="USD"
    )
    await CreditRequest.filter(id=paid_credit).update(status="paid")
    expired = await billing_requests.create_billing_request(
        actor=staff,
        client_id=records.alice,
        email="alice@x.test",
        currency="USD",
        amount_minor=900,
        success_url="https://a.example/ok",
        cancel_url="https://a.example/no",
        billing_type="one_time",
    )
    await BillingRequest.filter(id=expired.id).update(status="expired")
    void_invoice = await invoice_for(world, 2000, client_id=records.alice)
    credit_note = await invoice_editor.void_invoice(actor=staff, invoice_id=void_invoice)
    # Bob's own: a card, an open invoice, a subscription
    bob_card = await add_card(world, client_id=world.bob_id)
    bob_plan = (await plans.create_plan(actor=staff, name="Yen care", price="5000", currency="JPY")).id
    started = await subscribe.subscribe(
        actor=staff, client_id=world.bob_id, plan_id=bob_plan, method_id=bob_card, idempotency_key="bob-sub"
    )
    assert started.ok, started.message
    return Ids(
        foreign_client=records.alice,
        foreign_open_invoice=records.open_invoice_id,
        foreign_paid_invoice=paid_invoice.id,
        foreign_draft_invoice=records.draft_invoice_id,
        foreign_receipt=records.online_payment_id,
        foreign_sent_quote=await _sent_quote(records.alice),
        foreign_approved_quote=records.approved_quote_id,
        foreign_subscription=records.subscription_id,
        foreign_card=records.card_id,
        foreign_credit_request=records.credit_request_id,
        foreign_paid_credit_request=paid_credit,
        foreign_billing_request=records.billing_request_id,
        foreign_expired_billing_request=expired.id,
        foreign_void_invoice=void_invoice,
        foreign_credit_note=(await CreditNote.get(number=credit_note)).id,
        own_invoice=await invoice_for(world, 5000, client_id=world.bob_id),
        own_card=bob_card,
        own_subscription=started.subscription_id or 0,
    )


# -- 1. another client's ids ------------------------------------------------------------------------
async def _refusal(function: Callable[..., Any], actor: Actor, kwargs: dict[str, Any]) -> DomainError | str:
    """The error the call raises, or what went wrong: the call went through, or it changed a row."""
    before = await _everything()
    try:
        await function(actor=actor, **kwargs)
    except DomainError as exc:
        error: DomainError = exc
    else:
        return f"went through with {kwargs}"
    after = await _everything()
    changed = [table for table in before if before[table] != after[table]]
    return f"refused with {error!r} but changed {changed}" if changed else error


@pytest.mark.parametrize("name", list(CLIENT_CALLS))
async def test_another_clients_ids_are_not_found_like_missing_ones(ids: Ids, world: World, name: str) -> None:
    function, problems = _function(name), []
    for call in CLIENT_CALLS[name]:
        error = await _refusal(function, world.bob, call(ids))
        missing = await _refusal(function, world.bob, call(ids.missing()))
        if isinstance(error, str) or isinstance(missing, str):
            problems.append(f"{call(ids)}: {error if isinstance(error, str) else missing}")
        elif type(error) is not NotFound:
            problems.append(f"{call(ids)}: {type(error).__name__}: {error.message}")
        elif error.message != missing.message:
            problems.append(f"{call(ids)}: reads {error.message!r}, a missing record {missing.message!r}")
    assert not problems, f"{name} with Alice's ids, called by Bob:\n" + "\n".join(problems)


def _refused_by_role(error: DomainError | str, rule: Any) -> str | None:
    if isinstance(error, str):
        return f"{rule.id}: {error}"
    if not isinstance(error, Forbidden | NotFound):
        return f"{rule.id}: {type(error).__name__}: {error.message}"
    return None


# the one public helper without a role check of its own is a known, internal case (see INTERNAL)
SWEPT_RULES = [rule for rule in RULES if not rule.marks]


async def test_staff_services_refuse_a_client_acting_on_another_clients_records(records: Records) -> None:
    swept = [rule for rule in SWEPT_RULES if rule.id in _id_taking_services()]
    assert len(swept) > 40  # the sweep really runs over the id-taking console services
    problems = []
    for rule in swept:
        error = await _refusal(_function(rule.id), records.world.bob, rule.kwargs(records))
        problems.append(_refused_by_role(error, rule))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


async def test_the_same_calls_reach_the_clients_own_records(ids: Ids, world: World) -> None:
    """The refusals above come from whose records they are: Bob's own open as usual."""
    from portal.billing import documents, invoices
    from portal.payments import methods
    from portal.subscriptions import client_subscriptions

    assert (await documents.get_invoice(actor=world.bob, invoice_id=ids.own_invoice)).id == ids.own_invoice
    sub = await client_subscriptions.get_subscription(actor=world.bob, subscription_id=ids.own_subscription)
    assert sub.id == ids.own_subscription
    assert [m.id for m in await methods.list_methods(actor=world.bob, client_id=world.bob_id)] == [
        ids.own_card
    ]
    summaries = await invoices.open_invoices(actor=world.bob, client_id=world.bob_id)
    assert ids.own_invoice in [i.id for i in summaries]


def test_every_id_taking_service_is_in_the_sweep() -> None:
    missing = []
    for name in sorted(_id_taking_services()):
        if name in CLIENT_CALLS or name in INTERNAL:
            continue
        if name in STAFF_RULES:
            continue
        missing.append(name)
    assert not missing, (
        "services taking an actor and an id that no sweep calls with another client's ids: add each to "
        f"CLIENT_CALLS in {__name__} (or, when staff-only, to RULES in test_console_roles): {missing}"
    )


def test_client_facing_entries_are_not_staff_only_and_exist() -> None:
    for name in CLIENT_CALLS:
        assert not _staff_only(_function(name)), f"{name} is staff-only: it belongs in RULES"
    for name in INTERNAL:
        _function(name)


def test_internal_building_blocks_are_never_called_from_a_page() -> None:
    root = PORTAL
    for folder in ("pages", "components"):
        for path in sorted((root / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                used = set()
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    used.add(f"{node.value.id}.{node.attr}")
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portal."):
                    used.update(f"{node.module.rsplit('.', 1)[-1]}.{alias.name}" for alias in node.names)
                called = used & {".".join(name.rsplit(".", 2)[-2:]) for name in INTERNAL}
                assert not called, f"{path.name} uses {called}, which check no permission of their own"


# -- 2. an admin viewing as a client ------------------------------------------------------------------
async def _viewing_as_alice(records: Records) -> Actor:
    world = records.world
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="Ticket 7")
    actor = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=view.id)
    assert actor is not None and actor.is_impersonating and actor.client_id == world.alice_id
    return actor


async def test_an_admin_viewing_as_a_client_is_refused_by_every_console_service(records: Records) -> None:
    actor = await _viewing_as_alice(records)
    # the admin's role on the actor would not help either: only `impersonator_id` decides
    as_admin = replace(actor, role=records.world.admin.role)
    problems = []
    for rule in SWEPT_RULES:
        for who in (actor, as_admin):
            error = await _refusal(_function(rule.id), who, rule.kwargs(records))
            problems.append(_refused_by_role(error, rule))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
    assert len(problems) == 2 * len(SWEPT_RULES) > 150


async def test_the_view_reaches_the_clients_own_records_and_not_the_others(records: Records) -> None:
    """The same actor is not simply refused everything: Alice's own invoice opens, Bob's does not."""
    from portal.billing import documents

    actor = await _viewing_as_alice(records)
    mine = await documents.get_invoice(actor=actor, invoice_id=records.open_invoice_id)
    assert mine.id == records.open_invoice_id
    bobs = await invoice_for(records.world, 300, client_id=records.world.bob_id)
    with pytest.raises(NotFound):
        await documents.get_invoice(actor=actor, invoice_id=bobs)

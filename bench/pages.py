"""What a page asks of the services, call for call, and the raw SQL that returns the same data.

`my_billing` makes the calls `portal/pages/billing.py` makes to build /billing (the page guard reloading
the actor included), in the same order, inside the guard's per-page scope. `CONSOLE_LISTS` names the
console list pages and the service calls each makes when it opens (first page, no filter); adding a page
is one line there, and a page whose service is not written yet is reported as not measured.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench import common
from portal import i18n
from portal.accounts import sessions
from portal.billing import quotes
from portal.clients import dashboard, profiles
from portal.core.actors import Actor
from portal.domain.status import Role
from portal.pages.billing import TODO_ROWS
from portal.payments import ledger
from portal.payments import methods as method_views
from portal.payments.branding import branding
from portal.payments.methods import MethodRow
from portal.subscriptions import client_subscriptions

STAFF = Actor(user_id=2, role=Role.staff, email="staff@bench.test", name="Staff")


def client_actor(user_id: int, client_id: int) -> Actor:
    return Actor(
        user_id=user_id,
        role=Role.client,
        email=f"client{client_id}@bench.test",
        name="C",
        client_id=client_id,
    )


def page_scope() -> Any:
    """The scope the page guard opens around a page body (one organization read per page), when the
    portal has one; otherwise a no-op."""
    from contextlib import nullcontext

    from portal.core import organization

    scope = getattr(organization, "page_scope", None)
    return scope() if scope is not None else nullcontext()


@dataclass
class MyBilling:
    """Everything /billing shows, as the services return it."""

    profile: profiles.ClientProfile
    summary: dashboard.OpenSummary
    payables: list[dashboard.Payable]
    credit: dict[str, int]
    quotes: list[quotes.QuoteView]
    expiring: list[MethodRow]
    subscriptions: list[client_subscriptions.SubscriptionView]
    methods: list[method_views.MethodView]


async def my_billing_first(actor: Actor) -> tuple:
    """What the first answer to GET /billing reads (portal/pages/billing.py: the guard, the header, the
    balances and the to-do panel), in the page's order."""
    client_id = actor.client_id
    assert client_id is not None
    with page_scope():
        await sessions.load_actor(user_id=actor.user_id)  # guard.page: the session's user, reloaded
        i18n.set_locale(actor.locale)  # guard.page: the page's language
        profile = await profiles.get_profile(actor=actor, client_id=client_id)
        await branding()
        todo = await dashboard.todo(actor=actor, client_id=client_id, limit=TODO_ROWS)  # Dashboard.todo
        summary, payables = todo.summary, todo.items
        credit = await ledger.credit_balances(actor=actor, client_id=client_id)
        waiting = await quotes.awaiting_decision(actor=actor, client_id=client_id)
        expiring = await dashboard.expiring_cards(actor=actor, client_id=client_id)
    return profile, summary, payables, credit, waiting, expiring


async def my_billing_later(actor: Actor) -> tuple:
    """What the page reads once the browser is connected, below the fold (billing_sections.py): the
    subscriptions and the payment methods."""
    client_id = actor.client_id
    assert client_id is not None
    with page_scope():
        subs = await client_subscriptions.list_subscriptions(actor=actor, client_id=client_id)
        methods = await method_views.list_methods(actor=actor, client_id=client_id)
    return subs, methods


async def my_billing(actor: Actor) -> MyBilling:
    """The services /billing calls, first answer and below the fold, in the page's order."""
    return MyBilling(*await my_billing_first(actor), *await my_billing_later(actor))


# The same data in plain SQL: one statement per kind of row, run through the same database client.
MY_BILLING_SQL = {
    "user": 'SELECT id, email, role, client_id, full_name, locale, is_active FROM "user" WHERE id = $1',
    "client": """
        SELECT c.id, c.name, c.company, c.email, c.currency, c.avatar_path,
               (SELECT COUNT(*) FROM payment_method pm
                 WHERE pm.client_id = c.id AND pm.detached_at IS NULL) AS method_count
        FROM client c WHERE c.id = $1""",
    "organization": """
        SELECT name, theme_color, logo_path, stripe_mode, stripe_secret_key_enc
        FROM organization WHERE id = 1""",
    "invoices": """
        SELECT i.id, i.number, i.client_id, i.status, i.currency, i.issue_date, i.due_date, i.total_minor,
               i.total_minor - COALESCE(SUM(a.amount_minor), 0) AS amount_due_minor
        FROM invoice i LEFT JOIN allocation a ON a.invoice_id = i.id
        WHERE i.client_id = $1 AND i.status = 'open'
        GROUP BY i.id ORDER BY i.due_date, i.id LIMIT """
    + str(TODO_ROWS),
    "open_totals": """
        SELECT t.currency, COUNT(*) AS n, SUM(t.owed) AS owed FROM (
            SELECT i.currency, i.total_minor - COALESCE(
                (SELECT SUM(a.amount_minor) FROM allocation a WHERE a.invoice_id = i.id), 0) AS owed
            FROM invoice i WHERE i.client_id = $1 AND i.status = 'open') t
        GROUP BY t.currency""",
    "credit_requests": """
        SELECT id, description, created_at, due_date, currency, amount_minor
        FROM credit_request WHERE client_id = $1 AND status = 'pending' ORDER BY id""",
    "credit": """
        SELECT currency, SUM(amount_minor) AS total FROM credit_entry
        WHERE client_id = $1 GROUP BY currency""",
    "quotes": """
        SELECT id, kind, number, title, status, currency, issue_date, valid_until, total_minor
        FROM quote WHERE client_id = $1 AND status = 'sent' ORDER BY issue_date, id""",
    "subscriptions": """
        SELECT s.id, s.status, s.description, s.amount_minor, s.currency, s.interval, s.interval_count,
               s.current_period_end, s.cancel_at_period_end, s.payment_method_id,
               p.name AS plan_name, pm.brand, pm.last4
        FROM subscription s
        LEFT JOIN plan p ON p.id = s.plan_id
        LEFT JOIN payment_method pm ON pm.id = s.payment_method_id
        WHERE s.client_id = $1 ORDER BY s.id""",
    "methods": """
        SELECT id, kind, brand, last4, exp_month, exp_year, is_default FROM payment_method
        WHERE client_id = $1 AND detached_at IS NULL AND gateway = 'sandbox'
        ORDER BY is_default DESC, id""",
}


# The first ten open invoices as the portal reads them (invoices.summary_rows): each row's allocations
# summed by a subquery, for the ten rows returned only, where the plain statement above joins and groups
# every open invoice before sorting. `bench.dashboard` prints the figure with this form too, as a `#` line.
MY_BILLING_SQL_SAME_FORM = {
    **MY_BILLING_SQL,
    "invoices": """
        SELECT i.id, i.number, i.client_id, i.status, i.currency, i.issue_date, i.due_date, i.total_minor,
               i.total_minor - COALESCE((SELECT SUM(a.amount_minor) FROM allocation a
                                         WHERE a.invoice_id = i.id), 0) AS amount_due_minor
        FROM invoice i WHERE i.client_id = $1 AND i.status = 'open'
        ORDER BY i.due_date, i.id LIMIT """
    + str(TODO_ROWS),
}


async def my_billing_sql(
    user_id: int, client_id: int, statements: dict[str, str] = MY_BILLING_SQL
) -> dict[str, list[dict[str, Any]]]:
    """The raw side: every statement of `statements` (MY_BILLING_SQL), rows as the driver returns them."""
    db = common.conn()
    out = {}
    for name, text in statements.items():
        if name == "organization":
            out[name] = await db.execute_query_dict(common.sql(text))
        else:
            out[name] = await db.execute_query_dict(
                common.sql(text), [user_id if name == "user" else client_id]
            )
    return out


def day(value: Any) -> date:
    """A date from what the driver returns (a string on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def same_data(page: MyBilling, raw: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Where the services and the SQL disagree (empty when they return the same data)."""
    problems = []
    invoices = [p for p in page.payables if p.purpose == "invoice"]
    expected = [(r["id"], day(r["due_date"]), int(r["amount_due_minor"])) for r in raw["invoices"]]
    if [(p.id, p.due_date, p.amount_due_minor) for p in invoices] != expected:
        problems.append("open invoices (ids, due dates or amounts due) differ")
    if sorted(p.id for p in page.payables if p.purpose != "invoice") != [
        r["id"] for r in raw["credit_requests"]
    ]:
        problems.append("pending credit requests differ")
    owed = {r["currency"]: int(r["owed"]) for r in raw["open_totals"]}
    for r in raw["credit_requests"]:
        owed[r["currency"]] = owed.get(r["currency"], 0) + int(r["amount_minor"])
    if page.summary.totals != dict(sorted(owed.items())):
        problems.append("the open balance per currency differs")
    if page.summary.invoices != sum(int(r["n"]) for r in raw["open_totals"]):
        problems.append("the count of open invoices differs")
    if page.credit != {r["currency"]: int(r["total"]) for r in raw["credit"] if r["total"]}:
        problems.append("credit balances differ")
    if sorted(q.id for q in page.quotes) != sorted(r["id"] for r in raw["quotes"]):
        problems.append("quotes awaiting a decision differ")
    if sorted(s.id for s in page.subscriptions) != [r["id"] for r in raw["subscriptions"]]:
        problems.append("subscriptions differ")
    names = {r["id"]: r["plan_name"] or r["description"] for r in raw["subscriptions"]}
    if any(s.name != names[s.id] for s in page.subscriptions):
        problems.append("subscription names differ")
    if [m.id for m in page.methods] != [r["id"] for r in raw["methods"]]:
        problems.append("payment methods differ")
    if page.profile.payment_method_count != int(raw["client"][0]["method_count"]):
        problems.append("the profile's method count differs")
    return problems


# --- console lists ----------------------------------------------------------------------------------

ADMIN = Actor(user_id=1, role=Role.admin, email="admin@bench.test", name="Admin")
PageCall = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class ConsolePage:
    """A console page by its path and the service calls it makes when it opens (first page, no filter)."""

    path: str
    calls: tuple[tuple[str, str, dict[str, Any]], ...]  # (module under portal, function, arguments)
    actor: Actor = STAFF

    @property
    def services(self) -> str:
        return " + ".join(f"{module}.{function}" for module, function, _ in self.calls)

    def bind(self) -> PageCall | None:
        """The page's data calls behind the guard's actor reload and the frame's branding, or None while a
        service is not written yet."""
        targets = []
        for module, function, kwargs in self.calls:
            try:
                targets.append((getattr(importlib.import_module(f"portal.{module}"), function), kwargs))
            except (ImportError, AttributeError):
                return None
        actor = self.actor

        async def call() -> object:
            with page_scope():
                await sessions.load_actor(user_id=actor.user_id)
                i18n.set_locale(actor.locale)
                await branding()
                return [await target(actor=actor, **kwargs) for target, kwargs in targets]

        return call


def _page(path: str, *calls: str, actor: Actor = STAFF, **kwargs: Any) -> ConsolePage:
    """`_page("/admin/x", "package.module.function", ...)`: keyword arguments go to the last call."""
    parsed = [tuple(c.rsplit(".", 1)) for c in calls]
    return ConsolePage(
        path, tuple((m, f, kwargs if n == len(parsed) - 1 else {}) for n, (m, f) in enumerate(parsed)), actor
    )


# Each console list page, as its module in portal/pages/ loads it. One line per page.
CONSOLE_LISTS = [
    _page("/admin", "billing.overview.get_overview"),
    _page("/admin/clients", "clients.profiles.client_currencies", "clients.profiles.list_clients"),
    _page("/admin/invoices", "billing.invoice_list.list_invoices"),
    _page("/admin/quotes", "billing.quote_editor.list_quotes"),
    _page("/admin/requests", "billing.billing_requests.list_billing_requests"),
    _page("/admin/plans", "subscriptions.plans.list_plans", include_archived=False),
    _page(
        "/admin/subscriptions",
        "subscriptions.plans.list_plans",
        "subscriptions.subscription_list.search_subscriptions",
    ),
    _page("/admin/audit", "core.audit.filter_options", "core.audit.list_entries", actor=ADMIN),
]

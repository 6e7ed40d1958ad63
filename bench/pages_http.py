"""Whole pages, as a browser's first request for them gets them, against the lightest page and raw SQL.

    python -m bench.pages_http [--database-url URL] [--seeded]

The real app (main.py) runs in this process (bench/app.py). httpx sends a signed-in browser's `GET` of a
page through it (ASGI, in-process) and reads the whole answer: the HTML NiceGUI returns with the page's
element tree, i.e. everything the page builds before a websocket connects (what it loads after the
first paint is not in it, by design). The page (NiceGUI client) each GET leaves behind is deleted right
after its answer, outside the timing, as the server does when a tab goes away.

Figures (medians of 40 alternating runs of the two sides after 3 warm-ups, 20 for the overview; seed:
10,000 clients, 200,000 invoices):
- `billing_1000_vs_login`: `GET /billing` for the client with 1,000 open invoices (20 subscriptions, 10
  saved methods) / `GET /login` signed out (the lightest NiceGUI page). Target <= 4.
- `billing_1000_vs_billing_10`: the same / `GET /billing` for the client with 10 open invoices (and the
  same 20 subscriptions, 10 methods): what a page costs must not grow with what the client has. <= 1.3.
- `billing_1000_vs_sql`: `GET /billing` / the raw SQL of the same data (`pages.MY_BILLING_SQL`); a `#`
  line gives the page / its services (`pages.my_billing`). Reported.
- `overview_services_vs_sql`: the services /admin calls (`billing.overview.get_overview`) / one raw SQL
  aggregate of the same figures: open and overdue amounts and counts per currency, payments received per
  day and currency over the chart's 30 days. Target <= 3. A `#` line: `GET /admin` / the same SQL.
- `clients_vs_login`: `GET /admin/clients` (the first page among 10,000 clients) / `GET /login`. <= 2.5.
- `clients_vs_sql`: `GET /admin/clients` / its raw SQL (the frame's user and organization, the
  currencies, the count and the first 25 clients with what they owe). Reported.
- `invoice_vs_sql`: `GET /admin/invoices/<id>`, a sent invoice with 12 lines (two tax rates) and two
  partial payments, made here through the portal's services / its raw SQL (user, organization, the
  invoice with its client, its lines, its allocations with their payments). Reported.
- `pay_link_vs_login`: `GET /pay/<token>` (a link to that invoice, `payments.links.issue`) / `GET /login`.
  Target <= 1.3.

Every page is first checked to answer 200 with its own content (not a redirect to the sign-in page), the
overview's services and SQL to return the same figures. `#` lines give each page's size and element count.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from bench import app, common, pages, seed
from portal.billing import invoices, overview
from portal.billing.invoices import LineDraft
from portal.core.clock import now_utc, today
from portal.payments import ledger, links

REPETITIONS = 40  # a GET takes milliseconds: many runs make the medians steady on a busy machine
SLOW_REPETITIONS = 20  # the overview's aggregates over 200,000 invoices take a tenth of a second or more
WARMUP = 3
TARGETS = {
    "billing_1000_vs_login": 4.0,
    "billing_1000_vs_billing_10": 1.3,
    "overview_services_vs_sql": 3.0,
    "clients_vs_login": 2.5,
    "pay_link_vs_login": 1.3,
}
# page / raw SQL: reported (the issue sets no target); a number here makes it a target
SQL_TARGETS: dict[str, float | None] = {
    "billing_1000_vs_sql": None,
    "clients_vs_sql": None,
    "invoice_vs_sql": None,
}

BIG_USER, SMALL_USER = 3, 4  # client1@ (1,000 open invoices) and client2@bench.test (10)
INVOICE_CLIENT = 103  # an ordinary client of the seed, outside the dashboards' range
SIGN_IN_PAGE = "Sign in to your billing portal"  # on /login only: a signed-in page never shows it

FRAME_SQL = {  # what every signed-in page reads around its own data: the session's user, the organization
    "user": 'SELECT id, email, role, client_id, full_name, locale, is_active FROM "user" WHERE id = $1',
    "organization": "SELECT * FROM organization WHERE id = 1",
}
OVERVIEW_SQL = {
    "receivables": """
        WITH inv AS (
            SELECT currency, COUNT(*) AS open_count, SUM(total_minor) AS open_total,
                   SUM(CASE WHEN due_date < $1 THEN 1 ELSE 0 END) AS overdue_count,
                   SUM(CASE WHEN due_date < $1 THEN total_minor ELSE 0 END) AS overdue_total
            FROM invoice WHERE status = 'open' GROUP BY currency
        ), paid AS (
            SELECT a.currency, SUM(a.amount_minor) AS open_paid,
                   SUM(CASE WHEN i.due_date < $1 THEN a.amount_minor ELSE 0 END) AS overdue_paid
            FROM allocation a JOIN invoice i ON i.id = a.invoice_id
            WHERE i.status = 'open' GROUP BY a.currency
        )
        SELECT inv.currency, inv.open_count, inv.overdue_count,
               inv.open_total - COALESCE(paid.open_paid, 0) AS open_minor,
               inv.overdue_total - COALESCE(paid.overdue_paid, 0) AS overdue_minor
        FROM inv LEFT JOIN paid ON paid.currency = inv.currency ORDER BY inv.currency""",
    "payments": """
        SELECT received_on, currency, SUM(amount_minor) AS total FROM payment
        WHERE status IN ('succeeded', 'partially_refunded', 'refunded')
          AND received_on >= $1 AND received_on <= $2
        GROUP BY received_on, currency""",
}
CLIENTS_SQL = {
    "currencies": "SELECT DISTINCT currency FROM client WHERE archived = $1",
    "count": "SELECT COUNT(*) AS total FROM client WHERE archived = $1",
    # the page of clients with what is due on their open invoices per currency, and the earliest due date
    "page": """
        WITH page AS (
            SELECT id, name, company, email, currency FROM client WHERE archived = $1
            ORDER BY name, id LIMIT 25
        )
        SELECT p.id, p.name, p.company, p.email, p.currency, i.currency AS due_currency,
               SUM(i.total_minor - COALESCE(
                   (SELECT SUM(a.amount_minor) FROM allocation a WHERE a.invoice_id = i.id), 0)) AS due,
               MIN(i.due_date) AS first_due
        FROM page p LEFT JOIN invoice i ON i.client_id = p.id AND i.status = 'open'
        GROUP BY p.id, p.name, p.company, p.email, p.currency, i.currency
        ORDER BY p.name, p.id""",
}
INVOICE_SQL = {
    "invoice": """
        SELECT i.*, c.name AS client_name, c.company, c.email, c.locale, c.currency AS client_currency
        FROM invoice i JOIN client c ON c.id = i.client_id WHERE i.id = $1""",
    "lines": "SELECT * FROM invoice_line WHERE invoice_id = $1 ORDER BY position, id",
    "money": """
        SELECT a.id, a.amount_minor, a.currency, a.created_at, p.method, p.reference, p.received_on,
               p.status, pm.brand, pm.last4, ce.reason, r.amount_minor AS refunded
        FROM allocation a
        LEFT JOIN payment p ON p.id = a.payment_id
        LEFT JOIN payment_method pm ON pm.id = p.payment_method_id
        LEFT JOIN credit_entry ce ON ce.id = a.credit_entry_id
        LEFT JOIN refund r ON r.id = a.refund_id
        WHERE a.invoice_id = $1 ORDER BY a.created_at, a.id""",
}


# --- the two sides ----------------------------------------------------------------------------------


@dataclass
class Get:
    """A signed-in (or signed-out) browser's GET of a whole page, timed on its own; checks the answer."""

    client: httpx.AsyncClient
    path: str
    expect: str  # a text the page's HTML must hold
    times: list[float] = field(default_factory=list)
    size: int = 0
    elements: int = 0

    async def __call__(self) -> None:
        start = time.perf_counter()
        response = await self.client.get(self.path)
        self.times.append(time.perf_counter() - start)
        counts = app.close_unconnected_pages()  # not timed: what the server does when the tab goes away
        if response.status_code != 200:
            where = response.headers.get("location", "")
            raise AssertionError(f"GET {self.path} answered {response.status_code} {where}".rstrip())
        if self.expect not in response.text or (self.path != "/login" and SIGN_IN_PAGE in response.text):
            raise AssertionError(f"GET {self.path}: not the expected page (no {self.expect!r})")
        self.size, self.elements = len(response.content), max(counts, default=0)

    def describe(self, seconds: float) -> str:
        path = "/pay/<token>" if self.path.startswith("/pay/") else self.path
        return (
            f"GET {path}: {common.ms(seconds)}, "
            f"{self.size / 1024:.0f} KiB, {self.elements:,} NiceGUI elements"
        )


Side = Callable[[], Awaitable[object]]


async def pair(a: Side, b: Side, repetitions: int = REPETITIONS) -> tuple[float, float]:
    """Medians of `a` and `b` run alternately (common.paired_medians); a GET counts its request only."""
    for side in (a, b):
        if isinstance(side, Get):
            side.times.clear()
    paired = await common.paired_medians(a, b, repetitions=repetitions, warmup=WARMUP)
    return tuple(  # type: ignore[return-value]
        statistics.median(side.times[WARMUP:]) if isinstance(side, Get) else value
        for side, value in zip((a, b), paired, strict=True)
    )


def day_param(value: date) -> Any:
    """A date as the driver wants it in a statement (SQLite keeps dates as ISO text)."""
    return value if common.dialect() == "postgres" else value.isoformat()


async def run_sql(statements: dict[str, str], *args: Any) -> dict[str, list[dict[str, Any]]]:
    """Every statement with the arguments it uses ($1, $2, ... in order), rows as the driver returns them."""
    db = common.conn()
    out = {}
    for name, text in statements.items():
        used = [arg for n, arg in enumerate(args, start=1) if f"${n}" in text]
        out[name] = await db.execute_query_dict(common.sql(text), used)
    return out


async def frame_sql(user_id: int) -> dict[str, list[dict[str, Any]]]:
    return await run_sql(FRAME_SQL, user_id)


async def overview_sql() -> dict[str, list[dict[str, Any]]]:
    last = today()
    first = last - timedelta(days=overview.CHART_DAYS - 1)
    receivables = await run_sql({"receivables": OVERVIEW_SQL["receivables"]}, day_param(last))
    payments = await run_sql({"payments": OVERVIEW_SQL["payments"]}, day_param(first), day_param(last))
    return receivables | payments


async def overview_services() -> overview.Overview:
    with pages.page_scope():
        return await overview.get_overview(actor=pages.STAFF)


# --- the data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invoice:
    id: int
    number: str
    token: str


async def sent_invoice() -> Invoice:
    """A sent invoice of 12 lines (VAT 20 % on every other one) with two partial payments, made through
    the portal's services, and a payment link to it."""
    lines = [
        LineDraft(
            f"Design sprint, week {k + 1}",
            Decimal(1 + k % 4),
            12_500 + 250 * k,
            Decimal(20) if k % 2 else Decimal(0),
            "VAT" if k % 2 else "",
        )
        for k in range(12)
    ]
    invoice_id = await invoices.create_invoice(
        actor=pages.STAFF, client_id=INVOICE_CLIENT, lines=lines, due_date=today() + timedelta(days=14)
    )
    for n, amount in enumerate((40_000, 25_000)):
        await ledger.record_offline_payment(
            actor=pages.STAFF,
            client_id=INVOICE_CLIENT,
            amount_minor=amount,
            currency="USD",
            method="bank_transfer",
            received_on=today() - timedelta(days=n),
            reference=f"BENCH-{invoice_id}-{n}",
            invoice_id=invoice_id,
        )
    rows = await run_sql({"n": "SELECT number FROM invoice WHERE id = $1"}, invoice_id)
    token = await links.issue(
        purpose="invoice", target_id=invoice_id, expires_at=now_utc() + timedelta(days=7)
    )
    return Invoice(invoice_id, str(rows["n"][0]["number"]), token)


def _check(condition: bool, message: str) -> None:
    """An assertion that `python -O` cannot skip."""
    if not condition:
        raise AssertionError(message)


def check_overview(data: overview.Overview, raw: dict[str, list[dict[str, Any]]]) -> None:
    """The services and the SQL give the same receivables and the same payments per day and currency."""
    expected = [
        (
            r["currency"],
            int(r["open_minor"]),
            int(r["open_count"]),
            int(r["overdue_minor"]),
            int(r["overdue_count"]),
        )
        for r in raw["receivables"]
    ]
    got = [
        (r.currency, r.open_minor, r.open_count, r.overdue_minor, r.overdue_count) for r in data.receivables
    ]
    _check(got == expected, f"overview receivables: services {got}, SQL {expected}")
    paid: dict[tuple[date, str], int] = {}
    for r in raw["payments"]:
        key = (pages.day(r["received_on"]), r["currency"])
        paid[key] = paid.get(key, 0) + int(r["total"])
    shown = {
        (day, currency): value
        for currency, values in data.payments.series.items()
        for day, value in zip(data.payments.days, values, strict=True)
        if value
    }
    _check(shown == paid, f"overview payments: services {shown}, SQL {paid}")
    _check(bool(paid) and any(r.overdue_minor for r in data.receivables), "no payments or nothing overdue")


# --- the run ----------------------------------------------------------------------------------------


def vs_sql(name: str, page: float, raw: float, *details: str) -> common.Figure:
    """A page / its raw SQL: judged when SQL_TARGETS gives a number, otherwise reported."""
    short = name.split(".", 1)[1]
    target = SQL_TARGETS[short]
    if target is not None:
        return common.at_most(name, page / raw, target, *details)
    return common.Figure(name, f"{page / raw:.2f}", "none: reported", True, list(details))


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    name = common.dialect_of(url)
    figures: list[common.Figure] = []
    started = time.perf_counter()
    async with app.portal_app(url):
        title = (
            f"== Whole pages (GET, in-process) on {await common.server_version()}: "
            f"{seed.FULL.clients:,} clients, {seed.FULL.invoices:,} invoices =="
        )
        invoice = await sent_invoice()
        big, small, staff = [await app.signed_in_client(u) for u in (BIG_USER, SMALL_USER, seed.STAFF_USER)]
        anonymous = app.http_client()
        login = Get(anonymous, "/login", "Sign in")
        billing_1000 = Get(big, "/billing", "Bench Billing")
        billing_10 = Get(small, "/billing", "Bench Small")
        admin = Get(staff, "/admin", "Console")
        clients = Get(staff, "/admin/clients", "Clients")
        invoice_page = Get(staff, f"/admin/invoices/{invoice.id}", invoice.number)
        pay = Get(anonymous, f"/pay/{invoice.token}", invoice.number)
        for page in (login, billing_1000, billing_10, admin, clients, invoice_page, pay):
            await page()  # answers 200 with its own content
        check_overview(await overview_services(), await overview_sql())

        big_actor = pages.client_actor(BIG_USER, seed.BILLING_CLIENT)
        page, other = await pair(billing_1000, login)
        figures.append(
            common.at_most(
                f"{name}.billing_1000_vs_login",
                page / other,
                TARGETS["billing_1000_vs_login"],
                billing_1000.describe(page),
                login.describe(other),
            )
        )
        page, other = await pair(billing_1000, billing_10)
        figures.append(
            common.at_most(
                f"{name}.billing_1000_vs_billing_10",
                page / other,
                TARGETS["billing_1000_vs_billing_10"],
                f"GET /billing: 1,000 open invoices {common.ms(page)}, 10 open invoices {common.ms(other)} "
                f"({billing_10.size / 1024:.0f} KiB, {billing_10.elements:,} elements)",
            )
        )
        page, raw = await pair(billing_1000, lambda: pages.my_billing_sql(BIG_USER, seed.BILLING_CLIENT))
        services_page, services = await pair(billing_1000, lambda: pages.my_billing(big_actor))
        figures.append(
            vs_sql(
                f"{name}.billing_1000_vs_sql",
                page,
                raw,
                f"GET /billing {common.ms(page)}, raw SQL {common.ms(raw)} (pages.MY_BILLING_SQL)",
                f"GET /billing / its services (pages.my_billing): {services_page / services:.2f} "
                f"({common.ms(services_page)} / {common.ms(services)})",
            )
        )

        services, raw = await pair(overview_services, overview_sql, SLOW_REPETITIONS)
        admin_page, raw_again = await pair(admin, overview_sql, SLOW_REPETITIONS)
        figures.append(
            common.at_most(
                f"{name}.overview_services_vs_sql",
                services / raw,
                TARGETS["overview_services_vs_sql"],
                f"overview.get_overview {common.ms(services)}, one raw SQL aggregate {common.ms(raw)} "
                f"(medians of {SLOW_REPETITIONS})",
                f"GET /admin / the same SQL: {admin_page / raw_again:.2f} ({admin.describe(admin_page)})",
            )
        )

        page, other = await pair(clients, login)
        figures.append(
            common.at_most(
                f"{name}.clients_vs_login",
                page / other,
                TARGETS["clients_vs_login"],
                clients.describe(page),
                login.describe(other),
            )
        )

        async def clients_sql() -> None:
            await frame_sql(seed.STAFF_USER)
            await run_sql(CLIENTS_SQL, False)

        page, raw = await pair(clients, clients_sql)
        figures.append(
            vs_sql(
                f"{name}.clients_vs_sql",
                page,
                raw,
                f"GET /admin/clients {common.ms(page)}, SQL {common.ms(raw)}",
            )
        )

        async def invoice_sql() -> None:
            await frame_sql(seed.STAFF_USER)
            await run_sql(INVOICE_SQL, invoice.id)

        page, raw = await pair(invoice_page, invoice_sql)
        figures.append(
            vs_sql(
                f"{name}.invoice_vs_sql",
                page,
                raw,
                f"{invoice_page.describe(page)}; SQL {common.ms(raw)}",
                "a sent invoice: 12 lines, two tax rates, two partial payments",
            )
        )

        page, other = await pair(pay, login)
        figures.append(
            common.at_most(
                f"{name}.pay_link_vs_login",
                page / other,
                TARGETS["pay_link_vs_login"],
                pay.describe(page),
                login.describe(other),
            )
        )
        for client in (big, small, staff, anonymous):
            await client.aclose()
    figures[-1].details.append(
        f"medians of {REPETITIONS} alternating runs after {WARMUP} warm-ups; "
        f"measured in {time.perf_counter() - started:.1f} s"
    )
    return title, figures


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))

"""My Billing and the console's clients list, each against raw SQL returning the same data.

    python -m bench.dashboard [--database-url URL] [--seeded]

- `my_billing_vs_sql`: the services /billing calls for its data (bench/pages.py: the guard's actor
  reload, profile, branding, to-do, credit, quotes, expiring cards, subscriptions, methods) for the client
  with 1,000 open invoices, 20 subscriptions and 10 methods / the nine plain SQL statements of
  `pages.MY_BILLING_SQL`, run through the same database client.
- `clients_first_page_vs_sql`: `clients.list_clients(page=1)` among 10,000 clients and 200,000 invoices /
  the raw count and `ORDER BY name, id LIMIT 25`.

Both sides are first checked to return the same rows and amounts. Medians of 40 alternating runs after 5
warm-ups.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench import common, pages, seed
from portal.clients import profiles
from portal.core import clock
from portal.db.lifecycle import database

MY_BILLING_TARGET = 3.0
CLIENTS_PAGE_TARGET = 2.0
PAGE_SIZE = 25
REPETITIONS = 40  # a run takes milliseconds: more of them make the medians steadier on a busy machine

CLIENTS_COUNT_SQL = "SELECT COUNT(*) AS total FROM client WHERE archived = $1"
# the page of clients with what is due on their open invoices per currency, and the earliest due date
CLIENTS_PAGE_SQL = """
WITH page AS (
    SELECT id, name, company, email, currency FROM client WHERE archived = $1
    ORDER BY name, id LIMIT $2 OFFSET $3
)
SELECT p.id, p.name, p.company, p.email, p.currency, i.currency AS due_currency,
       SUM(i.total_minor - COALESCE(
           (SELECT SUM(a.amount_minor) FROM allocation a WHERE a.invoice_id = i.id), 0)) AS due,
       MIN(i.due_date) AS first_due
FROM page p LEFT JOIN invoice i ON i.client_id = p.id AND i.status = 'open'
GROUP BY p.id, p.name, p.company, p.email, p.currency, i.currency
ORDER BY p.name, p.id
"""
BILLING_ACTOR = pages.client_actor(3, seed.BILLING_CLIENT)  # client1@bench.test


ClientsPage = tuple[int, list[tuple[Any, ...]]]


async def service_clients_page() -> ClientsPage:
    page = await profiles.list_clients(actor=pages.STAFF, page=1)
    return page.total, [
        (r.id, r.name, r.company, r.email, r.currency, r.open_due, r.has_overdue) for r in page.rows
    ]


async def sql_clients_page() -> ClientsPage:
    db = common.conn()
    count = await db.execute_query_dict(common.sql(CLIENTS_COUNT_SQL), [False])
    rows = await db.execute_query_dict(common.sql(CLIENTS_PAGE_SQL), [False, PAGE_SIZE, 0])
    return int(count[0]["total"]), rows


def same_clients_page(service: ClientsPage, raw: ClientsPage) -> bool:
    """The service's page and the SQL's rows (one per client and currency due) say the same."""
    today = clock.today()
    expected: dict[int, tuple[Any, ...]] = {}
    for r in raw[1]:
        id_ = r["id"]
        due, overdue = (expected[id_][5], expected[id_][6]) if id_ in expected else ({}, False)
        if r["due_currency"] is not None and int(r["due"] or 0):
            due[r["due_currency"]] = int(r["due"])
        if r["first_due"] is not None and pages.day(r["first_due"]) < today:
            overdue = True
        expected[id_] = (id_, r["name"], r["company"], r["email"], r["currency"], due, overdue)
    return service[0] == raw[0] and service[1] == list(expected.values())


def _check(condition: bool, message: str) -> None:
    """An assertion that `python -O` cannot skip."""
    if not condition:
        raise AssertionError(message)


async def verify() -> None:
    """Both sides do the same work and return the same thing."""
    page = await pages.my_billing(BILLING_ACTOR)
    raw = await pages.my_billing_sql(BILLING_ACTOR.user_id, seed.BILLING_CLIENT)
    problems = pages.same_data(page, raw)
    _check(not problems, "My Billing: services and SQL differ: " + "; ".join(problems))
    invoices = [p for p in page.payables if p.purpose == "invoice"]
    _check(page.summary.invoices == seed.FULL.billing_open, f"{page.summary.invoices} open invoices counted")
    _check(len(invoices) == pages.TODO_ROWS, f"{len(invoices)} open invoices shown on My Billing")
    _check(len(page.subscriptions) == seed.FULL.subscriptions, f"{len(page.subscriptions)} subscriptions")
    _check(len(page.methods) == seed.FULL.methods, f"{len(page.methods)} methods")
    _check(any(p.amount_due_minor < 10_000 for p in invoices), "no partly paid invoice on My Billing")

    total, rows = await service_clients_page()
    _check(same_clients_page((total, rows), await sql_clients_page()), "list_clients and the SQL differ")
    _check(any(r[5] for r in rows) and any(r[6] for r in rows), "no amounts due or overdue on the page")
    _check(len(rows) == PAGE_SIZE and total > 9_000, f"{total} clients, {len(rows)} rows")
    _check(len({r[1] for r in rows}) < PAGE_SIZE, "the first page should repeat names (id tie-break)")


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    async with database(url, auto_migrate=False):
        name = common.dialect()
        title = (
            f"== My Billing and the clients list on {await common.server_version()}: "
            f"{seed.FULL.clients:,} clients, {seed.FULL.invoices:,} invoices =="
        )
        await verify()
        started = time.perf_counter()
        service, raw = await common.paired_medians(
            lambda: pages.my_billing(BILLING_ACTOR),
            lambda: pages.my_billing_sql(BILLING_ACTOR.user_id, seed.BILLING_CLIENT),
            repetitions=REPETITIONS,
        )
        figures = [
            common.at_most(
                f"{name}.my_billing_vs_sql",
                service / raw,
                MY_BILLING_TARGET,
                f"services {common.ms(service)}, SQL {common.ms(raw)} (medians of {REPETITIONS}; "
                f"1,000 open invoices, 20 subscriptions, 10 methods)",
            )
        ]
        service, same_form = await common.paired_medians(
            lambda: pages.my_billing(BILLING_ACTOR),
            lambda: pages.my_billing_sql(
                BILLING_ACTOR.user_id, seed.BILLING_CLIENT, pages.MY_BILLING_SQL_SAME_FORM
            ),
            repetitions=REPETITIONS,
        )
        figures[-1].details.append(
            f"not judged: {service / same_form:.2f} against SQL whose first ten invoices are read as the "
            f"portal reads them, allocations summed for those ten only ({common.ms(same_form)}; the plain "
            "statement joins and groups all 1,000): what is left is the ORM's cost per statement"
        )
        service, raw = await common.paired_medians(
            service_clients_page, sql_clients_page, repetitions=REPETITIONS
        )
        figures.append(
            common.at_most(
                f"{name}.clients_first_page_vs_sql",
                service / raw,
                CLIENTS_PAGE_TARGET,
                f"list_clients {common.ms(service)}, SQL {common.ms(raw)} (medians of {REPETITIONS})",
            )
        )
        figures[-1].details.append(f"measured in {time.perf_counter() - started:.1f} s")
    return title, figures


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))

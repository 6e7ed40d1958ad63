"""SQL statements per page: My Billing and every console list page, with 10 and with 1,000 invoices.

    python -m bench.queries [--database-url URL]

A small database of its own (30 clients; the My Billing client with 20 subscriptions and 10 methods)
holds 10 open invoices; each page is built once to warm up, then once counted. 990 more open invoices
(a tenth partly paid) are added and every page is counted again. A page's count is every statement
its service calls execute (bench/pages.py: the guard's actor reload and the frame's branding included),
read from the database client's log of statements, exactly. Target: the same count with 10 and with
1,000 invoices (nothing runs once per row), and at most 12.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import common, pages, seed
from portal.db.lifecycle import database

TARGET = 12
SMALL = seed.Layout(
    clients=30,
    invoices=10,
    billing_open=10,
    billing_paid=0,
    billing_drafts=0,
    small_open=0,
    small_paid=0,
    billing_requests=20,
)
GROW_TO = 1_000
BILLING_ACTOR = pages.client_actor(3, seed.BILLING_CLIENT)


async def _count(call: pages.PageCall) -> list[str]:
    await call()  # warm-up: whatever happens once (creating a default row) is not the page's cost
    with common.counting_queries() as counter:
        await call()
    return counter.statements


async def _check_the_counter() -> None:
    """The counter sees exactly the statements that run: three known ones, one of them in a transaction."""
    from tortoise.transactions import in_transaction

    from portal.db.models import Client, Invoice

    with common.counting_queries() as counter:
        await common.conn().execute_query_dict("SELECT 1 AS one")
        await Client.filter(archived=False).count()
        async with in_transaction():
            await Invoice.filter(client_id=seed.BILLING_CLIENT).order_by("id").limit(3)
    if counter.count != 3:
        raise AssertionError(f"the statement counter saw {counter.count} of 3: {counter.statements}")


async def _count_all(bound: dict[str, pages.PageCall]) -> dict[str, list[str]]:
    return {name: await _count(call) for name, call in bound.items()}


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    del seeded  # always a small database of its own
    if common.is_postgres(url):
        url = common.with_database(url, "counts_" + common.database_name(url))
    with tempfile.TemporaryDirectory(prefix="bench-queries-") as folder:
        if not common.is_postgres(url):
            url = f"sqlite://{Path(folder) / 'counts.sqlite3'}"
        await seed.create(url, SMALL)
        async with database(url, auto_migrate=False):
            title = f"== SQL statements per page on {await common.server_version()}: 10 and 1,000 invoices =="
            await _check_the_counter()
            bound: dict[str, pages.PageCall] = {  # the first answer, then what loads once connected
                "/billing": lambda: pages.my_billing_first(BILLING_ACTOR),
                "/billing below the fold": lambda: pages.my_billing_later(BILLING_ACTOR),
            }
            missing = []
            for page in pages.CONSOLE_LISTS:
                call = page.bind()
                if call is None:
                    missing.append(f"{page.path} ({page.services})")
                else:
                    bound[page.path] = call
            few = await _count_all(bound)
            await seed.add_open_invoices(seed.BILLING_CLIENT, GROW_TO - SMALL.billing_open)
            many = await _count_all(bound)
    if common.is_postgres(url):
        await common.drop_postgres(url)
    name = common.dialect_of(url)
    figures = []
    for path in bound:
        small, big = len(few[path]), len(many[path])
        figure = common.Figure(
            f"{name}.statements {path}",
            f"{small} vs {big}",
            f"equal and <= {TARGET}",
            small == big <= TARGET,
        )
        if not figure.ok or path.startswith("/billing"):
            figure.details.append("1,000 invoices: " + common.statement_summary(many[path]))
        figures.append(figure)
    services = {p.path: p.services for p in pages.CONSOLE_LISTS}
    figures[-1].details += [
        "pages: /billing = bench.pages.my_billing_first (the first answer), /billing below the fold = "
        "bench.pages.my_billing_later (drawn once the browser is connected); "
        + "; ".join(f"{path} = {services[path]}" for path in bound if path in services),
        *(f"not measured, service not written yet: {m}" for m in missing),
    ]
    return title, figures


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))

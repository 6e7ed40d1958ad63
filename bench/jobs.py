"""Jobs at scale: the payment reminders and the billing-request expiry over the seed's 200,000 invoices.

    python -m bench.jobs [--database-url URL] [--seeded]

The organization's default schedule (3 days before the due date, on it, a week after). A first run on
the day before the measured days catches up what was due (timed, shown, not judged); then each of 20
consecutive days is one repetition: the raw SQL that selects the invoices due for a reminder that day
(one statement: open, not from a billing request, the client reminded and not archived, the offset
whose day has come within the catch-up window and not before the issue date, something still due, no
reminder at that offset or a later one yet) is run once to warm up and once timed, then the day's full
reminder run (`reminders.send_due_reminders(on=day)`: reading the invoices in batches, writing the
reminders, links, emails and audit entries) is timed; both are checked to pick the same invoices.
- `reminder_run_vs_sql`: median run / median raw SQL. Target <= 3.
- `statements per reminder batch`: the statements of each batch of a run read in one batch and of a run
  read in several (two more days, batch sizes 10,000 and 60): every batch the same count.
- `statements per expiry batch`: the same for `billing_requests.expire_due` over 600 lapsed requests
  (added for the purpose), in one batch of 1,000 and in batches of 100.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

from tortoise.transactions import in_transaction

from bench import common, seed
from portal.billing import billing_requests, reminders
from portal.core.organization import get_organization
from portal.db.lifecycle import database
from portal.db.models import OutboxEmail

DAYS = 20
FIRST_DAY = date(2026, 3, 2)  # inside the seed's due dates (Jan 2025 to Nov 2026)
TARGET = 3.0
SMALL_BATCH = 60
LAPSED_REQUESTS = 600


def due_sql(on: date, offsets: list[int]) -> tuple[str, list[object]]:
    """One statement: the invoices a reminder run on `on` reminds, with what it needs to write them."""
    postgres = common.dialect() == "postgres"
    params: list[object] = []

    def day(value: date) -> str:
        params.append(value)
        return f"${len(params)}"

    def shifted(days: int) -> str:  # the invoice's due date moved by a whole number of days
        return f'(i."due_date" + {days})' if postgres else f"date(i.\"due_date\", '{days:+d} days')"

    cases = " ".join(
        f'WHEN i."due_date" BETWEEN {day(on - timedelta(days=o + reminders.CATCH_UP_DAYS))} '
        f'AND {day(on - timedelta(days=o))} AND i."issue_date" <= {shifted(o)} THEN {o}'
        for o in sorted(offsets, reverse=True)
    )
    low = day(on - timedelta(days=max(offsets) + reminders.CATCH_UP_DAYS))
    high = day(on - timedelta(days=min(offsets)))
    text = f"""
        SELECT * FROM (
            SELECT i."id", i."number", i."currency", i."due_date", c."email", c."name", c."locale",
                   i."total_minor" - (SELECT COALESCE(SUM(a."amount_minor"), 0) FROM "allocation" a
                                      WHERE a."invoice_id" = i."id") AS "due",
                   CASE {cases} END AS "offset_days"
            FROM "invoice" i JOIN "client" c ON c."id" = i."client_id"
            WHERE i."status" = 'open' AND i."billing_request_id" IS NULL
              AND c."reminders_enabled" AND NOT c."archived"
              AND i."due_date" BETWEEN {low} AND {high}
        ) d
        WHERE d."due" > 0 AND d."offset_days" IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM "reminder_sent" r
                          WHERE r."invoice_id" = d."id" AND r."offset_days" >= d."offset_days")
        ORDER BY d."due_date", d."id"
    """
    return common.sql(text), params


async def _raw(on: date, offsets: list[int]) -> list[int]:
    text, params = due_sql(on, offsets)
    rows = await common.conn().execute_query_dict(text, params)
    return [int(row["id"]) for row in rows]


async def _last_reminder_id() -> int:
    rows = await common.conn().execute_query_dict('SELECT COALESCE(MAX("id"), 0) AS n FROM "reminder_sent"')
    return int(rows[0]["n"])


async def _reminded_since(last_id: int) -> list[int]:
    rows = await common.conn().execute_query_dict(
        common.sql('SELECT "invoice_id" FROM "reminder_sent" WHERE "id" > $1'), [last_id]
    )
    return sorted(int(row["invoice_id"]) for row in rows)


def per_batch(statements: list[str], starts: re.Pattern[str]) -> list[int]:
    """The statements of each batch (a batch starts with a statement matching `starts`), leaving out
    what comes before the first batch and a last read that found nothing (it is alone in its batch)."""
    batches: list[int] = []
    for sql in statements:
        if starts.search(sql):
            batches.append(0)
        if batches:
            batches[-1] += 1
    return batches[:-1] if len(batches) > 1 and batches[-1] == 1 else batches


READ_INVOICES = re.compile(r'^SELECT .*FROM "invoice".*ORDER BY .*LIMIT', re.IGNORECASE | re.DOTALL)
READ_REQUESTS = re.compile(r'^SELECT .*FROM "billing_request".*LIMIT', re.IGNORECASE | re.DOTALL)


def batches_figure(name: str, one: list[int], many: list[int], statements: list[str]) -> common.Figure:
    """The statements of the batch of a one-batch run against each batch of a run in many: a batch that
    has something to write costs exactly as much, one with nothing to write (every invoice in it reminded
    already, or paid) stops after its reads."""
    ok = len(one) == 1 and len(many) > 1 and max(many) == one[0]
    shapes = ", ".join(f"{count} in {many.count(count)}" for count in sorted(set(many), reverse=True))
    value = f"{one[0] if one else 0} with 1 batch, at most {max(many, default=0)} with {len(many)} ({shapes})"
    return common.Figure(
        name, value, "the same for every batch", ok, ["one batch: " + common.statement_summary(statements)]
    )


async def _lapsed_requests(count: int) -> None:
    """`count` pending billing requests whose 24 hours are over, each with its open invoice."""
    db = common.conn()
    top = await db.execute_query_dict(
        'SELECT (SELECT COALESCE(MAX("id"), 0) FROM "billing_request") AS r, '
        '(SELECT COALESCE(MAX("id"), 0) FROM "invoice") AS i'
    )
    first_request, first_invoice = int(top[0]["r"]) + 1, int(top[0]["i"]) + 1
    now = datetime.now(UTC)
    writer = seed.Writer()
    await writer.insert(
        seed.m.BillingRequest,
        [
            {
                "id": first_request + k,
                "client_id": 3 + k % 90,
                "email": f"lapsed{first_request + k}@bench.test",
                "description": f"Deposit {k}",
                "currency": "USD",
                "amount_minor": 10_000 + k,
                "success_url": "https://example.test/thanks",
                "cancel_url": "https://example.test/cancel",
                "status": "pending",
                "sent_at": now - timedelta(hours=30),
                "expires_at": now - timedelta(hours=6),
            }
            for k in range(count)
        ],
    )
    await writer.insert(
        seed.m.Invoice,
        [
            {
                "id": first_invoice + k,
                "client_id": 3 + k % 90,
                "number": f"INV-R{first_invoice + k:07d}",
                "status": "open",
                "currency": "USD",
                "issue_date": now.date(),
                "due_date": now.date(),
                "subtotal_minor": 10_000 + k,
                "total_minor": 10_000 + k,
                "billing_request_id": first_request + k,
            }
            for k in range(count)
        ],
    )


class Split:
    """Where a reminder run's time goes: storing the batches (recording the reminders, queueing the
    emails, the audit entries; the rest is the database choosing the invoices), measured by wrapping
    `portal.billing.reminders._send_batch`."""

    def __init__(self) -> None:
        self.store = 0.0
        store = reminders._send_batch

        async def timed_store(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return await store(*args, **kwargs)
            finally:
                self.store += time.perf_counter() - start

        reminders._send_batch = timed_store  # type: ignore[assignment]
        self._original = store

    def close(self) -> None:
        reminders._send_batch = self._original  # type: ignore[assignment]


async def writing_one() -> tuple[float, int]:
    """The median time the outbox worker takes to write one queued reminder as it sends it (its amount
    due, a new payment link, the email in the client's language; the SMTP conversation not counted), over
    up to 50 of the run's reminders, each in its own transaction as the worker does; and how many."""
    rows = await OutboxEmail.filter(kind=reminders.KIND, subject="").order_by("id").limit(50)
    times = []
    for row in rows:
        start = time.perf_counter()
        async with in_transaction():
            written = await reminders.write_reminder(row)
        times.append(time.perf_counter() - start)
        if written is None or not written.subject:
            raise AssertionError(f"reminder {row.id} was not written")
    return (statistics.median(times) if times else 0.0), len(times)


async def run(url: str, *, seeded: bool) -> tuple[str, list[common.Figure]]:
    if not seeded:
        seconds, _ = await seed.create(url)
        print(f"(seeded in {seconds:.1f} s)", flush=True)
    name = common.dialect_of(url)
    figures: list[common.Figure] = []
    async with database(url, auto_migrate=False):
        version = await common.server_version()
        offsets = reminders.clean_offsets((await get_organization()).reminder_offsets)
        started = time.perf_counter()
        catch_up = await reminders.send_due_reminders(on=FIRST_DAY - timedelta(days=1))
        catch_up_took = time.perf_counter() - started
        run_times, sql_times, sent = [], [], []
        split = Split()
        for n in range(DAYS):
            day = FIRST_DAY + timedelta(days=n)
            await _raw(day, offsets)  # warm-up
            start = time.perf_counter()
            expected = await _raw(day, offsets)
            sql_times.append(time.perf_counter() - start)
            last = await _last_reminder_id()
            start = time.perf_counter()
            report = await reminders.send_due_reminders(on=day)
            run_times.append(time.perf_counter() - start)
            reminded = await _reminded_since(last)
            if reminded != sorted(expected) or report.sent != len(expected) or report.failed:
                raise AssertionError(
                    f"{day}: the raw SQL picks {len(expected)} invoices, the run reminded {len(reminded)} "
                    f"({report})"
                )
            sent.append(report.sent)
        split.close()
        written, writes = await writing_one()
        total = sum(run_times)
        run_median, sql_median = statistics.median(run_times), statistics.median(sql_times)
        figures.append(
            common.at_most(
                f"{name}.reminder_run_vs_sql",
                run_median / sql_median,
                TARGET,
                f"reminder run {common.ms(run_median)}, raw SQL {common.ms(sql_median)} (medians of {DAYS} "
                f"days from {FIRST_DAY}, {min(sent)} to {max(sent)} reminders a day, median "
                f"{statistics.median(sent):.0f}; batches of {reminders.BATCH_SIZE})",
                f"of the runs' time: choosing the invoices {1 - split.store / total:.0%}, recording the "
                f"reminders, queueing their emails and auditing {split.store / total:.0%}",
                f"moved, not judged: the outbox worker writes each email as it sends it, "
                f"{common.ms(written)} a reminder (median of {writes}; its SMTP conversation not counted)",
                f"not judged: the catch-up run the day before sent {catch_up.sent:,} reminders in "
                f"{catch_up_took:.2f} s ({catch_up.candidates:,} candidates)",
            )
        )

        after = FIRST_DAY + timedelta(days=DAYS)
        with common.counting_queries() as one:
            await reminders.send_due_reminders(on=after, batch_size=10_000)
        with common.counting_queries() as many:
            await reminders.send_due_reminders(on=after + timedelta(days=1), batch_size=SMALL_BATCH)
        figures.append(
            batches_figure(
                f"{name}.statements per reminder batch",
                per_batch(one.statements, READ_INVOICES),
                per_batch(many.statements, READ_INVOICES),
                one.statements,
            )
        )

        await _lapsed_requests(LAPSED_REQUESTS)
        with common.counting_queries() as one:
            expired_one = await billing_requests.expire_due(batch_size=1_000)
        await _lapsed_requests(LAPSED_REQUESTS)
        with common.counting_queries() as many:
            expired_many = await billing_requests.expire_due(batch_size=100)
        figure = batches_figure(
            f"{name}.statements per expiry batch",
            per_batch(one.statements, READ_REQUESTS),
            per_batch(many.statements, READ_REQUESTS),
            one.statements,
        )
        figure.details.append(
            f"expired {expired_one:,} in one batch, then {expired_many:,} in batches of 100"
        )
        figure.ok = figure.ok and expired_one >= LAPSED_REQUESTS and expired_many == LAPSED_REQUESTS
        figures.append(figure)
    title = (
        f"== Reminders and billing-request expiry on {version}: 200,000 invoices, {DAYS} days of reminder "
        f"runs, {LAPSED_REQUESTS} lapsed requests twice =="
    )
    return title, figures


if __name__ == "__main__":
    sys.exit(common.main(run, __doc__))

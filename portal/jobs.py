"""Background work on a timer inside the portal process: mail, expiry, reminders, renewals, reconciliation.

Every job is idempotent and safe with several portal processes: each claims the rows it works on
(`select_for_update(skip_locked=True)` on PostgreSQL) and relies on a unique key or a conditional update
as the once-only guard (which is what protects SQLite, where row locks do not exist):

- send queued email: the outbox worker's conditional claim and lease (`portal.mail.worker`);
- expire billing requests: a conditional status update, the "expired" email under a dedupe key;
- send payment reminders: `ReminderSent`'s unique (invoice, offset) (`portal.billing.reminders`);
- renew subscriptions: the sandbox charges with an idempotency key per subscription and period, the
  renewal is recorded once per gateway payment id, and a failed renewal's email once per unpaid period;
- reconcile gateway payments: settling is a conditional update (`portal.payments.reconcile`);
- process webhook events: the claim in `gateway_events` (a conditional update of `processed_at`);
- close lapsed impersonations: a conditional update of `ended_at`, audited by whoever wins it.

Each run writes one log line with its counts (INFO when it did something, DEBUG when there was nothing
to do, so an idle portal does not fill the log). Time comes from `portal.core.clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from portal import gateway_events
from portal.accounts import impersonation
from portal.billing import billing_requests, reminders
from portal.config import get_settings
from portal.core.clock import now_utc
from portal.mail import worker as mail_worker
from portal.payments import reconcile
from portal.payments.gateways import selector

log = logging.getLogger(__name__)

Counts = dict[str, int]


@dataclass(frozen=True)
class Job:
    """A named piece of background work, run every `every` seconds."""

    name: str
    run: Callable[[], Awaitable[Counts]]
    every: float


async def _flush_outbox() -> Counts:
    report = await mail_worker.flush_outbox()
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed}


async def _expire_billing_requests() -> Counts:
    return {"expired": await billing_requests.expire_due()}


async def _send_reminders() -> Counts:
    report = await reminders.send_due_reminders()
    return {"sent": report.sent, "already sent": report.already_sent, "failed": report.failed}


async def _renew_subscriptions() -> Counts:
    """The sandbox renews its own subscriptions here (Stripe does it on its side and tells us by webhook);
    then every past-due subscription whose client was not told in this period is told."""
    gateway = await selector.current_gateway()
    renewed = 0
    if gateway.key == "sandbox":
        renewed = await gateway.renew_due(now=now_utc())  # type: ignore[attr-defined]
    told = await reminders.follow_up_failed_renewals()
    return {"renewals charged": renewed, "failure emails": told}


async def _process_webhook_events() -> Counts:
    gateway = await selector.current_gateway()
    return {"processed": await gateway_events.process_pending(gateway=gateway)}


async def _close_impersonations() -> Counts:
    return {"closed": await impersonation.close_lapsed_sessions()}


async def _reconcile() -> Counts:
    report = await reconcile.reconcile()
    return {
        "settled": len(report.settled),
        "failed": len(report.failed),
        "recorded": len(report.recorded),
        "missing at gateway": len(report.missing_at_gateway),
    }


JOBS: list[Job] = [
    Job("send queued email", _flush_outbox, 30.0),
    Job("expire billing requests", _expire_billing_requests, 60.0),
    Job("send payment reminders", _send_reminders, 3600.0),
    Job("renew subscriptions", _renew_subscriptions, 3600.0),
    Job("reconcile gateway payments", _reconcile, 600.0),
    Job("process webhook events", _process_webhook_events, 60.0),
    Job("close lapsed impersonations", _close_impersonations, 60.0),
]


def _describe(counts: Counts) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items())


async def run_job(job: Job) -> Counts | None:
    """Run a job once and log one line with its counts; None (and the traceback logged) when it failed."""
    try:
        counts = await job.run()
    except Exception:
        log.exception("job %s failed", job.name)
        return None
    level = logging.INFO if any(counts.values()) else logging.DEBUG
    log.log(level, "job %s: %s", job.name, _describe(counts))
    return counts


async def run_all_once() -> dict[str, Counts | None]:
    """Every job once, in order (tests, the command line, a cron-driven deployment)."""
    return {job.name: await run_job(job) for job in JOBS}


def job(name: str) -> Job:
    """The job with this name."""
    for item in JOBS:
        if item.name == name:
            return item
    raise KeyError(name)


async def _loop(item: Job) -> None:
    while True:
        await run_job(item)
        await asyncio.sleep(item.every)


class JobRunner:
    """Starts each job's loop on app start-up and cancels them on shutdown."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every job loop (every job at JOBS_INTERVAL_SECONDS when that is set, as tests do)."""
        override = float(getattr(get_settings(), "jobs_interval_seconds", 0) or 0)
        chosen = [replace(item, every=override) if override > 0 else item for item in JOBS]
        self.tasks = [asyncio.create_task(_loop(item), name=f"job: {item.name}") for item in chosen]

    async def stop(self) -> None:
        """Cancel the loops and wait for them to end."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []

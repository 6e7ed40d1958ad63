"""Background work on a timer inside the portal process: mail, expiry, reconciliation, renewals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from portal.mail import worker as mail_worker
from portal.services import billing_requests, gateways, reconcile

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[int]]


async def _reconcile() -> int:
    report = await reconcile.reconcile()
    return len(report.settled) + len(report.failed) + len(report.recorded)


async def _flush_outbox() -> int:
    return (await mail_worker.flush_outbox()).total


async def _sandbox_renewals() -> int:
    gateway = await gateways.current_gateway()
    return await gateway.renew_due() if gateway.key == "sandbox" else 0  # type: ignore[attr-defined]


JOBS: list[tuple[str, Job, float]] = [
    ("send queued email", _flush_outbox, 30.0),
    ("expire billing requests", billing_requests.expire_due, 60.0),
    ("reconcile gateway payments", _reconcile, 600.0),
    ("renew sandbox subscriptions", _sandbox_renewals, 3600.0),
]


async def _loop(name: str, job: Job, every: float) -> None:
    while True:
        try:
            done = await job()
            if done:
                log.info("job %s: %d row(s)", name, done)
        except Exception:
            log.exception("job %s failed", name)
        await asyncio.sleep(every)


class JobRunner:
    """Starts each job's loop on app start-up and cancels them on shutdown."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start every job loop."""
        self.tasks = [asyncio.create_task(_loop(name, job, every)) for name, job, every in JOBS]

    async def stop(self) -> None:
        """Cancel the loops and wait for them to end."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []

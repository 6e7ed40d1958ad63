"""The outbox worker: sends the mail that business transactions queued, after they committed.

One row at a time: a short transaction picks the next due row (`select_for_update(skip_locked=True)`, a
no-op on SQLite) and claims it with a conditional update that only one process can win (the filter names
the status and attempt count it saw; the update changes both). The SMTP conversation happens after that
transaction, so no lock is held while the network is slow.

While a row is "sending", `next_attempt_at` holds the end of its lease (claim time + 10 minutes). A row
still "sending" after its lease means the process died mid-send: it is sent again, with the same
Message-ID, so the receiving side can recognise the duplicate. Every claim counts as an attempt.

Most rows are written when they are queued. A row with `values` and no subject is written when it is sent,
by the writer registered for its kind (`register_writer`; the reminders register theirs): the writer and the
row's new subject and bodies are one transaction, and a writer that finds nothing left to say (the invoice
was paid since) leaves the row "skipped". A writer that fails counts as a failed attempt, retried later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal.core.clock import now_utc
from portal.db.models import OutboxEmail
from portal.mail.transport import MailError, SmtpConfig, build_message, send, smtp_config

log = logging.getLogger(__name__)

QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
BACKOFF_MINUTES = (1, 5, 15, 60, 240)  # after the n-th failed attempt; the last value repeats
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=10)  # a row "sending" for longer than this was left behind by a dead process


@dataclass(frozen=True)
class Written:
    """An email as its writer wrote it at send time."""

    subject: str
    text: str
    html: str = ""


Writer = Callable[[OutboxEmail], Awaitable[Written | None]]
"""Writes a row queued with `values`; None when there is nothing left to say."""
WRITERS: dict[str, Writer] = {}


def register_writer(kind: str, writer: Writer) -> None:
    """Let the worker write the rows of `kind` queued with `values` (a module that queues them registers
    its writer when it is imported)."""
    WRITERS[kind] = writer


@dataclass
class FlushReport:
    """What one run of the worker did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0  # written at send time with nothing left to say

    @property
    def total(self) -> int:
        """Rows handled in this run."""
        return self.sent + self.retried + self.failed + self.skipped


def backoff(attempts: int) -> timedelta:
    """The wait before the next try, after `attempts` failed attempts (1, 5, 15, 60, 240, 240... min)."""
    return timedelta(minutes=BACKOFF_MINUTES[min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1])


def _due(at: datetime) -> Q:
    return Q(status__in=[QUEUED, SENDING]) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=at))


async def _claim_next(at: datetime, skip: set[int]) -> tuple[OutboxEmail | None, bool]:
    """Claim the next due row; returns (row, True) when claimed, (row, False) when the claim was lost or
    the row was given up (a dead process had it on its last attempt), and (None, False) when none is due."""
    async with in_transaction():
        query = OutboxEmail.select_for_update(skip_locked=True).filter(_due(at))
        if skip:
            query = query.exclude(id__in=skip)
        row = await query.order_by("id").first()
        if row is None:
            return None, False
        mine = OutboxEmail.filter(id=row.id, status=row.status, attempts=row.attempts)
        if row.status == SENDING and row.attempts >= MAX_ATTEMPTS:
            error = "The last attempt was interrupted (the sending process stopped); it may have arrived."
            given_up = await mine.update(status=FAILED, next_attempt_at=None, last_error=error)
            if given_up:
                log.error(
                    "outbox %d (%s) to %s: failed for good: %s", row.id, row.kind, row.to_address, error
                )
                row.status = FAILED
            return row, False
        claimed = await mine.update(status=SENDING, attempts=row.attempts + 1, next_attempt_at=at + LEASE)
    if not claimed:
        return row, False
    if row.status == SENDING:
        log.warning("outbox %d: resending after an interrupted attempt (same Message-ID)", row.id)
    row.status, row.attempts = SENDING, row.attempts + 1
    return row, True


async def _attempt(row: OutboxEmail, config: SmtpConfig) -> MailError | None:
    """Build and send the row's message; the error, or None when the server accepted it."""
    try:
        message = build_message(row, config)
    except (ValueError, TypeError) as exc:  # e.g. a line break in a header
        return MailError(f"The message could not be built: {exc}", True)
    try:
        await send(message, config)
    except MailError as exc:
        return exc
    except Exception as exc:
        log.exception("outbox %d: unexpected error while sending", row.id)
        return MailError(f"Unexpected error while sending ({type(exc).__name__}: {exc}).", False)
    return None


async def _mark_sent(row: OutboxEmail, at: datetime) -> None:
    await OutboxEmail.filter(id=row.id, status=SENDING, attempts=row.attempts).update(
        status=SENT, sent_at=at, next_attempt_at=None, last_error=""
    )


async def _mark_unsent(row: OutboxEmail, error: MailError, at: datetime) -> str:
    """Schedule a retry or give up; returns the new status."""
    mine = OutboxEmail.filter(id=row.id, status=SENDING, attempts=row.attempts)
    if error.permanent or row.attempts >= MAX_ATTEMPTS:
        await mine.update(status=FAILED, next_attempt_at=None, last_error=error.message)
        log.error(
            "outbox %d (%s) to %s: failed for good after %d attempt(s): %s",
            row.id,
            row.kind,
            row.to_address,
            row.attempts,
            error.message,
        )
        return FAILED
    retry_at = at + backoff(row.attempts)
    await mine.update(status=QUEUED, next_attempt_at=retry_at, last_error=error.message)
    log.warning(
        "outbox %d (%s) to %s: attempt %d failed, next try at %s: %s",
        row.id,
        row.kind,
        row.to_address,
        row.attempts,
        retry_at.isoformat(timespec="seconds"),
        error.message,
    )
    return QUEUED


async def _write(row: OutboxEmail) -> MailError | bool:
    """Write a row queued with `values` (True), or leave it skipped (False); the error when its writer
    is missing or failed (nothing of that attempt is stored)."""
    writer = WRITERS.get(row.kind)
    if writer is None:
        return MailError(f"No writer for {row.kind!r} emails is loaded.", False)
    mine = OutboxEmail.filter(id=row.id, status=SENDING, attempts=row.attempts)
    try:
        async with in_transaction():
            written = await writer(row)
            if written is None:
                await mine.update(status=SKIPPED, next_attempt_at=None, last_error="")
                return False
            await mine.update(subject=written.subject, text_body=written.text, html_body=written.html)
    except Exception as exc:
        log.exception("outbox %d (%s): could not be written", row.id, row.kind)
        return MailError(f"The message could not be written ({type(exc).__name__}: {exc}).", False)
    row.subject, row.text_body, row.html_body = written.subject, written.text, written.html
    return True


async def _process(row: OutboxEmail, config: SmtpConfig, at: datetime, report: FlushReport) -> None:
    if row.values is not None and not row.subject:
        written = await _write(row)
        if written is False:
            report.skipped += 1
            log.info("outbox %d (%s) to %s: nothing left to say, not sent", row.id, row.kind, row.to_address)
            return
        if isinstance(written, MailError):
            if await _mark_unsent(row, written, at) == FAILED:
                report.failed += 1
            else:
                report.retried += 1
            return
    error = await _attempt(row, config)
    if error is None:
        await _mark_sent(row, at)
        report.sent += 1
        log.info("outbox %d (%s) sent to %s (attempt %d)", row.id, row.kind, row.to_address, row.attempts)
    elif await _mark_unsent(row, error, at) == FAILED:
        report.failed += 1
    else:
        report.retried += 1


async def flush_outbox(*, limit: int = 50, now: datetime | None = None) -> FlushReport:
    """Send up to `limit` due emails; each row succeeds or fails on its own."""
    report = FlushReport()
    try:
        config = await smtp_config()
    except MailError as exc:
        log.error("outbox not sent: %s", exc.message)
        return report
    seen: set[int] = set()
    for _ in range(limit):
        at = now or now_utc()
        row, claimed = await _claim_next(at, seen)
        if row is None:
            break
        seen.add(row.id)
        if not claimed:
            if row.status == FAILED:
                report.failed += 1
            continue
        try:
            await _process(row, config, at, report)
        except Exception:  # the database failed after the send: the lease makes it a later resend
            log.exception(
                "outbox %d: could not record the outcome; left 'sending' until its lease ends", row.id
            )
    return report

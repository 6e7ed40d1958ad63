"""The current time, in one place so that jobs and tests agree on it.

Tests move time with `set_now(moment)` / `advance(delta)` (or the `frozen_at(moment)` context manager)
and give the real clock back with `set_now(None)`; every service and job reads `now_utc()` / `today()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

_fixed: datetime | None = None


def now_utc() -> datetime:
    """The current time, timezone-aware (UTC); the time a test set, when it set one."""
    return _fixed if _fixed is not None else datetime.now(UTC)


def today() -> date:
    """Today's date in UTC."""
    return now_utc().date()


def set_now(moment: datetime | None) -> None:
    """Stop the clock at `moment` (a naive value is taken as UTC); None gives the real clock back."""
    global _fixed
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    _fixed = moment.astimezone(UTC) if moment is not None else None


def advance(delta: timedelta) -> datetime:
    """Move a stopped clock forward (stopping it now first if it runs); returns the new time."""
    set_now(now_utc() + delta)
    return now_utc()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Stop the clock at `moment` for the block, then restore whatever it was."""
    previous = _fixed
    set_now(moment)
    try:
        yield
    finally:
        set_now(previous)

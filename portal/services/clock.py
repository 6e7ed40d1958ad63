"""The current time, in one place so that jobs and tests agree on it."""

from __future__ import annotations

from datetime import UTC, date, datetime


def now_utc() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC."""
    return now_utc().date()

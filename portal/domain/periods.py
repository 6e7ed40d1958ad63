"""Billing periods: how long a day, week, month or year of a subscription lasts."""

from __future__ import annotations

from datetime import timedelta

# A month is 30 days and a year 365, the same length for every period (and at every gateway we run).
INTERVAL_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


def period_length(interval: str, count: int = 1) -> timedelta:
    """The length of `count` intervals; an unknown interval or a count below 1 raises ValueError."""
    if interval not in INTERVAL_DAYS or count < 1:
        raise ValueError(f"unknown billing period {count} x {interval!r}")
    return timedelta(days=INTERVAL_DAYS[interval] * count)

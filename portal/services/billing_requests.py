"""Billing requests: the lifecycle Pending -> Paid | Expired (24 h after sending) | Deleted."""

from __future__ import annotations

from portal.db.models import BillingRequest
from portal.domain.status import BillingRequestStatus
from portal.services.clock import now_utc


async def expire_due() -> int:
    """Mark every pending request whose 24 hours are over as expired; return how many changed."""
    return await BillingRequest.filter(status=BillingRequestStatus.pending, expires_at__lte=now_utc()).update(
        status=BillingRequestStatus.expired
    )

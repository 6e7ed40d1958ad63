"""Reconciliation: compare the gateway's payments with ours and repair the difference exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from portal.core.clock import now_utc, today
from portal.db.models import Payment
from portal.domain.status import PaymentSource, PaymentStatus
from portal.i18n import _
from portal.payments import charges, methods, settlement
from portal.payments.gateways import selector
from portal.payments.gateways.protocol import GatewayPayment, PaymentGateway

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=3)
UNANSWERED = timedelta(minutes=15)
ABANDONED_CHECKOUT = timedelta(hours=25)  # Stripe's checkout sessions expire after 24 hours


@dataclass
class ReconcileReport:
    """What one run found and did."""

    settled: list[int] = field(default_factory=list)  # our pending rows the gateway says succeeded
    failed: list[int] = field(default_factory=list)  # our pending rows the gateway says failed or never saw
    recorded: list[int] = field(default_factory=list)  # gateway payments we had no row for
    missing_at_gateway: list[int] = field(default_factory=list)  # our online payments the gateway lacks


async def reconcile(
    *, gateway: PaymentGateway | None = None, since: datetime | None = None
) -> ReconcileReport:
    """One pass over the gateway's recent payments; safe to run again and from several processes."""
    gateway = gateway or await selector.current_gateway()
    since = since or now_utc() - LOOKBACK
    report = ReconcileReport()
    theirs = await gateway.list_payments(created_after=int(since.timestamp()))
    seen_ids: set[int] = set()
    for gp in theirs:
        if gp.metadata.get("portal_payment_id", "").isdigit():
            seen_ids.add(int(gp.metadata["portal_payment_id"]))
        await _one(gp, gateway, report)
    refs = {gp.ref for gp in theirs}
    ours = await Payment.filter(source=PaymentSource.online, gateway=gateway.key, created_at__gte=since)
    cutoff = now_utc() - UNANSWERED
    for row in ours:
        if row.status in (PaymentStatus.succeeded, PaymentStatus.partially_refunded, PaymentStatus.refunded):
            if row.gateway_payment_id and row.gateway_payment_id not in refs:
                report.missing_at_gateway.append(row.id)
        elif (
            row.status == PaymentStatus.pending and row.id not in seen_ids and row.gateway_payment_id is None
        ):
            if await _give_up(row, cutoff):
                report.failed.append(row.id)
    if report.recorded or report.settled or report.failed or report.missing_at_gateway:
        log.info("reconciliation: %s", report)
    return report


async def _give_up(row: Payment, cutoff: datetime) -> bool:
    """Close a pending payment the gateway never saw: a charge that never arrived or an abandoned checkout."""
    if row.gateway_checkout_id is None and row.created_at < cutoff:
        return await settlement.fail_payment(payment_id=row.id, message=_(charges.NOT_REACHED_MESSAGE))
    if row.gateway_checkout_id is not None and row.created_at < now_utc() - ABANDONED_CHECKOUT:
        return await settlement.fail_payment(
            payment_id=row.id, message=_("The checkout page was left without paying.")
        )
    return False


async def _one(gp: GatewayPayment, gateway: PaymentGateway, report: ReconcileReport) -> None:
    row = await Payment.get_or_none(gateway_payment_id=gp.ref)
    if row is None and gp.metadata.get("portal_payment_id", "").isdigit():
        row = await Payment.get_or_none(id=int(gp.metadata["portal_payment_id"]))
    if row is not None:
        if row.status in (PaymentStatus.pending, PaymentStatus.failed):
            before = row.status
            await settlement.settle_from_gateway(gp)
            after = (await Payment.get(id=row.id)).status
            if after == PaymentStatus.succeeded and before != after:
                report.settled.append(row.id)
            elif after == PaymentStatus.failed and before != after:
                report.failed.append(row.id)
        return
    if gp.status != "succeeded":
        return
    recorded = await _record_unknown(gp, gateway)
    if recorded is not None:
        report.recorded.append(recorded)


async def _record_unknown(gp: GatewayPayment, gateway: PaymentGateway) -> int | None:
    """A succeeded gateway payment we have never heard of: record it once, then settle it like any other."""
    client = await methods.client_for_customer(gateway=gateway, customer_ref=gp.customer_ref)
    purpose = gp.metadata.get("purpose", "")
    target = gp.metadata.get("target_id", "")
    invoice_id = int(target) if purpose == "invoice" and target.isdigit() else None
    try:
        row = await Payment.create(
            client_id=client.id if client else None,
            amount_minor=gp.amount_minor,
            currency=gp.currency,
            status=PaymentStatus.pending,
            source=PaymentSource.online,
            method="card",
            gateway=gateway.key,
            gateway_payment_id=gp.ref,
            purpose=purpose or "invoice",
            invoice_id=invoice_id,
            received_on=today(),
            reference="Found by reconciliation",
        )
    except IntegrityError:  # another process recorded it first
        return None
    await settlement.settle(payment_id=row.id, gateway_payment_id=gp.ref)
    if invoice_id is None:
        await Payment.filter(id=row.id).update(
            needs_review=True, review_note="Found at the gateway by reconciliation: check where it belongs."
        )
    return row.id

"""The public payment page's data (`documents.pay_link_page`): the ledger's amount due, the invoice's lines
and totals, and only the reads the link's state needs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from tortoise.log import db_client_logger

from portal.billing import documents, invoices
from portal.billing.invoices import LineDraft
from portal.core import organization
from portal.core.clock import now_utc, today
from portal.db.models import Invoice, Payment
from portal.payments import ledger, links
from tests.services.conftest import World


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    seen: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.funcName.startswith("execute_"):
                seen.append(str(record.args[0] if record.args else record.msg))

    handler, level = Handler(logging.DEBUG), db_client_logger.level
    db_client_logger.addHandler(handler)
    db_client_logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        db_client_logger.removeHandler(handler)
        db_client_logger.setLevel(level)


async def _invoice_link(world: World) -> tuple[int, str]:
    """A sent three-line invoice (one line taxed) of 10,000 + 5,000 + 2,000 + 20 % on the last, paid in part
    twice, and a link to it."""
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[
            LineDraft("Design", Decimal(1), 10_000),
            LineDraft("Build", Decimal(2), 2_500),
            LineDraft("Hosting", Decimal(1), 2_000, Decimal(20), "VAT"),
        ],
        due_date=today() + timedelta(days=10),
    )
    for amount in (3_000, 1_000):
        await ledger.record_offline_payment(
            actor=world.staff,
            client_id=world.alice_id,
            amount_minor=amount,
            currency="USD",
            method="cash",
            received_on=today(),
            invoice_id=invoice_id,
        )
    token = await links.issue(
        purpose="invoice", target_id=invoice_id, expires_at=now_utc() + timedelta(days=7)
    )
    return invoice_id, token


async def test_an_open_link_is_two_reads_first_and_its_lines_and_totals_come_on_demand(world: World) -> None:
    invoice_id, token = await _invoice_link(world)
    due = await ledger.amount_due(await Invoice.get(id=invoice_id))
    await organization.get_organization()  # the row exists, as on any running portal

    with organization.page_scope(), _statements() as first:
        page = await documents.pay_link_page(token=token)
    assert due == 17_400 - 4_000
    assert page.link.state == "open" and page.link.amount_due_minor == due
    assert page.received is None and page.pending is None  # nothing being confirmed: not even asked
    # the organization, and the link with its invoice, client and the sum of its allocations
    assert len(first) == 2, first

    assert page.details is not None
    with _statements() as then:
        presentation = await page.details()
    assert len(then) == 2 and "invoice_line" in then[0] and "allocation" in then[1]
    assert presentation is not None and presentation.amount_due_minor == due  # the same as at the top
    assert [line.description for line in presentation.lines] == ["Design", "Build", "Hosting"]
    assert (presentation.total_minor, presentation.paid_minor) == (17_400, 4_000)


async def test_a_returning_payer_is_told_what_is_confirmed_and_a_paid_link_what_was_received(
    world: World,
) -> None:
    invoice_id, token = await _invoice_link(world)
    card = await Payment.create(  # a card payment of the rest, still being confirmed by the bank
        client_id=world.alice_id,
        amount_minor=13_400,
        currency="USD",
        status="pending",
        source="online",
        method="card",
        purpose="invoice",
        invoice_id=invoice_id,
        received_on=today(),
    )
    back = await documents.pay_link_page(token=token, confirming=True)
    assert back.link.state == "open" and back.pending is not None and back.pending.amount_minor == 13_400
    assert (await documents.pay_link_page(token=token)).pending is None  # not back from a checkout

    await ledger.record_offline_payment(  # the money arrives (settled through the ledger)
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=13_400,
        currency="USD",
        method="cash",
        received_on=today(),
        invoice_id=invoice_id,
    )
    await Payment.filter(id=card.id).update(status="succeeded")
    page = await documents.pay_link_page(token=token)
    assert page.link.state == "paid" and page.link.amount_due_minor == 0
    assert page.received is not None and page.received.amount_minor == 13_400
    assert page.details is not None
    shown = await page.details()
    assert shown is not None and shown.amount_due_minor == 0 and shown.paid_minor == 17_400

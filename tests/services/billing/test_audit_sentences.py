"""Audit entries read as sentences in the reader's language: amounts as money, records named, never the
stored codes ('payment.record_offline', 'payment:3', 'amount_minor', 'minor units'), in the console's audit
log and on the client record alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from portal import i18n
from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.clients import client_record
from portal.core import audit
from portal.core.clock import today
from portal.db.models import Invoice
from portal.domain.money import format_money
from portal.payments import ledger
from tests.services.conftest import World

RAW_CODE = re.compile(r"\b[a-z_]+\.[a-z_]+\b|\b[a-z_]+:\d+\b|_minor|minor units|\bunités mineures\b")


def _raw(text: str) -> str | None:
    """The first stored code in `text` (email addresses aside), or None."""
    found = RAW_CODE.search(re.sub(r"\S+@\S+", "", text))
    return found.group(0) if found else None


@pytest.fixture(params=["en", "fr"])
def locale(request: pytest.FixtureRequest) -> Iterator[str]:
    # a scope, not set_locale: a sync fixture runs in the session's own context, and a locale left set
    # there would be inherited by every later test's tasks (the French login test then read English)
    with i18n.locale_scope(request.param) as code:
        yield code


async def _paid_invoice(world: World) -> str:
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Website redesign", Decimal(1), 130_000)],
        issue_date=today(),
        due_date=today() + timedelta(days=10),
        send=True,
    )
    await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=130_000,
        currency="USD",
        method="cash",
        received_on=today(),
        invoice_id=invoice_id,
    )
    await audit.record(  # stored the way credit.apply stores it: an amount without its currency
        actor=world.staff,
        action="credit.apply",
        subject=f"invoice:{invoice_id}",
        client_id=world.alice_id,
        details={"amount_minor": 500},
    )
    await audit.record(actor=world.staff, action="widget.frobnicate", client_id=world.alice_id)
    number = (await Invoice.get(id=invoice_id)).number
    assert number
    return number


def _expected(locale: str, number: str) -> tuple[str, str, str]:
    t = i18n.translate
    invoice = i18n.pgettext("in a sentence", "invoice {number}", locale, number=number)
    offline = t(
        "{actor} recorded an offline payment of {amount} ({method}) on {invoice}",
        locale,
        actor="staff@x.test",
        amount=format_money(130_000, "USD", locale),
        method=t("Cash", locale),
        invoice=invoice,
    )
    credit = t(
        "{actor} applied {amount} of account credit to {invoice}",
        locale,
        actor="staff@x.test",
        amount=format_money(500, "USD", locale),
        invoice=invoice,
    )
    unknown = t("{actor}: {what}", locale, actor="staff@x.test", what="Widget frobnicate")
    return offline, credit, unknown


async def test_the_audit_log_reads_as_sentences_in_the_readers_language(world: World, locale: str) -> None:
    number = await _paid_invoice(world)

    rows = {r.action: r for r in (await audit.list_entries(actor=world.admin)).rows}

    offline, credit, unknown = _expected(locale, number)
    assert rows["payment.record_offline"].sentence == offline
    assert rows["credit.apply"].sentence == credit
    assert rows["widget.frobnicate"].sentence == unknown
    if locale == "en":
        assert offline == f"staff@x.test recorded an offline payment of $1,300.00 (Cash) on invoice {number}"
    else:
        assert offline.startswith("staff@x.test a enregistré un paiement hors ligne de 1")
        assert offline.endswith(f"(Espèces) sur la facture {number}")
    for row in rows.values():
        assert _raw(row.sentence) is None, row.sentence
        assert _raw(row.details) is None, row.details
        assert _raw(row.record) is None, row.record
    assert format_money(500, "USD", locale) in rows["credit.apply"].details  # read in the invoice's currency


async def test_the_client_records_activity_reads_the_same_sentences(world: World, locale: str) -> None:
    number = await _paid_invoice(world)

    record = await client_record.get_client_record(actor=world.staff, client_id=world.alice_id)

    sentences = {item.action: item.sentence for item in record.audit.items}
    offline, credit, unknown = _expected(locale, number)
    assert sentences["payment.record_offline"] == offline
    assert sentences["credit.apply"] == credit
    assert sentences["widget.frobnicate"] == unknown
    for item in record.audit.items:
        assert _raw(item.sentence + " " + item.details_text) is None, (item.sentence, item.details_text)

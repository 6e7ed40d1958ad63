"""The public payment page of an invoice link: the invoice's lines and totals first, each way to pay under
its own tab, in the client's language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nicegui import ui
from nicegui.testing import User

from portal.core.clock import now_utc
from portal.db.models import Client, Invoice, Organization
from portal.domain.money import format_money
from portal.i18n import translate
from portal.payments import ledger, links

BANK = "IBAN FR76 3000 6000 0112 3456 7890 189"


async def _open_invoice_link(locale: str) -> tuple[Invoice, str, int]:
    """A demo client's open invoice, the client reading `locale`, and a fresh link to it."""
    invoice = await Invoice.filter(status="open").order_by("id").first()
    assert invoice is not None
    await Client.filter(id=invoice.client_id).update(locale=locale)
    await Organization.filter(id=1).update(bank_details=BANK)
    token = await links.issue(
        purpose="invoice", target_id=invoice.id, expires_at=now_utc() + timedelta(days=7)
    )
    return invoice, token, await ledger.amount_due(invoice)


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_each_way_to_pay_is_shown_when_its_tab_is_opened(user: User, locale: str) -> None:
    await user.open("/login")  # start the app so the database is open
    invoice, token, due = await _open_invoice_link(locale)
    amount = format_money(due, invoice.currency, locale)

    await user.open(f"/pay/{token}")
    await user.should_see(marker="invoice-lines")  # the lines and totals, before any way to pay
    await user.should_see(translate("Pay {amount} by card", locale, amount=amount))
    await user.should_not_see(marker="bank-details")  # not built until its tab is opened
    await user.should_not_see(marker="pay-debit")

    user.find(kind=ui.tab, content=translate("Bank transfer", locale)).click()
    await user.should_see(BANK)
    await user.should_see(translate("Quote this reference: {reference}", locale, reference=invoice.number))
    user.find(kind=ui.tab, content=translate("Direct debit", locale)).click()
    await user.should_see(translate("Pay {amount} by direct debit", locale, amount=amount))
    user.find(kind=ui.tab, content=translate("Card", locale)).click()  # built once, still there
    await user.should_see(marker="pay-card")
    assert len(user.find(marker="bank-details").elements) == 1

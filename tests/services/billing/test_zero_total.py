"""An invoice whose total is 0 (a free line) is settled when it is issued (issue 14): paid at once, never
listed as payable, nothing charged, the ledger untouched, and its email says nothing is due."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import invoice_editor, invoices
from portal.billing.invoice_editor import InvoiceForm
from portal.billing.invoices import LineDraft
from portal.billing.line_input import LineForm
from portal.clients import dashboard
from portal.core.clock import today
from portal.core.organization import get_organization
from portal.db.models import Allocation, Client, CreditEntry, Invoice, OutboxEmail, Payment
from portal.domain.errors import Conflict, IllegalTransition
from portal.domain.status import InvoiceStatus
from portal.payments import charges, ledger
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card


async def _free_invoice(world: World) -> int:
    return await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        due_date=today() + timedelta(days=14),
        lines=[LineDraft("Free audit", Decimal(1), 0)],
    )


async def test_a_zero_total_invoice_is_paid_when_issued(world: World) -> None:
    invoice = await Invoice.get(id=await _free_invoice(world))
    assert invoice.total_minor == 0
    assert invoice.status == InvoiceStatus.paid
    assert invoice.paid_at is not None
    assert invoice.number  # numbered like any issued invoice
    assert not await Allocation.filter(invoice_id=invoice.id).exists()  # nothing was due, nothing moved
    assert await ledger.amount_due(invoice) == 0


async def test_a_zero_total_invoice_is_never_listed_as_payable(world: World) -> None:
    free_id = await _free_invoice(world)
    assert free_id not in [
        i.id for i in await invoices.open_invoices(actor=world.alice, client_id=world.alice_id)
    ]
    assert free_id not in [
        p.id for p in await dashboard.payables(actor=world.alice, client_id=world.alice_id)
    ]
    with pytest.raises((Conflict, IllegalTransition)):  # no "pay now" path accepts it
        await charges.load_target(purpose="invoice", target_id=free_id)


async def test_sending_a_free_draft_from_the_editor_settles_it_and_charges_nothing(world: World) -> None:
    await Client.filter(id=world.alice_id).update(auto_charge=True)
    await add_card(world)
    org = await get_organization()
    org.apply_credit_automatically = True
    await org.save()
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=5000, currency="USD", note="Goodwill"
    )
    form = InvoiceForm(
        currency="USD",
        issue_date=today().isoformat(),
        due_date=(today() + timedelta(days=7)).isoformat(),
        notes="",
        lines=[
            LineForm(description="Setup (free)", quantity="1", unit_price="0.00", date=today().isoformat())
        ],
    )
    invoice_id = await invoice_editor.send_invoice(actor=world.staff, client_id=world.alice_id, form=form)
    invoice = await Invoice.get(id=invoice_id)
    assert invoice.status == InvoiceStatus.paid
    assert not await Payment.filter(client_id=world.alice_id).exists()  # auto-charge had nothing to take
    assert await ledger.credit_balance(world.alice_id, "USD") == 5000  # the credit was not touched
    assert await CreditEntry.filter(client_id=world.alice_id).count() == 1
    email = await OutboxEmail.filter(kind="invoice", client_id=world.alice_id).order_by("-id").first()
    assert email is not None
    assert "nothing is due" in email.text_body
    assert "Your account credit paid it" not in email.text_body
    view = await invoice_editor.get_invoice_editor(actor=world.staff, invoice_id=invoice_id)
    assert view.display_status == "paid"


async def test_an_invoice_with_something_to_pay_stays_open(world: World) -> None:
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        due_date=today() + timedelta(days=14),
        lines=[LineDraft("Audit", Decimal(1), 100)],
    )
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open

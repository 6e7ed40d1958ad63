"""Refunds from the console (issue 15 items 1 and 4): full and partial, online through the gateway and offline
as paid out, refused above what is left with the exact figure, once per dialog key, audited, the invoice
reopened, credit taken back first, and one refund receipt per refund; offline payments email a receipt when
the organization's setting is on."""

from __future__ import annotations

import asyncio

import pytest

from portal.core.organization import get_organization
from portal.db.models import (
    AuditEntry,
    Client,
    CreditEntry,
    Invoice,
    OutboxEmail,
    Payment,
    Refund,
    SandboxObject,
)
from portal.domain.errors import Forbidden, InvalidInput
from portal.domain.status import InvoiceStatus, PaymentStatus
from portal.payments import charges, ledger, receipts, refunds
from portal.settings import billing_and_tax
from tests.services.conftest import World
from tests.services.payment_fixtures import add_card, invoice_for, sandbox
from tests.services.payment_fixtures import cash_payment as _offline


async def _card_payment(world: World, amount: int) -> tuple[int, int]:
    await add_card(world)
    invoice_id = await invoice_for(world, amount)
    outcome = await charges.pay_with_saved_method(
        actor=world.alice, purpose="invoice", target_id=invoice_id, gateway=sandbox()
    )
    return invoice_id, outcome.payment_id


async def _state(invoice_id: int, payment_id: int) -> tuple[str, int, str, int]:
    invoice = await Invoice.get(id=invoice_id)
    payment = await Payment.get(id=payment_id)
    return (
        invoice.status,
        payment.refunded_minor,
        payment.status,
        await Refund.filter(payment_id=payment_id).count(),
    )


async def test_a_partial_refund_of_an_offline_payment_is_paid_out_and_reopens_the_invoice(
    world: World,
) -> None:
    invoice_id = await invoice_for(world, 5000)
    payment_id = await _offline(world, 5000)
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid
    offer = await refunds.refund_offer(actor=world.staff, payment_id=payment_id)
    assert (offer.refundable_minor, offer.online, offer.method) == (5000, False, "Cash")

    await refunds.refund_payment(
        actor=world.staff,
        payment_id=payment_id,
        amount_minor=1250,
        reason="Late delivery",
        idempotency_key="k1",
    )
    assert await _state(invoice_id, payment_id) == ("open", 1250, PaymentStatus.partially_refunded, 1)
    assert await SandboxObject.filter(kind="refund").count() == 0  # nothing went through the gateway
    due = await ledger.amount_due(await Invoice.get(id=invoice_id))
    assert due == 1250
    assert (await refunds.refund_offer(actor=world.staff, payment_id=payment_id)).refundable_minor == 3750
    entry = await AuditEntry.get(action="payment.refund")
    assert entry.details["amount_minor"] == 1250 and entry.details["reason"] == "Late delivery"
    assert entry.on_behalf_of_id == world.alice_id


async def test_a_full_refund_of_an_offline_payment_refunds_it_all(world: World) -> None:
    invoice_id = await invoice_for(world, 2000)
    payment_id = await _offline(world, 2000)
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=2000, idempotency_key="a"
    )
    assert await _state(invoice_id, payment_id) == ("open", 2000, PaymentStatus.refunded, 1)
    assert not (await refunds.refund_offer(actor=world.staff, payment_id=payment_id)).can_refund


async def test_more_than_is_left_is_refused_with_the_exact_figure_and_nothing_changes(world: World) -> None:
    invoice_id = await invoice_for(world, 5000)
    payment_id = await _offline(world, 5000)
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=3750, idempotency_key="a"
    )
    before = await _state(invoice_id, payment_id)
    emails = await OutboxEmail.all().count()
    with pytest.raises(InvalidInput, match=r"^At most \$12\.50 can be refunded\.$") as caught:
        await refunds.refund_payment(
            actor=world.staff, payment_id=payment_id, amount_minor=1251, idempotency_key="b"
        )
    assert caught.value.field == "amount"
    assert await _state(invoice_id, payment_id) == before
    assert await OutboxEmail.all().count() == emails
    assert await AuditEntry.filter(action="payment.refund").count() == 1


async def test_a_double_click_with_the_same_key_refunds_once(world: World) -> None:
    invoice_id = await invoice_for(world, 4000)
    payment_id = await _offline(world, 4000)
    first = await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=4000, idempotency_key="dialog-1"
    )
    again = await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=4000, idempotency_key="dialog-1"
    )
    assert first == again
    assert await _state(invoice_id, payment_id) == ("open", 4000, PaymentStatus.refunded, 1)
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 1


async def test_two_clicks_at_once_refund_once_online(world: World) -> None:
    invoice_id, payment_id = await _card_payment(world, 3000)
    results = await asyncio.gather(
        *[
            refunds.refund_payment(
                actor=world.staff,
                payment_id=payment_id,
                amount_minor=1000,
                idempotency_key="same",
                gateway=sandbox(),
            )
            for _ in range(2)
        ],
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, int)], results
    assert await SandboxObject.filter(kind="refund").count() == 1
    assert await _state(invoice_id, payment_id) == ("open", 1000, PaymentStatus.partially_refunded, 1)
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 1


async def test_an_online_refund_goes_back_through_the_gateway_with_the_staff_reason(world: World) -> None:
    invoice_id, payment_id = await _card_payment(world, 2500)
    offer = await refunds.refund_offer(actor=world.staff, payment_id=payment_id)
    assert offer.online and offer.refundable_minor == 2500 and "4242" in offer.method
    await refunds.refund_payment(
        actor=world.staff,
        payment_id=payment_id,
        amount_minor=1000,
        reason="Goodwill",
        idempotency_key="k",
        gateway=sandbox(),
    )
    assert await SandboxObject.filter(kind="refund").count() == 1
    assert await _state(invoice_id, payment_id) == ("open", 1000, PaymentStatus.partially_refunded, 1)
    refund = await Refund.get(payment_id=payment_id)
    # the sandbox reports the refund while it is made: the row is still the staff member's, with their reason
    assert (refund.reason, refund.created_by_id) == ("Goodwill", world.staff.user_id)
    audit = await AuditEntry.filter(action="payment.refund")
    assert [a.actor_id for a in audit] == [world.staff.user_id]
    mail = await OutboxEmail.get(kind="refund_receipt")
    assert mail.dedupe_key == f"receipt:refund:{refund.id}" and mail.to_address == "alice@x.test"
    assert "$10.00" in mail.subject and "Goodwill" in mail.text_body and "Visa" in mail.text_body
    # the rest, then nothing more
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=1500, idempotency_key="k2", gateway=sandbox()
    )
    assert await _state(invoice_id, payment_id) == ("open", 2500, PaymentStatus.refunded, 2)
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 2


async def test_credit_the_payment_created_is_taken_back_first(world: World) -> None:
    invoice_id = await invoice_for(world, 1000)
    payment_id = await _offline(world, 1600, to_credit=True)  # 600 became credit
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=500, idempotency_key="a"
    )
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.paid  # only credit was taken back
    assert await ledger.credit_balances(actor=world.staff, client_id=world.alice_id) == {"USD": 100}
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=400, idempotency_key="b"
    )
    assert await ledger.credit_balances(actor=world.staff, client_id=world.alice_id) == {}
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open
    assert await ledger.amount_due(await Invoice.get(id=invoice_id)) == 300
    mail = (await OutboxEmail.filter(kind="refund_receipt").order_by("id"))[-1]
    assert "is open again" in mail.text_body and "$1.00 of account credit" in mail.text_body


async def test_spent_credit_limits_the_refund_with_the_exact_figure(world: World) -> None:
    payment_id = await _offline(world, 1000, to_credit=True)  # all credit
    invoice_id = await invoice_for(world, 700)
    org = await get_organization()
    assert not org.apply_credit_automatically
    await ledger.adjust_credit(
        actor=world.staff, client_id=world.alice_id, amount_minor=-700, currency="USD", note="Used"
    )
    assert (await refunds.refund_offer(actor=world.staff, payment_id=payment_id)).refundable_minor == 300
    with pytest.raises(InvalidInput, match=r"Only \$3\.00 of this payment can be refunded"):
        await refunds.refund_payment(actor=world.staff, payment_id=payment_id, amount_minor=301)
    assert await CreditEntry.filter(refund_id__not_isnull=True).count() == 0
    assert (await Invoice.get(id=invoice_id)).status == InvoiceStatus.open


async def test_clients_cannot_refund_or_see_the_offer(world: World) -> None:
    payment_id = await _offline(world, 1000, to_credit=True)
    with pytest.raises(Forbidden):
        await refunds.refund_offer(actor=world.alice, payment_id=payment_id)
    with pytest.raises(Forbidden):
        await refunds.refund_payment(actor=world.alice, payment_id=payment_id, amount_minor=100)
    assert await Refund.all().count() == 0


async def test_an_offline_payment_emails_one_receipt_when_the_setting_is_on(world: World) -> None:
    assert (await billing_and_tax.get_billing_settings(actor=world.admin)).email_offline_receipts  # default
    await invoice_for(world, 900)
    payment_id = await _offline(world, 900, key="form-1")
    assert await _offline(world, 900, key="form-1") == payment_id  # the same form twice: one payment
    mails = await OutboxEmail.filter(kind="receipt")
    assert [m.dedupe_key for m in mails] == [f"receipt:payment:{payment_id}"]
    written = await receipts.write_receipt(mails[0])  # as the outbox worker writes it when sending it
    assert written is not None and "$9.00" in written.subject and "Cash" in written.text


async def test_no_offline_receipt_when_the_setting_is_off(world: World) -> None:
    view = await billing_and_tax.update_billing(
        actor=world.admin,
        default_currency="USD",
        apply_credit_automatically=False,
        email_offline_receipts=False,
    )
    assert view.email_offline_receipts is False
    await invoice_for(world, 900)
    payment_id = await _offline(world, 900)
    assert await OutboxEmail.filter(kind="receipt").count() == 0
    # refunds always send their receipt
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=900, idempotency_key="a"
    )
    assert await OutboxEmail.filter(kind="refund_receipt").count() == 1
    assert await AuditEntry.filter(action="settings.billing").count() == 1


async def test_the_refund_receipt_is_in_the_clients_language(world: World) -> None:
    await Client.filter(id=world.alice_id).update(locale="fr")
    await invoice_for(world, 1000)
    payment_id = await _offline(world, 1000)
    await refunds.refund_payment(
        actor=world.staff, payment_id=payment_id, amount_minor=250, idempotency_key="a"
    )
    mail = await OutboxEmail.get(kind="refund_receipt")
    assert "Remboursement" in mail.subject and "2,50" in mail.subject

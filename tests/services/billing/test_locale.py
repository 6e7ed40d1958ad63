"""Choosing the language: `accounts.set_user_locale`, and services answering in the current locale."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from portal import i18n
from portal.accounts import impersonation, sessions
from portal.billing import documents, invoices, pdf
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import AuditEntry, Client, User
from portal.domain.errors import Conflict, InvalidInput
from portal.domain.money import format_money
from portal.payments import ledger
from tests.services.billing.test_documents import pdf_strings
from tests.services.conftest import World

PASSWORD = "correct horse battery"


async def test_a_client_switches_to_french_and_is_loaded_in_french_from_then_on(world: World) -> None:
    await sessions.set_user_locale(actor=world.alice, locale="fr")

    assert (await User.get(id=world.alice.user_id)).locale == "fr"
    reloaded = await sessions.load_actor(user_id=world.alice.user_id)
    assert reloaded is not None and reloaded.locale == "fr"
    entry = await AuditEntry.get(action="user.locale")
    assert (entry.actor_id, entry.on_behalf_of_id) == (world.alice.user_id, world.alice_id)
    assert entry.details == {"from": "en", "to": "fr"}
    # nobody else changed
    assert (await User.get(id=world.bob.user_id)).locale == "en"


async def test_staff_choose_their_language_too_and_a_repeat_changes_nothing(world: World) -> None:
    await sessions.set_user_locale(actor=world.staff, locale="FR")
    await sessions.set_user_locale(actor=world.staff, locale="fr")

    assert (await User.get(id=world.staff.user_id)).locale == "fr"
    assert await AuditEntry.filter(action="user.locale").count() == 1


@pytest.mark.parametrize("locale", ["de", "", "fr-CA", "english"])
async def test_an_unsupported_language_is_refused_and_nothing_changes(world: World, locale: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await sessions.set_user_locale(actor=world.alice, locale=locale)

    assert refused.value.field == "locale"
    assert refused.value.message == "Choose English or French."
    assert (await User.get(id=world.alice.user_id)).locale == "en"
    assert not await AuditEntry.exists(action="user.locale")


async def test_while_viewing_as_a_client_the_admin_changes_their_own_language_not_the_clients(
    world: World,
) -> None:
    view = await impersonation.start(actor=world.admin, client_id=world.alice_id, reason="Ticket 12")
    viewing = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=view.id)
    assert viewing is not None and viewing.is_impersonating

    await sessions.set_user_locale(actor=viewing, locale="fr")

    assert (await User.get(id=world.admin.user_id)).locale == "fr"
    assert (await User.get(id=world.alice.user_id)).locale == "en"
    entry = await AuditEntry.get(action="user.locale")
    assert entry.actor_id == world.admin.user_id and entry.subject == f"user:{world.admin.user_id}"
    again = await sessions.load_actor(user_id=world.admin.user_id, impersonation_id=view.id)
    assert again is not None and again.locale == "fr"


async def test_services_answer_in_the_current_locale(world: World) -> None:
    i18n.set_locale("fr")
    try:
        with pytest.raises(InvalidInput) as wrong:
            await sessions.authenticate(email="alice@x.test", password="not the password")
        with pytest.raises(InvalidInput) as refused:
            await sessions.set_user_locale(actor=world.alice, locale="de")
        with pytest.raises(Conflict) as no_credit:
            await ledger.adjust_credit(
                actor=world.staff, client_id=world.alice_id, amount_minor=-500, currency="USD", note="Test"
            )
    finally:
        i18n.set_locale("en")

    assert wrong.value.message == i18n.translate("Wrong email or password.", "fr")
    assert wrong.value.message != "Wrong email or password."
    assert refused.value.message == i18n.translate("Choose English or French.", "fr")
    assert no_credit.value.message == i18n.translate(
        "The client has only {amount} of credit.", "fr", amount=format_money(0, "USD", "fr")
    )
    # back in English afterwards
    with pytest.raises(InvalidInput) as english:
        await sessions.authenticate(email="alice@x.test", password="not the password")
    assert english.value.message == "Wrong email or password."


async def test_the_pdfs_of_a_french_client_are_in_french_whoever_downloads_them(world: World) -> None:
    await Client.filter(id=world.alice_id).update(locale="fr")
    invoice_id = await invoices.create_invoice(
        actor=world.staff,
        client_id=world.alice_id,
        lines=[LineDraft("Audit", Decimal("2.5"), 8001, Decimal(20), "TVA")],
        due_date=today() + timedelta(days=14),
    )
    recorded = await ledger.record_offline_payment(
        actor=world.staff,
        client_id=world.alice_id,
        amount_minor=5000,
        currency="USD",
        method="bank_transfer",
        received_on=today(),
        reference="VIR-12",
        invoice_id=invoice_id,
    )
    detail = await documents.get_invoice(actor=world.staff, invoice_id=invoice_id)  # staff read in English
    assert detail.locale == "fr" and detail.title == f"Invoice {detail.number}"

    strings = pdf_strings(pdf.invoice_pdf(detail, compress=False))
    text = " ".join(strings)
    fr = lambda message, **values: pdf.pdf_text(i18n.translate(message, "fr", **values))  # noqa: E731
    assert fr("INVOICE") == "FACTURE" and " FACTURE" in strings  # the title bar
    assert fr("Amount due") in strings and fr("Subtotal (net)") in strings and "Amount due" not in strings
    assert pdf.pdf_text(format_money(detail.amount_due_minor, "USD", "fr")) in strings
    assert pdf.pdf_text(i18n.format_date(detail.due_date, "fr")) in strings
    assert fr("Payments and credit applied") in strings  # each payment behind the totals, dated
    assert f"{fr('Bank transfer')} · VIR-12" in strings
    assert pdf.pdf_text(i18n.format_date(today(), "fr")) in strings and fr("Payments received") in text

    receipt = await documents.get_receipt(actor=world.staff, payment_id=recorded.payment_id)
    strings = pdf_strings(pdf.receipt_pdf(receipt, compress=False))
    assert " " + fr("RECEIPT") in strings and fr("Bank transfer") == "Virement bancaire"
    assert "Virement bancaire" in strings and fr("Thank you for your payment.") in strings

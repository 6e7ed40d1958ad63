"""The invoice and quote editors say, before anything is saved, that a client who is an EU business in
another member state is reverse charged: the hint names its VAT number, the tax menus show 0% and are
disabled, and the live totals carry no tax, as the saved invoice does."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nicegui import ui
from nicegui.testing import User

from portal.billing import invoices
from portal.billing.invoices import LineDraft
from portal.core.clock import today
from portal.db.models import Client, Invoice, InvoiceLine, Organization
from portal.db.models import User as User_
from tests.services.conftest import staff_actor
from tests.ui.conftest import sign_in
from tests.ui.test_console_invoices import _as_staff, _element, _text

MENTION = (
    "Reverse charge: VAT to be accounted for by the recipient (Article 196 of Council Directive 2006/112/EC)"
)
HINT = "Reverse charge: no VAT is charged; the client accounts for it (EU business, VAT no. DE136695976)"


async def _german_business() -> Client:
    """The demo agency moves to France; the demo client becomes a business in Germany."""
    await Organization.filter(id=1).update(country="FR", vat_number="FR40303265045")
    client = await Client.get(email="client@demo.test")
    await Client.filter(id=client.id).update(
        is_business=True, country="DE", vat_number="DE136695976", vat_check="", company="Archery GmbH"
    )
    return client


async def test_the_invoice_editor_says_reverse_charge_and_charges_no_tax(user: User) -> None:
    await user.open("/login")
    client = await _german_business()
    await _as_staff(user, f"/admin/invoices/new?client={client.id}")
    await user.should_see("New invoice")
    await user.should_see(HINT)
    tax = _element(user, "line-tax-0")
    assert isinstance(tax, ui.select) and not tax.enabled
    assert list(tax.options.values()) == ["0% (reverse charge)"]  # type: ignore[union-attr]
    user.find(marker="line-description-0").type("Website care")
    user.find(marker="line-quantity-0").clear().type("2")
    user.find(marker="line-price-0").type("12.50")
    assert (_text(user, "subtotal"), _text(user, "tax-total"), _text(user, "total")) == (
        "$25.00",
        "$0.00",
        "$25.00",
    )
    user.find(marker="save-draft").click()
    await user.should_see("Draft saved.", retries=50)
    invoice = await Invoice.filter().order_by("-id").first()
    assert invoice is not None
    assert (invoice.reverse_charge, invoice.tax_minor, invoice.total_minor) == (True, 0, 2500)
    assert await InvoiceLine.filter(invoice_id=invoice.id).values_list("tax_minor", flat=True) == [0]
    await user.should_see(f"Draft invoice {invoice.id}", retries=50)
    await user.should_see(HINT)  # the saved draft says it again


async def test_the_quote_editor_says_it_too(user: User) -> None:
    await user.open("/login")
    client = await _german_business()
    await _as_staff(user, f"/admin/quotes/new?client={client.id}&kind=estimate")
    await user.should_see("New estimate")
    await user.should_see(HINT)
    assert not _element(user, "line-tax-0").enabled


async def test_a_client_at_home_gets_no_hint_and_may_be_taxed(user: User) -> None:
    await user.open("/login")
    client = await _german_business()
    await Client.filter(id=client.id).update(country="FR", vat_number="FR44732829320")
    await _as_staff(user, f"/admin/invoices/new?client={client.id}")
    await user.should_see("New invoice")
    await user.should_not_see("Reverse charge")
    assert _element(user, "line-tax-0").enabled


async def test_the_clients_page_of_a_reverse_charged_invoice_carries_the_mention(user: User) -> None:
    await user.open("/login")
    client = await _german_business()
    staff = await User_.get(email="staff@demo.test")
    invoice_id = await invoices.create_invoice(
        actor=staff_actor(staff.id),
        client_id=client.id,
        lines=[LineDraft("Design", Decimal(1), 10000, Decimal(20), "VAT")],
        due_date=today() + timedelta(days=30),
    )
    await sign_in(user, "client@demo.test")
    await user.should_see(marker="nav-billing", retries=50)
    await user.open(f"/billing/invoices/{invoice_id}")
    await user.should_see(MENTION, retries=50)
    await user.should_see(marker="reverse-charge-mention")

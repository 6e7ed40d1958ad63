"""The portal in French: a French client's My Billing, the sign-in page by choice or by browser, errors."""

from __future__ import annotations

from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from portal import i18n
from portal.accounts import sessions
from portal.core.clock import now_utc
from portal.db.models import Client, Invoice
from portal.db.models import User as UserRow
from portal.domain.money import format_money
from portal.payments import links
from tests.ui.conftest import sign_in

FRENCH_BROWSER = "fr-FR,fr;q=0.9,en;q=0.5"


def fr(message: str, **values: object) -> str:
    """`message` as a French reader sees it."""
    return i18n.translate(message, "fr", **values)


async def _emile_reads_french() -> None:
    """Émile picks French for himself (the service behind the language menu)."""
    row = await UserRow.get(email="emile@demo.test")
    actor = await sessions.load_actor(user_id=row.id)
    assert actor is not None
    await sessions.set_user_locale(actor=actor, locale="fr")


async def test_a_french_client_sees_my_billing_in_french_with_french_amounts(user: User) -> None:
    await user.open("/login")  # starts the app (and its database)
    await _emile_reads_french()
    await sign_in(user, "emile@demo.test")
    await user.should_see(fr("My Billing"), retries=50)
    assert fr("My Billing") == "Ma facturation"
    await user.should_not_see("Payment methods")
    for text in ("To do", "Open balance", "Credit available", "No credit", "Subscriptions", "Add a card"):
        await user.should_see(fr(text))
        assert fr(text) != text

    emile = await Client.get(email="emile@demo.test")
    invoice = await Invoice.get(client_id=emile.id, status="open")
    due = format_money(invoice.total_minor, "EUR", "fr")
    assert due != format_money(invoice.total_minor, "EUR", "en")  # "1 560,00 €" against "€1,560.00"
    assert user.find(marker="total-open").elements.pop().text == due
    table = user.find(marker="open-invoices").elements.pop()
    assert isinstance(table, ui.table)
    assert [(row["number"], row["amount_due"], row["status"]) for row in table.rows] == [
        (invoice.number, due, fr("Open"))
    ]
    assert [column["label"] for column in table.columns][:4] == [
        fr("Invoice"),
        fr("Issued"),
        fr("Due"),
        fr("Amount due"),
    ]
    assert table.rows[0]["pay_label"] == fr("Pay now") == "Payer maintenant"

    await user.open(f"/billing/invoices/{invoice.id}")
    await user.should_see(fr("Invoice {number}", number=invoice.number))
    assert user.find(marker="amount-due").elements.pop().text == due
    await user.should_see(fr("Download PDF"))
    await user.should_see(i18n.format_date(invoice.due_date, "fr"), retries=5)


async def test_the_sign_in_page_follows_the_browser_and_the_language_switch(user: User) -> None:
    user.http_client.headers["Accept-Language"] = FRENCH_BROWSER
    await user.open("/login")
    await user.should_see(fr("Sign in to your billing portal"))
    assert user.find(marker="sign-in").elements.pop().text == fr("Sign in") == "Se connecter"
    await user.should_see(marker="lang-en")

    await user.open("/login?lang=en")  # the switch wins over the browser
    await user.should_see("Sign in to your billing portal")
    assert user.find(marker="sign-in").elements.pop().text == "Sign in"

    del user.http_client.headers["Accept-Language"]
    await user.open("/login")
    await user.should_see("Sign in to your billing portal")
    switch = user.find(marker="lang-fr").elements.pop()
    assert switch.text == "Français" and "lang=fr" in switch.props["href"]
    await user.open(switch.props["href"])
    await user.should_see(fr("Sign in to your billing portal"))
    await user.should_not_see("Sign in to your billing portal")


async def test_a_wrong_password_is_refused_in_french(user: User) -> None:
    await sign_in(user, "emile@demo.test", "not the password", path="/login?lang=fr")
    await user.should_see(fr("Wrong email or password."), retries=50)
    assert fr("Wrong email or password.") == "E-mail ou mot de passe incorrect."
    await user.should_not_see("Wrong email or password.")
    await user.should_not_see(fr("My Billing"))


async def test_the_payment_link_of_a_french_client_opens_in_french_even_in_an_english_browser(
    user: User,
) -> None:
    await user.open("/login")  # starts the app (and its database)
    emile = await Client.get(email="emile@demo.test")
    invoice = await Invoice.get(client_id=emile.id, status="open")
    token = await links.issue(
        purpose="invoice", target_id=invoice.id, expires_at=now_utc() + timedelta(days=3)
    )
    user.http_client.headers["Accept-Language"] = "en-GB,en;q=0.9"

    await user.open(f"/pay/{token}")
    await user.should_see(fr("Invoice {number}", number=invoice.number))
    await user.should_see(fr("Amount due"))
    amount = format_money(invoice.total_minor, "EUR", "fr")
    assert user.find(marker="amount-due").elements.pop().text == amount
    assert user.find(marker="pay-card").elements.pop().text == fr("Pay {amount} by card", amount=amount)
    await user.should_not_see("Amount due")

    await user.open(f"/pay/{token[:-2]}xx")  # no client behind a broken link: the browser's language
    await user.should_see("This payment link is not valid")

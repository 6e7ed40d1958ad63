"""The client's stored language applies from sign-in: a client whose record says Français reads the portal in
French right after signing in, until they choose another language in the menu (which becomes their
language, emails included); staff keep their own language while viewing as a client. Audit entries read as
sentences in the reader's language."""

from __future__ import annotations

import asyncio
import re

from nicegui import ui
from nicegui.testing import User

from portal import i18n
from portal.accounts import sessions
from portal.db.models import Client
from portal.db.models import User as Account
from portal.domain.money import format_money
from tests.ui.conftest import sign_in

RAW_CODE = re.compile(r"\b[a-z_]+\.[a-z_]+\b|\b[a-z_]+:\d+\b|_minor|minor units")
FRENCH_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)


def fr(message: str, **values: object) -> str:
    return i18n.translate(message, "fr", **values)


def _table(user: User, marker: str) -> ui.table:
    table = user.find(marker=marker).elements.pop()
    assert isinstance(table, ui.table)
    return table


async def _client_locale_becomes(email: str, code: str) -> None:
    for _ in range(100):
        if (await Client.get(email=email)).locale == code:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{email}'s record still says {(await Client.get(email=email)).locale}")


async def test_a_client_whose_record_says_french_reads_french_right_after_signing_in(user: User) -> None:
    await user.open("/login")  # starts the app and its database
    assert (await Account.get(email="emile@demo.test")).locale == "en"  # never chose in the menu
    assert (await Client.get(email="emile@demo.test")).locale == "fr"  # the record says Français

    await sign_in(user, "emile@demo.test")

    await user.should_see(fr("My Billing"), retries=50)
    await user.should_not_see("My Billing")
    await user.should_see(fr("Open balance"))
    emile = await Client.get(email="emile@demo.test")
    rows = _table(user, "open-invoices").rows
    assert rows and all(row["status"] == fr("Open") for row in rows)
    invoice_dates = {row["issue_date"] for row in rows} | {row["due_date"] for row in rows}
    # one French date format ('3 déc. 2026'), never ISO
    assert all(any(m in d for m in FRENCH_MONTHS) and "-" not in d for d in invoice_dates), invoice_dates
    assert all(row["amount_due"].endswith("\u00a0€") for row in rows), rows  # French money: "1 560,00 €"
    assert format_money(156_000, emile.currency, "fr") != format_money(156_000, emile.currency, "en")

    # the menu: English from now on, and the record follows (emails too)
    user.find(marker="language-en").click()
    await _client_locale_becomes("emile@demo.test", "en")
    await user.open("/billing")
    await user.should_see("My Billing", retries=50)
    await user.should_not_see(fr("My Billing"))
    account = await Account.get(email="emile@demo.test")
    reloaded = await sessions.load_actor(user_id=account.id)  # what the next sign-in loads
    assert reloaded is not None and reloaded.locale == "en"


async def test_staff_keep_their_language_while_viewing_as_a_french_client(user: User) -> None:
    await user.open("/login")
    await sign_in(user, "admin@demo.test")
    await user.should_see("Overview", retries=50)
    emile = await Client.get(email="emile@demo.test")
    await user.open(f"/admin/clients/{emile.id}")
    await user.should_see(marker="impersonate", retries=50)
    user.find(marker="impersonate").click()
    user.find(marker="impersonate-reason").type("Ticket 14")
    user.find(marker="impersonate-start").click()
    await user.should_see("My Billing", retries=50)
    await user.should_not_see(fr("My Billing"))


async def test_the_audit_log_reads_as_sentences_in_the_admins_language(user: User) -> None:
    await user.open("/login")
    admin = await Account.get(email="admin@demo.test")
    admin.locale = "fr"
    await admin.save(update_fields=["locale"])
    await sign_in(user, "admin@demo.test")
    await user.should_see(fr("Overview"), retries=50)
    await user.open("/admin/audit")
    await user.should_see(marker="audit-entries", retries=50)
    rows = _table(user, "audit-entries").rows
    assert rows
    columns = [c["label"] for c in _table(user, "audit-entries").columns]
    assert fr("What happened") in columns
    signed_in = [r["sentence"] for r in rows if r["action"] == fr("Signed in")]
    assert signed_in and signed_in[0].startswith("Connexion de "), signed_in
    for row in rows:
        text = re.sub(r"\S+@\S+", "", f"{row['sentence']} {row['details']}")  # addresses aside
        assert not RAW_CODE.search(text), text

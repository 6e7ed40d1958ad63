"""The language a signed-in person chooses is stored on their account and used on every page."""

from __future__ import annotations

from nicegui.testing import User

from portal.db.models import User as Account
from portal.i18n import translate
from tests.ui.conftest import sign_in


async def _locale_becomes(email: str, code: str) -> None:
    for _ in range(100):
        if (await Account.get(email=email)).locale == code:
            return
        await user_pause()
    raise AssertionError(f"{email} still reads the portal in {(await Account.get(email=email)).locale}")


async def user_pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_choosing_french_in_the_account_menu_switches_the_portal_and_stays_chosen(user: User) -> None:
    french = translate("My Billing", "fr")
    assert french != "My Billing"
    await sign_in(user, "client@demo.test")
    await user.should_see("My Billing", retries=50)
    user.find(marker="language-fr").click()
    await _locale_becomes("client@demo.test", "fr")
    await user.open("/billing")
    await user.should_see(french, retries=50)
    user.find(marker="language-en").click()
    await _locale_becomes("client@demo.test", "en")
    await user.open("/billing")
    await user.should_see("My Billing", retries=50)
    await user.should_not_see(french)

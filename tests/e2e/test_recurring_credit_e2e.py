"""Issue 15 item 5 in Chromium, in English and French: on My Billing a client with credit and a default card
pays a recurring billing request's invoice from credit, is told first that the subscription starts on that
card, and then sees the subscription in the Subscriptions section; a client without a saved card is shown
the reason instead of the credit choice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from portal.domain.money import format_money
from tests.e2e.conftest import ServedPortal, chromium, served_portal
from tests.e2e.recurring_credit_seed import DESCRIPTION
from tests.e2e.test_live_sections_e2e import (
    _click,
    _containing,
    _dialog,
    _exactly,
    _quoted,
    _see,
    _tr,
    _visible,
)
from tests.e2e.test_login_e2e import CLIENT_EMAIL, DEMO_PASSWORD, _sign_in, _wait

EMILE_EMAIL = "emile@demo.test"
CARD = "Visa •••• 4242"  # Ada's default card (brand names are not translated)
NEEDS_CARD = (
    "Recurring requests need a saved card to renew on: add a card and make it the default, "
    "or pay this request with a card."
)


@pytest.fixture(scope="module", params=["en", "fr"])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPortal, str, dict]]:
    """A portal whose people all speak `language`; Ada's and Émile's recurring requests."""
    language = request.param
    with served_portal(
        f"portal-recurring-credit-{language}-", prepare=["-m", "tests.e2e.recurring_credit_seed", language]
    ) as p:
        line = next(x for x in p.prepared.splitlines() if x.startswith("RECURRING_CREDIT_SEED="))
        yield p, language, json.loads(line.split("=", 1)[1])


@contextmanager
def _signed_in(url: str, email: str) -> Iterator[WebDriver]:
    """A fresh browser, signed in as `email`, on My Billing."""
    with chromium("portal-e2e-chromium-recurring-credit-") as driver:
        _sign_in(driver, url, email, DEMO_PASSWORD)
        _wait(driver).until(lambda d: d.current_url.endswith("/billing"))
        yield driver


def _pay_now(t: Callable[..., str], number: str) -> str:
    """The Pay now button of invoice `number`'s row."""
    return f"//button[@aria-label={_quoted(t('Pay now: {number}', number=number))}]"


def _open_pay_dialog(driver: WebDriver, t: Callable[..., str], number: str) -> None:
    """Press Pay now on the row of invoice `number` and wait for its dialog."""
    _click(driver, _pay_now(t, number))
    _see(driver, _dialog(_exactly(t("Pay invoice {number}", number=number))))


def _radio(label: str) -> str:
    """The dialog's way to pay whose words start with `label`."""
    return _dialog(f"//div[contains(@class, 'q-radio')][starts-with(normalize-space(.), {_quoted(label)})]")


def test_paying_a_recurring_request_from_credit_starts_the_subscription_on_the_default_card(
    portal: tuple[ServedPortal, str, dict], artifacts_dir: Path
) -> None:
    served, language, seed = portal
    t = _tr(language)
    ada = seed["ada"]
    money = lambda amount: format_money(amount, "USD", language)  # noqa: E731
    assert ada["credit"] >= ada["due"] > 0
    with _signed_in(served.url, CLIENT_EMAIL) as driver:
        _open_pay_dialog(driver, t, ada["number"])
        _click(driver, _radio(t("My credit ({amount} available)", amount=money(ada["credit"]))))
        note = t(
            "Paying from credit starts your subscription: {amount} of credit pays the first period, "
            "then it renews on {card}.",
            amount=money(ada["due"]),
            card=CARD,
        )
        _see(driver, _dialog(_containing(note)))  # said before paying
        assert not _visible(driver, _dialog("//input[@inputmode='decimal']"))  # paid whole: nothing to type
        driver.save_screenshot(str(artifacts_dir / f"e2e-recurring-credit-before-{language}.png"))

        _click(driver, _dialog(f"//button[normalize-space(.)={_quoted(t('Pay'))}]"))
        started = t("Your subscription has started; it renews on {card}.", card=CARD)
        _see(driver, _dialog(_containing(started)))
        _see(driver, _dialog(_containing(t("{amount} of credit applied.", amount=money(ada["due"])))))
        _click(driver, _dialog(f"//button[normalize-space(.)={_quoted(t('Close'))}]"))

        # the page shows the new subscription (and the invoice is no longer to pay)
        _see(driver, _exactly(DESCRIPTION))
        row = f"{_exactly(DESCRIPTION)}/ancestor::div[contains(@class, 'nicegui-column')][1]"
        _see(driver, f"{row}//*[starts-with(normalize-space(text()), {_quoted(money(ada['due']))})]")
        _see(driver, f"{row}{_containing(t('Paid with {card}', card=CARD))}")
        _wait(driver).until(lambda d: not _visible(d, _pay_now(t, ada["number"])))
        driver.save_screenshot(str(artifacts_dir / f"e2e-recurring-credit-after-{language}.png"))


def test_without_a_saved_card_the_reason_is_shown_instead_of_credit(
    portal: tuple[ServedPortal, str, dict], artifacts_dir: Path
) -> None:
    served, language, seed = portal
    t = _tr(language)
    emile = seed["emile"]
    with _signed_in(served.url, EMILE_EMAIL) as driver:
        _open_pay_dialog(driver, t, emile["number"])
        _see(driver, _dialog(_containing(t(NEEDS_CARD))))
        _see(driver, _radio(t("A new card")))
        credit = t("My credit ({amount} available)", amount="\x00").partition("\x00")[0].strip()
        assert not _visible(driver, _radio(credit)), "credit is offered for a recurring request with no card"
        driver.save_screenshot(str(artifacts_dir / f"e2e-recurring-credit-no-card-{language}.png"))

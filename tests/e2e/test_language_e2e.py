"""A client whose record says Français, in a real browser: French from sign-in (without touching the language
menu), dates in the one French format on My Billing and History (never ISO), and the sandbox's hosted
checkout page in French with French money."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC

from portal.i18n import format_date, pgettext, translate
from tests.e2e.conftest import served_portal
from tests.e2e.test_login_e2e import (
    DEMO_PASSWORD,
    INVOICE_NUMBER_CELLS,
    _click,
    _connected,
    _path_is,
    _sign_in,
    _text,
    _wait,
    _wait_visible,
)

EMILE = "emile@demo.test"  # the demo's EUR client, whose record says Français
FRENCH_DATE = re.compile(
    r"\b\d{1,2} (janv\.|févr\.|mars|avr\.|mai|juin|juil\.|août|sept\.|oct\.|nov\.|déc\.) \d{4}\b"
)
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
ENGLISH_DATE = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}\b")
ZERO_PADDED = re.compile(r"\b0\d [a-zéû.]+ \d{4}\b")  # History's old second format: '03 déc. 2026'


def fr(message: str, **values: object) -> str:
    return translate(message, "fr", **values)


def _plain(text: str) -> str:
    """Page text with French's narrow and non-breaking spaces as plain spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _body(driver: WebDriver) -> str:
    return _plain(driver.find_element(By.TAG_NAME, "body").text)


def _button(text: str) -> tuple[str, str]:
    return (By.XPATH, f"//button[normalize-space(.)='{text}']")


def _button_reading(text: str) -> Callable[[WebDriver], WebElement | None]:
    """The button reading `text` (French spaces as plain spaces; buttons are drawn in capitals)."""

    def find(driver: WebDriver) -> WebElement | None:
        found = [
            b
            for b in driver.find_elements(By.TAG_NAME, "button")
            if _plain(b.text).casefold() == _plain(text).casefold()
        ]
        return found[0] if found and found[0].is_enabled() else None

    return find


@pytest.fixture(scope="module")
def own_portal() -> Iterator[str]:
    """A server of its own: this test pays Émile's invoice, which other tests of the shared server need."""
    with served_portal("portal-e2e-language-") as served:
        yield served.url


def test_a_french_client_reads_french_dates_and_a_french_sandbox_checkout(
    own_portal: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    today = datetime.now(UTC).date()
    _sign_in(browser, own_portal, EMILE, DEMO_PASSWORD)  # the sign-in page follows the browser: English

    # My Billing, in French at once: the record's language applies from sign-in
    _wait(browser).until(_path_is("/billing"))
    _wait_visible(browser, _text(fr("My Billing")))
    _wait(browser).until(EC.visibility_of_any_elements_located(INVOICE_NUMBER_CELLS))
    billing = _body(browser)
    assert fr("Open balance") in billing and "Open balance" not in billing
    assert format_date(today, "fr") in billing  # the invoice's issue date: '3 déc. 2026'
    assert FRENCH_DATE.search(billing)
    assert not ISO_DATE.search(billing) and not ENGLISH_DATE.search(billing), billing
    browser.save_screenshot(str(artifacts_dir / "e2e-language-billing-fr.png"))

    # the sandbox's hosted checkout page: French words and French money
    _connected(browser)  # a click before the websocket is up is lost
    _click(browser, _button(fr("Pay now"))[1])
    _click(browser, _text(fr("A new card"))[1])  # retried while the dialog slides in
    _click(browser, _button(fr("Pay"))[1])
    _wait_visible(browser, _text(fr("Sandbox checkout")))
    checkout = _body(browser)
    assert _plain(fr("Sandbox: no real money moves")) in checkout
    assert "Sandbox checkout" not in checkout and "Card number" not in checkout
    amount = re.search(r"(\d{1,3}(?: \d{3})*,\d{2} €)", checkout)
    assert amount, checkout  # '1 560,00 €', not '€1,560.00'
    assert "€1" not in checkout
    browser.save_screenshot(str(artifacts_dir / "e2e-language-checkout-fr.png"))
    _wait_visible(browser, (By.NAME, "cardnumber")).send_keys("4242 4242 4242 4242")
    _wait_visible(browser, (By.NAME, "exp")).send_keys("12/39")
    _wait_visible(browser, (By.NAME, "cvc")).send_keys("123")
    _wait(browser).until(_button_reading(fr("Pay {amount}", amount=amount.group(1)))).click()
    _wait(browser).until(_path_is("/billing"))
    _wait_visible(browser, _text(fr("Thank you! Your payment is being confirmed.")))

    # History: the paid invoice and its payment, dates in the same French format, the payment 'Payé'
    browser.get(f"{own_portal}/billing/history")
    _wait_visible(browser, _text(fr("Paid invoices")))
    _wait(browser).until(lambda d: format_date(today, "fr") in _body(d))
    _wait(browser).until(lambda d: pgettext("payment", "Paid", "fr") in _body(d).split())
    history = _body(browser)
    assert not ISO_DATE.search(history) and not ENGLISH_DATE.search(history), history
    assert not ZERO_PADDED.search(history), history
    browser.save_screenshot(str(artifacts_dir / "e2e-language-history-fr.png"))

"""The console in a real browser: an admin views the portal as the demo client (Ada Lovelace) with a reason,
sees her My Billing under the "Viewing as" banner, stops and is back on her record; then records an offline
partial payment for one of her open invoices, and Ada's dashboard, open in a second browser, shows the new
amount due by itself. Screenshots of each step are saved as artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from portal.domain.money import format_money, parse_amount
from tests.e2e.conftest import chromium
from tests.e2e.test_login_e2e import (
    ADMIN_EMAIL,
    CLIENT_EMAIL,
    DEMO_PASSWORD,
    INVOICE_NUMBER_CELLS,
    _click,
    _path_is,
    _sign_in,
    _text,
    _wait,
    _wait_visible,
)

DIALOG = "//div[contains(@class, 'q-dialog')]"
REASON = "Ticket 4711: Ada cannot find her latest invoice"
PARTIAL = "10.00"


@pytest.fixture
def client_browser() -> Iterator[WebDriver]:
    """A second, separate Chromium (its own profile, so its own session cookie) for the client."""
    with chromium("portal-e2e-chromium-client-") as driver:
        yield driver


def _amount_due(driver: WebDriver, number: str) -> str | bool:
    """The 'Amount due' cell of an invoice's row on My Billing (False while the row is not there)."""
    try:
        row = driver.find_element(By.XPATH, f"//tr[.//td[normalize-space(.)='{number}']]")
        cells = row.find_elements(By.TAG_NAME, "td")
        return next((c.text.strip() for c in cells if c.text.strip().startswith("$")), False)
    except (NoSuchElementException, StaleElementReferenceException):
        return False


def _type_into(driver: WebDriver, xpath: str, text: str) -> None:
    """Select what a field holds and type over it, like a person (clear() skips Vue's input event)."""
    field = _wait_visible(driver, (By.XPATH, xpath))
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def test_an_admin_views_as_the_client_stops_and_records_a_payment_the_client_sees_live(
    portal_server: str, browser: WebDriver, client_browser: WebDriver, artifacts_dir: Path
) -> None:
    # Ada keeps her dashboard open in her own browser
    _sign_in(client_browser, portal_server, CLIENT_EMAIL, DEMO_PASSWORD)
    _wait(client_browser).until(_path_is("/billing"))
    _wait_visible(client_browser, _text("To do"))

    # the admin lands on the console overview and opens Ada's record
    _sign_in(browser, portal_server, ADMIN_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/admin"))
    _wait_visible(browser, _text("Open receivables in USD"))
    browser.save_screenshot(str(artifacts_dir / "e2e-console-overview.png"))
    browser.get(f"{portal_server}/admin/clients")
    _click(browser, "//table//a[normalize-space(.)='Ada Lovelace']")
    _wait(browser).until(lambda d: urlsplit(d.current_url).path.startswith("/admin/clients/"))
    record_path = urlsplit(browser.current_url).path

    # View as client, with a reason
    _click(browser, "//button[contains(normalize-space(.), 'View as client')]")
    _wait_visible(browser, _text("View the portal as Ada Lovelace"))
    _type_into(browser, f"{DIALOG}//textarea", REASON)
    browser.save_screenshot(str(artifacts_dir / "e2e-impersonate-reason.png"))
    _click(browser, f"{DIALOG}//button[normalize-space(.)='Start viewing']")

    # Ada's own My Billing, under the banner
    _wait(browser).until(_path_is("/billing"))
    _wait_visible(browser, _text("Viewing as Ada Lovelace"))
    _wait_visible(browser, _text("To do"))
    numbers = [c.text.strip() for c in _wait(browser).until(lambda d: d.find_elements(*INVOICE_NUMBER_CELLS))]
    number = numbers[-1]  # the last open invoice (other tests pay the first one)
    before = _wait(browser).until(lambda d: _amount_due(d, number))
    browser.save_screenshot(str(artifacts_dir / "e2e-impersonating-my-billing.png"))

    # Stop: back on Ada's record in the console
    _click(browser, "//button[normalize-space(.)='Stop']")
    _wait(browser).until(_path_is(record_path))
    _wait_visible(browser, _text("You are no longer viewing the portal as Ada Lovelace."))
    assert not browser.find_elements(By.XPATH, "//*[normalize-space(text())='Viewing as Ada Lovelace']")
    browser.save_screenshot(str(artifacts_dir / "e2e-impersonation-stopped.png"))

    # an offline partial payment for that invoice
    _click(browser, "//button[normalize-space(.)='Record payment']")
    _wait_visible(browser, _text("Record a payment from Ada Lovelace"))
    _click(browser, f"{DIALOG}//label[.//*[normalize-space(text())='Apply to']]")
    _click(
        browser, f"//div[contains(@class, 'q-menu')]//*[starts-with(normalize-space(text()), '{number} ')]"
    )
    _type_into(browser, f"{DIALOG}//label[.//*[normalize-space(text())='Amount']]//input", PARTIAL)
    browser.save_screenshot(str(artifacts_dir / "e2e-record-payment.png"))
    _click(browser, f"{DIALOG}//button[normalize-space(.)='Record payment']")
    _wait_visible(browser, _text(f"${PARTIAL} recorded."))
    browser.save_screenshot(str(artifacts_dir / "e2e-payment-recorded.png"))

    # Ada's dashboard shows the new amount due without a reload
    expected = format_money(
        parse_amount(before, "USD", "en") - parse_amount(PARTIAL, "USD", "en"), "USD", "en"
    )
    _wait(client_browser).until(lambda d: _amount_due(d, number) == expected)
    client_browser.save_screenshot(str(artifacts_dir / "e2e-client-live-amount-due.png"))


def test_the_console_navigation_folds_into_a_menu_on_a_phone(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    _sign_in(browser, portal_server, ADMIN_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/admin"))
    _wait_visible(browser, _text("Audit log"))  # wide screen: the drawer is open beside the page
    browser.save_screenshot(str(artifacts_dir / "e2e-console-1280.png"))

    browser.set_window_size(375, 812)
    _wait(browser).until(lambda d: d.execute_script("return window.innerWidth") <= 375)
    browser.get(f"{portal_server}/admin")
    _wait_visible(browser, _text("Open receivables in USD"))
    audit_link = (By.XPATH, "//a[.//*[normalize-space(text())='Audit log']]")
    _wait(browser).until(lambda d: not any(e.is_displayed() for e in d.find_elements(*audit_link)))
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 375, f"the console is {width} px wide on a 375 px screen"
    browser.save_screenshot(str(artifacts_dir / "e2e-console-375.png"))

    _click(browser, "//button[@aria-label='Menu']")
    _wait_visible(browser, audit_link)
    browser.save_screenshot(str(artifacts_dir / "e2e-console-375-menu.png"))
    _click(browser, "//a[.//*[normalize-space(text())='Audit log']]")
    _wait(browser).until(_path_is("/admin/audit"))
    _wait_visible(browser, (By.XPATH, "//td[normalize-space(.)='Alex Admin signed in']"))  # a sentence
    browser.save_screenshot(str(artifacts_dir / "e2e-audit-375.png"))
    browser.set_window_size(1280, 900)
    _wait(browser).until(lambda d: d.execute_script("return window.innerWidth") > 1000)
    browser.save_screenshot(str(artifacts_dir / "e2e-audit-1280.png"))

"""The demo client's dashboard in a real browser: pay with a new card (4242) in sandbox mode, see the
invoice Paid and its receipt, download the PDF, and see why the card that pays a subscription has no Delete.
Screenshots of the dashboard at 1280 px and 375 px are saved as artifacts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.test_login_e2e import (
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


def _signed_in_dashboard(driver: WebDriver, base_url: str, email: str = CLIENT_EMAIL) -> None:
    _sign_in(driver, base_url, email, DEMO_PASSWORD)
    _wait(driver).until(_path_is("/billing"))
    _wait_visible(driver, _text("To do"))


def test_pay_with_a_new_card_then_see_paid_the_receipt_and_the_pdf(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    _signed_in_dashboard(browser, portal_server, "yuki@demo.test")  # JPY: no minor unit, end to end
    number = _wait(browser).until(  # read inside the wait: a redrawn table leaves a stale cell (issue 14)
        lambda driver: next(
            (
                cell.text.strip()
                for cell in reversed(driver.find_elements(*INVOICE_NUMBER_CELLS))
                if cell.is_displayed()
            ),
            None,
        )
    )
    view = f"//tr//a[normalize-space(.)='{number}']"  # the number links the invoice
    invoice_id = int(_attribute(browser, view, "href").rstrip("/").split("/")[-1])
    _click(browser, view)
    _wait_visible(browser, _text(f"Invoice {number}"))
    _click(browser, "//button[normalize-space(.)='Pay now']")
    _click(browser, "//*[normalize-space(text())='A new card']")
    _click(browser, "//button[normalize-space(.)='Pay']")
    _wait_visible(browser, _text("Sandbox checkout"))
    _wait_visible(browser, (By.NAME, "cardnumber")).send_keys("4242 4242 4242 4242")
    _wait_visible(browser, (By.NAME, "exp")).send_keys("12/39")
    _wait_visible(browser, (By.NAME, "cvc")).send_keys("123", Keys.ENTER)
    _click(browser, "//button[starts-with(normalize-space(.), 'Pay ')]")
    _wait(browser).until(_path_is("/billing"))
    # the invoice is now paid: its page says so and links its receipt
    browser.get(f"{portal_server}/billing/invoices/{invoice_id}")
    _wait_visible(browser, (By.XPATH, "//*[normalize-space(text())='Paid']"))
    _click(browser, "//a[normalize-space(.)='Receipt']")
    _wait(browser).until(lambda d: urlsplit(d.current_url).path.startswith("/billing/receipts/"))
    _wait_visible(browser, (By.XPATH, "//*[contains(normalize-space(text()), 'RCPT-')]"))
    browser.save_screenshot(str(artifacts_dir / "e2e-receipt.png"))
    pdf = _download(browser, f"{portal_server}/billing/invoices/{invoice_id}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    (artifacts_dir / "e2e-invoice.pdf").write_bytes(pdf.content)


def _download(driver: WebDriver, url: str) -> httpx.Response:
    """Fetch a download with the browser's own session cookie (what clicking the link does)."""
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    return httpx.get(url, cookies=cookies, timeout=30)


def _attribute(driver: WebDriver, xpath: str, name: str) -> str:
    """An attribute of an element, read again if Vue replaces the element in between."""

    def read(d: WebDriver) -> str | bool:
        try:
            return d.find_element(By.XPATH, xpath).get_attribute(name) or False
        except (StaleElementReferenceException, NoSuchElementException):
            return False

    return _wait(driver).until(read)


def test_the_card_that_pays_a_subscription_offers_no_delete_and_says_why(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    _signed_in_dashboard(browser, portal_server)
    browser.save_screenshot(str(artifacts_dir / "e2e-dashboard-1280.png"))
    _wait_visible(
        browser, (By.XPATH, "//*[contains(normalize-space(text()), 'This card pays your subscription')]")
    )
    visa = "//*[contains(normalize-space(.), 'Visa •••• 4242')][.//button[normalize-space(.)='Delete']]"
    master = (
        "//*[contains(normalize-space(.), 'Mastercard •••• 4444')][.//button[normalize-space(.)='Delete']]"
    )
    assert browser.find_elements(By.XPATH, master), "the other card can be deleted"
    assert not browser.find_elements(By.XPATH, f"{visa}[not(contains(normalize-space(.), 'Mastercard'))]")
    browser.save_screenshot(str(artifacts_dir / "e2e-delete-refused.png"))
    browser.set_window_size(375, 812)
    browser.get(f"{portal_server}/billing")
    _wait_visible(browser, _text("To do"))
    browser.save_screenshot(str(artifacts_dir / "e2e-dashboard-375.png"))

"""The demo client pays in a real browser, in sandbox mode: Pay Now with the saved card, and a new card
through the sandbox's hosted checkout page (a decline first, then a card that works)."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from tests.e2e.test_login_e2e import (
    CLIENT_EMAIL,
    DEMO_PASSWORD,
    INVOICE_NUMBER_CELLS,
    _path_is,
    _sign_in,
    _text,
    _wait,
    _wait_visible,
)

PAY_BUTTONS = (By.XPATH, "//button[normalize-space(.)='Pay now']")


def _invoice_numbers(driver: WebDriver) -> list[str]:
    """The invoice numbers on the page; read again when a live refresh replaced a cell while reading."""
    for _attempt in range(5):
        try:
            return [cell.text.strip() for cell in driver.find_elements(*INVOICE_NUMBER_CELLS)]
        except StaleElementReferenceException:
            continue
    return [cell.text.strip() for cell in driver.find_elements(*INVOICE_NUMBER_CELLS)]


def _open_dialog_for_first_invoice(driver: WebDriver, base_url: str, email: str = CLIENT_EMAIL) -> str:
    """Sign in and open the Pay dialog of the client's first open invoice (each test pays its own client's
    invoices: the tests share one server and its demo data)."""
    _sign_in(driver, base_url, email, DEMO_PASSWORD)
    _wait(driver).until(_path_is("/billing"))
    _wait(driver).until(EC.visibility_of_any_elements_located(INVOICE_NUMBER_CELLS))
    number = _invoice_numbers(driver)[0]
    _wait(driver).until(EC.element_to_be_clickable(PAY_BUTTONS)).click()
    _wait_visible(driver, _text(f"Pay invoice {number}"))
    return number


def test_the_demo_client_pays_an_invoice_with_the_saved_card(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    number = _open_dialog_for_first_invoice(browser, portal_server)
    _wait_visible(browser, _text("Sandbox: no real money moves"))
    browser.save_screenshot(str(artifacts_dir / "e2e-pay-dialog.png"))
    _wait(browser).until(EC.element_to_be_clickable((By.XPATH, "//button[normalize-space(.)='Pay']"))).click()
    _wait_visible(browser, _text("Thank you! Your payment was received."))
    _wait(browser).until(lambda d: number not in _invoice_numbers(d))
    browser.save_screenshot(str(artifacts_dir / "e2e-paid.png"))


def test_a_new_card_is_declined_then_accepted_on_the_sandbox_checkout(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    number = _open_dialog_for_first_invoice(browser, portal_server, "emile@demo.test")  # EUR
    _wait(browser).until(
        EC.element_to_be_clickable((By.XPATH, "//*[normalize-space(text())='A new card']"))
    ).click()
    _wait(browser).until(EC.element_to_be_clickable((By.XPATH, "//button[normalize-space(.)='Pay']"))).click()
    _wait_visible(browser, _text("Sandbox checkout"))
    card = _wait_visible(browser, (By.NAME, "cardnumber"))
    card.send_keys("4000 0000 0000 0002")
    _wait_visible(browser, (By.NAME, "exp")).send_keys("12/39")
    _wait_visible(browser, (By.NAME, "cvc")).send_keys("123")
    pay = (By.XPATH, "//button[starts-with(normalize-space(.), 'Pay ')]")
    _wait(browser).until(EC.element_to_be_clickable(pay)).click()
    _wait_visible(browser, _text("Your card was declined. Please use another card or contact your bank."))
    browser.save_screenshot(str(artifacts_dir / "e2e-checkout-declined.png"))
    card.send_keys(Keys.CONTROL, "a")  # clear() bypasses Vue's input event; select and retype like a person
    card.send_keys("4242 4242 4242 4242")
    _wait(browser).until(EC.element_to_be_clickable(pay)).click()
    _wait(browser).until(_path_is("/billing"))
    _wait_visible(browser, _text("Thank you! Your payment is being confirmed."))
    _wait(browser).until(lambda d: number not in _invoice_numbers(d))

"""The demo client pays in a real browser, in sandbox mode: Pay Now with the saved card, and a new card
through the sandbox's hosted checkout page (a decline first, then a card that works)."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from portal.i18n import translate
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

PAY_BUTTONS = (By.XPATH, "//button[normalize-space(.)='Pay now']")

# the confirmation of a payment, which names its amount ("Thank you! We received $240.00.")
RECEIVED = (By.XPATH, "//body//*[starts-with(normalize-space(text()), 'Thank you! We received')]")


def _invoice_numbers(driver: WebDriver) -> list[str]:
    """The invoice numbers on the page; read again when a live refresh replaced a cell while reading."""
    for _attempt in range(5):
        try:
            return [cell.text.strip() for cell in driver.find_elements(*INVOICE_NUMBER_CELLS)]
        except StaleElementReferenceException:
            continue
    return [cell.text.strip() for cell in driver.find_elements(*INVOICE_NUMBER_CELLS)]


def _open_dialog_for_first_invoice(
    driver: WebDriver, base_url: str, email: str = CLIENT_EMAIL, locale: str = "en"
) -> str:
    """Sign in and open the Pay dialog of the client's first open invoice (each test pays its own client's
    invoices: the tests share one server and its demo data); `locale` is the language the client's record
    says, which the portal speaks from sign-in."""
    _sign_in(driver, base_url, email, DEMO_PASSWORD)
    _wait(driver).until(_path_is("/billing"))
    _wait(driver).until(EC.visibility_of_any_elements_located(INVOICE_NUMBER_CELLS))
    number = _invoice_numbers(driver)[0]
    pay_now = (By.XPATH, f"//button[normalize-space(.)='{translate('Pay now', locale)}']")
    _click(driver, pay_now)
    _wait_visible(driver, _text(translate("Pay invoice {number}", locale, number=number)))
    return number


def test_the_demo_client_pays_an_invoice_with_the_saved_card(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    number = _open_dialog_for_first_invoice(browser, portal_server)
    _wait_visible(browser, _text("Sandbox: no real money moves"))
    browser.save_screenshot(str(artifacts_dir / "e2e-pay-dialog.png"))
    _click(browser, (By.XPATH, "//button[normalize-space(.)='Pay']"))
    _wait_visible(browser, RECEIVED)
    _wait(browser).until(lambda d: number not in _invoice_numbers(d))
    browser.save_screenshot(str(artifacts_dir / "e2e-paid.png"))


def test_a_new_card_is_declined_then_accepted_on_the_sandbox_checkout(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    # EUR, and Émile's record says Français: the portal and the sandbox's page speak French
    number = _open_dialog_for_first_invoice(browser, portal_server, "emile@demo.test", "fr")
    _click(browser, _text(translate("A new card", "fr")))
    pay_dialog = (By.XPATH, f"//button[normalize-space(.)='{translate('Pay', 'fr')}']")
    _click(browser, pay_dialog)
    _wait_visible(browser, _text(translate("Sandbox checkout", "fr")))
    card = _wait_visible(browser, (By.NAME, "cardnumber"))
    card.send_keys("4000 0000 0000 0002")
    _wait_visible(browser, (By.NAME, "exp")).send_keys("12/39")
    _wait_visible(browser, (By.NAME, "cvc")).send_keys("123")
    pay = (By.XPATH, f"//button[starts-with(normalize-space(.), '{translate('Pay', 'fr')} ')]")
    _click(browser, pay)
    declined = "Your card was declined. Please use another card or contact your bank."
    _wait_visible(browser, _text(translate(declined, "fr")))
    browser.save_screenshot(str(artifacts_dir / "e2e-checkout-declined.png"))
    card.send_keys(Keys.CONTROL, "a")  # clear() bypasses Vue's input event; select and retype like a person
    card.send_keys("4242 4242 4242 4242")
    _click(browser, pay)
    _wait(browser).until(_path_is("/billing"))
    _wait_visible(browser, _text(translate("Thank you! Your payment is being confirmed.", "fr")))
    _wait(browser).until(lambda d: number not in _invoice_numbers(d))

"""Sign-in through the real login form in a real browser, and the role guard seen from the browser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CLIENT_EMAIL = "client@demo.test"
ADMIN_EMAIL = "admin@demo.test"
DEMO_PASSWORD = "demo-password"
WAIT_SECONDS = 30  # a loaded CI machine answers a payment in seconds, not tens of them

SIGN_IN_BUTTON = (By.XPATH, "//button[normalize-space(.)='Sign in']")
INVOICE_NUMBER_CELLS = (By.XPATH, "//table//td[starts-with(normalize-space(.), 'INV-')]")


def _wait(driver: WebDriver) -> WebDriverWait:
    """Wait up to WAIT_SECONDS; an element Vue re-rendered meanwhile is simply looked up again."""
    return WebDriverWait(
        driver, WAIT_SECONDS, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )


def _path_is(path: str) -> Callable[[WebDriver], bool]:
    return lambda driver: urlsplit(driver.current_url).path == path


def _text(text: str) -> tuple[str, str]:
    """An element whose own visible text is exactly `text` (labels, titles, messages)."""
    return (By.XPATH, f"//body//*[normalize-space(text())='{text}']")


def _wait_visible(driver: WebDriver, locator: tuple[str, str]) -> WebElement:
    """The first visible element matching `locator` (the same text can also sit in a hidden element)."""
    return _wait(driver).until(EC.visibility_of_any_elements_located(locator))[0]


def _fill_login_form(driver: WebDriver, email: str, password: str) -> WebElement:
    """Type the credentials into the rendered login form; return the password input."""
    email_input = _wait_visible(driver, (By.NAME, "email"))
    email_input.clear()
    email_input.send_keys(email)
    password_input = _wait_visible(driver, (By.NAME, "password"))
    password_input.clear()
    password_input.send_keys(password)
    return password_input


def _connected(driver: WebDriver) -> None:
    """Wait for the page's websocket and its handshake (NiceGUI holds a click's event until then; waiting
    keeps a test's timing out of that queue on a loaded machine)."""
    _wait(driver).until(
        lambda d: d.execute_script(
            "return !!(window.socket && window.socket.connected && window.did_handshake)"
        )
    )


def _visible(driver: WebDriver, xpath: str) -> list[WebElement]:
    """The elements matching `xpath` that are displayed now (one re-rendered meanwhile is left out)."""
    found = []
    for element in driver.find_elements(By.XPATH, xpath):
        try:
            if element.is_displayed():
                found.append(element)
        except StaleElementReferenceException:
            continue
    return found


def _click(driver: WebDriver, target: str | tuple[str, str]) -> None:
    """Click the first visible match of `target` (an XPath or a By.XPATH locator) once it is clickable,
    like a person who waits for the page: the element must stand still for one poll (0.1 s) first (a
    click on a dialog's button while the dialog scales in was lost: the test then waited for a payment
    that never started), and when a live section replaces it between finding it and clicking it, or a
    dialog is still sliding over it, look again instead of failing."""
    xpath = target if isinstance(target, str) else target[1]
    if not isinstance(target, str) and target[0] != By.XPATH:
        raise ValueError(f"_click takes an XPath, not {target[0]}")
    _connected(driver)  # a click before the websocket is up is lost

    seen: dict[str, dict] = {}  # each element's box when last looked at

    def clicked(d: WebDriver) -> bool:
        for element in _visible(d, xpath):
            try:
                box, before = element.rect, seen.get(element.id)
                seen[element.id] = box
                if box != before:  # still moving (a dialog scaling in): a click now can miss it
                    return False
                EC.element_to_be_clickable(element)(d).click()
            except (StaleElementReferenceException, ElementClickInterceptedException, AttributeError):
                return False  # re-rendered, still animating in, or not clickable yet (the condition: False)
            return True
        return False

    _wait(driver).until(clicked)


def _sign_in(driver: WebDriver, base_url: str, email: str, password: str) -> None:
    driver.get(f"{base_url}/login")
    _fill_login_form(driver, email, password)
    _click(driver, SIGN_IN_BUTTON)


def _wait_for_billing(driver: WebDriver) -> None:
    _wait(driver).until(_path_is("/billing"))
    _wait_visible(driver, _text("My Billing"))
    _wait_visible(driver, _text("Ada Lovelace"))


def _body_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def test_client_signs_in_and_sees_open_invoices(
    portal_server: str, browser: WebDriver, artifacts_dir: Path
) -> None:
    _sign_in(browser, portal_server, CLIENT_EMAIL, DEMO_PASSWORD)

    _wait_for_billing(browser)
    # read inside the wait: the billing sections may be redrawn right after they first appear (a stale
    # cell is read again from the new table, issue 14)
    numbers = _wait(browser).until(
        lambda driver: [
            cell.text.strip() for cell in driver.find_elements(*INVOICE_NUMBER_CELLS) if cell.is_displayed()
        ]
    )
    assert numbers, "the open-invoices table shows no invoice number"
    assert all(number.startswith("INV-") for number in numbers), numbers
    browser.save_screenshot(str(artifacts_dir / "e2e-client-billing-1280.png"))

    browser.set_window_size(375, 812)
    _wait(browser).until(lambda driver: driver.execute_script("return window.innerWidth") <= 375)
    _wait_visible(browser, _text("Ada Lovelace"))
    browser.save_screenshot(str(artifacts_dir / "e2e-client-billing-375.png"))


def test_wrong_password_is_refused(portal_server: str, browser: WebDriver) -> None:
    _sign_in(browser, portal_server, CLIENT_EMAIL, "not-the-password")

    _wait_visible(browser, _text("Wrong email or password."))
    assert urlsplit(browser.current_url).path == "/login"
    assert "Ada Lovelace" not in _body_text(browser)


def test_client_cannot_open_the_admin_console(portal_server: str, browser: WebDriver) -> None:
    _sign_in(browser, portal_server, CLIENT_EMAIL, DEMO_PASSWORD)
    _wait_for_billing(browser)

    browser.get(f"{portal_server}/admin")

    _wait_visible(browser, _text("You do not have access to this page."))
    _wait_visible(browser, _text("Not allowed"))
    assert urlsplit(browser.current_url).path == "/admin"
    # The clients list (and so any client's data) must not be on the page.
    assert browser.find_elements(By.TAG_NAME, "table") == []
    assert browser.find_elements(By.XPATH, "//input[@aria-label='Search name, company or email']") == []
    body = _body_text(browser)
    for other_data in (
        "Analytical Engines Ltd",
        "Émile Durand",
        "Atelier Durand",
        "Yuki Tanaka",
        ADMIN_EMAIL,
    ):
        assert other_data not in body, f"{other_data!r} is shown on the not-allowed page"


def test_billing_without_session_redirects_to_login_and_back(portal_server: str, browser: WebDriver) -> None:
    browser.get(f"{portal_server}/billing")

    _wait(browser).until(_path_is("/login"))
    assert browser.current_url == f"{portal_server}/login?next=%2Fbilling"

    # Pressing Enter in the password field submits the form too.
    password_input = _fill_login_form(browser, CLIENT_EMAIL, DEMO_PASSWORD)
    password_input.send_keys(Keys.ENTER)

    _wait_for_billing(browser)

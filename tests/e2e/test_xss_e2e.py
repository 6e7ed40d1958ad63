"""Stored XSS, tried in a real Chromium: a client whose name, company, email, avatar file name, invoice
line and notes are attribute-breaking payloads (quotes, `>`, markup, backticks, Vue `{{ }}`), and an
impersonation reason that is one too, shown on every page that shows a client.

On each page: no element in the DOM carries an attribute starting with `on` (nor the `x` / `y` attributes
the payloads would smuggle in), the mouse goes over and clicks the elements that show the payloads and
sweeps the whole window, and `window.__xss`, which any payload that ran would set, stays undefined.
The Content-Security-Policy (`script-src-attr 'none'`) would also keep an inline handler from running: the
attribute check is what proves the escaping itself; the marker also covers Vue template expressions, which
the policy's 'unsafe-eval' (needed by Vue) does not stop.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.e2e.conftest import REPO_ROOT, served_portal
from tests.e2e.test_console_e2e import DIALOG, _type_into
from tests.e2e.test_dashboard_e2e import _click
from tests.e2e.test_login_e2e import ADMIN_EMAIL, DEMO_PASSWORD, _path_is, _sign_in, _wait, _wait_visible
from tests.e2e.xss_seed import (
    AVATAR_FILE_NAME,
    COMPANY,
    EMAIL,
    LINE,
    LOGIN_EMAIL,
    NAME,
    NOTES,
    PASSWORD,
    REFERENCE,
)

AVATAR_DIR = REPO_ROOT / "data" / "uploads" / "avatars"
REASON = (
    "Ticket 9 ' onmouseover='window.__xss=71' \" onclick=\"window.__xss=72\" "
    "<img src=x onerror=window.__xss=73>"
)

# Every element's attributes: any whose name starts with "on", or is one the payloads would add.
SMUGGLED_ATTRIBUTES = """
const found = [];
for (const element of document.querySelectorAll('*')) {
  for (const attribute of element.attributes) {
    const name = attribute.name.toLowerCase();
    if (name.startsWith('on') || (!(element instanceof SVGElement) && (name === 'x' || name === 'y'))) {
      found.push(`<${element.tagName.toLowerCase()} ${name}="${attribute.value.slice(0, 60)}">`);
    }
  }
}
return found;
"""
# Visible elements whose own text, or one of whose attribute values, holds a payload (inside the open dialog
# or menu if there is one: a click outside it would close it).
PAYLOAD_ELEMENTS = """
const found = [];
const scope = document.querySelector('.q-dialog, .q-menu') || document.body;
for (const element of scope.querySelectorAll('*')) {
  const nodes = Array.from(element.childNodes);
  const text = nodes.some((n) => n.nodeType === 3 && n.textContent.includes('__xss'));
  const attribute = Array.from(element.attributes).some((a) => a.value.includes('__xss'));
  if ((text || attribute) && element.getClientRects().length) found.push(element);
}
return found.slice(0, 30);
"""
MARKER = "return window.__xss === undefined ? null : String(window.__xss);"
# Clicking these would leave the page (or start an action): they are hovered, not clicked.
NO_CLICK = "return !!arguments[0].closest('a, button, .q-btn, tr, [role=button], .q-item--clickable');"


def _fragment(text: str) -> str:
    """A piece of a payload as the page shows it (innerText), long enough to be unmistakable."""
    return text[:40]


@pytest.fixture(scope="module")
def xss_portal() -> Iterator[tuple[str, dict]]:
    """A server over a demo database plus the payload client (seeded through the use cases)."""
    with served_portal("portal-xss-", prepare=["-m", "tests.e2e.xss_seed"]) as served:
        lines = [line for line in served.prepared.splitlines() if line.startswith("XSS_SEED=")]
        if not lines:
            pytest.fail(f"seeding printed no XSS_SEED line:\n{served.prepared}", pytrace=False)
        ids = json.loads(lines[-1].removeprefix("XSS_SEED="))
        try:
            yield served.url, ids
        finally:
            database = served.database_url.removeprefix("sqlite://")
            with sqlite3.connect(database) as connection:  # the avatars this test wrote into data/uploads
                paths = {
                    row[0]
                    for row in connection.execute(
                        "SELECT avatar_path FROM client WHERE id = ?", [ids["client_id"]]
                    )
                }
            for avatar in {ids["avatar_path"], *paths}:
                if avatar:
                    (AVATAR_DIR / avatar.rsplit("/", 1)[-1]).unlink(missing_ok=True)


def _shows(driver: WebDriver, fragments: list[str]) -> None:
    """Wait until the page shows each fragment as text (the payloads really are on the page)."""
    script = "return document.body ? document.body.innerText : '';"
    try:
        _wait(driver).until(lambda d: all(f in d.execute_script(script) for f in fragments))
    except Exception:
        missing = [f for f in fragments if f not in driver.execute_script(script)]
        raise AssertionError(f"{driver.current_url}: not shown {missing}") from None


def _hover_and_click(driver: WebDriver, elements: list[WebElement]) -> int:
    """Move over each element and click those that do not navigate; how many were reached."""
    reached = 0
    for element in elements:
        try:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
            ActionChains(driver, duration=20).move_to_element(element).pause(0.05).perform()
            if not driver.execute_script(NO_CLICK, element):
                ActionChains(driver, duration=20).click(element).perform()
            reached += 1
        except WebDriverException:  # re-rendered or covered meanwhile: the sweep below still passes over it
            continue
    return reached


def _sweep_window(driver: WebDriver) -> None:
    """Pass the pointer over the whole window (a payload styled `position:fixed;inset:0` covers it)."""
    size = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    builder = ActionBuilder(driver, duration=20)  # ms per move (the default, 250, adds seconds a page)
    for row in range(1, 6):
        for column in range(1, 8):
            builder.pointer_action.move_to_location(size[0] * column // 8, size[1] * row // 6)
    builder.perform()


def _inert(driver: WebDriver, name: str, fragments: list[str], problems: list[str], artifacts: Path) -> None:
    """Check the page now open: the payloads are shown, and nothing they carry ran or became markup."""
    path = urlsplit(driver.current_url).path
    _shows(driver, fragments)
    elements = driver.execute_script(PAYLOAD_ELEMENTS)
    if not elements:
        problems.append(f"{name} ({path}): no element shows a payload (the check would prove nothing)")
    reached = _hover_and_click(driver, elements)
    if elements and not reached:
        problems.append(f"{name} ({path}): the pointer reached none of the {len(elements)} payload elements")
    _sweep_window(driver)
    time.sleep(0.3)  # an <img src=x onerror=...> would have failed to load and fired by now
    if smuggled := driver.execute_script(SMUGGLED_ATTRIBUTES):
        problems.append(f"{name} ({path}): attributes from a payload: {smuggled[:5]}")
    if (marker := driver.execute_script(MARKER)) is not None:
        problems.append(f"{name} ({path}): payload {marker} ran")
    driver.save_screenshot(str(artifacts / f"e2e-xss-{name}.png"))


def _the_attribute_check_sees_a_handler(driver: WebDriver) -> None:
    """The DOM walk finds an event-handler attribute when there is one (so its silence means something)."""
    driver.execute_script(
        "const probe = document.createElement('span'); probe.id = 'xss-probe';"
        "probe.setAttribute('onmouseover', 'void 0'); document.body.appendChild(probe);"
    )
    try:
        assert driver.execute_script(SMUGGLED_ATTRIBUTES) == ['<span onmouseover="void 0">']
    finally:
        driver.execute_script("document.getElementById('xss-probe').remove();")


def test_payloads_in_a_clients_fields_stay_inert_on_every_page(
    xss_portal: tuple[str, dict], browser: WebDriver, artifacts_dir: Path, tmp_path: Path
) -> None:
    url, ids = xss_portal
    client, invoice, payment = ids["client_id"], ids["invoice_id"], ids["payment_id"]
    name, company, email = _fragment(NAME), _fragment(COMPANY), _fragment(EMAIL)
    problems: list[str] = []

    def check(page: str, fragments: list[str]) -> None:
        _inert(browser, page, fragments, problems, artifacts_dir)

    # the payment link, before anyone signs in
    browser.get(f"{url}/pay/{ids['token']}")
    _shows(browser, [name])
    _the_attribute_check_sees_a_handler(browser)
    check("pay-link", [name, _fragment(LINE)])

    # the console, as an admin
    _sign_in(browser, url, ADMIN_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/admin"))
    browser.get(f"{url}/admin/clients")
    check("console-clients", [name, email])
    browser.get(f"{url}/admin/clients/{client}")
    check("console-client", [name, company, email])
    browser.get(f"{url}/admin/invoices/{invoice}")
    check("console-invoice", [name, _fragment(LINE)])

    # a new avatar whose file name is a payload, through the form's upload
    browser.get(f"{url}/admin/clients/{client}/edit")
    picture = tmp_path / AVATAR_FILE_NAME
    picture.write_bytes((AVATAR_DIR / ids["avatar_path"].rsplit("/", 1)[-1]).read_bytes())
    _wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(picture))
    check("console-client-avatar-upload", [_fragment(AVATAR_FILE_NAME), "will be used once you save."])
    _click(browser, "//button[normalize-space(.)='Save client']")
    _wait(browser).until(_path_is(f"/admin/clients/{client}"))
    check("console-client-new-avatar", [name, company])

    # View as client, with a reason that is a payload too: the banner on My Billing and on History
    _click(browser, "//button[contains(normalize-space(.), 'View as client')]")
    _type_into(browser, f"{DIALOG}//textarea", REASON)
    check("impersonate-dialog", [name])
    _click(browser, f"{DIALOG}//button[normalize-space(.)='Start viewing']")
    _wait(browser).until(_path_is("/billing"))
    check("impersonation-banner", [f"Viewing as {name}", company])
    browser.get(f"{url}/billing/history")
    check("impersonation-history", [f"Viewing as {name}"])
    _click(browser, "//button[normalize-space(.)='Stop']")
    _wait(browser).until(_path_is(f"/admin/clients/{client}"))
    browser.get(f"{url}/admin/audit")
    check("console-audit", [name])

    # the client's own pages
    browser.delete_all_cookies()
    _sign_in(browser, url, LOGIN_EMAIL, PASSWORD)
    _wait(browser).until(_path_is("/billing"))
    check("my-billing", [name, company])
    _click(browser, "//button[.//i[normalize-space(.)='account_circle']]")  # the account menu shows the name
    _wait_visible(browser, (By.XPATH, "//div[contains(@class, 'q-menu')]"))
    check("account-menu", [name])
    browser.get(f"{url}/billing/invoices/{invoice}")
    check("invoice", [name, _fragment(LINE), _fragment(NOTES)])
    browser.get(f"{url}/billing/receipts/{payment}")
    check("receipt", [_fragment(REFERENCE)])
    browser.get(f"{url}/billing/history")
    check("history", [_fragment(REASON)])

    assert not problems, "\n".join(problems)

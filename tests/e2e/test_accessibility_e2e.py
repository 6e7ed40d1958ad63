"""axe-core (from the npm registry, pinned in tests/e2e/axe/) finds no serious or critical violation of
WCAG 2.1 A/AA or of axe's best practices on any page of the client side, the payment link and the console,
at 1280 px, in English and in French; and closing a dialog gives the focus back to the button that opened it.

One browser per role; the pages are those of the tours' own demo portal (`tour_portal`). A page that cannot
be opened is a failure too. The language is switched in the account menu and switched back afterwards (it is
stored on the demo accounts the other tests sign in with).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC

from tests.e2e.axe_check import Tour, Violation, axe_violations, settle, switch_language, tour_of
from tests.e2e.conftest import ServedPortal, chromium
from tests.e2e.test_login_e2e import (
    ADMIN_EMAIL,
    CLIENT_EMAIL,
    DEMO_PASSWORD,
    _click,
    _path_is,
    _sign_in,
    _wait,
)

PAY_NOW = {"en": "Pay now", "fr": "Payer maintenant"}
LANGUAGES = ["en", "fr"]


@pytest.fixture(scope="module")
def tour(tour_portal: ServedPortal) -> Tour:
    return tour_of(tour_portal)


class Audit:
    """Runs axe on each page a browser shows and keeps what it finds, by page."""

    def __init__(self, driver: WebDriver, language: str) -> None:
        self.driver = driver
        self.language = language
        self.found: dict[str, list[Violation]] = {}
        self.failures: list[str] = []

    def run(self, where: str) -> None:
        settle(self.driver)
        violations = axe_violations(self.driver)
        if violations:
            self.found[where] = violations
            self.failures += [f"[{self.language}] {where}: {v.describe()}" for v in violations]

    def open(self, url: str, where: str) -> None:
        self.driver.get(url)
        self.run(where)

    def counts(self) -> Counter[str]:
        return Counter(v.rule for found in self.found.values() for v in found for _node in v.nodes)


@pytest.fixture
def client_browser(tour: Tour) -> Iterator[WebDriver]:
    with chromium() as driver:
        _sign_in(driver, tour.url, CLIENT_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(_path_is("/billing"))
        yield driver


def _pay_button(language: str) -> tuple[str, str]:
    return (By.XPATH, f"//table//button[starts-with(@aria-label, '{PAY_NOW[language]}')]")


def _focused_label(driver: WebDriver) -> str:
    return driver.execute_script(
        "const e = document.activeElement;"
        " return e === document.body || !e ? '' : (e.getAttribute('aria-label') || e.textContent.trim())"
    )


def _client_side(driver: WebDriver, tour: Tour, language: str) -> Audit:
    audit = Audit(driver, language)
    for path in tour.client_pages():
        audit.open(f"{tour.url}{path}", path)
    driver.get(f"{tour.url}/billing")
    settle(driver)
    # read again if a live section redraws it meanwhile (_wait ignores a stale element)
    opener = _wait(driver).until(lambda d: d.find_element(*_pay_button(language)).get_attribute("aria-label"))
    _click(driver, _pay_button(language))  # a live section may redraw it meanwhile
    _wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".q-dialog .q-card")))
    audit.run("/billing, the Pay dialog open")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)  # as a keyboard user closes it
    _wait(driver).until(EC.invisibility_of_element_located((By.CSS_SELECTOR, ".q-dialog .q-card")))
    settle(driver, 0.5)
    focused = _focused_label(driver)
    if focused != opener:
        audit.failures.append(
            f"[{language}] after closing the Pay dialog the focus is on {focused!r}, not {opener!r}"
        )
    return audit


def _pay_link(driver: WebDriver, tour: Tour, language: str) -> Audit:
    audit = Audit(driver, language)
    driver.get(f"{tour.url}/pay/{tour.tokens[language]}")
    settle(driver)
    tabs = driver.find_elements(By.CSS_SELECTOR, ".q-tab")
    assert len(tabs) == 3, f"the payment link shows {len(tabs)} tabs, not card, transfer and direct debit"
    for index in range(len(tabs)):
        driver.find_elements(By.CSS_SELECTOR, ".q-tab")[index].click()
        audit.run(f"/pay/<token>, tab {index + 1}")
    return audit


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_client_side_and_the_payment_link_have_no_serious_violation(
    tour: Tour, client_browser: WebDriver, language: str
) -> None:
    login = Audit(client_browser, language)
    with chromium() as anonymous:
        login.driver = anonymous
        anonymous.get(f"{tour.url}/login?lang={language}")
        login.run("/login")
        paying = _pay_link(anonymous, tour, language)
    if language != "en":
        switch_language(client_browser, language)
    try:
        client = _client_side(client_browser, tour, language)
    finally:
        if language != "en":
            switch_language(client_browser, "en")
    failures = login.failures + paying.failures + client.failures
    counts = login.counts() + paying.counts() + client.counts()
    assert not failures, f"axe found serious or critical violations {dict(counts)}:\n" + "\n".join(failures)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_console_has_no_serious_violation(tour: Tour, language: str) -> None:
    with chromium() as driver:
        _sign_in(driver, tour.url, ADMIN_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(_path_is("/admin"))
        if language != "en":
            switch_language(driver, language)
        try:
            audit = Audit(driver, language)
            pages = tour.console_pages()
            if language != "en":  # the same markup in other words: a sample, to keep the run short
                pages = [path for path in pages if "/new" not in path and not path.startswith("/settings/")]
                pages += ["/settings/organization", "/settings/payments"]
            for path in pages:
                audit.open(f"{tour.url}{path}", path)
        finally:
            if language != "en":
                driver.get(f"{tour.url}/admin")
                switch_language(driver, "en")
    assert not audit.failures, (
        f"axe found serious or critical violations {dict(audit.counts())}:\n" + "\n".join(audit.failures)
    )


def test_the_check_sees_a_violation(tour: Tour, client_browser: WebDriver) -> None:
    """An unnamed button and faint grey text are reported (else the other tests would prove nothing)."""
    client_browser.get(f"{tour.url}/billing")
    settle(client_browser)
    client_browser.execute_script(
        "document.querySelector('main, [role=main]').insertAdjacentHTML('beforeend',"
        ' \'<button class="q-btn"></button>'
        '<p style="color:#aaa;background:#fff">faint text</p>\')'
    )
    rules = {violation.rule for violation in axe_violations(client_browser)}
    assert {"button-name", "color-contrast"} <= rules, rules

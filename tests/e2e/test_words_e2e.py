"""Words that must not mislead, in a real browser, in English and French (issue 14): a voided invoice is
"Void" (never "Deleted"), and an invoice whose total is 0 is paid when issued and never offered for payment
in the client's To do. Empty tables show no warning triangle."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.conftest import chromium, served_portal
from tests.e2e.test_login_e2e import ADMIN_EMAIL, CLIENT_EMAIL, DEMO_PASSWORD, _sign_in, _wait

WORDS = {
    "en": {"void": "Void", "deleted": "Deleted", "paid": "Paid"},
    "fr": {"void": "Annulée", "deleted": "Supprimé", "paid": "Payée"},
}
BADGES = "//div[contains(concat(' ', normalize-space(@class), ' '), ' q-badge ')]"


@pytest.fixture(scope="module", params=["en", "fr"])
def words_portal(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, dict]]:
    """A demo server whose admin and client read in the locale, with a voided and a zero-total invoice."""
    locale = request.param
    with served_portal(f"portal-words-{locale}-", prepare=["-m", "tests.e2e.words_seed", locale]) as served:
        lines = [line for line in served.prepared.splitlines() if line.startswith("WORDS_SEED=")]
        if not lines:
            pytest.fail(f"seeding printed no WORDS_SEED line:\n{served.prepared}", pytrace=False)
        yield served.url, locale, json.loads(lines[-1].removeprefix("WORDS_SEED="))


def _badges(driver: WebDriver) -> list[str]:
    return [b.text.strip() for b in driver.find_elements(By.XPATH, BADGES) if b.is_displayed()]


def _no_warning_triangle(driver: WebDriver) -> None:
    icons = driver.find_elements(By.CSS_SELECTOR, ".q-table__bottom-nodata-icon")
    assert not [i for i in icons if i.is_displayed()], (
        f"{driver.current_url}: an empty table shows a warning icon"
    )


def test_a_voided_invoice_is_void_and_a_free_one_is_paid_for_staff(
    words_portal: tuple[str, str, dict],
) -> None:
    url, locale, seed = words_portal
    words = WORDS[locale]
    with chromium() as driver:
        _sign_in(driver, url, ADMIN_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(lambda d: "/admin" in d.current_url)
        driver.get(f"{url}/admin/invoices/{seed['void_id']}")
        _wait(driver).until(lambda d: seed["void_number"] in d.find_element(By.TAG_NAME, "body").text)
        badges = _wait(driver).until(lambda d: _badges(d) or None)
        assert words["void"] in badges, badges
        assert words["deleted"] not in badges
        body = driver.find_element(By.TAG_NAME, "body").text
        assert words["deleted"] not in body

        driver.get(f"{url}/admin/invoices/{seed['free_id']}")
        _wait(driver).until(lambda d: seed["free_number"] in d.find_element(By.TAG_NAME, "body").text)
        badges = _wait(driver).until(lambda d: _badges(d) or None)
        assert words["paid"] in badges, badges
        _no_warning_triangle(driver)


def test_a_free_invoice_is_paid_and_not_in_the_clients_to_do(words_portal: tuple[str, str, dict]) -> None:
    url, locale, seed = words_portal
    words = WORDS[locale]
    with chromium() as driver:
        _sign_in(driver, url, CLIENT_EMAIL, DEMO_PASSWORD)
        _wait(driver).until(lambda d: d.current_url.endswith("/billing"))
        # the To do table is there (the demo client has open invoices, each with a pay button)...
        _wait(driver).until(lambda d: d.find_elements(By.XPATH, "//tr[.//a[contains(., 'INV-')]][.//button]"))
        # ...and no row of it offers the zero-total invoice
        rows = driver.find_elements(By.XPATH, f"//tr[contains(normalize-space(.), '{seed['free_number']}')]")
        assert not [r for r in rows if r.find_elements(By.TAG_NAME, "button")], "the free invoice is payable"
        _no_warning_triangle(driver)

        driver.get(f"{url}/billing/invoices/{seed['free_id']}")
        _wait(driver).until(lambda d: seed["free_number"] in d.find_element(By.TAG_NAME, "body").text)
        badges = _wait(driver).until(lambda d: _badges(d) or None)
        assert words["paid"] in badges, badges

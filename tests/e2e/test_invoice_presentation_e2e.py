"""One presentation of an invoice, in a real browser: after a partial payment, the invoice page (signed in)
and the pay-link page (not signed in) show the same line amounts under the same titled columns and the same
totals block (payments received, amount due), in English and in French."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from portal.domain.money import format_money
from tests.e2e.conftest import chromium, served_portal
from tests.e2e.presentation_seed import CLIENTS, PARTIAL
from tests.e2e.test_login_e2e import DEMO_PASSWORD, _path_is, _sign_in, _wait

LINES = "//*[@data-presentation='lines']"
TOTALS = "//*[@data-presentation='totals']//*[@data-total]"
CURRENCY = {"en": "USD", "fr": "EUR"}


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[str, dict]]:
    """A server over the demo data with a partly paid invoice and its payment link per locale."""
    with served_portal("portal-presentation-", prepare=["-m", "tests.e2e.presentation_seed"]) as served:
        lines = [line for line in served.prepared.splitlines() if line.startswith("PRESENTATION_SEED=")]
        if not lines:
            pytest.fail(f"seeding printed nothing:\n{served.prepared}", pytrace=False)
        yield served.url, json.loads(lines[-1].removeprefix("PRESENTATION_SEED="))


def _read(driver: WebDriver) -> tuple[list[str], list[list[str]], list[str]]:
    """The column titles, each line's cells and each totals row ('label amount'), as the browser shows
    them."""
    for _attempt in range(5):
        try:
            titles = [th.text.strip() for th in driver.find_elements(By.XPATH, f"{LINES}//thead//th")]
            rows = [
                [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in driver.find_elements(By.XPATH, f"{LINES}//tbody/tr")
            ]
            totals = [" ".join(row.text.split()) for row in driver.find_elements(By.XPATH, TOTALS)]
            return titles, rows, totals
        except StaleElementReferenceException:  # a live refresh replaced the section while reading
            continue
    raise AssertionError("the invoice kept being redrawn")


def _shown(driver: WebDriver) -> bool:
    return bool(driver.find_elements(By.XPATH, f"{LINES}//tbody/tr")) and bool(
        driver.find_elements(By.XPATH, TOTALS)
    )


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_the_invoice_page_and_the_pay_link_present_the_invoice_identically(
    seeded: tuple[str, dict], locale: str
) -> None:
    base_url, seed = seeded
    invoice = seed[locale]
    with chromium() as page_browser:
        _sign_in(page_browser, base_url, CLIENTS[locale], DEMO_PASSWORD)
        _wait(page_browser).until(_path_is("/billing"))
        page_browser.get(f"{base_url}/billing/invoices/{invoice['invoice_id']}")
        _wait(page_browser).until(_shown)
        on_page = _read(page_browser)
    with chromium() as link_browser:  # a payer who is not signed in
        link_browser.get(f"{base_url}/pay/{invoice['token']}")
        _wait(link_browser).until(_shown)
        on_link = _read(link_browser)

    titles, rows, totals = on_page
    assert (titles, rows, totals) == on_link
    assert len(rows) >= 1 and all(len(row) == len(titles) for row in rows)
    for title in {"en": ("Net", "Tax", "Gross"), "fr": ("HT", "Taxe", "TTC")}[locale]:
        assert title in titles
    money = lambda amount: " ".join(format_money(amount, CURRENCY[locale], locale).split())  # noqa: E731
    total = int(invoice["total_minor"])
    paid_row = {"en": "Payments received", "fr": "Paiements reçus"}[locale]
    due_row = {"en": "Amount due", "fr": "Montant dû"}[locale]
    assert f"{paid_row} {money(-PARTIAL)}" in totals  # what was paid so far is said, not only the rest
    assert totals[-1] == f"{due_row} {money(total - PARTIAL)}"
    assert any(row.endswith(money(total)) for row in totals)

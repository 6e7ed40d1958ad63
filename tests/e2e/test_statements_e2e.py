"""Decided quotes and the statement of account in a real browser, in English and in French: the demo client
declined the demo estimate with a comment; she opens History, sees it with its decision, date and comment
and a PDF link, follows "Open my statement" and reads her balances and the aging of what is open; an admin
opens the same statement from her record, with its PDF. Screenshots are saved as artifacts."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from portal.i18n import format_date, translate
from tests.e2e.conftest import served_portal
from tests.e2e.statements_seed import COMMENT
from tests.e2e.test_dashboard_e2e import _click
from tests.e2e.test_login_e2e import (
    ADMIN_EMAIL,
    CLIENT_EMAIL,
    DEMO_PASSWORD,
    _connected,
    _path_is,
    _sign_in,
    _text,
    _wait,
    _wait_visible,
)


@pytest.fixture(scope="module", params=["en", "fr"])
def statements_portal(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, dict]]:
    """A demo server where Ada declined the estimate and reads the portal in the locale."""
    locale = request.param
    with served_portal(
        f"portal-statements-{locale}-", prepare=["-m", "tests.e2e.statements_seed", locale]
    ) as served:
        lines = [line for line in served.prepared.splitlines() if line.startswith("STATEMENTS_SEED=")]
        if not lines:
            pytest.fail(f"seeding printed no STATEMENTS_SEED line:\n{served.prepared}", pytrace=False)
        yield served.url, locale, json.loads(lines[-1].removeprefix("STATEMENTS_SEED="))


def _body(driver: WebDriver) -> str:
    return " ".join(driver.find_element(By.TAG_NAME, "body").text.replace("\u202f", " ").split())


def _cookie_get(driver: WebDriver, url: str) -> tuple[int, bytes]:
    """GET `url` with the browser's cookies (a download, as the browser would make it)."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    request = urllib.request.Request(url, headers={"Cookie": cookies})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def test_the_client_sees_the_declined_estimate_in_history_and_opens_her_statement(
    statements_portal: tuple[str, str, dict], browser: WebDriver, artifacts_dir: Path
) -> None:
    url, locale, seed = statements_portal
    t = lambda message, **values: translate(message, locale, **values)  # noqa: E731
    today = datetime.now(UTC).date()
    _sign_in(browser, url, CLIENT_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/billing"))
    browser.get(f"{url}/billing/history")
    _wait_visible(browser, _text(t("Estimates and proposals")))
    row = f"//tr[.//a[contains(normalize-space(.), '{seed['number']}')]]"
    _wait_visible(browser, (By.XPATH, row))
    text = " ".join(browser.find_element(By.XPATH, row).text.split())
    assert t("Declined") in text and COMMENT in text, text
    assert format_date(today, locale) in text, text
    pdf = browser.find_element(By.XPATH, f"{row}//a[@href='/billing/quotes/{seed['quote_id']}/pdf']")
    status, content = _cookie_get(browser, f"{url}{pdf.get_attribute('href').removeprefix(url)}")
    assert status == 200 and content.startswith(b"%PDF-")
    browser.save_screenshot(str(artifacts_dir / f"e2e-statements-history-{locale}.png"))

    _connected(browser)
    _click(browser, f"//a[normalize-space(.)='{t('Open my statement')}']")
    _wait(browser).until(_path_is("/billing/statement"))
    _wait_visible(browser, _text(t("Account in {currency}", currency="USD")))
    page = _body(browser)
    start = format_date(today.replace(month=1, day=1), locale)
    assert t("Opening balance on {date}", date=start) in page, page
    assert t("Closing balance on {date}", date=format_date(today, locale)) in page, page
    for bucket in ("Current", "1-30 days", "31-60 days", "61-90 days", "Over 90 days"):
        assert t(bucket) in page, bucket
    assert t("Pay the balance of {amount}", amount="").strip() in page  # Ada has open invoices
    link = browser.find_element(By.XPATH, "//a[@href='/billing/pay-all/USD']")
    assert link.is_displayed()
    browser.save_screenshot(str(artifacts_dir / f"e2e-statements-client-{locale}.png"))

    # another period: last year, chosen from the presets
    period = f"//label[contains(@class, 'q-select')][.//div[normalize-space(.)='{t('Period')}']]"
    _click(browser, period)
    _click(browser, f"//div[contains(@class, 'q-item')][normalize-space(.)=\"{t('Last year')}\"]")
    _wait(browser).until(lambda d: f"from={today.year - 1}-01-01" in d.current_url)
    last_year = t(
        "From {start} to {end}",
        start=format_date(date(today.year - 1, 1, 1), locale),
        end=format_date(date(today.year - 1, 12, 31), locale),
    )
    _wait(browser).until(lambda d: last_year in _body(d))


def test_staff_open_the_statement_from_the_client_record(
    statements_portal: tuple[str, str, dict], browser: WebDriver, artifacts_dir: Path
) -> None:
    url, _locale, seed = statements_portal  # the admin reads English in both portals (the client's is French)
    _sign_in(browser, url, ADMIN_EMAIL, DEMO_PASSWORD)
    _wait(browser).until(_path_is("/admin"))
    browser.get(f"{url}/admin/clients/{seed['client_id']}")
    _connected(browser)
    _click(browser, "//button[normalize-space(.)='Statement' or .//span[normalize-space(.)='Statement']]")
    _wait(browser).until(_path_is(f"/admin/clients/{seed['client_id']}/statement"))
    _wait_visible(browser, _text("Account in USD"))
    assert "Statement of account · Ada Lovelace" in _body(browser)
    assert not browser.find_elements(By.XPATH, "//a[@href='/billing/pay-all/USD']")
    pdf = browser.find_element(By.XPATH, "//a[normalize-space(.)='Download PDF']")
    status, content = _cookie_get(browser, pdf.get_attribute("href"))
    assert status == 200 and content.startswith(b"%PDF-")
    browser.save_screenshot(str(artifacts_dir / "e2e-statements-console.png"))

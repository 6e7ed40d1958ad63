"""Every page at 375 × 800 px (a phone), in English and in French: no horizontal scroll of the page; every
link and button of a table is on the screen (a table too wide for its card is stacked, one block per row) or
its table scrolls inside the card and says so; tabs wrap instead of hiding behind scroll arrows.

The widths measured are written to artifacts/phone-widths.json and each page's screenshot to
artifacts/phone-<language>-<page>.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.axe_check import Tour, settle, switch_language, tour_of
from tests.e2e.conftest import ServedPortal, chromium
from tests.e2e.test_login_e2e import ADMIN_EMAIL, CLIENT_EMAIL, DEMO_PASSWORD, _path_is, _sign_in, _wait

WIDTH, HEIGHT = 375, 800
LANGUAGES = ["en", "fr"]

MEASURE = """
const width = window.innerWidth;
const problems = [];
const page = document.documentElement.scrollWidth;
if (page > width) problems.push(`the page is ${page} px wide in a ${width} px window`);
const outside = (r, left, right) => r.width > 0 && (r.left < left - 0.5 || r.right > right + 0.5);
const name = (e) => (e.getAttribute("aria-label") || e.textContent || "").trim().slice(0, 40);
const tables = [];
document.querySelectorAll(".q-table__container").forEach((container, index) => {
  const middle = container.querySelector(".q-table__middle");
  const hint = getComputedStyle(container, "::after").content;
  const hinted = container.classList.contains("portal-scrolls-x") && !["none", "normal", '""'].includes(hint);
  tables.push({index, width: middle ? middle.scrollWidth : 0, shown: middle ? middle.clientWidth : 0,
               stacked: container.classList.contains("portal-stacked"), hinted});
  container.querySelectorAll("tbody a, tbody button").forEach((e) => {
    const r = e.getBoundingClientRect();
    if (outside(r, 0, width) && !hinted) {
      problems.push(`table ${index + 1}: "${name(e)}" is at ${Math.round(r.left)}-${Math.round(r.right)} px, `
                    + `off the screen, and the table does not say it scrolls`);
    }
  });
});
document.querySelectorAll(".q-tabs").forEach((tabs) => {
  const content = tabs.querySelector(".q-tabs__content").getBoundingClientRect();
  tabs.querySelectorAll(".q-tab").forEach((tab) => {
    const r = tab.getBoundingClientRect();
    if (outside(r, Math.max(0, content.left), Math.min(width, content.right))) {
      problems.push(`tab "${name(tab)}" is cut: ${Math.round(r.left)}-${Math.round(r.right)} px`);
    }
  });
  tabs.querySelectorAll(".q-tabs__arrow").forEach((arrow) => {
    if (arrow.getBoundingClientRect().width > 0 && getComputedStyle(arrow).display !== "none") {
      problems.push("tabs hide behind a scroll arrow");
    }
  });
});
return {page, width, tables, problems};
"""


@pytest.fixture(scope="module")
def tour(tour_portal: ServedPortal) -> Tour:
    return tour_of(tour_portal)


class PhoneCheck:
    """Opens pages in a phone-sized browser and keeps what does not fit."""

    def __init__(self, driver: WebDriver, language: str, artifacts: Path) -> None:
        self.driver = driver
        self.language = language
        self.artifacts = artifacts
        self.failures: list[str] = []
        self.widths: dict[str, dict] = {}
        driver.set_window_size(WIDTH, HEIGHT)

    def measure(self, where: str) -> None:
        settle(self.driver)
        found = self.driver.execute_script(MEASURE)
        self.widths[where] = {key: found[key] for key in ("page", "width", "tables")}
        self.failures += [f"[{self.language}] {where}: {problem}" for problem in found["problems"]]
        slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")
        self.driver.save_screenshot(str(self.artifacts / f"phone-{self.language}-{slug}.png"))

    def open(self, url: str, where: str) -> None:
        self.driver.get(url)
        self.measure(where)


@pytest.fixture(scope="module")
def widths(artifacts_dir: Path) -> Iterator[dict[str, dict]]:
    measured: dict[str, dict] = {}
    yield measured
    (artifacts_dir / "phone-widths.json").write_text(json.dumps(measured, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def artifacts_dir() -> Path:  # module-wide here: the widths of every page go into one file
    path = Path(__file__).resolve().parents[2] / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _signed_in(driver: WebDriver, base_url: str, email: str, home: str, language: str) -> None:
    _sign_in(driver, base_url, email, DEMO_PASSWORD)
    _wait(driver).until(_path_is(home))
    if language != "en":
        switch_language(driver, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_client_side_and_the_payment_link_fit_a_phone(
    tour: Tour, language: str, artifacts_dir: Path, widths: dict[str, dict]
) -> None:
    with chromium() as driver:
        check = PhoneCheck(driver, language, artifacts_dir)
        check.open(f"{tour.url}/login?lang={language}", "login")
        driver.get(f"{tour.url}/pay/{tour.tokens[language]}")
        settle(driver)
        for index in range(len(driver.find_elements(By.CSS_SELECTOR, ".q-tab"))):
            driver.find_elements(By.CSS_SELECTOR, ".q-tab")[index].click()
            check.measure(f"pay link, tab {index + 1}")
        _signed_in(driver, tour.url, CLIENT_EMAIL, "/billing", language)
        try:
            for path in tour.client_pages():
                check.open(f"{tour.url}{path}", path)
        finally:
            if language != "en":
                driver.get(f"{tour.url}/billing")
                switch_language(driver, "en")
    widths.update({f"{language} {where}": found for where, found in check.widths.items()})
    assert not check.failures, "\n".join(check.failures)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_console_fits_a_phone(
    tour: Tour, language: str, artifacts_dir: Path, widths: dict[str, dict]
) -> None:
    pages = tour.console_pages()
    if language != "en":  # the same layout in longer words: a sample, to keep the run short
        pages = [path for path in pages if "/new" not in path and not path.startswith("/settings/")]
        pages += ["/settings/organization", "/settings/payments"]
    with chromium() as driver:
        check = PhoneCheck(driver, language, artifacts_dir)
        _signed_in(driver, tour.url, ADMIN_EMAIL, "/admin", language)
        try:
            for path in pages:
                check.open(f"{tour.url}{path}", path)
        finally:
            if language != "en":
                driver.get(f"{tour.url}/admin")
                switch_language(driver, "en")
    widths.update({f"{language} {where}": found for where, found in check.widths.items()})
    assert not check.failures, "\n".join(check.failures)


def test_the_check_sees_a_table_cut_off(tour: Tour, artifacts_dir: Path) -> None:
    """A table whose links run off the screen, without a hint, is reported (else the tests prove nothing)."""
    with chromium() as driver:
        check = PhoneCheck(driver, "en", artifacts_dir)
        driver.get(f"{tour.url}/login")
        settle(driver)
        driver.execute_script(
            "document.body.insertAdjacentHTML('beforeend', '<div class=\"q-table__container\">"
            '<div class="q-table__middle" style="overflow-x:auto;width:300px"><table style="width:900px">'
            '<tbody><tr><td style="width:850px">wide</td><td><a href="#">Receipt</a></td></tr></tbody>'
            "</table></div></div>')"
        )
        check.measure("probe")
    assert any('"Receipt"' in failure for failure in check.failures), check.failures
